"""Hostile servers, over real sockets: each class of promise the module keeps
whatever a server or a broken gateway sends (the README's Failure behaviour
table).  The servers are purpose-built (tests/servers.py) or the emulator."""

import gzip
import itertools
import os
import pathlib
import socket
import ssl
import time
import tracemalloc
import zlib

import pytest
import requests

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


@pytest.mark.parametrize("damage", ["garbage", "flipped"])
def test_a_compressed_body_that_breaks_mid_stream_is_a_protocol_error_after_its_events(damage):
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    delta = {"id": "msg_1", "delta": {"content": [{"index": 0, "type": "text", "text": {"value": "Hello"}}]}}
    first = packer.compress(sse("thread.run.in_progress", RUN) + sse("thread.message.delta", delta)) + packer.flush(zlib.Z_SYNC_FLUSH)
    rest = packer.compress(sse("thread.run.completed", dict(RUN, status="completed")) + sse("done", "[DONE]")) + packer.flush()
    broken = b"\xff" * 32 if damage == "garbage" else bytes(b ^ 0x5A for b in rest)  # an invalid block, or the rest mangled
    headers = {"Content-Type": "text/event-stream", "Content-Encoding": "gzip"}
    with ScriptedServer([first, 0.05, broken], headers=headers) as server:
        stream = client_of(server).stream_run("thread_1", assistant_id="asst_1")
        names = []
        with pytest.raises(assistant_stream.ProtocolError, match="the body could not be decoded"):
            for event in stream:
                names.append(event.name)
        assert server.wait_closed().client_closed
    assert names == ["thread.run.in_progress", "thread.message.delta", "text.created", "text.delta"]
    assert stream.text == "Hello" and stream.status == "in_progress"


def test_an_error_answer_whose_gzip_is_broken_keeps_its_class_and_is_retried_as_a_5xx():
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip", "Retry-After": "0"}
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    body = packer.compress(b'{"error": {"message": "Overloaded."}}') + packer.flush(zlib.Z_SYNC_FLUSH) + b"\xff" * 16  # an invalid block
    with ScriptedServer([body], status=500, headers=headers, framing="length") as server:
        with pytest.raises(assistant_stream.InternalServerError) as info:
            client_of(server, max_retries=1).stream_run("thread_1", assistant_id="asst_1")
        assert len(server.connections) == 2  # a 5xx: retried once, then raised
    error = info.value
    assert error.status_code == 500 and "<unreadable: ProtocolError('the body could not be decoded" in error.body
    assert str(error).startswith("500 Scripted from POST ") and "unreadable" in str(error)
    with ScriptedServer([body], status=451, headers=headers, framing="length") as server:
        with pytest.raises(assistant_stream.APIStatusError) as info:
            client_of(server, max_retries=1).stream_run("thread_1", assistant_id="asst_1")
        assert len(server.connections) == 1  # a 4xx outside 408, 409, 429: not retried
    assert type(info.value) is assistant_stream.APIStatusError and info.value.status_code == 451


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


def test_a_tls_handshake_that_fails_is_retried(sleeps):
    seen = []

    def plain(conn):  # a server that speaks plain HTTP to a TLS ClientHello
        seen.append(conn.recv(1))
        conn.sendall(b"HTTP/1.1 400 Bad\r\n\r\n")

    with servers.RoutedServer({}, raw=plain) as server:
        client = assistant_stream.Client(api_key=API_KEY, base_url=server.url.replace("http:", "https:"), max_retries=2)
        with pytest.raises(assistant_stream.APIConnectionError, match="WRONG_VERSION_NUMBER|wrong version number"):
            client.stream_run("thread_1", assistant_id="asst_1")
        assert server.connections == 3 and len(sleeps) == 2
    assert seen == [b"\x16"] * 3  # TLS handshake records: no request left
    with servers.RoutedServer({}, raw=plain) as server:  # a session of the caller's cannot tell where it failed
        client = assistant_stream.Client(api_key=API_KEY, base_url=server.url.replace("http:", "https:"), session=requests.Session())
        with pytest.raises(assistant_stream.APIConnectionError):
            client.stream_run("thread_1", assistant_id="asst_1")
        assert server.connections == 1


TLS = pathlib.Path(__file__).parent.parent / "tls"  # a self-signed certificate for 127.0.0.1


def test_a_tls_error_after_the_request_went_out_is_never_retried(sleeps, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(TLS / "cert.pem"))
    received = []

    def bad_record_after_the_request(conn):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(TLS / "cert.pem", TLS / "key.pem")
        with context.wrap_socket(conn, server_side=True) as tls:
            received.append(servers._read_request(tls))
            os.write(tls.fileno(), b"\x17\x03\x03\x00\x20" + b"\x00" * 32)  # a record no key encrypted
            tls.recv(1)  # until the client is gone

    with servers.RoutedServer({}, raw=bad_record_after_the_request) as server:
        client = assistant_stream.Client(api_key=API_KEY, base_url=server.url.replace("http:", "https:"), max_retries=2)
        with pytest.raises(assistant_stream.APIConnectionError, match="(?i)ssl|record|decrypt|mac"):
            client.stream_run("thread_1", assistant_id="asst_1")
        assert server.connections == 1 and sleeps == []
    assert [request.split(b"\r\n", 1)[0] for request in received] == [b"POST /v1/threads/thread_1/runs HTTP/1.1"]


def test_a_post_whose_writing_failed_is_sent_again(sleeps):
    # The server resets the connection after the headers, while the body is
    # still going out: it never had the whole request, so it cannot act on it.
    heads = []

    def reset_after_the_headers(conn):
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        heads.append(data.split(b"\r\n", 1)[0])
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    with servers.RoutedServer({}, raw=reset_after_the_headers) as server:
        client = client_of(server, max_retries=2)
        with pytest.raises(assistant_stream.APIConnectionError):
            client.stream_run("thread_1", assistant_id="asst_1", instructions="x" * (32 * MIB))
        assert server.connections == 3 and len(sleeps) == 2
    assert heads == [b"POST /v1/threads/thread_1/runs HTTP/1.1"] * 3


def test_a_pooled_connection_the_server_closed_is_not_used_again():
    finished = sse("thread.run.completed", dict(RUN, status="completed")) + sse("done", "[DONE]")
    closed = []

    def once_then_close(conn, request):
        servers.event_stream(finished, keep_alive=True)(conn, request)
        closed.append(conn.getpeername())
        return False  # keep-alive announced, then the server closes: the pooled connection is stale

    with servers.RoutedServer({"/runs": once_then_close}) as server:
        client = client_of(server, max_retries=2)
        for _ in range(2):
            assert client.stream_run("thread_1", assistant_id="asst_1").until_done()["status"] == "completed"
            while not closed:  # (the server closes its side once the answer is out)
                time.sleep(0.01)
            time.sleep(0.05)  # and its FIN reaches the client: the pooled connection is seen to be dead
            closed.clear()
        assert server.paths() == ["/v1/threads/thread_1/runs"] * 2  # each sent once, on a connection of its own


def test_a_request_on_a_pooled_connection_closed_as_it_was_sent_is_not_sent_again():
    # The race every keep-alive client has: the server closes an idle connection
    # just as a request goes out on it. The request was written, so the server may
    # have it: it is not sent again (a POST could start a second run); the error
    # says the connection was aborted. (A write that fails is retried: not sent.)
    finished = sse("thread.run.completed", dict(RUN, status="completed")) + sse("done", "[DONE]")

    def once_then_close(conn, request):
        servers.event_stream(finished, keep_alive=True)(conn, request)
        return False

    with servers.RoutedServer({"/runs": once_then_close}) as server:
        client = client_of(server, max_retries=2)
        assert client.stream_run("thread_1", assistant_id="asst_1").until_done()["status"] == "completed"
        try:  # at once: before the server's FIN arrives, the pooled connection looks alive
            outcome = client.stream_run("thread_1", assistant_id="asst_1").until_done()["status"]
        except assistant_stream.APIConnectionError as exc:
            outcome = str(exc)
        assert outcome == "completed" or outcome.endswith("failed: Connection aborted: Connection reset by peer")
        assert server.paths().count("/v1/threads/thread_1/runs") <= 2  # never a third: nothing sent twice


# -- 3. no tool runs twice, even when a round lists a call twice -------------------------------------


def twice(first, second):
    run = dict(RUN, status="requires_action")
    run["required_action"] = {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [first, second]}}
    return sse("thread.run.requires_action", run) + sse("done", "[DONE]")


CALL_1 = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}


@pytest.mark.parametrize(
    "second, outcome", [(CALL_1, "once"), (dict(CALL_1, function={"name": "get_weather", "arguments": "{}"}), "refused")]
)
def test_a_call_listed_twice_in_one_round(second, outcome):
    ran = []
    handlers = assistant_stream.Handlers()
    handlers.tool(lambda **arguments: ran.append(arguments) or "sunny", name="get_weather")
    done = sse("thread.run.completed", dict(RUN, status="completed")) + sse("done", "[DONE]")
    routes = {"/runs": servers.event_stream(twice(CALL_1, second)), "/submit_tool_outputs": servers.event_stream(done)}
    with servers.RoutedServer(routes) as server:
        stream = client_of(server).stream_run("thread_1", assistant_id="asst_1", handlers=handlers)
        if outcome == "once":
            assert stream.until_done()["status"] == "completed"
            body = server.requests[1].split(b"\r\n\r\n", 1)[1]
            assert ran == [{"city": "Rome"}] and body.count(b"call_1") == 1
        else:
            with pytest.raises(assistant_stream.ProtocolError, match="call_1 is listed twice, differently"):
                stream.until_done()
            assert ran == [] and len(server.requests) == 1


# -- 4. wrong-typed fields are ProtocolErrors, and close() always closes --------------------------------


@pytest.mark.parametrize(
    "body",
    [
        sse("thread.run.created", dict(RUN, status=["queued"])),
        sse("thread.run.created", dict(RUN, status={"state": "queued"})),
        twice(dict(CALL_1, function={"name": ["get_weather"], "arguments": "{}"}), CALL_1),
        sse("thread.run.step.created", {"id": "step_1", "status": ["x"]}),
        sse("thread.message.completed", {"id": "msg_1", "status": {"done": True}}),
    ],
    ids=["status a list", "status an object", "name a list", "step status a list", "message status an object"],
)
@pytest.mark.parametrize("cancel", [False, True], ids=["", "cancel_on_interrupt"])
def test_wrong_typed_fields_are_protocol_errors_and_the_connection_closes(body, cancel):
    handlers = assistant_stream.Handlers()
    handlers.tool(lambda **arguments: "sunny", name="get_weather")
    with ScriptedServer([body], end="hold") as server:
        stream = client_of(server).stream_run("thread_1", assistant_id="asst_1", handlers=handlers, cancel_on_interrupt=cancel)
        with pytest.raises(assistant_stream.ProtocolError, match="malformed"):
            stream.until_done()
        stream.close()  # again: never raises
        assert server.wait_closed().client_closed and stream.closed


@pytest.mark.parametrize(
    "polled",
    [
        {"id": "run_1", "thread_id": "thread_1", "status": ["completed"]},
        {"id": "run_1", "thread_id": "thread_1", "status": "completed", "x": 1},
    ],
    ids=["status a list", "steps not a list"],
)
def test_recovery_answers_of_the_wrong_shape_are_protocol_errors(polled):
    import json

    def answer_json(payload):
        def answer(conn, request):
            data = json.dumps(payload).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
            return True

        return answer

    steps = {"data": [{"id": "step_1", "status": ["completed"]}], "has_more": False}
    routes = {
        "/runs": servers.event_stream(sse("thread.run.in_progress", RUN)),
        "/runs/run_1": answer_json(polled),
        "/steps": answer_json(steps),
        "/messages": answer_json({"data": [], "has_more": False}),
    }
    with servers.RoutedServer(routes) as server:
        stream = client_of(server).stream_run("thread_1", assistant_id="asst_1", recover=True)
        with pytest.raises(assistant_stream.ProtocolError, match="malformed"):
            stream.until_done()
    assert stream.closed


def test_an_error_body_nested_deep_is_still_a_bad_request():
    deep = b"[" * 50000 + b"]" * 50000

    def answer(conn, request):
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(deep), deep))
        return True

    with servers.RoutedServer({"/runs": answer}) as server:
        with pytest.raises(assistant_stream.BadRequestError) as info:
            client_of(server).stream_run("thread_1", assistant_id="asst_1")
    assert info.value.status_code == 400 and type(info.value.body) is str


# -- 8. a finished object that leaves a field out keeps what was streamed --------------------------------


def test_finished_objects_keep_what_they_leave_out():
    from conftest import event, response

    text = {"index": 0, "type": "text", "text": {"value": "Hello world"}}
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    run_body = b"".join(
        [
            sse("thread.message.delta", {"id": "msg_1", "delta": {"content": [text]}}),
            sse("thread.message.completed", {"id": "msg_1", "object": "thread.message", "status": "completed"}),  # no content
            sse("thread.run.step.delta", {"id": "step_1", "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}}}),
            sse("thread.run.step.completed", {"id": "step_1", "status": "completed", "step_details": None}),
            sse("thread.run.completed", dict(RUN, status="completed")),
        ]
    )
    handlers = assistant_stream.Handlers()
    seen = []
    handlers.on("*", seen.append)
    stream = assistant_stream.replay(run_body, handlers)
    stream.until_done()
    assert stream.text == "Hello world" and stream.final_messages()[0]["status"] == "completed"
    assert [e.text for e in seen if e.name == "text.done"] == ["Hello world"]
    assert [e.data.get("id") for e in seen if e.name == "tool_call.done"] == ["call_1"]
    assert stream.final_run_steps()[0]["step_details"]["tool_calls"][0]["id"] == "call_1"

    item = {"id": "msg_1", "type": "message", "role": "assistant", "status": "in_progress", "content": []}
    response_body = b"".join(
        [
            event("response.created", response=response()),
            event("response.output_item.added", output_index=0, item=item),
            event("response.output_text.delta", item_id="msg_1", output_index=0, content_index=0, delta="Hello"),
            event("response.output_item.done", output_index=0, item={"id": "msg_1", "type": "message", "status": "completed"}),
            event("response.completed", response={"id": "resp_1", "status": "completed"}),  # no output, no object
        ]
    )
    stream = assistant_stream.replay(response_body)
    final = stream.until_done()
    assert stream.text == "Hello" and final["output"][0]["content"][0]["text"] == "Hello"
    assert final["object"] == "response" and final["output"][0]["status"] == "completed"


# -- 9. no credential, and no fragment of one, anywhere -----------------------------------------------


def test_every_token_a_key_callable_returned_is_redacted(tmp_path):
    tokens = ["entra-token-%02d-0123456789abcdef" % n for n in range(20)]
    issued = iter(tokens)
    echo = b"".join(sse("vendor.echo", {"said": token}) for token in tokens[:18])  # a server that echoes old tokens
    with ScriptedServer([echo + b'event: thread.run.created\ndata: {"oops ' + tokens[0].encode() + b"\n\n"]) as server:
        client = assistant_stream.Client(api_key=lambda: next(issued), base_url=server.url, max_retries=0)
        for _ in range(17):
            client._headers(stream=True)  # 17 requests, 17 tokens
        path = tmp_path / "echo.sse"
        stream = client.stream_run("thread_1", assistant_id="asst_1", record=str(path))
        with pytest.raises(assistant_stream.ProtocolError) as info:
            stream.until_done()
    recorded = path.read_bytes().decode()
    for token in tokens[2:18]:  # the last 16 used: kept in mind, bounded
        assert token not in recorded and token not in str(info.value)
    assert recorded.count("<api key>") >= 16


@pytest.mark.parametrize("at", range(0, 230, 7))
def test_a_preview_never_cuts_a_key_in_two(at):
    # A 200-character preview of a server's answer: the key is redacted
    # first, wherever the cut falls.
    key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
    body = "x" * at + key + "y" * 300
    with ScriptedServer([body.encode()], headers={"Content-Type": "text/html"}) as server:
        client = assistant_stream.Client(api_key=key, base_url=server.url, max_retries=0)
        with pytest.raises(assistant_stream.ProtocolError) as info:
            client.stream_run("thread_1", assistant_id="asst_1")
    message = str(info.value)
    assert not any(key[:n] in message for n in range(8, len(key) + 1)), message


def test_secret_query_parameters_request_ids_and_retry_lines_are_redacted(caplog, monkeypatch):
    caplog.set_level("DEBUG", logger="assistant_stream")
    monkeypatch.setattr(assistant_stream.time, "sleep", lambda seconds: None)
    key = "sas-signature-0123456789abcdef+/="

    def echo(conn, request):
        conn.sendall(b"HTTP/1.1 503 Busy\r\nx-request-id: req-" + API_KEY.encode() + b"\r\nContent-Length: 2\r\n\r\n{}")
        return True

    with servers.RoutedServer({"/runs": echo}) as server:
        client = assistant_stream.Client(api_key=API_KEY, base_url=server.url, max_retries=1, default_query={"sig": key})
        with pytest.raises(assistant_stream.InternalServerError) as info:
            client.stream_run("thread_1", assistant_id="asst_1")
    assert info.value.request_id == "req-<api key>" and API_KEY not in str(info.value)
    assert API_KEY not in caplog.text and "retrying POST" in caplog.text
    refused = assistant_stream.Client(api_key=API_KEY, base_url="http://127.0.0.1:9/v1", max_retries=0, default_query={"sig": key})
    with pytest.raises(assistant_stream.APIConnectionError) as info:
        refused.stream_run("thread_1", assistant_id="asst_1")
    shown = str(info.value) + caplog.text
    for form in (key, "sas-signature-0123456789abcdef%2B%2F%3D", "sas-signature-0123456789abcdef%2B/%3D"):
        assert form not in shown


# -- 11. nothing grows without bound ----------------------------------------------------------------------


def test_a_shared_table_caches_a_bounded_number_of_unknown_names():
    handlers = assistant_stream.Handlers()
    seen = []
    handlers.on("*", seen.append)
    body = b"".join(sse("vendor.name_%d" % n, {}) for n in range(5000)) + sse("thread.run.completed", dict(RUN, status="completed"))
    assistant_stream.replay(body, handlers).until_done()
    assert len(seen) == 5002  # every event still reaches '*'
    assert len([name for name in handlers._cache() if name.startswith("vendor.")]) <= assistant_stream._UNKNOWN_NAMES


# -- 12. linear cost, whatever the order of the indexes ---------------------------------------------------


class Counted(list):
    """A list that counts how many of its entries were looked at."""

    looks = 0

    def __getitem__(self, index):
        Counted.looks += 1
        return super().__getitem__(index)


@pytest.mark.parametrize("order", ["ascending", "descending", "shuffled"])
def test_parts_are_found_in_log_time_whatever_their_order(order):
    import random

    indexes = list(range(2000))
    if order == "descending":
        indexes.reverse()
    elif order == "shuffled":
        random.Random(3).shuffle(indexes)
    entries = Counted()
    Counted.looks = 0
    for index in indexes * 2:  # each part created, then a second delta for it
        assistant_stream._merge_entry(entries, {"index": index, "type": "text", "text": {"value": "x"}})
    assert [entry["index"] for entry in entries] == list(range(2000))  # in index order, as the API numbers them
    assert Counted.looks <= 4000 * 13  # log2(2000) < 11, and a look at the usual place: never 2000 per delta


# -- 13. command-line exit codes ----------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", ["0", "-1", "inf", "nan", "1e10"])
def test_a_timeout_that_is_not_seconds_is_misuse(timeout, capsys):
    with pytest.raises(SystemExit) as info:
        assistant_stream.main(["run", "--assistant", "asst_1", "--timeout", timeout])
    assert info.value.code == 2 and "is not a number from 0 to 1000000" in capsys.readouterr().err


@pytest.mark.parametrize("timeout", [float("inf"), (5, float("inf")), 0, -1, (5,), "10", (5, float("nan"))])
def test_a_client_timeout_that_is_not_seconds_is_a_value_error(timeout):
    with pytest.raises(ValueError, match="timeout must be seconds above zero"):
        assistant_stream.Client(api_key=API_KEY, base_url="http://127.0.0.1:9/v1", timeout=timeout)


def test_replayed_text_with_a_lone_surrogate_prints(tmp_path, capsys):
    path = tmp_path / "surrogate.sse"
    delta = {"id": "msg_1", "delta": {"content": [{"index": 0, "type": "text", "text": {"value": "half \ud83d a pair"}}]}}
    path.write_bytes(sse("thread.message.delta", delta) + sse("thread.run.completed", dict(RUN, status="completed")))
    assert assistant_stream.main(["replay", str(path)]) == 0
    assert capsys.readouterr().out == "half ? a pair\n"


# -- 14. misuse is refused before anything is sent -----------------------------------------------------------


@pytest.mark.parametrize(
    "misuse, error, message",
    [
        ({"handlers": {"text.delta": print}}, TypeError, "handlers must be an assistant_stream.Handlers"),
        ({"record": "/nonexistent/dir/run.sse"}, OSError, "No such file"),
        ({"metadata": {"when": object()}}, TypeError, "metadata=.* cannot be sent"),
        ({"temperature": float("nan")}, TypeError, "temperature=nan cannot be sent"),
        ({"event_handler": object()}, TypeError, "use handlers|pass handlers="),
    ],
    ids=["handlers", "record", "not JSON", "NaN", "event_handler"],
)
def test_misuse_sends_nothing(misuse, error, message):
    with servers.RoutedServer({"/runs": servers.close}) as server:
        client = client_of(server)
        for call in (
            lambda: client.stream_run("thread_1", assistant_id="asst_1", **misuse),
            lambda: client.stream_response(model="m", input="x", **misuse),
        ):
            with pytest.raises(error, match=message):
                call()
        assert server.connections == 0


# -- 6. close() from another thread while a tool runs ------------------------------------------------------------


def test_close_from_another_thread_while_a_tool_runs_sends_nothing_more():
    import threading

    running, closed = threading.Event(), threading.Event()
    handlers = assistant_stream.Handlers()

    @handlers.tool
    def get_weather(city):
        running.set()
        assert closed.wait(5)
        return "sunny"

    body = sse("thread.run.requires_action", REQUIRES) + sse("done", "[DONE]")
    with servers.RoutedServer({"/runs": servers.event_stream(body), "/submit_tool_outputs": servers.close}) as server:
        stream = client_of(server).stream_run("thread_1", assistant_id="asst_1", handlers=handlers)
        closer = threading.Thread(target=lambda: (running.wait(5), stream.close(), closed.set()))
        closer.start()
        assert stream.until_done()["status"] == "requires_action"  # as received: nothing went on
        closer.join(5)
        assert stream.closed and not stream.finished
        assert server.paths() == ["/v1/threads/thread_1/runs"]  # the outputs were never sent


# -- 7. every wait is bounded by the deadline it claims: a total, not a silence ----------------------------


def test_the_cancel_timeout_is_ten_seconds():
    assert assistant_stream._CANCEL_TIMEOUT == 10.0  # as the README says


def test_a_cancel_that_drips_its_answer_ends_at_the_cancel_timeout(monkeypatch):
    import time

    monkeypatch.setattr(assistant_stream, "_CANCEL_TIMEOUT", 1.0)
    slow = servers.drip(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"x" * 200 + b"\r\n\r\n{}", 0.1)
    routes = {"/runs": servers.event_stream(sse("thread.run.in_progress", RUN) * 2, keep_alive=True), "/cancel": slow}
    with servers.RoutedServer(routes) as server:
        stream = client_of(server, timeout=(5, 5)).stream_run("thread_1", assistant_id="asst_1", cancel_on_interrupt=True)
        for _ in stream:
            started = time.monotonic()
            break  # leaving early: cancel, whose answer would take 20 s to drip
        took = time.monotonic() - started
    assert server.paths()[-1] == "/v1/threads/thread_1/runs/run_1/cancel"
    assert took < 2.5 and stream.closed


def test_recovery_ends_at_its_deadline_however_slowly_an_answer_drips():
    import time

    polled = b'{"id": "run_1", "thread_id": "thread_1", "status": "completed"}'
    slow = servers.drip(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(polled), polled), 0.1)
    routes = {"/runs": servers.event_stream(sse("thread.run.in_progress", RUN)), "/runs/run_1": slow}
    with servers.RoutedServer(routes) as server:
        stream = client_of(server, timeout=(5, 5)).stream_run("thread_1", assistant_id="asst_1", recover=1.0)
        started = time.monotonic()
        with pytest.raises(assistant_stream.APITimeoutError) as info:
            stream.until_done()
        took = time.monotonic() - started
    assert isinstance(info.value.__cause__, assistant_stream.IncompleteStreamError)  # the cut it tried to recover from
    assert took < 2.5 and stream.closed  # not the 13 s the answer would take


def test_close_from_another_thread_stops_recovery():
    import threading
    import time

    still = b'{"id": "run_1", "thread_id": "thread_1", "status": "in_progress"}'

    def in_progress(conn, request):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(still), still))
        return True

    routes = {"/runs": servers.event_stream(sse("thread.run.in_progress", RUN)), "/runs/run_1": in_progress}
    with servers.RoutedServer(routes) as server:
        stream = client_of(server).stream_run("thread_1", assistant_id="asst_1", recover=60)
        closer = threading.Timer(1.0, stream.close)
        closer.start()
        started = time.monotonic()
        with pytest.raises(assistant_stream.IncompleteStreamError, match="closed while it was being recovered"):
            stream.until_done()
        took = time.monotonic() - started
        polls = server.paths().count("/v1/threads/thread_1/runs/run_1")
        time.sleep(0.6)
        assert server.paths().count("/v1/threads/thread_1/runs/run_1") == polls  # no poll after close()
    assert 0.9 < took < 1.6


# -- 15. a run that stopped does not wait out the read timeout ----------------------------------------------


def test_the_grace_after_a_run_stopped_is_two_seconds():
    assert assistant_stream._STOP_GRACE == 2.0  # as the README says


@pytest.mark.parametrize("status", ["completed", "failed", "requires_action"])
def test_a_stopped_run_held_open_without_done_ends_after_the_grace(status):
    import time

    handlers = assistant_stream.Handlers()
    seen = []
    handlers.on("*", seen.append)
    with ScriptedServer(
        [sse("thread.run.in_progress", RUN), sse("thread.run." + status, dict(RUN, status=status))], end="hold", wait_timeout=20
    ) as server:
        stream = client_of(server, timeout=(5, 30)).stream_run("thread_1", assistant_id="asst_1", handlers=handlers)
        started = time.monotonic()
        assert stream.until_done()["status"] == status
        took = time.monotonic() - started
        assert server.wait_closed().client_closed
    assert 1.5 < took < 4 and stream.finished  # the grace, not the 30 s read timeout
    assert [e.name for e in seen][-2:] == ["thread.run." + status, "end"]


def test_a_running_run_still_waits_the_read_timeout():
    with ScriptedServer([sse("thread.run.in_progress", RUN)], end="hold", wait_timeout=10) as server:
        stream = client_of(server, timeout=(5, 3)).stream_run("thread_1", assistant_id="asst_1")
        with pytest.raises(assistant_stream.APITimeoutError, match="in status 'in_progress'"):
            stream.until_done()


# -- 10. a replay behaves exactly like the live stream it recorded --------------------------------------------


def live_and_replayed(stream, path):
    """Everything observable of a live stream and of the replay of its recording."""
    from conftest import trace

    live = trace(stream)
    replayed_stream = assistant_stream.replay(path)
    replayed = trace(replayed_stream)
    return live, replayed, stream, replayed_stream


def test_a_recording_of_rounds_cut_mid_event_with_boms_replays_as_it_ran(tmp_path):
    handlers = assistant_stream.Handlers()
    handlers.tool(lambda city: "sunny", name="get_weather")
    done = sse("done", "[DONE]")
    first = sse("thread.run.requires_action", REQUIRES) + done[: len(done) // 2]  # cut in the middle of its last word

    def cut(conn, request):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n" + first)
        return False

    step = {"id": "step_1", "object": "thread.run.step", "status": "completed", "type": "tool_calls"}
    then = b"\xef\xbb\xbf" + sse("thread.run.step.completed", step) + sse("thread.run.completed", dict(RUN, status="completed")) + done
    path = tmp_path / "rounds.sse"
    with servers.RoutedServer({"/runs": cut, "/submit_tool_outputs": servers.event_stream(then)}) as server:
        stream = client_of(server).stream_run("thread_1", assistant_id="asst_1", handlers=handlers, record=str(path))
        live, replayed, _, _ = live_and_replayed(stream, path)
    assert live["run"]["status"] == "completed" and replayed == live
    assert path.read_bytes().count(b": assistant-stream continuation\n") == 1
    from conftest import CHUNKINGS, trace

    for chunking in ("bytes", "random"):  # a marker split across chunks is still a marker
        assert trace(assistant_stream.replay(CHUNKINGS[chunking](path.read_bytes()))) == live


def test_a_recording_of_rounds_without_done_replays_as_it_ran(tmp_path, client):
    from conftest import new_thread
    from emulator import steer

    handlers = assistant_stream.Handlers()
    handlers.tool(lambda city: "sunny in %s" % city, name="get_weather")
    weather = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
    }
    path = tmp_path / "rounds.sse"
    stream = client.stream_run(
        new_thread(client, "Oslo"),
        assistant_id="asst_1",
        tools=[weather],
        handlers=handlers,
        record=str(path),
        metadata=steer(no_done=True, rounds=2),
    )
    live, replayed, _, _ = live_and_replayed(stream, path)
    assert live["text"] == "The tools said: sunny in Oslo; sunny in Oslo." and replayed == live


def test_a_recovered_stream_replays_as_recovered(tmp_path, client):
    from conftest import new_thread
    from emulator import steer

    path = tmp_path / "recovered.sse"
    stream = client.stream_run(new_thread(client), assistant_id="asst_1", record=str(path), recover=True, metadata=steer(drop=9))
    live, replayed, live_stream, replayed_stream = live_and_replayed(stream, path)
    assert live_stream.recovered and replayed_stream.recovered
    assert replayed == live and live["run"]["status"] == "completed"
    assert b": assistant-stream recovered\n" in path.read_bytes()
    from conftest import byte_chunks, trace

    assert trace(assistant_stream.replay(byte_chunks(path.read_bytes()))) == live


def test_a_follow_up_whose_events_come_first_replays_as_it_ran(tmp_path):
    from conftest import FUNCTION_CALL, FakeTransport, early_follow_up, event, response

    calling = event("response.created", response=response()) + event("response.completed", response=response("completed", [FUNCTION_CALL]))
    early, done = early_follow_up()
    handlers = assistant_stream.Handlers()
    handlers.tool(lambda city: "sunny", name="get_weather")
    fake = FakeTransport().stream("/responses", calling, early)
    path = tmp_path / "follow_up.sse"
    stream = fake.stream_response(model="m", input="Oslo", handlers=handlers, record=str(path))
    live = [(e.name, e.text, e.snapshot) for e in stream]
    replayed_stream = assistant_stream.replay(path)
    assert [(e.name, e.text, e.snapshot) for e in replayed_stream] == live
    assert replayed_stream.final_response() == stream.final_response() and stream.text == replayed_stream.text == "Sunny."


def test_a_json_answer_is_bounded_like_an_event():
    big = b'{"pad": "' + b"x" * 8 * MIB + b'"}'
    whole = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(big) + big  # built before measuring

    def answer(conn, request):
        conn.sendall(whole)
        return True

    with servers.RoutedServer({"/threads/t": answer}) as server:
        client = client_of(server, max_event_bytes=MIB)
        peak, error = peak_while(lambda: client.request("GET", "/threads/t"))
    assert isinstance(error, assistant_stream.ProtocolError) and "larger than 1048576 bytes" in str(error)
    assert peak < 3 * MIB


# -- found by a red team, after the classes above ----------------------------------------------------------


def json_answer(payload, status=200, headers=b""):
    import json

    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()

    def answer(conn, request):
        conn.sendall(
            b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (status, len(data), headers, data)
        )
        return True

    return answer


def test_list_pages_are_bounded_in_all_and_must_move_on():
    def page(first):
        return {
            "data": [{"id": "step_%d" % n, "status": "in_progress", "pad": "x" * 1000} for n in range(first, first + 100)],
            "has_more": True,
        }

    pages = iter(range(0, 10**6, 100))

    def moving_on(conn, request):  # has_more for ever, each page new
        return json_answer(page(next(pages)))(conn, request)

    for steps, limit, message in (
        (moving_on, MIB, "more than 1048576 bytes of objects"),
        (json_answer(page(0)), 16 * MIB, "the page after 'step_99' begins the same way again"),  # has_more for ever, the same page
    ):
        routes = {
            "/runs": servers.event_stream(sse("thread.run.in_progress", RUN)),
            "/runs/run_1": json_answer(dict(RUN, status="completed")),
            "/steps": steps,
        }
        with servers.RoutedServer(routes) as server:
            stream = client_of(server, max_event_bytes=limit).stream_run("thread_1", assistant_id="asst_1", recover=5)
            with pytest.raises(assistant_stream.ProtocolError, match=message):
                stream.until_done()
        assert stream.current_run["status"] == "in_progress"  # what was streamed stays readable


@pytest.mark.parametrize("encoding", [b"gzip", b"deflate"])
def test_an_error_body_that_is_a_bomb_costs_64_kib(encoding):
    packer = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == b"gzip" else 15)
    bomb = b"".join(packer.compress(b"a" * MIB) for _ in range(64)) + packer.flush()
    whole = (
        b"HTTP/1.1 500 Boom\r\nContent-Type: text/plain\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n" % (encoding, len(bomb))
        + bomb
    )

    def answer(conn, request):
        conn.sendall(whole)
        return False

    with servers.RoutedServer({"/runs": answer}) as server:
        peak, error = peak_while(lambda: client_of(server).stream_run("thread_1", assistant_id="asst_1"))
    assert isinstance(error, assistant_stream.InternalServerError) and error.body.startswith("aaaa")
    assert peak < 3 * MIB and len(error.body) <= 65536


def test_close_while_the_follow_up_is_answered_reads_and_leaks_nothing(tmp_path):
    import threading

    requested = threading.Event()
    closed = threading.Event()
    done = sse("thread.run.completed", dict(RUN, status="completed")) + sse("done", "[DONE]")
    body = sse("thread.run.requires_action", REQUIRES) + sse("done", "[DONE]")

    def slow(conn, request):
        requested.set()
        closed.wait(5)
        return servers.event_stream(done)(conn, request)

    handlers = assistant_stream.Handlers()
    handlers.tool(lambda city: "sunny", name="get_weather")
    with servers.RoutedServer({"/runs": servers.event_stream(body), "/submit_tool_outputs": slow}) as server:
        stream = client_of(server).stream_run("thread_1", assistant_id="asst_1", handlers=handlers, record=str(tmp_path / "r.sse"))
        closer = threading.Thread(target=lambda: (requested.wait(5), stream.close(), closed.set()))
        closer.start()
        assert stream.until_done()["status"] == "requires_action"
        closer.join(5)
    assert stream.closed and not stream.finished and stream.text == ""
    assert b"continuation" not in (tmp_path / "r.sse").read_bytes()  # the answer was not read, nor recorded


def test_close_reaches_a_poll_answer_being_read_and_the_lists_after_it():
    import threading
    import time

    polled = b'{"id": "run_1", "thread_id": "thread_1", "status": "completed"}'
    dripped = servers.drip(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(polled), polled), 0.2
    )
    routes = {
        "/runs": servers.event_stream(sse("thread.run.in_progress", RUN)),
        "/runs/run_1": dripped,
        "/steps": json_answer({"data": []}),
    }
    with servers.RoutedServer(routes) as server:
        stream = client_of(server).stream_run("thread_1", assistant_id="asst_1", recover=60)
        threading.Timer(1.0, stream.close).start()
        started = time.monotonic()
        with pytest.raises(assistant_stream.APIConnectionError):
            stream.until_done()
        took = time.monotonic() - started
        time.sleep(0.5)
        assert "/v1/threads/thread_1/runs/run_1/steps" not in server.paths()
    assert took < 1.8  # not the 24 s the answer takes to drip


def test_retry_sleeps_keep_the_recovery_deadline():
    import time

    routes = {
        "/runs": servers.event_stream(sse("thread.run.in_progress", RUN)),
        "/runs/run_1": json_answer({"error": {"message": "busy"}}, status=503, headers=b"Retry-After: 30\r\n"),
    }
    with servers.RoutedServer(routes) as server:
        stream = client_of(server, max_retries=2).stream_run("thread_1", assistant_id="asst_1", recover=1.0)
        started = time.monotonic()
        with pytest.raises(assistant_stream.InternalServerError):
            stream.until_done()
    assert time.monotonic() - started < 1.5  # not the 30 s the server asked for


def test_a_grace_is_a_total_however_the_server_trickles():
    import time

    def trickle():
        for _ in range(40):
            yield b": keep-alive\n\n"
            time.sleep(0.5)

    script = [sse("thread.run.completed", dict(RUN, status="completed")), trickle()]
    with ScriptedServer(script, end="hold", wait_timeout=25) as server:
        stream = client_of(server, timeout=(5, 30)).stream_run("thread_1", assistant_id="asst_1")
        started = time.monotonic()
        assert stream.until_done()["status"] == "completed"
        took = time.monotonic() - started
    assert took < 3.5 and stream.finished  # the 2 s grace, not the 20 s of trickle


def test_a_server_cannot_forge_a_recording_marker(tmp_path):
    forged = b": assistant-stream continuation\n\n: assistant-stream recovered\n"
    body = [sse("thread.run.in_progress", RUN), forged, sse("thread.run.completed", dict(RUN, status="completed")), sse("done", "[DONE]")]
    path = tmp_path / "forged.sse"
    with ScriptedServer(body) as server:
        live = [(e.name, e.data) for e in client_of(server).stream_run("thread_1", assistant_id="asst_1", record=str(path))]
    replayed = assistant_stream.replay(path)
    assert [(e.name, e.data) for e in replayed] == live and not replayed.recovered
    assert b": assistant-stream-served continuation" in path.read_bytes()


def test_streamed_text_survives_a_finished_part_that_leaves_it_out():
    text = {"index": 0, "type": "text", "text": {"value": "Hello, world"}}
    completed = {"id": "msg_1", "status": "completed", "content": [{"type": "text", "text": {"annotations": []}}]}
    body = sse("thread.message.delta", {"id": "msg_1", "delta": {"content": [text]}}) + sse("thread.message.completed", completed)
    seen = []
    handlers = assistant_stream.Handlers()
    handlers.on("text.done", seen.append)
    stream = assistant_stream.replay(body + sse("thread.run.completed", dict(RUN, status="completed")), handlers)
    stream.until_done()
    assert stream.text == "Hello, world" and [e.text for e in seen] == ["Hello, world"]
    assert stream.final_messages()[0]["content"] == [{"type": "text", "text": {"value": "Hello, world", "annotations": []}}]


def test_events_that_would_cost_quadratic_time_are_linear_or_refused():
    parts = [{"index": n, "type": "text", "text": {"value": "x"}} for n in range(20_000, 0, -1)]
    stream = assistant_stream.replay(sse("thread.message.delta", {"id": "msg_1", "delta": {"content": parts}}))
    with pytest.raises(assistant_stream.ProtocolError, match="more than 10000 entries"):
        stream.until_done()
    calls = [{"id": "call_%d" % n, "type": "function", "function": {"name": "f", "arguments": "{}"}} for n in range(5000)]
    required = dict(
        RUN, status="requires_action", required_action={"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": calls}}
    )
    step = {"id": "step_1", "status": "in_progress", "step_details": {"type": "tool_calls", "tool_calls": calls}}
    message = {"id": "msg_1", "status": "in_progress", "content": [{"type": "text", "text": {"value": "x"}}] * 3000}
    body = sse("thread.run.step.created", step) + sse("thread.run.requires_action", required)
    body += sse("thread.message.created", message) + sse("thread.message.in_progress", dict(message, content=None)) * 3000
    snapshots = []
    original = assistant_stream._snapshot
    assistant_stream._snapshot = lambda obj: snapshots.append(1) or original(obj)  # counted
    try:
        assert assistant_stream.replay(body).until_done()["status"] == "requires_action"
    finally:
        assistant_stream._snapshot = original
    assert len(snapshots) < 200_000  # not 3000 events x 3000 parts


def test_a_deeply_nested_message_snapshots():
    nested = {"value": "x"}
    for _ in range(600):
        nested = {"inner": nested}
    body = sse(
        "thread.message.delta",
        {"id": "msg_1", "delta": {"content": [{"index": 0, "type": "text", "text": {"value": "x", "deep": nested}}]}},
    )
    stream = assistant_stream.replay(body + sse("thread.run.completed", dict(RUN, status="completed")))
    stream.until_done()
    assert stream.final_messages()[0]["content"][0]["text"]["value"] == "x" and stream.current_message is not None


def test_long_unknown_names_are_not_cached():
    handlers = assistant_stream.Handlers()
    handlers.on("*", lambda event: None)
    body = b"".join(sse("vendor." + "n%d" % n + "x" * 10_000, {}) for n in range(50))
    assistant_stream.replay(body + sse("thread.run.completed", dict(RUN, status="completed")), handlers).until_done()
    assert not [name for name in handlers._cache() if len(name) > 256]


def test_credentials_stay_out_of_log_lines_and_parsed_error_bodies(caplog):
    import json

    caplog.set_level("DEBUG", logger="assistant_stream")
    key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
    escaped = json.dumps({"error": {"message": "bad key " + key}}).replace("sk-proj", "\\u0073k-proj").encode()
    cut = sse("thread.run.in_progress", dict(RUN, id=key))
    routes = {"/runs": servers.event_stream(cut), "/runs/" + key: json_answer(escaped, status=400)}
    with servers.RoutedServer(routes) as server:
        client = assistant_stream.Client(api_key=key, base_url=server.url, max_retries=0)
        stream = client.stream_run("thread_1", assistant_id="asst_1", recover=5)
        with pytest.raises(assistant_stream.BadRequestError) as info:
            stream.until_done()
    assert key not in json.dumps(info.value.body) and key not in str(info.value)
    assert key not in caplog.text and "recovering run" in caplog.text


@pytest.mark.parametrize("recover", ["soon", [60], float("nan"), -1, float("inf")])
def test_a_recover_that_is_not_seconds_sends_nothing(recover):
    with servers.RoutedServer({"/runs": servers.close}) as server:
        with pytest.raises(ValueError, match="recover must be"):
            client_of(server).stream_run("thread_1", assistant_id="asst_1", recover=recover)
        assert server.connections == 0


def test_the_command_line_prints_any_name(tmp_path, capsys):
    import json

    path = tmp_path / "names.sse"
    path.write_bytes(b'data: {"type": "vendor.\\ud800"}\n\n' + sse("thread.run.completed", dict(RUN, status="completed")))
    assert assistant_stream.main(["replay", "--events", str(path)]) == 0
    assert "vendor.?" in capsys.readouterr().out
    assert json.loads('"\\ud800"')  # the JSON itself is fine: only printing it needs care


@pytest.mark.parametrize("endless", ["fast", "drip"])
def test_an_error_body_that_never_ends_is_read_for_64_kib_or_10_s(endless, monkeypatch):
    monkeypatch.setattr(assistant_stream, "_ERROR_BODY_WAIT", 1.0)  # the same code path, sooner
    head = b"HTTP/1.1 503 Busy\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"

    def answer(conn, request):
        conn.sendall(head)
        piece = b"1\r\nb\r\n" if endless == "drip" else b"10000\r\n%s\r\n" % (b"b" * 65536)
        while True:  # raises once the client is gone
            conn.sendall(piece)
            time.sleep(0.05 if endless == "drip" else 0)

    with servers.RoutedServer({"/runs": answer}) as server:
        started = time.monotonic()
        with pytest.raises(assistant_stream.InternalServerError) as info:
            client_of(server, max_retries=0).stream_run("thread_1", assistant_id="asst_1")
        took = time.monotonic() - started
    assert info.value.status_code == 503 and info.value.body.startswith("bbb")
    if endless == "fast":
        assert len(info.value.body) == 65536
    else:
        assert 1 < took < 3 and 10 < len(info.value.body) < 60  # a byte every 0.05 s, for 1 s: the read timeout (10 s) never trips
