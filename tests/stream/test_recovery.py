"""Recovery by polling and cancel on interrupt, through the fake transport:
what the dialect polls, what goes back through dispatch, what is cancelled."""

import pytest
from test_tools import Responses, Runs, required_run, rounds, weather

import assistant_stream
from conftest import RUN, FakeTransport, event, response, sse

COMPLETED_RUN = dict(RUN, status="completed")
RUN_PATH = "/threads/thread_1/runs/run_1"
OLD_STEP = {"id": "step_1", "object": "thread.run.step", "run_id": "run_1", "thread_id": "thread_1", "status": "completed"}


def nothing_more(fake):
    """The run's steps and messages, as polled: none."""
    return fake.answer(RUN_PATH + "/steps", []).answer("/threads/thread_1/messages", [])


@pytest.fixture
def no_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr(assistant_stream.time, "sleep", slept.append)
    return slept


# -- runs -------------------------------------------------------------------------------------


def test_a_continuation_cut_before_the_run_goes_on_is_recovered():
    fake, handlers = rounds(Runs, b""), weather()
    message = {"id": "msg_1", "object": "thread.message", "role": "assistant", "status": "completed"}
    message["content"] = [{"type": "text", "text": {"value": "Sunny in Rome.", "annotations": []}}]
    fake.answer(RUN_PATH, COMPLETED_RUN).answer(RUN_PATH + "/steps", []).answer("/threads/thread_1/messages", [message])
    stream = Runs.start(fake, handlers, recover=True)
    assert stream.until_done() == COMPLETED_RUN
    assert stream.recovered and stream.text == "Sunny in Rome." and handlers.calls == ["Rome"]
    assert fake.requests[2:] == [
        ("GET", RUN_PATH, None),
        ("GET", RUN_PATH + "/steps", None),
        ("GET", "/threads/thread_1/messages", {"run_id": "run_1"}),
    ]


def test_recovery_polls_past_a_run_that_has_not_taken_the_outputs_in_yet(no_sleep):
    fake, handlers = rounds(Runs, b""), weather()
    nothing_more(fake.answer(RUN_PATH, required_run(), COMPLETED_RUN))  # still asking for call_1, just answered; then done
    stream = Runs.start(fake, handlers, recover=True)
    assert stream.until_done() == COMPLETED_RUN
    assert stream.recovered and handlers.calls == ["Rome"]
    assert [method for method, path, body in fake.requests].count("GET") == 4 and no_sleep == [0.25]


@pytest.mark.parametrize("recover", [False, True])
def test_a_submit_stream_cut_before_the_run_goes_on(recover):
    fake = FakeTransport().stream(Runs.follow, sse("thread.run.step.completed", OLD_STEP))
    nothing_more(fake.answer(RUN_PATH, COMPLETED_RUN))
    stream = fake.submit_tool_outputs("thread_1", "run_1", [{"tool_call_id": "call_1", "output": "x"}], recover=recover)
    if recover:
        assert stream.until_done() == COMPLETED_RUN and stream.recovered
        assert fake.paths[1] == RUN_PATH  # polled by the ids it was given
    else:
        with pytest.raises(assistant_stream.IncompleteStreamError, match="after the tool outputs were sent, before the run went on"):
            stream.until_done()
        assert stream.current_run is None


def test_a_submit_stream_polls_the_run_the_server_named_once_it_named_one():
    # The ids as requested stand in only until the server says which run this is.
    other = dict(RUN, id="run_2", status="queued")
    fake = FakeTransport().stream(Runs.follow, sse("thread.run.queued", other))
    done = dict(other, status="completed")
    fake.answer("/threads/thread_1/runs/run_2", done).answer("/threads/thread_1/runs/run_2/steps", []).answer(
        "/threads/thread_1/messages", []
    )
    stream = fake.submit_tool_outputs("thread_1", "run_1", [{"tool_call_id": "call_1", "output": "x"}], recover=True)
    assert stream.until_done() == done and stream.recovered
    assert fake.paths[1:] == ["/threads/thread_1/runs/run_2", "/threads/thread_1/runs/run_2/steps", "/threads/thread_1/messages"]


def test_a_recovered_run_dispatches_what_it_finished_once():
    step = dict(OLD_STEP, id="step_2", type="message_creation")
    message = {"id": "msg_1", "object": "thread.message", "role": "assistant", "status": "completed"}
    message["content"] = [{"type": "text", "text": {"value": "Hello there", "annotations": []}}]
    cut = sse("thread.run.in_progress", RUN) + sse("thread.message.delta", {"id": "msg_1", "delta": {"content": [
        {"index": 0, "type": "text", "text": {"value": "Hello"}}]}})  # fmt: skip
    fake = FakeTransport().stream(Runs.first, cut)
    fake.answer(RUN_PATH, COMPLETED_RUN).answer(RUN_PATH + "/steps", [step, OLD_STEP]).answer("/threads/thread_1/messages", [message])
    handlers = assistant_stream.Handlers()
    seen = []
    handlers.on("*", seen.append)
    stream = Runs.start(fake, handlers, recover=True)
    assert stream.until_done() == COMPLETED_RUN and stream.text == "Hello there"
    names = [e.name for e in seen]
    assert names[names.index("thread.run.in_progress") + 1 :] == [
        "thread.message.delta",
        "text.created",
        "text.delta",
        "recovering",  # the connection was lost: what polling finds follows
        "thread.run.step.completed",
        "thread.run.step.completed",
        "thread.message.completed",
        "text.delta",  # " there": what the polled message adds
        "text.done",
        "thread.run.completed",
        "end",
    ]


# -- responses ------------------------------------------------------------------------------


def streamed_text():
    message = {"id": "msg_1", "type": "message", "role": "assistant", "status": "in_progress", "content": []}
    return b"".join(
        [
            event("response.created", response=response()),
            event("response.output_item.added", output_index=0, item=message),
            event("response.output_text.delta", item_id="msg_1", output_index=0, content_index=0, delta="Hello"),
        ]
    )


@pytest.mark.parametrize("how", ["iterated", "callbacks"])
def test_recovering_comes_before_the_polling_however_the_stream_is_driven(how):
    # A page shows "reconnecting..." while recovery polls: the event must come
    # out before the first poll, when iterating too (events queue per step).
    fake = FakeTransport().stream("/responses", streamed_text()).answer("/responses/resp_1", response("completed"))
    handlers = assistant_stream.Handlers()
    polls_when_recovering = []
    handlers.on("recovering", lambda event: polls_when_recovering.append(len([r for r in fake.requests if r[0] == "GET"])))
    stream = fake.stream_response(model="m", input="x", handlers=handlers, recover=True)
    if how == "iterated":
        for event in stream:
            if event.name == "recovering":
                assert len([r for r in fake.requests if r[0] == "GET"]) == 0  # the loop body runs before the polling
    else:
        stream.until_done()
    assert polls_when_recovering == [0] and stream.recovered and stream.finished
    assert len([r for r in fake.requests if r[0] == "GET"]) == 1


@pytest.mark.parametrize("status", ["completed", "cancelled", "failed", "incomplete"])
def test_a_recovered_response_finishes_its_text_whatever_its_status(status):
    # The polled response has no output: the streamed message is kept, and
    # closed.  A cancelled response has no event of its own in the API; its
    # recovery used to drop the derived events, so text.done never fired.
    fake = FakeTransport().stream("/responses", streamed_text()).answer("/responses/resp_1", response(status))
    handlers = assistant_stream.Handlers()
    seen = []
    handlers.on("*", seen.append)
    stream = fake.stream_response(model="m", input="x", handlers=handlers, recover=True)
    final = stream.until_done()
    assert final["status"] == status and stream.recovered and stream.finished
    assert [e.name for e in seen][-5:] == ["text.delta", "recovering", "response." + status, "text.done", "end"]
    assert [e.text for e in seen if e.name == "text.done"] == ["Hello"] and stream.text == "Hello"
    assert final["output"][0]["content"][0]["text"] == "Hello"


def test_a_polled_response_adds_what_was_not_streamed_once():
    done = {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed"}
    done["content"] = [{"type": "output_text", "text": "Hello world", "annotations": []}]
    call = {"id": "fc_9", "type": "function_call", "status": "completed", "call_id": "call_9", "name": "f", "arguments": "{}"}
    fake = FakeTransport().stream("/responses", streamed_text())
    fake.answer("/responses/resp_1", response("in_progress"), response("completed", [done, call]))
    seen = []
    handlers = assistant_stream.Handlers()
    handlers.on("*", seen.append)
    stream = fake.stream_response(model="m", input="x", handlers=handlers, recover=True)
    final = stream.until_done()
    assert final["output"] == [done, call] and stream.text == "Hello world"
    names = [e.name for e in seen]
    assert names.count("response.output_item.done") == 2 and names.count("text.done") == names.count("tool_call.done") == 1
    assert "".join(e.text for e in seen if e.name == "text.delta") == "Hello world"


def test_a_follow_up_cut_before_its_response_starts_cannot_be_recovered():
    fake, handlers = rounds(Responses, b""), weather()
    stream = Responses.start(fake, handlers, recover=True)
    with pytest.raises(assistant_stream.IncompleteStreamError, match="before the next response started"):
        stream.until_done()
    assert fake.paths == ["/responses", "/responses"]  # its id unknown: nothing to poll


# -- cancel ------------------------------------------------------------------------------------


HELD = {"run": (Runs, sse("thread.run.in_progress", RUN)), "response": (Responses, event("response.created", response=response()))}
CANCEL = {"run": RUN_PATH + "/cancel", "response": "/responses/resp_1/cancel"}


@pytest.mark.parametrize("name", sorted(HELD))
def test_leaving_early_cancels_and_a_finished_stream_never(name):
    api, first = HELD[name]
    fake = FakeTransport().stream(api.first, first + first)
    for _ in api.start(fake, None, cancel_on_interrupt=True):
        break
    assert fake.requests[-1] == ("POST", CANCEL[name], None)
    fake = FakeTransport().stream(api.first, api.answered)
    stream = api.start(fake, None, cancel_on_interrupt=True)
    stream.until_done()
    stream.close()
    assert fake.paths == [api.first]


def test_leaving_during_a_continuation_cancels_the_run():
    continuation = sse("thread.run.step.completed", OLD_STEP) + sse("thread.run.queued", dict(RUN, status="queued"))
    fake = rounds(Runs, continuation)
    stream = Runs.start(fake, weather(), cancel_on_interrupt=True)
    for got in stream:
        if got.name == "thread.run.step.completed":  # the continuation's first event: the run is going again
            break
    assert stream.status == "requires_action"  # as last received, yet running again
    assert fake.paths == [Runs.first, Runs.follow, RUN_PATH + "/cancel"]


@pytest.mark.parametrize("interrupted", [False, True])
def test_a_run_left_at_requires_action_is_cancelled_only_by_an_exception(interrupted):
    fake = FakeTransport().stream(Runs.first, Runs.calling())
    handlers = assistant_stream.Handlers()
    if interrupted:
        handlers.on("run.requires_action", lambda e: (_ for _ in ()).throw(RuntimeError("giving up")))
    stream = Runs.start(fake, handlers, cancel_on_interrupt=True)
    try:
        for got in stream:
            if got.name == "thread.run.requires_action":
                break  # to submit the outputs ourselves
    except RuntimeError:
        assert interrupted
    assert fake.paths == [Runs.first] + ([RUN_PATH + "/cancel"] if interrupted else [])
