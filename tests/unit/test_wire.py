"""The wire: a pure framer (chunks in, whole event blocks out), a decoder
(sseclient-py's fields, JSON, names), and how they cover sseclient-py's
deviations from the WHATWG rules."""

import pytest
import sseclient

import assistant_stream
from assistant_stream import _decode, _Framer
from conftest import CHAT, FINISHED, RECORDINGS, RUN, Recorder, byte_chunks, play, random_chunks, sse

DONE_RUN = dict(RUN, status="completed")
NAMES = frozenset(("thread.run.in_progress", "error"))  # what a dialect would hold to JSON


def frame(chunks, required=NAMES, max_bytes=1 << 20):
    framer = _Framer(required, max_bytes)
    return list(framer.blocks(chunks)), framer.tail


def decode(body, required=NAMES):
    return list(_decode(_Framer(required, 1 << 20), [body], required))


# -- the framer, alone -------------------------------------------------------------


@pytest.mark.parametrize("chunker", [lambda body: [body], byte_chunks, random_chunks], ids=["whole", "bytes", "random"])
def test_the_framer_hands_over_whole_events_and_keeps_the_unfinished_tail(chunker):
    body = sse("a", {"n": 1}).replace(b"\n", b"\r\n") + b": comment\r\r" + sse("b", {"n": 2}) + b"event: c\ndata: {"
    blocks, tail = frame(chunker(body))
    assert blocks == [b'event: a\ndata: {"n": 1}\n\n', b": comment\n\n", b'event: b\ndata: {"n": 2}\n\n']
    assert tail == b"event: c\ndata: {"


def test_the_framer_refuses_a_dataless_event_only_if_its_name_is_required():
    dataless = b"event: thread.run.in_progress\nid: 1\n\n"
    assert frame([dataless + sse("x", 1)], required=frozenset())[0][0] == dataless  # sseclient-py drops it
    with pytest.raises(assistant_stream.ProtocolError, match="'thread.run.in_progress' has no data line"):
        frame([dataless + sse("x", 1)])


def test_the_framer_bounds_an_event_before_it_is_whole():
    with pytest.raises(assistant_stream.ProtocolError, match="larger than 100 bytes"):
        frame([b"data: " + b"x" * 60, b"x" * 60], max_bytes=100)


# -- the decoder, alone ----------------------------------------------------------------


def test_the_decoder_parses_json_names_by_type_and_knows_done():
    body = sse("thread.run.in_progress", RUN) + b'data: {"type": "vendor.typed", "a": 1}\n\n' + b"data: [DONE]\n\n"
    assert decode(body) == [("thread.run.in_progress", RUN), ("vendor.typed", {"type": "vendor.typed", "a": 1}), ("done", "[DONE]")]


def test_the_decoder_holds_only_the_names_it_is_given_to_json():
    body = b"event: thread.run.in_progress\ndata: not json\n\n"
    assert decode(body, required=frozenset()) == [("thread.run.in_progress", "not json")]
    with pytest.raises(assistant_stream.ProtocolError, match="carries invalid JSON"):
        decode(body)
    with pytest.raises(assistant_stream.ProtocolError, match="carries list, not a JSON object"):
        decode(b"event: error\ndata: [1]\n\n")


# -- through a stream ------------------------------------------------------------------


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
    # over _LARGE_EVENT, sseclient-py gets a stand-in; _fields parses the event itself
    assert SpySSEClient.pieces[0] == assistant_stream._LARGE and SpySSEClient.pieces[1:] == [
        FINISHED[: FINISHED.index(b"\n\n") + 2],
        sse("done", "[DONE]"),
    ]


def test_an_event_named_like_the_stand_in_is_an_ordinary_event():
    stream, seen, _ = play(assistant_stream._LARGE, sse("thread.run.created", RUN), FINISHED)
    assert [(e.name, e.data) for e in seen.events][:2] == [("\x00", "\x00"), ("thread.run.created", RUN)]


def _unbatched(blocks, limit):
    return [(block + b"\n\n", 0) for block in blocks]


@pytest.mark.parametrize("path", RECORDINGS + CHAT, ids=lambda path: path.name)
def test_events_that_arrive_together_are_the_same_events_batched_or_not(monkeypatch, path):
    # Events of one name that arrive together go to sseclient-py as one event
    # of many data lines, and are split back: the same (name, data), in order.
    body = path.read_bytes()
    for pieces in ([body], random_chunks(body, seed=3), [body[i : i + 4096] for i in range(0, len(body), 4096)]):
        batched = list(_decode(_Framer(assistant_stream._API_EVENTS), pieces, assistant_stream._API_EVENTS))
        with monkeypatch.context() as patch:
            patch.setattr(assistant_stream, "_batched", _unbatched)
            assert list(_decode(_Framer(assistant_stream._API_EVENTS), pieces, assistant_stream._API_EVENTS)) == batched


@pytest.mark.parametrize(
    "body",
    [
        b"event: a\ndata: 1\n\nevent: a\ndata: 2\n\nevent: b\ndata: 3\n\nevent: a\ndata: 4\n\n",
        b"data: 1\n\ndata:2\n\ndata: [DONE]\n\n",
        b"event: a\ndata: 1\n\nevent: a\ndata: 2\ndata: 3\n\nevent: a\nid: 9\ndata: 4\n\nevent: a\ndata: 5\n\nevent: a\ndata: 6\n\n",
        b'event: a\ndata: caf\xe9\n\nevent: a\ndata: "ok"\n\nevent: a\ndata:\n\nevent: a\ndata: \n\n',
        b": comment\n\nevent: a\ndata: 1\n\nevent:a\ndata: 2\n\nevent: a\ndata: 3\n\nevent: a\ndata: 4\n\n",
    ],
    ids=["names", "data only", "several lines", "bad utf-8 and empty data", "comments and spellings"],
)
def test_batches_split_back_into_their_events(monkeypatch, body):
    unknown = frozenset()
    batched = list(_decode(_Framer(unknown), [body], unknown))
    framer = _Framer(unknown)
    assert any(count > 1 for _, count in assistant_stream._batched([b for b in body[:-2].split(b"\n\n") if b], 1 << 20))
    monkeypatch.setattr(assistant_stream, "_batched", _unbatched)
    assert list(_decode(framer, [body], unknown)) == batched


def test_a_long_run_goes_in_batches_of_bounded_size(monkeypatch):
    # sseclient-py copies an event's data again for each line: a run that
    # arrived together is cut at about _RUN_BYTES, and splits back the same.
    body = b"".join(b"event: a\ndata: %d\n\n" % i for i in range(5000))
    blocks = [b for b in body[:-2].split(b"\n\n") if b]
    found = assistant_stream._batched(blocks, 1 << 20)
    assert len(found) > 1 and sum(count for _, count in found) == 5000
    assert all(len(block) <= assistant_stream._RUN_BYTES + 64 for block, _ in found)
    batched = list(_decode(_Framer(frozenset()), [body], frozenset()))
    assert [data for _, data in batched] == list(range(5000))
    monkeypatch.setattr(assistant_stream, "_batched", _unbatched)
    assert list(_decode(_Framer(frozenset()), [body], frozenset())) == batched


def test_an_event_over_the_size_limit_is_not_hidden_in_a_batch():
    small, large = b"event: a\ndata: 1\n\n", b"event: a\ndata: " + b"x" * 2000 + b"\n\n"
    framer = _Framer(frozenset(), max_bytes=1000)
    with pytest.raises(assistant_stream.ProtocolError, match="larger than 1000 bytes"):
        list(_decode(framer, [small + large + small], frozenset()))


def _sseclient_fields(block):
    """sseclient-py's reading of one block, as _decode uses it: strict UTF-8,
    else the block again with U+FFFD."""
    try:
        events = list(sseclient.SSEClient(iter([block])).events())
    except UnicodeDecodeError:
        events = list(sseclient.SSEClient(iter([block.decode("utf-8", "replace").encode()])).events())
    return [(e.event, e.data) for e in events]


FIELD_LINES = [
    b"data",
    b"data:",
    b"data: ",
    b"data:  two spaces",
    b"data:x",
    b'data: {"a": 1}',
    b"data:a:b: c",
    b"event",
    b"event:",
    b"event: thread.run.created",
    b"event:  spaced",
    b"event:\x00",
    b"id: 7",
    b"retry: 10",
    b": a comment",
    b":",
    b"dat: x",
    b"Data: x",
    b" data: x",
    b"data : x",
    b"data\t: x",
    b"data:\tx",
    b"event:\tx",
    b"\x0b",
    b"\xc2\x85",
    b"\xe3\x80\x80",
    b"data: caf\xe9",
    b"event: \xff\xfe",
    b"data: \xf0\x9f\x98",
    b"data: \xf0\x9f\x98\x80 \xe4\xbd\xa0",
    b"",
]


def test_the_large_event_parser_reads_fields_as_sseclient_does():
    pytest.importorskip("hypothesis")  # (the oldest stack's CI job has none)
    from hypothesis import given, settings
    from hypothesis import strategies as st

    line = st.one_of(st.sampled_from(FIELD_LINES), st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b"")))

    @settings(max_examples=2000, deadline=None)
    @given(st.lists(line, min_size=1, max_size=8))
    def check(lines):
        block = b"\n".join(line for line in lines if line) + b"\n\n"  # as the framer hands it over: LF, one blank line at the end
        expected = _sseclient_fields(block)
        found = assistant_stream._fields(block)
        assert ([found] if found is not None else []) == expected

    check()


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


def test_invalid_utf8_is_decoded_as_the_replacement_character(caplog):
    caplog.set_level("DEBUG", logger="assistant_stream")
    delta = b'{"id": "msg_1", "delta": {"content": [{"index": 0, "type": "text", "text": {"value": "caf\xe9 \xff"}}]}}'
    body = sse("thread.run.in_progress", RUN) + b"event: thread.message.delta\ndata: " + delta + b"\n\n"
    body += b'event: vendor.note\r\ndata: {"x": "\xc3"}\r\n\r\n' + FINISHED
    stream = assistant_stream.replay(byte_chunks(body))
    events = list(stream)
    assert stream.text == "caf\ufffd \ufffd" and next(e for e in events if e.name == "vendor.note").data == {"x": "\ufffd"}
    assert events[-1].name == "end" and stream.final_run()["status"] == "completed"
    assert caplog.text.count("invalid UTF-8 in an event, decoded as U+FFFD") == 2


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


def test_an_event_of_a_thousand_lines_is_taken_and_one_more_is_not():
    # The limit, exactly: 1000 lines (the event line and 999 data lines) pass; 1001 do not.
    def run_of(lines):  # an event of this many lines (one any data may come in), then a whole run
        return b"event: vendor.notes\n" + b"data: x\n" * (lines - 1) + b"\n" + sse("thread.run.created", RUN) + FINISHED

    assert assistant_stream.replay(run_of(1000)).until_done()["status"] == "completed"
    with pytest.raises(assistant_stream.ProtocolError, match="more than 1000 lines"):
        assistant_stream.replay(run_of(1001)).until_done()


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


@pytest.mark.parametrize("body", [b"\n\n\n" + FINISHED, FINISHED + b"\n\n\n", b"\r\n" + FINISHED])
def test_extra_blank_lines_are_harmless(body):
    assert names(body) == ["thread.run.completed", "done", "end"]


def test_deeply_nested_json_is_a_protocol_error():
    deep = b"[" * 100000 + b"]" * 100000
    with pytest.raises(assistant_stream.ProtocolError, match="invalid JSON"):
        assistant_stream.replay(b"event: thread.message.delta\ndata: " + deep + b"\n\n").until_done()
    stream, seen, final = play(b"event: vendor.deep\ndata: " + deep + b"\n\n", FINISHED)
    assert next(e for e in seen.events if e.name == "vendor.deep").data == deep.decode()


def test_an_empty_chunk_between_cr_and_lf_is_nothing():
    body = (sse("thread.run.in_progress", RUN) + FINISHED).replace(b"\n", b"\r\n")
    chunks = []
    for piece in byte_chunks(body):
        chunks += [piece, b""]
    assert names(chunks) == ["thread.run.in_progress", "thread.run.completed", "done", "end"]


@pytest.mark.parametrize(
    "dialect, name",
    [
        (None, "thread.run.created"),
        (None, "response.created"),
        (None, "response.output_text.delta"),
        (assistant_stream._RunDialect, "thread.message.delta"),
        (assistant_stream._ResponseDialect, "response.output_text.delta"),
    ],
)
def test_invalid_json_in_any_apis_event_is_a_protocol_error_replayed_or_live(dialect, name):
    # A replay does not know its API yet: it holds every API's events to JSON;
    # a live stream, its own API's.
    body = b"event: " + name.encode() + b"\ndata: {not json\n\n"
    stream = assistant_stream.Stream([body], dialect=dialect() if dialect else None)
    with pytest.raises(assistant_stream.ProtocolError, match="'%s' carries invalid JSON" % name):
        stream.until_done()


def test_a_live_stream_takes_another_apis_event_as_it_comes():
    body = b"event: response.output_text.delta\ndata: not json\n\n" + sse("thread.run.completed", dict(RUN, status="completed"))
    stream = assistant_stream.Stream([body], dialect=assistant_stream._RunDialect())
    seen = stream.on("*", Recorder())
    assert stream.until_done()["status"] == "completed"
    assert (seen.events[0].name, seen.events[0].data) == ("response.output_text.delta", "not json")


@pytest.mark.parametrize("chunked", [False, True], ids=["one chunk", "in pieces"])
def test_an_event_over_256_kib_is_parsed_by_the_modules_own_parser(monkeypatch, chunked):
    # The README's threshold: up to 256 KiB an event goes to sseclient-py, above
    # it to _fields, which decodes its data once (the same fields either way).
    parsed = []
    own = assistant_stream._fields
    monkeypatch.setattr(assistant_stream, "_fields", lambda block: parsed.append(len(block)) or own(block))
    for size, by_fields in ((256 * 1024, False), (256 * 1024 + 1, True)):
        head = b"event: vendor.note\ndata: "
        body = head + b"x" * (size - len(head) - 2) + b"\n\n"
        assert len(body) == size
        chunks = [body[i : i + 1000] for i in range(0, size, 1000)] if chunked else [body]
        ((name, data),) = list(_decode(_Framer(assistant_stream._API_EVENTS), chunks, assistant_stream._API_EVENTS))
        assert (name, data) == ("vendor.note", "x" * (size - len(head) - 2))
        assert bool(parsed) is by_fields, size
