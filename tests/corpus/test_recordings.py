"""Every recorded stream in tests/fixtures, replayed whole and in pieces."""

import json

import pytest

import assistant_stream
from conftest import AZURE, CHUNKINGS, DOC_EXAMPLES, FIXTURES, RECORDINGS, Recorder, play, reference_events, trace

IDS = [path.stem for path in RECORDINGS]


def completed(body: bytes, event_names: tuple) -> list:
    return [json.loads(data) for name, data in reference_events(body) if name in event_names]


@pytest.mark.parametrize("path", RECORDINGS, ids=IDS)
@pytest.mark.parametrize("chunking", sorted(CHUNKINGS))
def test_chunking_and_line_endings_change_nothing(path, chunking):
    body = path.read_bytes()
    expected = trace(assistant_stream.replay(body))
    assert trace(assistant_stream.replay(CHUNKINGS[chunking](body))) == expected
    assert expected["events"][-1][0] == "end"


@pytest.mark.parametrize("path", RECORDINGS, ids=IDS)
def test_joined_text_deltas_equal_the_final_message_text(path):
    body = path.read_bytes()
    fragments = {}

    def collect(event):
        for part in event.data["delta"]["content"]:
            fragments.setdefault(event.data["id"], []).append(part["text"]["value"])

    handlers = assistant_stream.Handlers()
    handlers.on("message.delta", collect)
    stream = assistant_stream.replay(body, handlers)
    stream.until_done()

    finals = completed(body, ("thread.message.completed", "thread.message.incomplete"))
    # every recording but the one that stops for a function call has a finished message
    assert bool(finals) != ("requires_action" in path.name)
    for message in finals:
        text = "".join(part["text"]["value"] for part in message["content"] if part["type"] == "text")
        assert "".join(fragments[message["id"]]) == text
    assert stream.text == "".join(part["text"]["value"] for message in finals for part in message["content"] if part["type"] == "text")
    assert [m["id"] for m in stream.final_messages()] == [m["id"] for m in finals]
    assert stream.final_messages() == finals  # the completed payload replaces what was accumulated


@pytest.mark.parametrize("path", RECORDINGS, ids=IDS)
def test_accumulated_tool_calls_equal_the_completed_step(path):
    body = path.read_bytes()
    last_snapshot = {}
    handlers = assistant_stream.Handlers()
    ids = {}

    def remember_id(event):
        # deltas after the first carry only the index: map it to the call id
        step_id = event.stream.current_run_step["id"]
        if "id" in event.data:
            ids[(step_id, event.data["index"])] = event.data["id"]
        last_snapshot[ids[(step_id, event.data["index"])]] = event.snapshot

    handlers.on("tool_call.delta", remember_id)
    assistant_stream.replay(body, handlers).until_done()

    reference = {}
    for step in completed(body, ("thread.run.step.completed",)):
        for call in step["step_details"].get("tool_calls", []):
            reference[call["id"]] = call
    for run in completed(body, ("thread.run.requires_action",)):
        for call in run["required_action"]["submit_tool_outputs"]["tool_calls"]:
            reference.setdefault(call["id"], call)

    streamed = [call_id for call_id in last_snapshot if call_id in reference]
    assert len(streamed) == len(last_snapshot), "every streamed call is in a completed step or required action"
    for call_id in streamed:
        got, want = last_snapshot[call_id], reference[call_id]
        if want["type"] == "function":
            assert got["function"]["name"] == want["function"]["name"]
            assert got["function"]["arguments"] == want["function"]["arguments"]
        elif want["type"] == "code_interpreter":
            assert got["code_interpreter"]["input"] == want["code_interpreter"]["input"]
    kinds = {reference[c]["type"] for c in streamed}
    if "code_interpreter" in path.name:
        assert kinds == {"code_interpreter"}
    if "requires_action" in path.name:
        assert kinds == {"function"}


@pytest.mark.parametrize("path", RECORDINGS, ids=IDS)
def test_status_comes_from_the_payload(path):
    body = path.read_bytes()
    runs = [json.loads(data) for name, data in reference_events(body) if name.startswith("thread.run.") and ".step." not in name]
    stream = assistant_stream.replay(body)
    assert stream.until_done()["status"] == runs[-1]["status"]


@pytest.mark.parametrize("path", DOC_EXAMPLES, ids=[p.stem for p in DOC_EXAMPLES])
@pytest.mark.parametrize("chunking", ["whole", "bytes"])
def test_malformed_documentation_examples_raise_protocol_error(path, chunking):
    body = path.read_bytes()
    stream = assistant_stream.replay(CHUNKINGS[chunking](body))
    with pytest.raises(assistant_stream.ProtocolError) as info:
        stream.until_done()
    assert info.value.stream is stream
    assert "thread.run" in str(info.value)
    assert stream.current_run is not None or "created" in str(info.value)


# -- the Responses API ---------------------------------------------------------------

RECORDED = (FIXTURES / "responses" / "openllmetry_responses_text_stream.sse").read_bytes()


@pytest.mark.parametrize("chunking", sorted(CHUNKINGS))
def test_the_recorded_stream_in_any_chunking(chunking):
    expected = trace(assistant_stream.replay(RECORDED))
    assert trace(assistant_stream.replay(CHUNKINGS[chunking](RECORDED))) == expected


def test_the_recorded_stream_joins_to_its_text_and_returns_the_response():
    recorded = dict(reference_events(RECORDED))
    final_text = json.loads(recorded["response.output_text.done"])["text"]
    completed = json.loads(recorded["response.completed"])["response"]
    handlers = assistant_stream.Handlers()
    deltas = handlers.on("text.delta", Recorder())
    stream, seen, final = play(RECORDED, handlers=handlers)
    assert "".join(e.text for e in deltas.events) == stream.text == final_text
    assert len(deltas.events) == 78 and "Luna\u2019s" in stream.text
    assert final == completed == stream.final_response()
    assert stream.status == "completed" and stream.finished and stream.current_run is None
    assert seen.names.count("text.created") == seen.names.count("text.done") == 1
    assert seen.names[-1] == "end" and seen.events[-1].data == completed
    assert "done" not in seen.names  # the Responses API sends none


def test_events_named_only_in_their_json_and_a_done_line():
    # Some compatible servers send data lines only, and a final data: [DONE].
    body = b"\n".join(line for line in RECORDED.split(b"\n") if not line.startswith(b"event:")) + b"data: [DONE]\n\n"
    assert b"event:" not in body
    stream, seen, final = play(body)
    assert stream.text == assistant_stream.replay(RECORDED).final_response()["output"][0]["content"][0]["text"]
    assert seen.names[0] == "response.created" and seen.names[-2:] == ["done", "end"]


# -- cut short ----------------------------------------------------------------------

LAST_WORDS = ("completed", "failed", "cancelled", "expired", "incomplete", "requires_action")
CUT_SHORT = RECORDINGS + AZURE + [FIXTURES / "responses" / "openllmetry_responses_text_stream.sse"]


def last_word(name: str) -> bool:
    """Whether an event says its run or response has stopped (a step's or a
    message's status says nothing about the run's)."""
    kind, _, status = name.rpartition(".")
    return name == "error" or (kind in ("thread.run", "response") and status in LAST_WORDS)


@pytest.mark.parametrize("path", CUT_SHORT, ids=[path.stem for path in CUT_SHORT])
def test_a_recording_cut_before_its_last_word_is_incomplete_wherever_it_is_cut(path):
    # A continuation cut after its first event (a step created in the previous
    # stream, completed) must not finish "successfully" in_progress, nor may a
    # cut anywhere else before the run or the response says it stopped.
    events = [block + b"\n\n" for block in path.read_bytes().replace(b"\r\n", b"\n").split(b"\n\n") if block.strip()]
    names = [block.split(b"\n", 1)[0][len(b"event: ") :].decode() for block in events]
    stops = next(index for index, name in enumerate(names) if last_word(name))
    for cut in range(1, stops + 1):
        stream = assistant_stream.replay(b"".join(events[:cut]))
        with pytest.raises(assistant_stream.IncompleteStreamError) as info:
            stream.until_done()
        assert info.value.stream is stream and not stream.finished, (path.stem, cut, names[cut - 1])
        assert stream.status in (None, "queued", "in_progress"), (path.stem, cut)
    whole = assistant_stream.replay(b"".join(events[: stops + 1]))
    if names[stops] == "error":
        with pytest.raises(assistant_stream.StreamError):
            whole.until_done()
    else:
        said = json.loads(events[stops].split(b"\ndata: ", 1)[1])
        assert whole.until_done()["status"] == said.get("response", said)["status"] and whole.finished  # the payload's word
