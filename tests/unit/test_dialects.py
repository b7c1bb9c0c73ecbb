"""The dialects, alone: each API's stops, tool calls, follow-up requests,
recovery (as pairs for the stream to dispatch), cancel paths and words.
A dialect's accumulator is fed pairs; its transport is the fake."""

import pytest

import assistant_stream
from assistant_stream import _DIALECTS, _Call, _dialect_for, _follow_up, _ResponseDialect, _RunDialect
from conftest import RUN, FakeTransport, event, feed, response, sse

CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}
REQUIRES = dict(
    RUN, status="requires_action", required_action={"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [CALL]}}
)
FUNCTION = {"id": "fc_1", "type": "function_call", "status": "completed", "call_id": "call_1", "name": "get_weather", "arguments": "{}"}


def within(seconds, closed=lambda: False):
    return assistant_stream._Deadline(seconds, assistant_stream.time.monotonic() + seconds, closed)


def run_at(run):
    dialect = _RunDialect()
    feed(dialect.acc, sse("thread.run." + run["status"], run))
    return dialect


def response_at(status, output=()):
    dialect = _ResponseDialect(request={"model": "m", "input": "x", "stream": True})
    feed(dialect.acc, event("response." + status, response=response(status, output)))
    return dialect


# -- which API, and when a body has stopped -------------------------------------------------


@pytest.mark.parametrize(
    "name, data, kind",
    [
        ("thread.run.created", RUN, "run"),
        ("thread.created", {"id": "thread_1"}, "run"),
        ("response.output_text.delta", {}, "response"),
        ("message", {"object": "chat.completion.chunk", "choices": []}, "completion"),
        ("message", {"object": "", "choices": [], "prompt_filter_results": []}, "completion"),  # Azure's first chunk
        ("message", {"ping": 1}, None),
        ("message", "keep-alive", None),
        ("error", {}, None),
        ("done", "[DONE]", None),
        ("vendor.ping", {}, None),
    ],
)
def test_the_registry_knows_each_api_by_its_events(name, data, kind):
    found = _dialect_for(name, data)
    assert (found.kind if found else None) == kind
    assert set(_DIALECTS) == {"run", "response", "completion"}


def test_a_body_has_stopped_at_its_last_word_or_a_stop_and_never_while_waiting():
    dialect = run_at(dict(RUN, status="in_progress"))
    assert dialect.ended(said_done=True) and not dialect.ended(said_done=False)
    feed(dialect.acc, sse("thread.run.requires_action", REQUIRES))
    assert dialect.ended(said_done=False)
    dialect.acc.waiting = True  # the outputs went out
    assert not dialect.ended(said_done=True)


@pytest.mark.parametrize(
    "make, waiting, words",
    [
        (lambda: _RunDialect(), False, "before the run started"),
        (lambda: run_at(dict(RUN, status="in_progress")), False, "before 'done', with the run in status 'in_progress'"),
        (lambda: run_at(REQUIRES), True, "after the tool outputs were sent, before the run went on"),
        (lambda: _ResponseDialect(), False, "before the response started"),
        (lambda: response_at("in_progress"), False, "before the response finished, with the response in status 'in_progress'"),
        (lambda: response_at("completed"), True, "after the tool outputs were sent, before the next response started"),
    ],
)
def test_where_a_stream_ended(make, waiting, words):
    dialect = make()
    dialect.acc.waiting = waiting
    assert dialect.where() == words


# -- the calls a stop requires, and the request that answers them -------------------------------


def test_a_run_requires_its_calls_only_in_requires_action():
    assert run_at(dict(RUN, status="in_progress")).required_calls() == []
    dialect = run_at(REQUIRES)
    assert dialect.required_calls() == [_Call("call_1", "get_weather", '{"city": "Rome"}')]
    assert dialect.follow_up_path() == "/threads/thread_1/runs/run_1/submit_tool_outputs"
    assert dialect.follow_up_body(dialect.required_calls(), ["sunny"]) == {
        "tool_outputs": [{"tool_call_id": "call_1", "output": "sunny"}],
        "stream": True,
    }


def test_a_response_requires_its_function_calls_once_completed():
    assert response_at("in_progress", [FUNCTION]).required_calls() == []
    assert response_at("completed", [dict(FUNCTION, type="mcp_call")]).required_calls() == []
    dialect = response_at("completed", [FUNCTION])
    assert dialect.required_calls() == [_Call("call_1", "get_weather", "{}")]
    assert dialect.follow_up_path() == "/responses"
    assert dialect.follow_up_body(dialect.required_calls(), ["sunny"]) == {
        "model": "m",
        "previous_response_id": "resp_1",
        "input": [{"type": "function_call_output", "call_id": "call_1", "output": "sunny"}],
        "stream": True,
    }


BAD_CALLS = [
    lambda: run_at(dict(REQUIRES, required_action={"submit_tool_outputs": {"tool_calls": [dict(CALL, id=None)]}})),
    lambda: run_at(dict(REQUIRES, required_action={"submit_tool_outputs": {"tool_calls": [dict(CALL, function="get_weather")]}})),
    lambda: run_at(dict(REQUIRES, required_action={"submit_tool_outputs": {"tool_calls": [dict(CALL, function={"name": ["x"]})]}})),
    lambda: response_at("completed", [dict(FUNCTION, call_id=None)]),
    lambda: response_at("completed", [dict(FUNCTION, name=7)]),
]


@pytest.mark.parametrize("make", BAD_CALLS, ids=["run id", "run function", "run name", "response call_id", "response name"])
def test_a_required_call_without_a_string_id_and_name_is_a_protocol_error(make):
    with pytest.raises(assistant_stream.ProtocolError, match="malformed (required_action|function_call)"):
        make().required_calls()


def test_a_run_follow_up_checks_the_ids_that_go_into_its_path():
    with pytest.raises(assistant_stream.ProtocolError, match="no valid thread_id and id"):
        run_at(dict(REQUIRES, thread_id="../x")).follow_up_path()


@pytest.mark.parametrize("ident", [None, 7, ""])
def test_a_response_follow_up_needs_an_id_to_continue(ident):
    dialect = response_at("completed", [FUNCTION])
    dialect.acc.response["id"] = ident
    with pytest.raises(assistant_stream.ProtocolError, match="no id to continue"):
        dialect.follow_up_path()


def test_a_response_id_goes_into_a_follow_up_body_as_it_is_and_into_a_path_only_if_safe():
    gateway = "resp_bGl0ZWxsbTpjdXN0b21fbGxtX3Byb3ZpZGVyOm9wZW5haQ+/=="  # base64, as LiteLLM's proxy makes them
    dialect = response_at("completed", [FUNCTION])
    dialect.acc.response["id"] = gateway
    assert dialect.follow_up_path() == "/responses"
    assert dialect.follow_up_body(dialect.required_calls(), ["x"])["previous_response_id"] == gateway
    dialect.acc.response["status"] = "in_progress"
    with pytest.raises(assistant_stream.ProtocolError, match="no valid id"):
        dialect.cancel_path(interrupted=True)


def test_no_call_is_answered_twice():
    dialect = run_at(REQUIRES)
    dialect.answer(dialect.required_calls())
    with pytest.raises(assistant_stream.ProtocolError, match="call_1, whose output was already submitted"):
        dialect.answer(dialect.required_calls())


@pytest.mark.parametrize(
    "request_, expected",
    [
        ({"model": "m", "input": "x", "tool_choice": "none", "previous_response_id": "resp_0"}, {"model": "m", "tool_choice": "none"}),
        ({"model": "m", "input": "x", "tool_choice": "required"}, {"model": "m"}),
        ({"model": "m", "input": "x", "conversation": "conv_1"}, {"model": "m", "conversation": "conv_1"}),
        ({"model": "m", "input": "x", "conversation": None}, {"model": "m"}),
    ],
)
def test_the_follow_up_request_policy(request_, expected):
    body = _follow_up(request_, "resp_1", [{"type": "function_call_output"}])
    chained = {} if expected.get("conversation") else {"previous_response_id": "resp_1"}
    assert body == dict(expected, **chained, input=[{"type": "function_call_output"}], stream=True)


# -- recovery: what it polls, and the pairs it gives the stream ---------------------------------


def test_run_recovery_polls_then_gives_what_finished_and_the_final_run(monkeypatch):
    monkeypatch.setattr(assistant_stream.time, "sleep", lambda seconds: None)
    dialect = run_at(dict(RUN, status="in_progress"))
    feed(dialect.acc, sse("thread.run.step.created", {"id": "step_1", "status": "in_progress"}))
    step = {"id": "step_1", "status": "completed"}
    seen_done = {"id": "step_0", "status": "completed"}
    message = {"id": "msg_1", "status": "completed", "content": []}
    fake = FakeTransport().answer("/threads/thread_1/runs/run_1", dict(RUN, status="in_progress"), dict(RUN, status="completed"))
    fake.answer("/threads/thread_1/runs/run_1/steps", [step, dict(step, id="step_2", status="in_progress")])
    fake.answer("/threads/thread_1/messages", [message])
    feed(dialect.acc, sse("thread.run.step.completed", seen_done))
    cut = assistant_stream.IncompleteStreamError("cut")
    assert dialect.recover(fake, within(10), cut) == [
        ("thread.run.step.completed", step),
        ("thread.message.completed", message),
        ("thread.run.completed", dict(RUN, status="completed")),
    ]
    assert [path for path in fake.paths].count("/threads/thread_1/runs/run_1") == 2


def test_response_recovery_gives_items_not_seen_done_and_the_final_response():
    dialect = response_at("in_progress")
    feed(dialect.acc, event("response.output_item.done", output_index=0, item={"id": "rs_1", "type": "reasoning"}))
    feed(dialect.acc, event("response.output_item.added", output_index=1, item={"id": "msg_1", "type": "message"}))
    polled = response("cancelled", [{"id": "rs_1", "type": "reasoning"}, {"id": "msg_1", "type": "message"}, {"id": "x"}])
    fake = FakeTransport().answer("/responses/resp_1", polled)
    pairs = dialect.recover(fake, within(10), assistant_stream.IncompleteStreamError("cut"))
    assert [(name, data.get("output_index")) for name, data in pairs] == [
        ("response.output_item.done", 1),
        ("response.output_item.done", 2),
        ("response.cancelled", None),
    ]
    assert pairs[-1][1] == {"type": "response.cancelled", "response": polled}


def test_recovery_gives_up_at_its_deadline(monkeypatch):
    monkeypatch.setattr(assistant_stream.time, "sleep", lambda seconds: None)
    dialect = response_at("in_progress")
    fake = FakeTransport().answer("/responses/resp_1", *[response("in_progress")] * 10)
    cut = assistant_stream.IncompleteStreamError("cut")
    with pytest.raises(assistant_stream.IncompleteStreamError, match="still 'in_progress' after 0.6 s of polling") as info:
        dialect.recover(fake, within(0.6), cut)
    assert info.value.__cause__ is cut


def test_what_can_be_polled():
    assert not _RunDialect().pollable() and _RunDialect(resume=("thread_1", "run_1")).pollable()
    assert run_at(RUN).pollable() and response_at("in_progress").pollable()
    waiting = response_at("completed")
    waiting.acc.waiting = True
    assert not waiting.pollable()


# -- cancel -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, interrupted, path",
    [
        (lambda: _RunDialect(), True, None),
        (lambda: run_at(dict(RUN, status="in_progress")), False, "/threads/thread_1/runs/run_1/cancel"),
        (lambda: run_at(dict(RUN, status="cancelling")), True, None),
        (lambda: run_at(dict(RUN, status="completed")), True, None),
        (lambda: run_at(REQUIRES), False, None),  # left on purpose: the caller may submit the outputs
        (lambda: run_at(REQUIRES), True, "/threads/thread_1/runs/run_1/cancel"),
        (lambda: response_at("in_progress"), False, "/responses/resp_1/cancel"),
        (lambda: response_at("incomplete"), True, None),
    ],
)
def test_what_is_cancelled(make, interrupted, path):
    assert make().cancel_path(interrupted) == path


def test_recovery_stops_polling_once_the_stream_is_closed(monkeypatch):
    monkeypatch.setattr(assistant_stream.time, "sleep", lambda seconds: None)
    closed = []
    dialect = response_at("in_progress")
    fake = FakeTransport().answer("/responses/resp_1", response("in_progress"), response("in_progress"), response("completed"))
    fake._get = lambda path, deadline=None, get=fake._get: closed.append(True) or get(path, deadline)  # closed elsewhere at once
    with pytest.raises(assistant_stream.IncompleteStreamError, match="closed while it was being recovered"):
        dialect.recover(fake, within(10, closed=lambda: bool(closed)), assistant_stream.IncompleteStreamError("cut"))
    assert len(closed) == 1 and all(isinstance(deadline, assistant_stream._Deadline) for deadline in fake.deadlines)
