"""Streams over real sockets: the emulator and a scripted server."""

import io
import threading

import pytest
import urllib3

import assistant_stream
from conftest import API_KEY, Recorder, new_thread, sse
from emulator import steer
from servers import ScriptedServer

RUN = {"id": "run_1", "object": "thread.run", "thread_id": "thread_1", "status": "in_progress"}
DONE_RUN = dict(RUN, status="completed")


def scripted_client(server, **options):
    options.setdefault("timeout", (5, 10))
    return assistant_stream.Client(api_key=API_KEY, base_url=server.url, max_retries=0, **options)


def streaming_calls(emulator):
    return [call for call in emulator.calls if call.path.endswith(("/runs", "/submit_tool_outputs"))]


# -- the API round trip ---------------------------------------------------------


def test_a_run_streams_its_reply_word_by_word(client, emulator):
    reply = "Streaming works, one word at a time."
    thread_id = new_thread(client, "Does it stream?")
    handlers = assistant_stream.Handlers()
    fragments = handlers.on("text.delta", Recorder())
    with client.stream_run(thread_id, assistant_id="asst_1", handlers=handlers, metadata=steer(reply=reply)) as stream:
        run = stream.until_done()
    assert run["status"] == "completed"
    assert [e.text for e in fragments.events] == ["Streaming", " works,", " one", " word", " at", " a", " time."]
    assert stream.text == reply
    stored = client.request("GET", "/threads/%s/messages" % thread_id)["data"][0]
    assert stream.final_messages() == [stored]
    assert client.request("GET", "/threads/%s/runs/%s" % (thread_id, run["id"]))["status"] == "completed"
    assert streaming_calls(emulator)[0].body["stream"] is True


def test_thread_and_run_in_one_request(client):
    handlers = assistant_stream.Handlers()
    threads = handlers.on("thread.created", Recorder())
    thread = {"messages": [{"role": "user", "content": "Hi from a new thread"}]}
    stream = client.stream_thread_and_run(assistant_id="asst_1", thread=thread, handlers=handlers)
    run = stream.until_done()
    assert run["status"] == "completed"
    assert threads.events[0].data["id"] == run["thread_id"]
    assert stream.text == "Hello from the emulator! You said: Hi from a new thread"


def test_tool_outputs_and_cancel_by_hand(client):
    tools = [
        {
            "type": "function",
            "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
        }
    ]
    thread_id = new_thread(client, "Paris")
    run = client.stream_run(thread_id, assistant_id="asst_1", tools=tools).until_done()
    assert run["status"] == "requires_action"
    call = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    stream = client.submit_tool_outputs(thread_id, run["id"], [{"tool_call_id": call["id"], "output": "22C and sunny"}])
    assert stream.until_done()["status"] == "completed"
    assert stream.text == "The tools said: 22C and sunny."

    run = client.stream_run(thread_id, assistant_id="asst_1", tools=tools).until_done()
    assert client.cancel_run(thread_id, run["id"])["status"] == "cancelled"
    with pytest.raises(assistant_stream.BadRequestError, match="Cannot cancel"):
        client.cancel_run(thread_id, run["id"])


# -- prompt delivery ----------------------------------------------------------------


HAS_READ1 = hasattr(urllib3.response.HTTPResponse, "read1")


@pytest.fixture(params=["read1", "urllib3<2.2"])
def reader(request, monkeypatch):
    """The module's two ways to read a body: urllib3's read1, or the fallbacks
    it uses when urllib3 is older than 2.2 (no read1)."""
    if request.param == "read1" and not HAS_READ1:
        pytest.skip("urllib3 %s has no read1" % urllib3.__version__)
    if request.param != "read1" and HAS_READ1:
        monkeypatch.delattr(urllib3.response.HTTPResponse, "read1")
        monkeypatch.delattr(urllib3.response.BaseHTTPResponse, "read1")
    return request.param


@pytest.mark.parametrize("framing", ["chunked", "close", "sized", "length"])
@pytest.mark.parametrize("gzip_body", [False, True], ids=["plain", "gzip"])
def test_each_event_is_dispatched_when_its_last_byte_arrives(reader, framing, gzip_body):
    # The server sends one event, then waits until the client's callback for
    # that event has run; only then does it send the rest.
    gate = threading.Event()
    script = [sse("thread.run.in_progress", RUN), gate, sse("thread.run.completed", DONE_RUN), sse("done", "[DONE]")]
    if framing == "length":
        script = [script[0] + script[2] + script[3]]  # no gate: a sized body arrives whole
    with ScriptedServer(script, framing=framing, gzip_body=gzip_body, end="finish") as server:
        handlers = assistant_stream.Handlers()
        handlers.on("run.in_progress", lambda event: gate.set())
        with scripted_client(server) as client:  # a fully read sized body stays pooled until then
            stream = client.stream_run("thread_1", assistant_id="asst_1", handlers=handlers)
            assert stream.until_done()["status"] == "completed"
        connection = server.wait_closed()
    assert connection.waits_released == ([] if framing == "length" else [True])


def test_recording_keeps_the_wire_bytes_and_replays_the_same(tmp_path):
    body = [sse("thread.run.in_progress", RUN), b": comment\r\n\r\n", sse("thread.run.completed", DONE_RUN), sse("done", "[DONE]")]
    path = tmp_path / "run.sse"
    with ScriptedServer(body, gzip_body=True) as server:
        live = scripted_client(server).stream_run("thread_1", assistant_id="asst_1", record=str(path))
        live_events = [(e.name, e.data) for e in live]
    assert path.read_bytes() == b"".join(body)
    assert [(e.name, e.data) for e in assistant_stream.replay(path)] == live_events


def test_recording_into_an_open_file_leaves_it_open():
    sink = io.BytesIO()
    with ScriptedServer([sse("thread.run.completed", DONE_RUN), sse("done", "[DONE]")]) as server:
        scripted_client(server).stream_run("thread_1", assistant_id="asst_1", record=sink).until_done()
    assert not sink.closed
    assert assistant_stream.replay(sink.getvalue()).until_done()["status"] == "completed"


def test_a_record_path_that_cannot_be_opened_is_refused_before_anything_is_sent(tmp_path):
    with ScriptedServer([sse("thread.run.completed", DONE_RUN)], end="hold") as server:
        with pytest.raises(OSError):
            scripted_client(server).stream_run("thread_1", assistant_id="asst_1", record=str(tmp_path / "no" / "dir" / "x.sse"))
        assert server.connections == []  # no run was created


# -- interruption closes the connection, state stays --------------------------------


def held_stream(client, emulator, handlers=None, hold="8"):
    """A run whose server sends `hold` events (the eighth is the first text
    delta, "Hello") and then waits, watching for the client to close."""
    thread_id = new_thread(client)
    return client.stream_run(thread_id, assistant_id="asst_1", handlers=handlers, metadata=steer(hold=hold))


def assert_closed_by_client(emulator):
    call = streaming_calls(emulator)[-1]
    assert call.ended.wait(5), "the server still holds the connection"
    assert call.client_closed


def test_a_callback_that_raises_closes_the_connection(client, emulator):
    handlers = assistant_stream.Handlers()

    @handlers.on("text.delta")
    def fail(event):
        raise RuntimeError("no thanks")

    stream = held_stream(client, emulator, handlers)
    with pytest.raises(RuntimeError, match="no thanks"):
        stream.until_done()
    assert_closed_by_client(emulator)
    assert stream.closed and stream.text == "Hello"
    assert stream.current_run["status"] == "in_progress"


def test_keyboard_interrupt_closes_the_connection(client, emulator):
    handlers = assistant_stream.Handlers()

    @handlers.on("text.delta")
    def interrupt(event):
        raise KeyboardInterrupt

    stream = held_stream(client, emulator, handlers)
    with pytest.raises(KeyboardInterrupt):
        stream.until_done()
    assert_closed_by_client(emulator)
    assert stream.text == "Hello"


def test_break_closes_the_connection(client, emulator):
    for event in held_stream(client, emulator):
        if event.name == "text.delta":
            break
    assert_closed_by_client(emulator)


def test_closing_the_text_generator_closes_the_connection(client, emulator):
    stream = held_stream(client, emulator)
    deltas = stream.text_deltas()
    assert next(deltas) == "Hello"
    deltas.close()  # GeneratorExit inside
    assert_closed_by_client(emulator)
    assert stream.closed


def test_leaving_the_with_block_early_closes_the_connection(client, emulator):
    with held_stream(client, emulator) as stream:
        pass
    assert_closed_by_client(emulator)
    stream.close()  # idempotent


def test_a_dropped_connection_is_incomplete_and_keeps_the_text(client, emulator):
    emulator.hold_limit = 0.2  # then the server closes without ending the body
    stream = held_stream(client, emulator)
    with pytest.raises(assistant_stream.IncompleteStreamError, match="connection was lost") as info:
        stream.until_done()
    assert info.value.stream is stream
    assert stream.text == "Hello"
    assert stream.status == "in_progress"


def test_a_silence_longer_than_the_read_timeout(emulator):
    client = assistant_stream.Client(api_key=API_KEY, base_url=emulator.base_url, timeout=(5, 0.3))
    stream = held_stream(client, emulator)
    with pytest.raises(assistant_stream.APITimeoutError, match="read timeout"):
        stream.until_done()
    assert_closed_by_client(emulator)
    assert stream.text == "Hello"


def test_the_connection_is_closed_after_done():
    with ScriptedServer([sse("thread.run.completed", DONE_RUN), sse("done", "[DONE]")], end="hold") as server:
        stream = scripted_client(server).stream_run("thread_1", assistant_id="asst_1")
        stream.until_done()
        assert server.wait_closed().client_closed
    assert stream.closed and stream.finished


def test_a_sized_body_read_to_its_end_leaves_its_connection_reusable(client, emulator):
    # urllib3 puts the connection back in the pool once a sized body is read;
    # closing the stream must leave that socket alone for the next request.
    thread_id = new_thread(client)
    for _ in range(3):
        stream = client.stream_run(thread_id, assistant_id="asst_1", metadata=steer(framing="length"))
        assert stream.until_done()["status"] == "completed"
        assert client.request("GET", "/threads/%s" % thread_id)["id"] == thread_id
    assert len({call.client_port for call in emulator.calls}) == 1


@pytest.mark.parametrize("end, error", [("drop", assistant_stream.APIConnectionError), ("hold", assistant_stream.APITimeoutError)])
def test_request_translates_errors_while_reading_the_answer(end, error):
    # A JSON answer cut short, or stalled past the read timeout.
    with ScriptedServer([b'{"id": "thread_1", "obj'], headers={"Content-Type": "application/json"}, end=end) as server:
        client = scripted_client(server, timeout=(5, 0.3))
        with pytest.raises(error, match="reading the answer failed"):
            client.request("GET", "/threads/thread_1")
