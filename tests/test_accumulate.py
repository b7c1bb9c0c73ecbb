"""Joining deltas into messages, run steps and tool calls."""

import copy

import pytest

import assistant_stream
from assistant_stream import _merge as merge, _snapshot as snapshot
from conftest import Recorder, sse

RUN = {"id": "run_1", "object": "thread.run", "thread_id": "thread_1", "status": "in_progress"}
END = sse("thread.run.completed", dict(RUN, status="completed")) + sse("done", "[DONE]")


def message(status="in_progress", content=()):
    return {"id": "msg_1", "object": "thread.message", "role": "assistant", "status": status, "content": list(content)}


def delta(*content, message_id="msg_1"):
    return sse("thread.message.delta", {"id": message_id, "object": "thread.message.delta", "delta": {"content": list(content)}})


def text(index, value, annotations=None):
    part = {"index": index, "type": "text", "text": {"value": value}}
    if annotations is not None:
        part["text"]["annotations"] = annotations
    return part


def step_delta(*calls, step_id="step_1"):
    return sse(
        "thread.run.step.delta",
        {"id": step_id, "object": "thread.run.step.delta", "delta": {"step_details": {"type": "tool_calls", "tool_calls": list(calls)}}},
    )


def play(*events):
    handlers = assistant_stream.Handlers()
    seen = handlers.on("*", Recorder())
    stream = assistant_stream.replay(b"".join(events) + END, handlers)
    stream.until_done()
    return stream, seen


def derived(seen):
    return [(e.name, e.text) for e in seen.events if not e.name.startswith("thread.") and e.name not in ("done", "end")]


# -- the pure merge ---------------------------------------------------------------


def test_merge_appends_text_and_replaces_scalars():
    acc = {}
    merge(acc, {"content": [text(0, "Hel", [])]})
    merge(acc, {"content": [text(0, "lo", [])], "role": "assistant"})
    assert snapshot(acc) == {"content": [{"index": 0, "type": "text", "text": {"value": "Hello", "annotations": []}}], "role": "assistant"}


def test_merge_keeps_annotations_by_index_and_empty_lists_never_erase():
    citation = {
        "index": 0,
        "type": "file_citation",
        "text": "[1]",
        "start_index": 5,
        "end_index": 8,
        "file_citation": {"file_id": "file-1"},
    }
    acc = {}
    merge(acc, {"content": [text(0, "Look ", [])]})
    merge(acc, {"content": [text(0, "[1]", [citation])]})
    merge(acc, {"content": [text(0, ".", [])]})
    merge(acc, {"content": [text(0, "", [{"index": 0, "file_citation": {"quote": "q"}}])]})
    got = snapshot(acc)["content"][0]["text"]
    assert got["value"] == "Look [1]."
    assert got["annotations"] == [dict(citation, file_citation={"file_id": "file-1", "quote": "q"})]


def test_merge_joins_function_arguments_and_code_interpreter_logs():
    acc = {}
    merge(
        acc, {"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "", "output": None}}]}
    )
    merge(acc, {"tool_calls": [{"index": 0, "type": "function", "function": {"arguments": '{"a":'}}]})
    merge(acc, {"tool_calls": [{"index": 0, "type": "function", "function": {"arguments": " 1}"}}]})
    merge(
        acc,
        {"tool_calls": [{"index": 1, "id": "call_2", "type": "code_interpreter", "code_interpreter": {"input": "print(", "outputs": []}}]},
    )
    merge(
        acc,
        {
            "tool_calls": [
                {
                    "index": 1,
                    "type": "code_interpreter",
                    "code_interpreter": {"input": "1)", "outputs": [{"index": 0, "type": "logs", "logs": "1"}]},
                }
            ]
        },
    )
    merge(
        acc,
        {
            "tool_calls": [
                {"index": 1, "type": "code_interpreter", "code_interpreter": {"outputs": [{"index": 0, "type": "logs", "logs": "\n"}]}}
            ]
        },
    )
    merge(
        acc,
        {
            "tool_calls": [
                {
                    "index": 1,
                    "type": "code_interpreter",
                    "code_interpreter": {"outputs": [{"index": 1, "type": "image", "image": {"file_id": "file-png"}}]},
                }
            ]
        },
    )
    got = snapshot(acc)["tool_calls"]
    assert got[0]["function"] == {"name": "f", "arguments": '{"a": 1}', "output": None}
    assert got[1]["code_interpreter"]["input"] == "print(1)"
    assert got[1]["code_interpreter"]["outputs"] == [
        {"index": 0, "type": "logs", "logs": "1\n"},
        {"index": 1, "type": "image", "image": {"file_id": "file-png"}},
    ]


def test_merge_joins_refusals_and_keeps_image_parts():
    acc = {}
    merge(acc, {"content": [{"index": 0, "type": "refusal", "refusal": "I can't"}]})
    merge(acc, {"content": [{"index": 0, "type": "refusal", "refusal": " help."}]})
    merge(acc, {"content": [{"index": 1, "type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "auto"}}]})
    merge(acc, {"content": [{"index": 2, "type": "image_file", "image_file": {"file_id": "file-1"}}]})
    got = snapshot(acc)["content"]
    assert got[0]["refusal"] == "I can't help."
    assert got[1]["image_url"]["url"] == "https://x/y.png"
    assert got[2]["image_file"] == {"file_id": "file-1"}


def test_merge_does_not_touch_the_delta():
    item = text(0, "Hi", [])
    frozen = copy.deepcopy(item)
    acc = {}
    merge(acc, {"content": [item]})
    merge(acc, {"content": [text(0, " there", [])]})
    assert item == frozen


def test_a_snapshot_is_a_copy():
    acc = merge({}, {"content": [text(0, "Hi", [])]})
    snap = snapshot(acc)
    snap["content"][0]["text"]["value"] = "changed"
    assert snapshot(acc)["content"][0]["text"]["value"] == "Hi"


def test_a_negative_or_non_integer_index_is_malformed():
    with pytest.raises(ValueError):
        merge({"content": []}, {"content": [{"index": -1, "type": "text"}]})
    body = delta({"index": "0", "type": "text", "text": {"value": "x"}})
    with pytest.raises(assistant_stream.ProtocolError, match="malformed"):
        assistant_stream.replay(body).until_done()


# -- derived events -----------------------------------------------------------------


def test_each_text_part_is_created_and_done_once():
    stream, seen = play(
        sse("thread.message.created", message()),
        delta(text(0, "Hello")),
        delta(text(0, " world")),
        delta({"index": 1, "type": "image_file", "image_file": {"file_id": "file-1"}}),
        delta(text(2, "Bye")),
        sse("thread.message.completed", message("completed", [
            {"type": "text", "text": {"value": "Hello world", "annotations": []}},
            {"type": "image_file", "image_file": {"file_id": "file-1"}},
            {"type": "text", "text": {"value": "Bye", "annotations": []}},
        ])),
    )  # fmt: skip
    assert derived(seen) == [
        ("text.created", "Hello"),
        ("text.delta", "Hello"),
        ("text.delta", " world"),
        ("image_file.done", None),
        ("text.created", "Bye"),
        ("text.delta", "Bye"),
        ("text.done", "Hello world"),
        ("text.done", "Bye"),
    ]
    assert stream.text == "Hello worldBye"
    image = next(e for e in seen.events if e.name == "image_file.done")
    assert image.snapshot["image_file"]["file_id"] == "file-1"


def test_a_message_that_arrives_whole_still_yields_its_text_events():
    whole = message("completed", [{"type": "text", "text": {"value": "All at once", "annotations": []}}])
    stream, seen = play(sse("thread.message.completed", whole))
    assert derived(seen) == [("text.created", "All at once"), ("text.delta", "All at once"), ("text.done", "All at once")]
    assert stream.text == "All at once"


def test_text_the_completed_message_adds_arrives_as_a_delta():
    completed = message("completed", [{"type": "text", "text": {"value": "Hello world!", "annotations": []}}])
    stream, seen = play(delta(text(0, "Hello")), sse("thread.message.completed", completed))
    assert derived(seen) == [("text.created", "Hello"), ("text.delta", "Hello"), ("text.delta", " world!"), ("text.done", "Hello world!")]
    assert stream.text == "Hello world!"


def test_deltas_for_a_message_from_an_earlier_stream_are_accepted():
    stream, seen = play(delta(text(0, "continued"), message_id="msg_old"))
    assert stream.final_messages() == [
        {"id": "msg_old", "object": "thread.message", "content": [{"index": 0, "type": "text", "text": {"value": "continued"}}]}
    ]
    assert stream.text == "continued"


def test_tool_calls_are_created_delta_and_done_once_each():
    created = {
        "id": "step_1",
        "object": "thread.run.step",
        "type": "tool_calls",
        "status": "in_progress",
        "step_details": {"type": "tool_calls", "tool_calls": []},
    }
    calls = [
        {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}', "output": "out"}},
        {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}", "output": "out"}},
    ]
    stream, seen = play(
        sse("thread.run.step.created", created),
        step_delta({"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}),
        step_delta({"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}"}}),
        step_delta({"index": 0, "type": "function", "function": {"arguments": '{"x": 1}'}}),
        sse("thread.run.step.completed", dict(created, status="completed", step_details={"type": "tool_calls", "tool_calls": calls})),
    )
    names = [e.name for e in seen.events if e.name.startswith("tool_call.")]
    assert names == [
        "tool_call.created",
        "tool_call.delta",
        "tool_call.created",
        "tool_call.delta",
        "tool_call.delta",
        "tool_call.done",
        "tool_call.done",
    ]
    done = [e for e in seen.events if e.name == "tool_call.done"]
    assert [e.data["id"] for e in done] == ["call_a", "call_b"]
    assert [e.snapshot for e in done] == calls
    assert stream.final_run_steps()[0]["step_details"]["tool_calls"] == calls


def test_function_calls_are_done_when_the_run_requires_action_and_not_again():
    required = dict(RUN, status="requires_action", required_action={"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [
        {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
    ]}})  # fmt: skip
    completed_step = {"id": "step_1", "status": "completed", "step_details": {"type": "tool_calls", "tool_calls": [
        {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}", "output": "42"}},
    ]}}  # fmt: skip
    stream, seen = play(
        step_delta({"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}}),
        sse("thread.run.requires_action", required),
        sse("thread.run.step.completed", completed_step),
    )
    names = [e.name for e in seen.events]
    assert names.count("tool_call.done") == 1
    assert names.index("tool_call.done") == names.index("thread.run.requires_action") + 1


def test_a_step_delta_for_a_step_from_an_earlier_stream_is_accepted():
    stream, seen = play(
        step_delta({"index": 0, "id": "call_z", "type": "code_interpreter", "code_interpreter": {"input": "1+1"}}, step_id="step_old")
    )
    assert stream.final_run_steps()[0]["id"] == "step_old"
    assert stream.final_run_steps()[0]["step_details"]["tool_calls"][0]["code_interpreter"]["input"] == "1+1"


@pytest.mark.parametrize("status", ["failed", "cancelled", "expired", "incomplete"])
def test_runs_that_end_otherwise_are_returned_with_their_status(status):
    # The event name says completed; the payload decides.
    body = sse("thread.run.completed", dict(RUN, status=status)) + sse("done", "[DONE]")
    assert assistant_stream.replay(body).until_done()["status"] == status


def test_a_run_payload_without_a_status_is_malformed():
    with pytest.raises(assistant_stream.ProtocolError, match="malformed 'thread.run.created'"):
        assistant_stream.replay(sse("thread.run.created", {"id": "run_1"})).until_done()


def test_event_data_is_the_payload_and_snapshot_the_accumulation():
    stream, seen = play(delta(text(0, "Hel")), delta(text(0, "lo")))
    deltas = [e for e in seen.events if e.name == "text.delta"]
    assert [e.data for e in deltas] == [text(0, "Hel"), text(0, "lo")]
    assert deltas[-1].snapshot == {"value": "Hello"}
    message_delta = next(e for e in seen.events if e.name == "thread.message.delta")
    assert message_delta.data["delta"]["content"][0]["text"]["value"] == "Hel"


def test_deeply_nested_json_is_a_protocol_error():
    deep = b"[" * 100000 + b"]" * 100000
    with pytest.raises(assistant_stream.ProtocolError, match="invalid JSON"):
        assistant_stream.replay(b"event: thread.message.delta\ndata: " + deep + b"\n\n").until_done()
    stream, seen = play(b"event: vendor.deep\ndata: " + deep + b"\n\n")
    assert next(e for e in seen.events if e.name == "vendor.deep").data == deep.decode()


def test_a_call_first_seen_at_requires_action_is_announced_once():
    created = {"id": "step_1", "status": "in_progress", "step_details": {"type": "tool_calls", "tool_calls": []}}
    call = {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    required = dict(
        RUN, status="requires_action", required_action={"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [call]}}
    )
    completed = dict(
        created,
        status="completed",
        step_details={"type": "tool_calls", "tool_calls": [dict(call, function=dict(call["function"], output="1"))]},
    )
    stream, seen = play(
        sse("thread.run.step.created", created), sse("thread.run.requires_action", required), sse("thread.run.step.completed", completed)
    )
    assert [e.name for e in seen.events if e.name.startswith("tool_call.")] == ["tool_call.created", "tool_call.done"]


def test_a_stream_callback_registered_in_a_callback_sees_the_derived_events_that_follow():
    handlers = assistant_stream.Handlers()
    stream = assistant_stream.replay(delta(text(0, "Hi")) + delta(text(0, "!")) + delta(text(0, "?")) + END, handlers)
    seen = Recorder()

    @handlers.on("message.delta")
    def register_late(event):  # by the second delta, "text.delta" is already resolved and cached
        if event.data["delta"]["content"][0]["text"]["value"] == "!":
            stream.on("text.delta", seen)

    stream.until_done()
    assert [e.text for e in seen.events] == ["!", "?"]
