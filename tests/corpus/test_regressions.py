"""Bugs reproduced in the official SDK's Assistants helper (openai-python
3.54), each pinned here so that this module never grows them."""

import pytest

import assistant_stream
from conftest import RECORDINGS, Recorder, sse

REQUIRES_ACTION = next(p for p in RECORDINGS if "requires_action" in p.name).read_bytes()
CONTINUATION = next(p for p in RECORDINGS if "submit_tool_outputs" in p.name).read_bytes()


def test_an_error_event_is_raised_not_swallowed():
    # openai-python #2796: the helper swallows the `error` event.
    error = {"code": "server_error", "message": "Sorry, something went wrong.", "param": None, "type": "server_error"}
    body = sse("thread.run.in_progress", {"id": "run_1", "status": "in_progress"}) + sse("error", error) + sse("done", "[DONE]")
    handlers = assistant_stream.Handlers()
    errors = handlers.on("error", Recorder())
    stream = assistant_stream.replay(body, handlers)
    with pytest.raises(assistant_stream.StreamError, match="server_error.*Sorry, something went wrong") as info:
        stream.until_done()
    assert errors.events[0].data == error  # its callbacks ran first
    assert info.value.error == error
    assert info.value.stream is stream
    assert stream.status == "in_progress" and stream.closed


def test_tool_call_done_fires_once_per_call_across_a_run_and_its_continuation():
    # The helper fires on_tool_call_done three times for one call.
    handlers = assistant_stream.Handlers()
    calls = handlers.on("tool_call.*", Recorder())
    stream = assistant_stream.replay([REQUIRES_ACTION, CONTINUATION], handlers)  # one stream, both bodies
    assert stream.until_done()["status"] == "completed"
    assert calls.names.count("tool_call.created") == 1
    assert calls.names.count("tool_call.done") == 1
    done = next(e for e in calls.events if e.name == "tool_call.done")
    assert done.data["function"]["arguments"] == "{}"


def test_one_handler_table_serves_a_run_and_its_continuation():
    # The helper's event handler cannot be reused for submit_tool_outputs.
    handlers = assistant_stream.Handlers()
    runs = handlers.on("run.*", Recorder())
    texts = handlers.on("text.delta", Recorder())
    first = assistant_stream.replay(REQUIRES_ACTION, handlers)
    second = assistant_stream.replay(CONTINUATION, handlers)
    assert first.until_done()["status"] == "requires_action"
    assert second.until_done()["status"] == "completed"
    assert {e.stream for e in runs.events} == {first, second}
    assert "".join(e.text for e in texts.events) == second.text != ""


def test_a_step_delta_for_a_step_created_in_an_earlier_stream():
    # A continuation starts with thread.run.step.completed for a step this
    # stream never saw created.
    handlers = assistant_stream.Handlers()
    calls = handlers.on("tool_call.*", Recorder())
    stream = assistant_stream.replay(CONTINUATION, handlers)
    assert stream.until_done()["status"] == "completed"
    assert calls.names == ["tool_call.created", "tool_call.done"]
    assert calls.events[1].snapshot["function"]["output"] == "warm and sunny"
    step_delta = sse(
        "thread.run.step.delta",
        {
            "id": "step_old",
            "delta": {
                "step_details": {
                    "type": "tool_calls",
                    "tool_calls": [{"index": 0, "id": "call_z", "type": "code_interpreter", "code_interpreter": {"input": "1+1"}}],
                }
            },
        },
    )
    stream = assistant_stream.replay(step_delta + sse("thread.run.completed", {"id": "r", "status": "completed"}))
    stream.until_done()
    assert stream.final_run_steps()[0]["step_details"]["tool_calls"][0]["code_interpreter"]["input"] == "1+1"


def test_status_comes_from_the_payload_when_the_event_name_disagrees():
    path = next(p for p in RECORDINGS if p.name == "rubyopenai_v2_message_incomplete_max_tokens.sse")
    stream = assistant_stream.replay(path.read_bytes())  # its last run event is named thread.run.completed
    assert stream.until_done()["status"] == "incomplete"
    assert stream.final_messages()[-1]["status"] == "incomplete"


def test_a_completed_message_with_fewer_parts_than_streamed():
    # The helper raises IndexError here.
    def delta(index, value):
        part = {"index": index, "type": "text", "text": {"value": value}}
        return sse("thread.message.delta", {"id": "msg_1", "delta": {"content": [part]}})

    completed = {
        "id": "msg_1",
        "object": "thread.message",
        "status": "completed",
        "content": [{"type": "text", "text": {"value": "One", "annotations": []}}],
    }
    handlers = assistant_stream.Handlers()
    seen = handlers.on("text.*", Recorder())
    stream = assistant_stream.replay(delta(0, "One") + delta(1, "Two") + sse("thread.message.completed", completed), handlers)
    with pytest.raises(assistant_stream.IncompleteStreamError):  # no run ever came: the body was cut
        stream.until_done()
    assert seen.names.count("text.done") == 2  # each streamed part is finished once
    assert stream.final_messages()[0]["content"] == completed["content"]
