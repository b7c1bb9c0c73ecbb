"""Hostile servers, over real sockets: each class of promise the module keeps
whatever a server or a broken gateway sends (the README's Failure behaviour
table).  The servers are purpose-built (tests/servers.py) or the emulator."""

import gzip
import itertools
import socket
import tracemalloc
import zlib

import pytest

import assistant_stream
import servers
from conftest import API_KEY, RUN, sse
from servers import ScriptedServer

MIB = 1 << 20


def client_of(server, **options):
    options.setdefault("timeout", (5, 10))
    options.setdefault("max_retries", 0)
    return assistant_stream.Client(api_key=API_KEY, base_url=server.url, **options)


def chunk(data):
    """One HTTP chunk, framed."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def peak_while(run):
    """The peak of traced memory while ``run()`` runs, and what it returned or raised."""
    tracemalloc.start()
    try:
        try:
            outcome = run()
        except Exception as exc:
            outcome = exc
        return tracemalloc.get_traced_memory()[1], outcome
    finally:
        tracemalloc.stop()


# -- 1. the size limit bounds memory, whatever the chunks or the compression ------------------


def test_one_huge_http_chunk_costs_the_limit_not_the_chunk():
    event_head = b'event: thread.message.delta\ndata: {"id": "msg_1", "pad": "'
    size = 64 * MIB
    script = [chunk(sse("thread.run.in_progress", RUN)), b"%x\r\n" % (len(event_head) + size) + event_head]
    script.append(itertools.repeat(b"x" * 65536, size // 65536))
    with ScriptedServer(script, framing="raw", end="hold") as server:
        stream = client_of(server, max_event_bytes=MIB).stream_run("thread_1", assistant_id="asst_1")
        peak, error = peak_while(stream.until_done)
        connection = server.wait_closed()
    assert isinstance(error, assistant_stream.ProtocolError) and "larger than 1048576 bytes" in str(error)
    assert stream.status == "in_progress" and stream.closed
    assert peak < 3 * MIB  # the limit, plus pieces of 64 KiB; not the 64 MiB chunk
    assert connection.client_closed and connection.bytes_sent < 24 * MIB  # the rest was never read


def test_a_gzip_bomb_costs_the_limit_not_what_it_inflates_to():
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = packer.compress(b'event: thread.message.delta\ndata: {"id": "msg_1", "pad": "')
    bomb += b"".join(packer.compress(b"a" * MIB) for _ in range(128)) + packer.flush()
    assert len(bomb) < 200_000  # 128 MiB of event in one small HTTP chunk
    with ScriptedServer([bomb], headers={"Content-Type": "text/event-stream", "Content-Encoding": "gzip"}, end="hold") as server:
        stream = client_of(server, max_event_bytes=MIB).stream_run("thread_1", assistant_id="asst_1")
        peak, error = peak_while(stream.until_done)
        assert server.wait_closed().client_closed
    assert isinstance(error, assistant_stream.ProtocolError) and "larger than 1048576 bytes" in str(error)
    assert peak < 3 * MIB


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw deflate", "two gzip members"])
def test_compressed_bodies_decode_in_pieces(encoding):
    events = [sse("thread.run.in_progress", RUN), sse("thread.run.completed", dict(RUN, status="completed")), sse("done", "[DONE]")]
    body = b"".join(events)
    if encoding == "gzip":
        data, header = gzip.compress(body), "gzip"
    elif encoding == "deflate":
        data, header = zlib.compress(body), "deflate"
    elif encoding == "raw deflate":
        packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        data, header = packer.compress(body) + packer.flush(), "deflate"
    else:
        data, header = gzip.compress(events[0]) + gzip.compress(b"".join(events[1:])), "gzip"
    with ScriptedServer([data[:7], data[7:]], headers={"Content-Type": "text/event-stream", "Content-Encoding": header}) as server:
        stream = client_of(server).stream_run("thread_1", assistant_id="asst_1")
        assert stream.until_done()["status"] == "completed"


def test_an_encoding_that_was_not_asked_for_is_a_protocol_error():
    with ScriptedServer([b"whatever"], headers={"Content-Type": "text/event-stream", "Content-Encoding": "br"}) as server:
        client = client_of(server)
        stream = client.stream_run("thread_1", assistant_id="asst_1")
        with pytest.raises(assistant_stream.ProtocolError, match="encoded as 'br'; only gzip and deflate"):
            stream.until_done()
        assert b"accept-encoding: gzip, deflate" in server.wait_closed().request.lower()


# -- 5. malformed HTTP framing is an IncompleteStreamError or a ProtocolError -----------------------


@pytest.mark.parametrize(
    "size_line, error",
    [
        (b"ffffffffffffffffffff", assistant_stream.ProtocolError),  # 20 hex digits
        (b"-5", assistant_stream.ProtocolError),
        (b"0x10", assistant_stream.ProtocolError),
        (b"+5", assistant_stream.ProtocolError),
        (b"1_0", assistant_stream.ProtocolError),
        (b"zz", assistant_stream.ProtocolError),
        (b"", assistant_stream.ProtocolError),
        (b"7fffffffffffff", assistant_stream.IncompleteStreamError),  # a size that is never sent
        (b"x" * 5000, assistant_stream.ProtocolError),
    ],
    ids=["20 digits", "negative", "0x", "plus", "underscore", "not hex", "empty", "huge, never sent", "a long line"],
)
def test_malformed_chunk_sizes(size_line, error):
    script = [chunk(sse("thread.run.in_progress", RUN)), size_line + b"\r\n" + b"data: x\n\n\r\n"]
    with ScriptedServer(script, framing="raw", end="drop") as server:
        stream = client_of(server).stream_run("thread_1", assistant_id="asst_1")
        peak, raised = peak_while(stream.until_done)
        assert server.wait_closed().done.is_set()
    assert type(raised) is error, raised
    assert stream.status == "in_progress" and stream.closed and peak < 2 * MIB


def test_a_chunk_that_does_not_end_with_crlf():
    first = sse("thread.run.in_progress", RUN)
    with ScriptedServer([b"%x\r\n%sXX" % (len(first), first)], framing="raw", end="drop") as server:
        stream = client_of(server).stream_run("thread_1", assistant_id="asst_1")
        with pytest.raises(assistant_stream.ProtocolError, match="does not end with CRLF"):
            stream.until_done()


@pytest.mark.parametrize("content_type", ["Text/Event-Stream", "TEXT/EVENT-STREAM; charset=utf-8", " text/event-stream ;charset=UTF-8"])
def test_media_types_are_case_insensitive(content_type):
    body = [sse("thread.run.completed", dict(RUN, status="completed")), sse("done", "[DONE]")]
    with ScriptedServer(body, headers={"Content-Type": content_type}) as server:
        assert client_of(server).stream_run("thread_1", assistant_id="asst_1").until_done()["status"] == "completed"


# -- 2. never send again a request the server may have received -------------------------------------


REQUIRES = dict(
    RUN,
    status="requires_action",
    required_action={"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}]}},
)  # fmt: skip


@pytest.fixture
def sleeps(monkeypatch):
    slept = []
    monkeypatch.setattr(assistant_stream.time, "sleep", slept.append)
    return slept


@pytest.mark.parametrize("answer", [servers.close, servers.reset, servers.half_answer], ids=["closed", "reset", "half an answer"])
def test_a_post_the_server_may_have_is_never_sent_again(answer, sleeps):
    with servers.RoutedServer({"/runs": answer}) as server:
        with pytest.raises(assistant_stream.APIConnectionError):
            client_of(server, max_retries=2).stream_run("thread_1", assistant_id="asst_1")
        assert server.paths() == ["/v1/threads/thread_1/runs"] and sleeps == []


@pytest.mark.parametrize("answer", [servers.close, servers.reset], ids=["closed", "reset"])
def test_tool_outputs_the_server_may_have_are_never_sent_again(answer, sleeps):
    handlers = assistant_stream.Handlers()
    handlers.tool(lambda city: "sunny", name="get_weather")
    body = sse("thread.run.requires_action", REQUIRES) + sse("done", "[DONE]")
    with servers.RoutedServer({"/runs": servers.event_stream(body), "/submit_tool_outputs": answer}) as server:
        stream = client_of(server, max_retries=2).stream_run("thread_1", assistant_id="asst_1", handlers=handlers)
        with pytest.raises(assistant_stream.APIConnectionError):
            stream.until_done()
        assert [path.rsplit("/", 1)[-1] for path in server.paths()] == ["runs", "submit_tool_outputs"] and sleeps == []
    assert stream.closed and stream.status == "requires_action"


def test_a_refused_connection_is_retried(sleeps):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    client = assistant_stream.Client(api_key=API_KEY, base_url="http://127.0.0.1:%d/v1" % port, max_retries=2)
    with pytest.raises(assistant_stream.APIConnectionError, match="refused"):
        client.stream_run("thread_1", assistant_id="asst_1")
    assert len(sleeps) == 2


def test_a_name_that_does_not_resolve_is_retried(sleeps, monkeypatch):
    def unknown(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    client = assistant_stream.Client(api_key=API_KEY, base_url="http://api.example.invalid/v1", max_retries=2)
    with pytest.raises(assistant_stream.APIConnectionError, match="resolve|Name or service"):
        client.stream_run("thread_1", assistant_id="asst_1")
    assert len(sleeps) == 2


def test_a_tls_handshake_that_fails_is_retried_and_no_request_arrives(sleeps):
    # A server that answers TLS with plain HTTP: the handshake fails, before
    # a byte of the request could be sent.
    seen = []

    def plain(conn):
        seen.append(conn.recv(1))
        conn.sendall(b"HTTP/1.1 400 Bad\r\n\r\n")

    with servers.RoutedServer({}, raw=plain) as server:
        client = assistant_stream.Client(api_key=API_KEY, base_url=server.url.replace("http:", "https:"), max_retries=2)
        with pytest.raises(assistant_stream.APIConnectionError, match="WRONG_VERSION_NUMBER|wrong version number"):
            client.stream_run("thread_1", assistant_id="asst_1")
        assert server.connections == 3 and len(sleeps) == 2
    assert seen == [b"\x16"] * 3  # TLS handshake records, never an HTTP request


def test_a_pooled_connection_the_server_closed_is_not_used_again():
    finished = sse("thread.run.completed", dict(RUN, status="completed")) + sse("done", "[DONE]")

    def once_then_close(conn, request):
        servers.event_stream(finished, keep_alive=True)(conn, request)
        return False  # keep-alive announced, then the server closes: the pooled connection is stale

    with servers.RoutedServer({"/runs": once_then_close}) as server:
        client = client_of(server, max_retries=2)
        for _ in range(2):
            assert client.stream_run("thread_1", assistant_id="asst_1").until_done()["status"] == "completed"
        assert server.paths() == ["/v1/threads/thread_1/runs"] * 2  # each sent once
