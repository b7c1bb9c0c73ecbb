"""Keep-alive between streams, against the emulator over real sockets: a
stream that ends at its last word reads the body's end and gives the
connection back, so that the next request on the client reuses it (no new
TCP or TLS handshake); a stream left early, or whose end never comes, closes
its connection and poisons nothing."""

import time

import pytest

import assistant_stream
import servers
from conftest import API_KEY, RUN, sse
from emulator import steer

HI = [{"role": "user", "content": "Hi"}]


def ports(emulator, path):
    """The client port of each request to ``path``: one per connection."""
    return [call.client_port for call in emulator.calls if call.path.endswith(path)]


STREAMS = {
    "chat": ("/chat/completions", lambda client, **kw: client.stream_chat(model="m", messages=HI, **kw)),
    "response": ("/responses", lambda client, **kw: client.stream_response(model="m", input="Hi", **kw)),
    "run": ("/threads/runs", lambda client, **kw: client.stream_thread_and_run(assistant_id="asst_1", thread={"messages": HI}, **kw)),
}


@pytest.mark.parametrize("api", sorted(STREAMS))
def test_five_sequential_streams_on_one_client_use_one_connection(client, emulator, api):
    path, start = STREAMS[api]
    for _ in range(5):
        stream = start(client)
        assert stream.until_done() and stream.finished
    used = ports(emulator, path)
    assert len(used) == 5 and len(set(used)) == 1


def test_a_tool_round_and_the_next_stream_reuse_the_connection(client, emulator):
    handlers = assistant_stream.Handlers()
    handlers.tool(lambda city: "sunny in %s" % city, name="get_weather")
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {}}}}}]
    for _ in range(2):
        assert (
            client.stream_chat(model="m", messages=HI, tools=tools, handlers=handlers).until_done()["choices"][0]["finish_reason"] == "stop"
        )
    used = ports(emulator, "/chat/completions")
    assert len(used) == 4 and len(set(used)) == 1  # two rounds each, one connection


def test_a_stream_left_early_closes_its_connection_and_the_next_one_works(client, emulator):
    path, start = STREAMS["run"]
    assert start(client).until_done()["status"] == "completed"
    with start(client, metadata=steer(delay=0.05)) as stream:  # left after its first event
        next(iter(stream))
    assert stream.closed and not stream.finished
    for _ in range(2):
        assert start(client).until_done()["status"] == "completed"
    first, left, after, again = ports(emulator, path)
    assert left == first  # the left stream took the pooled connection ...
    assert after != left and again == after  # ... and closed it: a fresh one, kept from then on


def test_a_body_held_open_after_its_last_word_ends_the_stream_at_once(client, emulator):
    path, start = STREAMS["run"]
    began = time.monotonic()
    stream = start(client, metadata=steer(linger=True))
    assert stream.until_done()["status"] == "completed" and stream.finished
    assert time.monotonic() - began < 2.0  # the end is waited for briefly (the emulator would hold it for 5 s)
    assert start(client).until_done()["status"] == "completed"
    held, fresh = ports(emulator, path)
    assert held != fresh  # the held connection was closed, not handed back half read
    lingering = [call for call in emulator.calls if call.path.endswith(path)][0]
    assert lingering.ended.wait(2) and lingering.client_closed


@pytest.mark.parametrize("framing", ["close", "length"])
def test_bodies_without_chunks_end_as_before(client, emulator, framing):
    path, start = STREAMS["run"]
    for _ in range(2):
        assert start(client, metadata=steer(framing=framing)).until_done()["status"] == "completed"
    used = ports(emulator, path)
    if framing == "close":  # the body ends with its connection: a new one each time
        assert len(set(used)) == 2
    else:  # a sized body read to its end gives its connection back
        assert len(set(used)) == 1


def _ends_late(extra_after_done):
    """An answer whose body has more after `done`, coming 10 ms later (a second
    piece): then its last chunk."""
    body = sse("thread.run.created", RUN) + sse("thread.run.completed", dict(RUN, status="completed")) + sse("done", "[DONE]")

    def answer(conn, request):
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        conn.sendall(head + b"%x\r\n%s\r\n" % (len(body), body))
        time.sleep(0.01)
        conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(extra_after_done), extra_after_done))
        return True  # kept alive

    return answer


@pytest.mark.parametrize("size, reused", [(64, True), (70_000, False)], ids=["a comment", "more than 64 KiB"])
def test_what_follows_the_last_word_is_read_up_to_64_kib(size, reused):
    # A few bytes after `done` (a comment, in a later piece) are read with the
    # body's end, and the connection kept; more than 64 KiB are not waited
    # through: the connection is closed.
    extra = (b": " + b"x" * (size - 4) + b"\n\n")[:size]
    with servers.RoutedServer({"/runs": _ends_late(extra)}) as server:
        client = assistant_stream.Client(api_key=API_KEY, base_url=server.url, timeout=(5, 10), max_retries=0)
        for _ in range(2):
            assert client.stream_run("thread_1", assistant_id="asst_1").until_done()["status"] == "completed"
        assert server.connections == (1 if reused else 2)
