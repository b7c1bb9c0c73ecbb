"""How a body ends: at done, at its last word, at EOF, or cut; what the
stream then decides, and what stays readable."""

import pytest

import assistant_stream
from conftest import CHAT_DONE, RUN, Recorder, choice, chunk, event, response, sse

DONE_RUN = dict(RUN, status="completed")


def test_an_unfinished_last_event_is_not_dispatched():
    # sseclient-py dispatches a final event with no blank line after it; here
    # it means the body was cut: the run never reached a final status.
    cut = sse("thread.run.in_progress", RUN) + sse("thread.run.completed", DONE_RUN)[:-1]
    handlers = assistant_stream.Handlers()
    seen = Recorder()
    handlers.on("*", seen)
    stream = assistant_stream.replay(cut, handlers)
    with pytest.raises(assistant_stream.IncompleteStreamError, match="in_progress"):
        stream.until_done()
    assert seen.names == ["thread.run.in_progress"]
    assert stream.current_run["status"] == "in_progress"


def test_an_unfinished_done_after_a_finished_run_is_fine():
    body = sse("thread.run.completed", DONE_RUN) + b"event: done\ndata: [DONE]\n"
    handlers = assistant_stream.Handlers()
    seen = Recorder()
    handlers.on("*", seen)
    assert assistant_stream.replay(body, handlers).until_done()["status"] == "completed"
    assert seen.names == ["thread.run.completed", "end"]


def test_a_missing_done_after_a_finished_run_is_fine():
    body = sse("thread.run.requires_action", dict(RUN, status="requires_action"))
    assert assistant_stream.replay(body).until_done()["status"] == "requires_action"


def test_a_cut_after_the_run_stopped_is_a_debug_line_and_nothing_else(caplog):
    with caplog.at_level("DEBUG", logger="assistant_stream"):

        def lost():
            yield sse("thread.run.completed", DONE_RUN)
            raise assistant_stream.IncompleteStreamError("the connection was lost")

        cut = assistant_stream.Stream(lost(), dialect=assistant_stream._RunDialect())
        assert cut.until_done()["status"] == "completed" and cut.finished
        said = [r.getMessage() for r in caplog.records if "stream cut" in r.getMessage()]
        assert said == ["stream cut after the run stopped: the connection was lost"]
        caplog.clear()
        assistant_stream.replay(sse("thread.run.completed", DONE_RUN)).until_done()  # ended, not cut: no such line
        assert not [r for r in caplog.records if "stream cut" in r.getMessage()]


def test_a_body_that_ends_before_the_run_finishes_is_incomplete():
    stream = assistant_stream.replay(sse("thread.run.in_progress", RUN))
    with pytest.raises(assistant_stream.IncompleteStreamError):
        stream.until_done()
    assert stream.closed


def test_an_empty_body_is_incomplete():
    with pytest.raises(assistant_stream.IncompleteStreamError, match="before the run started"):
        assistant_stream.replay(b"").until_done()


@pytest.mark.parametrize("body", [sse("thread.run.created", RUN), CHAT_DONE])
def test_a_stream_closed_before_its_first_event_has_no_final_state_to_return(body):
    stream = assistant_stream.replay(body)
    stream.close()
    with pytest.raises(assistant_stream.IncompleteStreamError, match="closed before its first event"):
        stream.until_done()
    assert stream.final_run() is None and stream.final_chat_completion() is None  # the accessors say "nothing"


def test_a_stream_closed_after_its_first_event_returns_what_it_received():
    stream = assistant_stream.replay(sse("thread.run.created", RUN) + sse("thread.run.in_progress", RUN))
    next(iter(stream))
    stream.close()
    assert stream.until_done()["status"] == RUN["status"]


def test_the_parts_of_a_cut_response_stay_readable():
    message = {"id": "msg_1", "type": "message", "role": "assistant", "status": "in_progress", "content": []}
    citation = {"type": "url_citation", "start_index": 0, "end_index": 5, "url": "https://example.test", "title": "t"}
    body = b"".join(
        [
            event("response.created", response=response()),
            event("response.output_item.added", output_index=0, item={"id": "rs_1", "type": "reasoning", "summary": []}),
            event(
                "response.reasoning_summary_part.added",
                item_id="rs_1",
                output_index=0,
                summary_index=0,
                part={"type": "summary_text", "text": ""},
            ),
            event("response.reasoning_summary_text.delta", item_id="rs_1", output_index=0, summary_index=0, delta="Think"),
            event("response.reasoning_summary_text.delta", item_id="rs_1", output_index=0, summary_index=0, delta="ing."),
            event("response.output_item.added", output_index=1, item=message),
            event(
                "response.content_part.added",
                item_id="msg_1",
                output_index=1,
                content_index=0,
                part={"type": "output_text", "text": "", "annotations": []},
            ),
            event("response.output_text.delta", item_id="msg_1", output_index=1, content_index=0, delta="Hello"),
            event(
                "response.output_text.annotation.added",
                item_id="msg_1",
                output_index=1,
                content_index=0,
                annotation_index=0,
                annotation=citation,
            ),
            event("response.output_text.delta", item_id="msg_1", output_index=1, content_index=0, delta=" world"),
            event("response.content_part.added", item_id="msg_1", output_index=1, content_index=1, part={"type": "refusal", "refusal": ""}),
            event("response.refusal.delta", item_id="msg_1", output_index=1, content_index=1, delta="I can"),
            event("response.refusal.delta", item_id="msg_1", output_index=1, content_index=1, delta="not."),
        ]
    )
    stream = assistant_stream.replay(body)
    with pytest.raises(assistant_stream.IncompleteStreamError, match="in status 'in_progress'"):
        stream.until_done()
    output = stream.current_response["output"]
    assert output[0]["summary"] == [{"type": "summary_text", "text": "Thinking."}]
    assert output[1]["content"] == [
        {"type": "output_text", "text": "Hello world", "annotations": [citation]},
        {"type": "refusal", "refusal": "I cannot."},
    ]
    assert stream.text == "Hello world"


@pytest.mark.parametrize("moment", ["_said_last_word", "_end_of_body"])
def test_a_close_from_elsewhere_at_the_last_word_ends_the_stream(monkeypatch, moment):
    # close() may come from another thread between any two of the reader's
    # steps; the reader must never undo it (and run the tools, and read on).
    from test_tools import Runs, rounds, weather

    fake, handlers = rounds(Runs, Runs.answered), weather()
    stream = Runs.start(fake, handlers)
    original = getattr(assistant_stream.Stream, moment)

    def then_closed(self, *args):
        if moment == "_end_of_body":
            self.close()
        original(self, *args)
        self.close()

    monkeypatch.setattr(assistant_stream.Stream, moment, then_closed)
    stream.until_done()
    assert stream.closed and not stream.finished
    assert handlers.calls == [] and fake.paths == [Runs.first]


@pytest.mark.parametrize(
    "data, message",
    [
        ("Rate limit exceeded, retry in 20s", "the server sent an error event: 'Rate limit exceeded, retry in 20s'"),
        ('{"error": {"code": "server_error", "message": "Oops"}}', "the server sent an error event (server_error): Oops"),
    ],
    ids=["text", "json"],
)
def test_an_error_event_carries_what_the_server_said(data, message):
    # Its format is not documented: Azure's SDK takes what is not JSON as text.
    body = sse("thread.run.in_progress", RUN) + b"event: error\ndata: " + data.encode() + b"\n\n"
    handlers = assistant_stream.Handlers()
    seen = handlers.on("error", Recorder())
    stream = assistant_stream.replay(body, handlers)
    with pytest.raises(assistant_stream.StreamError) as info:
        stream.until_done()
    assert str(info.value) == message and info.value.stream is stream
    assert (
        info.value.error
        == seen.events[0].data
        == (data if data.startswith("Rate") else {"error": {"code": "server_error", "message": "Oops"}})
    )
    assert stream.current_run["status"] == "in_progress" and stream.closed


# -- chat completions: [DONE], finish reasons, errors in chunks ------------------------------


def test_a_chat_body_without_done_or_a_finish_reason_is_incomplete():
    stream = assistant_stream.replay(chunk(choice({"content": "Hel"})))
    with pytest.raises(assistant_stream.IncompleteStreamError, match=r"before \[DONE\], with the completion in status 'in_progress'"):
        stream.until_done()
    assert stream.text == "Hel"


@pytest.mark.parametrize("tail", [b"", CHAT_DONE], ids=["no [DONE]", "[DONE]"])
def test_a_chat_body_with_a_finish_reason_may_leave_done_out(tail):
    handlers = assistant_stream.Handlers()
    seen = handlers.on("*", Recorder())
    final = assistant_stream.replay(chunk(choice({"content": "Hi"})) + chunk(choice({}, "stop")) + tail, handlers).until_done()
    assert final["choices"][0]["finish_reason"] == "stop" and seen.names[-2:] == (["done", "end"] if tail else ["text.done", "end"])


def test_an_error_chunk_mid_stream_is_a_stream_error_after_its_callbacks():
    body = chunk(choice({"content": "Hel"})) + b'data: {"error": {"message": "Upstream timed out", "code": "timeout"}}\n\n' + CHAT_DONE
    handlers = assistant_stream.Handlers()
    seen = handlers.on("*", Recorder())
    stream = assistant_stream.replay(body, handlers)
    with pytest.raises(assistant_stream.StreamError, match=r"\(timeout\): Upstream timed out"):
        stream.until_done()
    assert seen.names[-2:] == ["chat.completion.chunk", "error"] and stream.text == "Hel" and stream.closed


def test_a_callback_that_raises_on_an_error_chunk_chains_nothing_internal():
    # Its exception goes up as it is: no internal exception (holding the
    # payload, unredacted) in its context, where a traceback would print it.
    body = b'data: {"choices": [{"index": 0, "delta": {"content": "private"}}], "error": {"message": "boom"}}\n\n'
    handlers = assistant_stream.Handlers()

    @handlers.on("error")
    def fail(event):
        raise RuntimeError("the callback failed")

    with pytest.raises(RuntimeError, match="the callback failed") as info:
        assistant_stream.Stream([body], handlers, dialect=assistant_stream._ChatDialect()).until_done()
    assert info.value.__context__ is None


def test_keep_alive_chunks_without_choices_change_nothing():
    body = chunk(choice({"content": "Hi"})) + chunk() + b": ping\n\n" + chunk(choices=[]) + chunk(choice({}, "stop")) + CHAT_DONE
    stream = assistant_stream.replay(body)
    assert stream.until_done()["choices"][0]["message"]["content"] == "Hi" and stream.status == "completed"
