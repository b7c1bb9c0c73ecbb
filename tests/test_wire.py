"""Framing the body for sseclient-py, and covering its deviations from WHATWG."""

import pytest
import sseclient

import assistant_stream
from conftest import RECORDINGS, Recorder, byte_chunks, random_chunks, sse

RUN = {"id": "run_1", "object": "thread.run", "status": "in_progress", "thread_id": "thread_1"}
DONE_RUN = dict(RUN, status="completed")
FINISHED = sse("thread.run.completed", DONE_RUN) + sse("done", "[DONE]")


def names(body_or_chunks):
    return [event.name for event in assistant_stream.replay(body_or_chunks)]


class SpySSEClient(sseclient.SSEClient):
    """Records every piece the module hands to sseclient-py."""

    pieces = []

    def __init__(self, event_source, char_enc="utf-8"):
        def spy():
            for piece in event_source:
                SpySSEClient.pieces.append(piece)
                yield piece

        super().__init__(spy(), char_enc)


@pytest.mark.parametrize("chunker", [byte_chunks, random_chunks], ids=["bytes", "random"])
def test_sseclient_gets_one_whole_event_per_piece(monkeypatch, chunker):
    # Whole events are what keeps sseclient-py linear: it re-concatenates its
    # buffer for every piece of an unfinished event.
    monkeypatch.setattr(assistant_stream.sseclient, "SSEClient", SpySSEClient)
    SpySSEClient.pieces = []
    body = RECORDINGS[0].read_bytes()
    events = list(assistant_stream.replay(chunker(body)))
    wire = [piece for piece in SpySSEClient.pieces]
    assert len(wire) == body.count(b"\n\n")
    assert all(piece.endswith(b"\n\n") and piece.count(b"\n\n") == 1 for piece in wire)
    assert b"".join(wire) == body
    assert len([e for e in events if e.name.startswith("thread.") or e.name == "done"]) == len(wire)


def test_a_large_event_in_small_chunks_reaches_sseclient_whole(monkeypatch):
    monkeypatch.setattr(assistant_stream.sseclient, "SSEClient", SpySSEClient)
    SpySSEClient.pieces = []
    big = {
        "id": "msg_1",
        "object": "thread.message.delta",
        "delta": {"content": [{"index": 0, "type": "text", "text": {"value": "x" * 2_000_000}}]},
    }
    body = sse("thread.message.delta", big) + FINISHED
    stream = assistant_stream.replay([body[i : i + 128] for i in range(0, len(body), 128)])
    stream.until_done()
    assert stream.text == "x" * 2_000_000
    assert len(SpySSEClient.pieces) == 3


@pytest.mark.parametrize("split", [1, 2, 3, 5])
def test_a_leading_bom_is_stripped_even_when_split(split):
    body = b"\xef\xbb\xbf" + sse("thread.run.in_progress", RUN) + FINISHED
    assert names([body[:split], body[split:]])[0] == "thread.run.in_progress"


def test_only_the_first_bom_is_stripped():
    # A second BOM makes the first field name "\ufeffevent": an unknown field.
    body = b"\xef\xbb\xbf\xef\xbb\xbf" + sse("thread.run.in_progress", RUN) + FINISHED
    events = assistant_stream.replay(body)
    assert [e.name for e in events][0] == "message"


BLANK_LINES = {
    "lf": b"\n",
    "crlf": b"\r\n",
    "cr": b"\r",
}


# Every (line ending, blank line) pair but CR then LF, which is one CRLF line ending.
PAIRS = [(a, b) for a in sorted(BLANK_LINES) for b in sorted(BLANK_LINES) if (a, b) != ("cr", "lf")]


@pytest.mark.parametrize("first, second", PAIRS)
@pytest.mark.parametrize("chunker", [lambda b: [b], byte_chunks], ids=["whole", "bytes"])
def test_every_pair_of_line_endings_ends_an_event(first, second, chunker):
    # sseclient-py misses LF followed by CR, and CR followed by CRLF.
    eol, blank = BLANK_LINES[first], BLANK_LINES[second]
    event = b"event: thread.run.in_progress" + eol + b'data: {"id":"run_1","status":"in_progress"}' + eol + blank
    done = b"event: thread.run.completed" + eol + b'data: {"id":"run_1","status":"completed"}' + eol + blank
    events = assistant_stream.replay(chunker(event + done))
    assert [e.name for e in events] == ["thread.run.in_progress", "thread.run.completed", "end"]


def test_crlf_split_between_chunks_is_one_line_ending():
    body = sse("thread.run.in_progress", RUN).replace(b"\n", b"\r\n") + FINISHED.replace(b"\n", b"\r\n")
    cut = body.index(b"\r\n") + 1
    assert names([body[:cut], body[cut:]]) == ["thread.run.in_progress", "thread.run.completed", "done", "end"]


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


def test_a_body_that_ends_before_the_run_finishes_is_incomplete():
    stream = assistant_stream.replay(sse("thread.run.in_progress", RUN))
    with pytest.raises(assistant_stream.IncompleteStreamError):
        stream.until_done()
    assert stream.closed


def test_an_empty_body_is_incomplete():
    with pytest.raises(assistant_stream.IncompleteStreamError, match="before the run started"):
        assistant_stream.replay(b"").until_done()


def test_invalid_utf8_is_a_protocol_error_and_keeps_what_came_before():
    body = sse("thread.run.in_progress", RUN) + b'event: thread.message.delta\ndata: {"x": "\xff"}\n\n' + FINISHED
    stream = assistant_stream.replay(body)
    with pytest.raises(assistant_stream.ProtocolError, match="UTF-8"):
        stream.until_done()
    assert stream.current_run["status"] == "in_progress"


def test_an_event_over_the_limit_raises_before_the_rest_is_read():
    consumed = []

    def endless():
        yield b"event: thread.message.delta\ndata: "
        while True:
            consumed.append(1)
            yield b"x" * 1_000_000

    stream = assistant_stream.replay(endless(), max_event_bytes=4_000_000)
    with pytest.raises(assistant_stream.ProtocolError, match="larger than 4000000 bytes"):
        stream.until_done()
    assert len(consumed) == 4


def test_a_complete_event_over_the_limit_raises():
    body = sse("thread.message.delta", {"id": "m", "delta": {"content": []}, "pad": "x" * 5000})
    with pytest.raises(assistant_stream.ProtocolError, match="larger than 1000 bytes"):
        assistant_stream.replay(body, max_event_bytes=1000).until_done()


def test_an_event_with_too_many_lines_raises():
    body = b"event: thread.run.in_progress\n" + b"data: {}\n" * assistant_stream._MAX_EVENT_LINES + b"\n"
    with pytest.raises(assistant_stream.ProtocolError, match="lines"):
        assistant_stream.replay(body).until_done()


def test_data_on_several_lines_is_joined_with_newlines():
    body = b'event: thread.run.in_progress\ndata: {"id": "run_1",\ndata:  "status": "in_progress"}\n\n' + FINISHED
    events = list(assistant_stream.replay(body))
    assert events[0].data == {"id": "run_1", "status": "in_progress"}


def test_an_api_event_without_data_is_a_protocol_error():
    body = sse("thread.run.in_progress", RUN) + b"event: thread.run.completed\n{oops}\n\n" + FINISHED
    with pytest.raises(assistant_stream.ProtocolError, match="'thread.run.completed' has no data line"):
        assistant_stream.replay(body).until_done()


def test_comments_unknown_fields_and_dataless_unknown_events_are_ignored():
    body = (
        b': keep-alive\n\nid: 7\nretry: 100\nevent: thread.run.in_progress\ndata: {"id":"run_1","status":"in_progress"}\n\nevent: ping\n\n'
        + FINISHED
    )
    assert names(body) == ["thread.run.in_progress", "thread.run.completed", "done", "end"]


def test_invalid_json_in_an_api_event_is_a_protocol_error():
    body = sse("thread.run.in_progress", RUN) + b"event: thread.message.delta\ndata: {not json\n\n"
    stream = assistant_stream.replay(body)
    with pytest.raises(assistant_stream.ProtocolError, match="invalid JSON"):
        stream.until_done()
    assert stream.status == "in_progress"


@pytest.mark.parametrize("payload", ["[1, 2]", "42", '"text"', "null"])
def test_an_api_event_whose_json_is_not_an_object_is_a_protocol_error(payload):
    with pytest.raises(assistant_stream.ProtocolError, match="not a JSON object"):
        assistant_stream.replay(sse("thread.run.created", payload)).until_done()


def test_an_unknown_event_with_any_data_reaches_star_and_breaks_nothing():
    body = b"event: thread.run.step.rethinking\ndata: not json at all\n\n" + sse("vendor.note", {"a": 1}) + FINISHED
    handlers = assistant_stream.Handlers()
    everything, runs = Recorder(), Recorder()
    handlers.on("*", everything)
    handlers.on("thread.run.*", runs)
    stream = assistant_stream.replay(body, handlers)
    assert stream.until_done()["status"] == "completed"
    assert [(e.name, e.data) for e in everything.events[:2]] == [
        ("thread.run.step.rethinking", "not json at all"),
        ("vendor.note", {"a": 1}),
    ]
    assert runs.names == ["thread.run.step.rethinking", "thread.run.completed"]


@pytest.mark.parametrize(
    "spoof", [b"event: end\ndata: {}\n\n", b'data: {"type": "end"}\n\n', b'event: text.delta\ndata: {"text": "x"}\n\n']
)
def test_the_server_cannot_send_an_event_the_library_derives(spoof):
    # end, text.delta, ... are the library's promises (end: finished normally);
    # a server that sends one is not speaking the protocol.
    handlers = assistant_stream.Handlers()
    ends, texts = handlers.on("end", Recorder()), handlers.on("text.delta", Recorder())
    stream = assistant_stream.replay(sse("thread.run.in_progress", RUN) + spoof + FINISHED, handlers)
    with pytest.raises(assistant_stream.ProtocolError, match="an event named '(end|text.delta)'"):
        stream.until_done()
    assert ends.events == texts.events == [] and stream.status == "in_progress" and stream.closed


@pytest.mark.parametrize("body", [b"\n\n\n" + FINISHED, FINISHED + b"\n\n\n", b"\r\n" + FINISHED])
def test_extra_blank_lines_are_harmless(body):
    assert names(body) == ["thread.run.completed", "done", "end"]
