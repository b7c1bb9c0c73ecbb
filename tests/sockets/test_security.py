"""Credentials, URLs, TLS, redirects, and memory against a hostile server."""

import logging
import tracemalloc

import pytest
import requests

import assistant_stream
from conftest import API_KEY, BASE, ROOT, new_thread, sse
from emulator import Emulator, steer
from servers import ScriptedServer

WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


def test_the_key_stays_out_of_reprs_errors_debug_logs_and_recordings(client, emulator, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    handlers = assistant_stream.Handlers()
    handlers.tool(lambda city: "sunny", name="get_weather")
    seen = []
    # A server that echoes the key: in a reply, in an error event.
    reply = "Your key is %s, isn't it?" % API_KEY
    stream = client.stream_run(
        new_thread(client),
        assistant_id="asst_1",
        handlers=handlers,
        tools=[WEATHER],
        record=str(tmp_path / "run.sse"),
        metadata=steer(reply=reply),
    )
    stream.until_done()
    seen += [repr(client), repr(stream), repr(handlers)]
    for fault in (steer(drop=9), steer(fail=[401]), steer(error_after=3), steer(inject=("bad_json", 3))):
        try:
            client.stream_run(new_thread(client), assistant_id="asst_1", metadata=dict(fault, **steer(reply=reply))).until_done()
        except assistant_stream.AssistantStreamError as error:
            seen += [str(error), repr(error), repr(getattr(error, "body", ""))]
    assert len(seen) == 3 + 3 * 4
    recorded = (tmp_path / "run.sse").read_bytes()
    assert b"Your key is <api key>, isn't it?" in recorded
    for text in seen + [caplog.text, recorded.decode()]:
        assert API_KEY not in text
    assert "POST http://127.0.0.1" in caplog.text and "event thread.run.requires_action" in caplog.text


def test_ids_that_would_change_the_url_are_refused(client, emulator):
    before = len(emulator.calls)
    for bad in [
        "../../files",
        "thread_1/../../assistants",
        "thread\r\nHost: evil.test",
        "thread_1?x=1",
        "thread_1#",
        "ｔｈｒｅａｄ",
        "%2e%2e",
        "..",
    ]:
        with pytest.raises(ValueError):
            client.stream_run(bad, assistant_id="asst_1")
        with pytest.raises(ValueError):
            client.cancel_run("thread_1", bad)
    assert len(emulator.calls) == before  # nothing was sent


def test_tls_verification_is_never_turned_off_by_the_library(monkeypatch):
    client = assistant_stream.Client(api_key=API_KEY, base_url=BASE, max_retries=0)
    assert client.session.verify is True
    sent = []
    monkeypatch.setattr(
        client.session,
        "request",
        lambda *args, **kwargs: sent.append(kwargs) or (_ for _ in ()).throw(requests.exceptions.ConnectionError("no")),
    )
    with pytest.raises(assistant_stream.APIConnectionError):
        client.request("GET", "/threads/t")
    assert "verify" not in sent[0] and "cert" not in sent[0]  # the session's setting, True, applies
    # A request with a deadline (a cancel, a poll) goes through the library's adapter: the session's setting too.
    bounded = []
    monkeypatch.setattr(
        assistant_stream._BoundedAdapter,
        "send",
        lambda self, request, **kwargs: bounded.append(kwargs) or (_ for _ in ()).throw(requests.exceptions.ConnectionError("no")),
    )
    with pytest.raises(assistant_stream.APIConnectionError):
        client._get("/threads/t", deadline=assistant_stream._Deadline(5, assistant_stream.time.monotonic() + 5, lambda: False))
    assert bounded[0]["verify"] not in (False, None) and bounded[0]["cert"] is None  # True, or the CA bundle the environment names
    source = (ROOT / "assistant_stream.py").read_text()
    assert "verify=" not in source and "CERT_NONE" not in source and "_create_unverified_context" not in source


def test_credentials_never_follow_a_redirect_to_another_host():
    with ScriptedServer([b"stolen"], framing="length") as elsewhere:
        moved = {"Location": elsewhere.url + "/threads/thread_1/runs", "Content-Type": "application/json"}
        with ScriptedServer([b"{}"], status=307, headers=moved, framing="length") as server:
            client = assistant_stream.Client(
                api_key=API_KEY, base_url=server.url, max_retries=0, default_headers={"api-key": "azure-key-0123456789"}
            )
            with pytest.raises(assistant_stream.APIStatusError, match="unexpected redirect") as info:
                client.stream_run("thread_1", assistant_id="asst_1")
            assert info.value.status_code == 307
            assert len(server.connections) == 1
        assert elsewhere.connections == []  # nothing, credentials least of all, went there


def test_a_hostile_server_sending_a_1_gb_event_costs_bounded_memory():
    with Emulator(api_key=API_KEY) as hostile:
        client = assistant_stream.Client(api_key=API_KEY, base_url=hostile.base_url)
        stream = client.stream_run(new_thread(client), assistant_id="asst_1", metadata=steer(inject=("huge", 9), huge_bytes=1 << 30))
        tracemalloc.start()
        try:
            with pytest.raises(assistant_stream.ProtocolError, match="larger than 16777216 bytes"):
                stream.until_done()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        call = [c for c in hostile.calls if c.path.endswith("/runs")][-1]
        assert call.ended.wait(10) and call.client_closed
    assert peak < 24 << 20  # the 16 MiB limit in pieces (measured: 16.2 MiB); never the gigabyte
    assert call.bytes_sent < 64 << 20  # the rest was never read
    assert stream.text == "Hello from"


def test_an_event_at_the_limit_is_accepted_and_one_byte_more_is_not():
    limit = 4096
    body = sse("thread.run.completed", {"id": "r", "status": "completed", "pad": ""})
    pad = limit - len(body)
    fits = sse("thread.run.completed", {"id": "r", "status": "completed", "pad": "x" * pad})
    assert len(fits) == limit
    assert assistant_stream.replay(fits, max_event_bytes=limit).until_done()["status"] == "completed"
    over = sse("thread.run.completed", {"id": "r", "status": "completed", "pad": "x" * (pad + 1)})
    with pytest.raises(assistant_stream.ProtocolError, match="larger than 4096 bytes"):
        assistant_stream.replay(over, max_event_bytes=limit).until_done()
