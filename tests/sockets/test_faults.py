"""The fault catalogue: each fault, the exact error, what is kept, and — seen
from the server — the connection closed within a bounded time; or, where the
body was read to its end, given back for the next request (keep-alive)."""

import pytest

import assistant_stream
from conftest import API_KEY, STATUS_ERRORS, Recorder, new_thread
from emulator import steer

BOUND = 5.0  # seconds the server may wait to see the connection closed
# The emulator's run: 7 lifecycle events, then one text delta per word of
# "Hello from the emulator! You said: <message>".
AFTER_TWO_WORDS = 9  # events 0-6, then "Hello", " from"


def run_with(client, handlers=None, **metadata):
    thread_id = new_thread(client)
    return client.stream_run(thread_id, assistant_id="asst_1", handlers=handlers, metadata=steer(**metadata))


def stream_call(emulator):
    return [call for call in emulator.calls if call.path.endswith("/runs")][-1]


def closed_by_client(emulator):
    call = stream_call(emulator)
    return call.ended.wait(BOUND) and call.client_closed


def connection_closed(emulator):
    return stream_call(emulator).connection_closed.wait(BOUND)


def given_back(client, emulator):
    """The body was read to its end and its connection went back to the
    pool: the client's next request reuses it."""
    port = stream_call(emulator).client_port
    client.request("GET", "/assistants")
    return emulator.calls[-1].path.endswith("/assistants") and emulator.calls[-1].client_port == port


def test_connection_closed_mid_event(client, emulator):
    stream = run_with(client, drop=AFTER_TWO_WORDS)
    with pytest.raises(assistant_stream.IncompleteStreamError, match="connection was lost.*in status 'in_progress'") as info:
        stream.until_done()
    assert info.value.stream is stream and stream.closed
    assert stream.text == "Hello from"
    assert connection_closed(emulator)


def test_connection_closed_between_events(client, emulator):
    stream = run_with(client, close_after=AFTER_TWO_WORDS)
    with pytest.raises(assistant_stream.IncompleteStreamError, match="in status 'in_progress'") as info:
        stream.until_done()
    assert info.value.stream is stream
    assert stream.text == "Hello from" and stream.current_message["status"] == "in_progress"
    assert connection_closed(emulator)


def test_a_stall_longer_than_the_read_timeout(emulator):
    client = assistant_stream.Client(api_key=API_KEY, base_url=emulator.base_url, timeout=(5, 0.3))
    stream = run_with(client, stall=(AFTER_TWO_WORDS, 1.5))
    with pytest.raises(assistant_stream.APITimeoutError, match="read timeout.*in status 'in_progress'") as info:
        stream.until_done()
    assert isinstance(info.value, assistant_stream.APIConnectionError)
    assert stream.text == "Hello from"
    assert closed_by_client(emulator)


def test_an_error_event_mid_stream(client, emulator):
    handlers = assistant_stream.Handlers()
    errors = handlers.on("error", Recorder())
    stream = run_with(client, handlers, error_after=AFTER_TWO_WORDS, hold=10)
    with pytest.raises(assistant_stream.StreamError, match="server_error.*Sorry, something went wrong") as info:
        stream.until_done()
    assert info.value.error == {"code": "server_error", "message": "Sorry, something went wrong.", "param": None, "type": "server_error"}
    assert [e.data for e in errors.events] == [info.value.error]
    assert stream.text == "Hello from" and stream.status == "in_progress"
    assert closed_by_client(emulator)


@pytest.mark.parametrize("status, cls", STATUS_ERRORS)
def test_http_errors_with_json_bodies_and_request_ids(emulator, status, cls):
    client = assistant_stream.Client(api_key=API_KEY, base_url=emulator.base_url, max_retries=0)
    with pytest.raises(cls) as info:
        run_with(client, fail=[status])
    error = info.value
    assert type(error) is cls and error.status_code == status
    assert error.body["error"]["message"] == "Scripted failure 1." and error.body["error"]["type"] == "server_error"
    assert error.request_id.startswith("req_") and error.request_id in str(error)
    assert connection_closed(emulator)


@pytest.mark.parametrize(
    "answer, shown",
    [
        ("html", "text/html; charset=utf-8: '<!doctype html><html><body><h1>Welcome to the proxy"),
        ("json", 'application/json: \'{"id": "run_'),
    ],
)
def test_a_200_that_is_not_an_event_stream(client, emulator, answer, shown):
    with pytest.raises(assistant_stream.ProtocolError, match="expected an event stream") as info:
        run_with(client, answer=answer)
    assert "got HTTP 200 " + shown in str(info.value)
    assert connection_closed(emulator)


def test_a_gzip_encoded_stream(client, emulator):
    stream = run_with(client, gzip=True, reply="Compressed, and still word by word.")
    assert stream.until_done()["status"] == "completed"
    assert stream.text == "Compressed, and still word by word."
    assert given_back(client, emulator)


def test_invalid_utf8_becomes_the_replacement_character(client, emulator):
    # As the WHATWG rules and browsers have it: U+FFFD, and the run goes on.
    handlers = assistant_stream.Handlers()
    texts = handlers.on("text.delta", Recorder())
    stream = run_with(client, handlers, inject=("bad_utf8", AFTER_TWO_WORDS))
    assert stream.until_done()["status"] == "completed"
    assert [e.text for e in texts.events][2] == "caf\ufffd"
    assert stream.text == "Hello from the emulator! You said: Hello therecaf\ufffd"
    assert given_back(client, emulator)


def test_malformed_json(client, emulator):
    stream = run_with(client, inject=("bad_json", AFTER_TWO_WORDS), hold=10)
    with pytest.raises(assistant_stream.ProtocolError, match="'thread.message.delta' carries invalid JSON"):
        stream.until_done()
    assert stream.text == "Hello from"
    assert closed_by_client(emulator)


def test_an_event_over_the_size_limit(emulator):
    client = assistant_stream.Client(api_key=API_KEY, base_url=emulator.base_url, max_event_bytes=1 << 20)
    stream = run_with(client, inject=("huge", AFTER_TWO_WORDS))
    with pytest.raises(assistant_stream.ProtocolError, match="an event is larger than 1048576 bytes"):
        stream.until_done()
    assert stream.text == "Hello from"
    assert closed_by_client(emulator)
    assert stream_call(emulator).bytes_sent < 16 << 20  # of the 64 MiB on offer: the rest was never asked for


def test_unknown_events_and_comments(client, emulator):
    handlers = assistant_stream.Handlers()
    everything = handlers.on("*", Recorder())
    stream = run_with(client, handlers, inject="noise")
    assert stream.until_done()["status"] == "completed"
    assert stream.text == "Hello from the emulator! You said: Hello there"
    pings = [e for e in everything.events if e.name == "vendor.ping"]
    # one after every event but 'done', where the client stops reading
    assert len(pings) == stream_call(emulator).events_sent - 1 and pings[0].data == {"n": 0}
    assert given_back(client, emulator)


@pytest.mark.parametrize("status", ["failed", "cancelled", "expired", "incomplete"])
def test_runs_that_end_otherwise_are_returned(client, emulator, status):
    handlers = assistant_stream.Handlers()
    ends = handlers.on("end", Recorder())
    stream = run_with(client, handlers, status=status)
    run = stream.until_done()
    assert run["status"] == status and stream.finished
    assert ends.events[0].data is run
    if status == "failed":
        assert run["last_error"]["code"] == "server_error"
    assert stream.text == "Hello from the emulator! You said: Hello there"
    assert given_back(client, emulator)


def test_done_missing_after_a_finished_run(client, emulator):
    handlers = assistant_stream.Handlers()
    seen = handlers.on("*", Recorder())
    stream = run_with(client, handlers, no_done=True)
    assert stream.until_done()["status"] == "completed"
    assert "done" not in seen.names and seen.names[-1] == "end"
    # The body ended cleanly: its connection went back to the pool, and serves the next request.
    client.request("GET", "/threads/%s" % stream.current_run["thread_id"])
    assert emulator.calls[-1].client_port == stream_call(emulator).client_port
