"""The body readers, alone: the chunk reader over an in-memory buffered
reader, bounded inflation, a recording's sections, and the recording file."""

import gzip
import io
import zlib

import pytest

import assistant_stream
from assistant_stream import _dechunked, _inflated, _Recording, _Sections


class Raw:
    """What _dechunked tells when a body ends: urllib3's response, as far as it goes."""

    def __init__(self):
        self.released = False
        self._original_response = io.BytesIO()

    def release_conn(self):
        self.released = True


def dechunk(wire, size=None):
    raw = Raw()
    reader = io.BufferedReader(io.BytesIO(wire), buffer_size=size or io.DEFAULT_BUFFER_SIZE)
    return b"".join(_dechunked(reader, raw)), raw


def test_chunks_are_joined_extensions_and_trailers_skipped_and_the_connection_released():
    data, raw = dechunk(b"5;name=value\r\nhello\r\n1\r\n!\r\n0\r\nX-Trailer: yes\r\n\r\n")
    assert data == b"hello!" and raw.released and raw._original_response.closed


def test_a_large_chunk_comes_out_in_pieces_of_64_kib():
    size = 200_000
    pieces = list(_dechunked(io.BufferedReader(io.BytesIO(b"%x\r\n" % size + b"x" * size + b"\r\n0\r\n\r\n")), Raw()))
    assert b"".join(pieces) == b"x" * size and max(len(piece) for piece in pieces) <= 65536 and len(pieces) >= 4


@pytest.mark.parametrize(
    "wire, error, message",
    [
        (b"5\r\nhel", assistant_stream.IncompleteStreamError, "middle of a chunk"),
        (b"5\r\nhello\r\n", assistant_stream.IncompleteStreamError, "before the body's last chunk"),
        (b"5\r\nhelloXX0\r\n\r\n", assistant_stream.ProtocolError, "CRLF"),
        (b"5" * 2000 + b"\r\n", assistant_stream.ProtocolError, "longer than 1024"),
        (b"0\r\n" + b"X: y\r\n" * 1001, assistant_stream.ProtocolError, "trailer is too long"),
    ],
)
def test_a_broken_chunked_body(wire, error, message):
    with pytest.raises(error, match=message):
        dechunk(wire)


PAYLOAD = b"event: x\ndata: " + b"y" * 100_000 + b"\n\n"


@pytest.mark.parametrize(
    "encoded, encoding",
    [
        (gzip.compress(PAYLOAD), "gzip"),
        (gzip.compress(PAYLOAD[:5]) + gzip.compress(PAYLOAD[5:]), "x-gzip"),
        (gzip.compress(PAYLOAD) + b"\x00\x00garbage", "gzip"),  # ignored after a whole member, as gzip does
        (zlib.compress(PAYLOAD), "deflate"),
        (zlib.compress(PAYLOAD)[2:-4], "deflate"),  # raw deflate, without its zlib wrapper
        (PAYLOAD, "identity"),
    ],
    ids=["gzip", "two members", "trailing garbage", "deflate", "raw deflate", "identity"],
)
def test_inflation_in_bounded_pieces(encoded, encoding):
    pieces = list(_inflated(iter([encoded[i : i + 7] for i in range(0, len(encoded), 7)]), encoding))
    assert b"".join(pieces) == PAYLOAD and max(len(piece) for piece in pieces) <= 65536


def test_corrupt_compression_is_an_error_and_another_encoding_is_refused():
    with pytest.raises(zlib.error):
        list(_inflated(iter([b"\x1f\x8b\x08\x00 not gzip at all"]), "gzip"))
    with pytest.raises(assistant_stream.ProtocolError, match="encoded as 'zstd'"):
        list(_inflated(iter([b"x"]), "zstd"))


# -- a recording's sections --------------------------------------------------------------------


def sections_of(chunks):
    source = _Sections(chunks)
    found = []
    while True:
        found.append(b"".join(source.section()))
        if source.following is None:
            return found, source
        found.append(source.following)


BODIES = b"a: 1\n\n: assistant-stream continuation\nb: 2\n\n: assistant-stream recovered\nevent: c\ndata: {}\n\n"


@pytest.mark.parametrize("size", [1, 2, 5, 19, 64, 1000])
def test_sections_are_split_at_markers_however_the_chunks_fall(size):
    found, _ = sections_of([BODIES[i : i + size] for i in range(0, len(BODIES), size)])
    assert found == [b"a: 1\n\n", "continuation", b"b: 2\n\n", "recovered", b"event: c\ndata: {}\n\n"]


def test_only_a_whole_marker_line_at_a_line_start_is_a_marker():
    text = b"data: x: assistant-stream continuation\n\n"  # inside a line
    long = b": assistant-stream " + b"z" * 100  # a line too long to be one, and unfinished
    assert sections_of([text])[0] == [text]
    assert sections_of([long[:30], long[30:]])[0] == [long]
    assert sections_of([b"x", b": assistant-stream continuation\n"])[0] == [b"x: assistant-stream continuation\n"]


def test_a_recording_marks_at_a_line_start_and_holds_a_split_secret_back():
    sink = io.BytesIO()
    secret = "sk-0123456789abcdef0123"
    recording = _Recording(sink, lambda: [secret])
    recording.write(b"data: half a line, then sk-0123456789")
    recording.write(b"abcdef0123 and more")
    recording.mark("recovered", [("thread.run.completed", {"status": "completed"})])
    recording.close()
    assert sink.getvalue() == (
        b"data: half a line, then <api key> and more\n: assistant-stream recovered\n"
        b'event: thread.run.completed\ndata: {"status": "completed"}\n\n'
    )
    assert not sink.closed  # a file it was given stays open


def test_chunks_that_arrived_together_come_out_as_one_piece():
    # read1 returns what the reader holds: every chunk in it is handed over at once
    wire = b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in [b"data: 1\n\n", b"data: 2\n\n", b"data: 3\n\n"]) + b"0\r\n\r\n"
    pieces = list(_dechunked(io.BufferedReader(io.BytesIO(wire)), Raw()))
    assert pieces == [b"data: 1\n\ndata: 2\n\ndata: 3\n\n"]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 64])
def test_chunks_taken_apart_across_every_read_boundary(size):
    # a size line, a CRLF, the data and the trailer, each split between two reads
    wire = b"5;x=y\r\nhello\r\n1\r\n!\r\n10\r\n" + b"z" * 16 + b"\r\n0\r\nX-Trailer: yes\r\n\r\n"
    data, raw = dechunk(wire, size)
    assert data == b"hello!" + b"z" * 16 and raw.released


def test_the_data_before_a_broken_chunk_is_handed_over_first():
    pieces = []
    with pytest.raises(assistant_stream.ProtocolError, match="invalid chunk size"):
        for piece in _dechunked(io.BufferedReader(io.BytesIO(b"5\r\nhello\r\nzz\r\n")), Raw()):
            pieces.append(piece)
    assert pieces == [b"hello"]


def test_bytes_after_the_last_chunk_keep_the_connection_from_the_pool():
    data, raw = dechunk(b"5\r\nhello\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n")  # what no request asked for
    assert data == b"hello" and not raw.released
    data, raw = dechunk(b"5\r\nhello\r\n0\r\n")  # the connection closed in the trailer
    assert data == b"hello" and not raw.released


def test_a_chunk_size_line_of_the_limit_and_one_byte_more():
    assert dechunk(b"5" + b" " * 1021 + b"\r\nhello\r\n0\r\n\r\n")[0] == b"hello"  # 1024 bytes in all
    with pytest.raises(assistant_stream.ProtocolError, match="longer than 1024"):
        dechunk(b"5" + b" " * 1022 + b"\r\nhello\r\n0\r\n\r\n")


SECRET = "sk-0123456789abcdef0123"
ECHOES = [
    b'data: {"message": "your key sk-0123456789abcdef0123 was refused"}\n\n',
    b"sk-0123456789abcdef0123 at the start, and at the end: sk-0123456789abcdef0123",
    b"twice in a row: sk-0123456789abcdef0123sk-0123456789abcdef0123\n",
]


def recorded(pieces, secrets=(SECRET,)):
    sink = io.BytesIO()
    recording = _Recording(sink, lambda: list(secrets))
    for piece in pieces:
        recording.write(piece)
    recording.close()
    return sink.getvalue()


@pytest.mark.parametrize("body", ECHOES, ids=["middle", "ends", "twice"])
def test_an_echoed_secret_is_redacted_wherever_two_writes_split_it(body):
    expected = body.replace(SECRET.encode(), b"<api key>")
    assert SECRET.encode() not in expected
    for cut in range(len(body) + 1):
        assert recorded([body[:cut], body[cut:]]) == expected, cut


@pytest.mark.parametrize("body", ECHOES, ids=["middle", "ends", "twice"])
def test_an_echoed_secret_split_across_three_writes_is_redacted(body):
    expected = body.replace(SECRET.encode(), b"<api key>")
    start = body.index(SECRET.encode())
    span = range(max(0, start - 2), min(len(body), start + len(SECRET) + 2) + 1)
    for first in span:
        for second in span:
            if first <= second:
                assert recorded([body[:first], body[first:second], body[second:]]) == expected, (first, second)


def test_a_long_and_a_short_secret_are_both_redacted_at_every_split():
    # the hold is as long as the longest secret: a shorter one split near the end is caught too
    azure = "azure-key-0123456789abcdef0123456789"
    body = b"key %s header %s end" % (SECRET.encode(), azure.encode())
    expected = b"key <api key> header <api key> end"
    for cut in range(len(body) + 1):
        assert recorded([body[:cut], body[cut:]], secrets=(SECRET, azure)) == expected, cut
    assert recorded([body[i : i + 1] for i in range(len(body))], secrets=(SECRET, azure)) == expected


class _Never:
    """A pattern that matches nothing: the chunk reader's general path only."""

    @staticmethod
    def match(held, at):
        return None


def _outcome(wire, sizes):
    """What the chunk reader makes of a wire read in pieces of these sizes:
    its pieces, then the error (type and message) or whether it released the
    connection."""
    pieces, raw = [], Raw()
    reads = iter([wire[sum(sizes[:i]) : sum(sizes[: i + 1])] for i in range(len(sizes))] + [wire[sum(sizes) :]])

    class Reader:
        def read1(self, size):
            return next(reads, b"")

        def close(self):
            pass

    raw._original_response = Reader()
    try:
        for piece in _dechunked(Reader(), raw):
            pieces.append(piece)
    except assistant_stream.AssistantStreamError as exc:
        return pieces, type(exc).__name__, str(exc)
    return pieces, raw.released


def test_the_usual_chunk_s_shortcut_does_what_the_general_path_does(monkeypatch):
    # The usual chunk (a size line of hex digits alone, _CHUNK_SIZE, then its
    # data and CRLF, all arrived) is read in one step; for every wire,
    # generated of sizes in many spellings and cut at every kind of place, it
    # must do exactly what the general path does.
    pytest.importorskip("hypothesis")  # (the oldest stack's CI job has none)
    from hypothesis import example, given, settings
    from hypothesis import strategies as st

    usual = assistant_stream._CHUNK_SIZE
    size_line = st.sampled_from(["%x", "%X", "%x", "%x", "0%x", "%x;a=b", "%x ", " %x", "%x\n", "%xg", "", "%x" * 9, "-%x"])
    chunk = st.tuples(
        size_line, st.binary(max_size=12), st.sampled_from([b"\r\n"] * 6 + [b"\n", b"\r", b"", b"xx", b"x\n", b"\n\n", b"\r\r"])
    )
    end = st.sampled_from([b"0\r\n\r\n", b"0\r\n\r\n", b"00\r\n\r\n", b"0;x\r\nT: 1\r\n\r\n", b"0\r\n", b"", b"0\r\n\r\nmore"])

    def wire_of(chunks, last):
        parts = []
        for spelling, data, tail in chunks:
            line = spelling.replace("%x", "%x" % len(data)).replace("%X", "%X" % len(data)).encode()
            parts.append(line + (b"" if line.endswith(b"\n") else b"\r\n") + data + tail)
        return b"".join(parts) + last

    @settings(max_examples=1500, deadline=None)
    @given(st.lists(chunk, max_size=8), end, st.lists(st.integers(1, 20), max_size=6))
    @example([("%x", b"hello", b"\r\n"), ("%x", b"!", b"\r\n")], b"0\r\n\r\n", [])
    @example([("%x", b"a" * 17, b"\r\n")] * 3, b"0\r\n\r\n", [1, 2, 3])
    def check(chunks, last, sizes):
        wire = wire_of(chunks, last)
        monkeypatch.setattr(assistant_stream, "_CHUNK_SIZE", _Never)
        expected = _outcome(wire, sizes)
        monkeypatch.setattr(assistant_stream, "_CHUNK_SIZE", usual)
        assert _outcome(wire, sizes) == expected

    check()
    data = []  # the usual chunks are taken in one step each, up to the last one
    wire = b"3\r\nabc\r\n1F\r\n" + b"z" * 31 + b"\r\n1\r\n!\r\n0\r\n\r\n"
    assert assistant_stream._whole_chunks(wire, 0, data) == wire.index(b"0\r\n") and data == [b"abc", b"z" * 31, b"!"]
    assert _outcome(wire, []) == ([b"abc" + b"z" * 31 + b"!"], True)
