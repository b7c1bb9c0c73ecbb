"""The client over HTTP: headers, environment, ids, errors (with `responses`)."""

import json
import logging

import pytest
import requests
import responses
import urllib3

import assistant_stream
from conftest import API_KEY, BASE, FIXTURES, STATUS_ERRORS, sse

RUN = {"id": "run_1", "object": "thread.run", "thread_id": "thread_1", "status": "completed"}
BODY = sse("thread.run.completed", RUN) + sse("done", "[DONE]")


@pytest.fixture
def client():
    with assistant_stream.Client(api_key=API_KEY, base_url=BASE, max_retries=0) as c:
        yield c


@pytest.fixture
def api():
    with responses.RequestsMock() as mock:
        yield mock


def stream_ok(api, path="/threads/thread_1/runs"):
    api.add(responses.POST, BASE + path, body=BODY, content_type="text/event-stream")


def test_a_stream_request_carries_the_api_headers_and_body(api, client):
    stream_ok(api)
    client.stream_run("thread_1", assistant_id="asst_1", instructions="Be brief", handlers=None).until_done()
    request = api.calls[0].request
    assert request.headers["Authorization"] == "Bearer " + API_KEY
    assert request.headers["OpenAI-Beta"] == "assistants=v2"
    assert request.headers["Accept"] == "text/event-stream"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("assistant-stream/%s" % assistant_stream.__version__)
    assert json.loads(request.body) == {"assistant_id": "asst_1", "instructions": "Be brief", "stream": True}


def test_json_requests_ask_for_json(api, client):
    api.add(responses.GET, BASE + "/threads/thread_1", json={"id": "thread_1"})
    assert client.request("GET", "/threads/thread_1") == {"id": "thread_1"}
    assert api.calls[0].request.headers["Accept"] == "application/json"
    assert api.calls[0].request.body is None


def test_environment_fallbacks(api, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-0000")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://env.example.test/v2/")
    monkeypatch.setenv("OPENAI_ORG_ID", "org_1")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj_1")
    api.add(responses.POST, "https://env.example.test/v2/threads/runs", body=BODY, content_type="text/event-stream")
    client = assistant_stream.Client()
    client.stream_thread_and_run(assistant_id="asst_1", thread={"messages": []}).until_done()
    headers = api.calls[0].request.headers
    assert headers["Authorization"] == "Bearer sk-from-env-0000"
    assert headers["OpenAI-Organization"] == "org_1"
    assert headers["OpenAI-Project"] == "proj_1"
    assert json.loads(api.calls[0].request.body)["thread"] == {"messages": []}


def test_arguments_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "https://env.example.test/v1")
    client = assistant_stream.Client(api_key="k" * 10, base_url="http://localhost:1/v1/", organization="org_arg")
    assert client.base_url == "http://localhost:1/v1"
    assert client.organization == "org_arg"


def test_no_key_anywhere_is_refused(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        assistant_stream.Client(base_url=BASE)


def test_an_azure_style_deployment_needs_no_bearer_key(api, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    api.add(responses.POST, BASE + "/threads/thread_1/runs", body=BODY, content_type="text/event-stream")
    client = assistant_stream.Client(base_url=BASE, default_headers={"api-key": "azure-key"}, default_query={"api-version": "2025-05-01"})
    client.stream_run("thread_1", assistant_id="asst_1").until_done()
    request = api.calls[0].request
    assert request.headers["api-key"] == "azure-key"
    assert "Authorization" not in request.headers
    assert request.url.endswith("/threads/thread_1/runs?api-version=2025-05-01")


@pytest.mark.parametrize("header", ["api-key", "Authorization", "Ocp-Apim-Subscription-Key", "X-Api-Token"])
def test_a_credential_header_keeps_the_environments_key_at_home(api, monkeypatch, header):
    # $OPENAI_API_KEY is OpenAI's: sent to another host as a bearer token, it would leak.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-0000000000000000")
    api.add(responses.POST, BASE + "/threads/thread_1/runs", body=BODY, content_type="text/event-stream")
    client = assistant_stream.Client(base_url=BASE, default_headers={header: "Bearer azure-token-00000000"})
    client.stream_run("thread_1", assistant_id="asst_1").until_done()
    headers = api.calls[0].request.headers
    assert headers[header] == "Bearer azure-token-00000000"
    assert "sk-openai" not in " ".join(headers.values()) and headers.get("Authorization", "") in ("", "Bearer azure-token-00000000")


def test_an_explicit_key_goes_with_a_credential_header(api):
    api.add(responses.POST, BASE + "/threads/thread_1/runs", body=BODY, content_type="text/event-stream")
    client = assistant_stream.Client(api_key="entra-token-000000", base_url=BASE, default_headers={"x-ms-client-key": "gateway-key-0000"})
    client.stream_run("thread_1", assistant_id="asst_1").until_done()
    headers = api.calls[0].request.headers
    assert headers["Authorization"] == "Bearer entra-token-000000" and headers["x-ms-client-key"] == "gateway-key-0000"


@pytest.mark.parametrize(
    "base, path, sent",
    [
        (BASE, "/threads/thread_1/runs", True),
        (BASE, "/threads/runs", True),
        (BASE, "/assistants", True),
        (BASE, "/responses", False),
        (BASE, "/chat/completions", False),
        ("https://proj.services.ai.azure.com/api/projects/p", "/threads/thread_1/runs", False),
        ("https://res.openai.azure.com/openai/v1", "/threads/thread_1/runs", False),
        ("https://res.openai.azure.us/openai", "/assistants", False),
    ],
)
def test_openai_beta_goes_only_to_the_assistants_endpoints_and_never_to_azure(api, base, path, sent):
    api.add(responses.POST, base + path, json={"id": "x"})
    assistant_stream.Client(api_key=API_KEY, base_url=base, max_retries=0).request("POST", path, json={})
    assert ("OpenAI-Beta" in api.calls[0].request.headers) is sent
    if sent:
        assert api.calls[0].request.headers["OpenAI-Beta"] == "assistants=v2"


def test_default_headers_add_or_leave_out_any_header(api):
    for path in ("/responses", "/threads/thread_1/runs"):
        api.add(responses.POST, BASE + path, json={"id": "x"})
    forced = assistant_stream.Client(api_key=API_KEY, base_url=BASE, default_headers={"OpenAI-Beta": "assistants=v2"})
    forced.request("POST", "/responses", json={})
    assert api.calls[0].request.headers["OpenAI-Beta"] == "assistants=v2"
    dropped = assistant_stream.Client(api_key=API_KEY, base_url=BASE, default_headers={"OpenAI-Beta": None, "User-Agent": None})
    dropped.request("POST", "/threads/thread_1/runs", json={})
    assert "OpenAI-Beta" not in api.calls[1].request.headers
    assert not api.calls[1].request.headers.get("User-Agent", "").startswith("assistant-stream")


def test_default_query_and_params_combine(api, client):
    client.default_query["api-version"] = "v"
    api.add(responses.GET, BASE + "/threads/thread_1/messages", json={"data": []})
    client.request("GET", "/threads/thread_1/messages", params={"order": "asc"})
    assert api.calls[0].request.url == BASE + "/threads/thread_1/messages?api-version=v&order=asc"


@pytest.mark.parametrize(
    "bad", ["", "a/b", "../runs", "..", ".", "run?x=1", "run 1", "run\r\nX-Evil: 1", "run\x00", "run#x", "%2e%2e", "x" * 300, None, 42]
)
def test_invalid_ids_are_refused_before_anything_is_sent(api, client, bad):
    with pytest.raises(ValueError, match="invalid"):
        client.stream_run(bad, assistant_id="asst_1")
    with pytest.raises(ValueError, match="invalid"):
        client.cancel_run("thread_1", bad)
    with pytest.raises(ValueError, match="invalid"):
        client.submit_tool_outputs(bad, "run_1", [])
    assert len(api.calls) == 0


@pytest.mark.parametrize(
    "bad",
    [
        "threads",
        "/threads/a b",
        "/threads/\r\n",
        "https://evil.test/x",
        "/a\tb",
        "/a\x00",
        "/a\x1f",
        "/a\x7f",
        "/a\x85",
        "/a\u00a0b",
        "/a\u2028",
    ],
)
def test_invalid_paths_are_refused(api, client, bad):
    with pytest.raises(ValueError, match="invalid path"):
        client.request("GET", bad)
    assert len(api.calls) == 0


ERRORS = STATUS_ERRORS + [(418, assistant_stream.APIStatusError)]


@pytest.mark.parametrize("status, cls", ERRORS)
def test_http_errors_map_to_the_documented_classes(api, client, status, cls):
    body = {"error": {"message": "Something about %d." % status, "type": "invalid_request_error", "param": None, "code": "c%d" % status}}
    body["error"].update(retryable=status >= 500, limit=4096, share=0.5, fields=[None, 3, True])  # every JSON type, kept
    api.add(responses.POST, BASE + "/threads/thread_1/runs", json=body, status=status, headers={"x-request-id": "req_123"})
    with pytest.raises(cls) as info:
        client.stream_run("thread_1", assistant_id="asst_1")
    error = info.value
    assert type(error) is cls
    assert isinstance(error, assistant_stream.APIStatusError)
    assert error.status_code == status
    assert error.body == body
    assert error.request_id == "req_123"
    assert "Something about %d." % status in str(error)
    assert "req_123" in str(error)


def test_the_recorded_400_on_a_stream_request(api, client):
    body = (FIXTURES / "rubyopenai_v2_http400_error_on_stream_request.json").read_bytes()
    api.add(responses.POST, BASE + "/threads/thread_1/runs", body=body, status=400, content_type="application/json")
    with pytest.raises(assistant_stream.BadRequestError) as info:
        client.stream_run("thread_1", assistant_id="asst_1")
    assert "Run creation requires a Thread with a user message" in str(info.value)
    assert info.value.body["error"]["code"] == "invalid_thread"


def test_an_error_body_that_is_not_json_is_kept_as_text(api, client):
    api.add(responses.POST, BASE + "/threads/thread_1/runs", body="<html>Bad gateway</html>", status=502, content_type="text/html")
    with pytest.raises(assistant_stream.InternalServerError) as info:
        client.stream_run("thread_1", assistant_id="asst_1")
    assert info.value.body == "<html>Bad gateway</html>"
    assert "Bad gateway" in str(info.value)


@pytest.mark.parametrize(
    "content_type, body, shown",
    [
        ("text/html; charset=utf-8", "<html><body>Welcome to nginx!</body></html>", "Welcome to nginx"),
        ("application/json", '{"error": {"message": "streaming is off"}}', "streaming is off"),
        ("", "event: thread.run.created\n", "no content type"),
    ],
)
def test_a_successful_answer_that_is_not_an_event_stream(api, client, content_type, body, shown):
    api.add(responses.POST, BASE + "/threads/thread_1/runs", body=body, content_type=content_type or None, status=200)
    with pytest.raises(assistant_stream.ProtocolError) as info:
        client.stream_run("thread_1", assistant_id="asst_1")
    message = str(info.value)
    assert "expected an event stream" in message and "HTTP 200" in message
    assert shown in message
    assert (content_type.split(";")[0] or "no content type") in message


def test_request_refuses_answers_that_are_not_a_json_object(api, client):
    api.add(responses.GET, BASE + "/a", body="<html>", content_type="text/html")
    api.add(responses.GET, BASE + "/b", json=[1, 2])
    api.add(responses.DELETE, BASE + "/c", body="", status=204)
    with pytest.raises(assistant_stream.ProtocolError, match="expected JSON"):
        client.request("GET", "/a")
    with pytest.raises(assistant_stream.ProtocolError, match="JSON object"):
        client.request("GET", "/b")
    assert client.request("DELETE", "/c") == {}


def test_redirects_are_not_followed(api, client):
    api.add(responses.POST, BASE + "/threads/thread_1/runs", status=307, headers={"Location": "https://elsewhere.test/v1/x"})
    with pytest.raises(assistant_stream.APIStatusError, match="unexpected redirect to https://elsewhere.test") as info:
        client.stream_run("thread_1", assistant_id="asst_1")
    assert info.value.status_code == 307
    assert len(api.calls) == 1


def test_connection_failures(api, client):
    api.add(responses.POST, BASE + "/threads/thread_1/runs", body=requests.exceptions.ConnectionError("refused"))
    api.add(responses.POST, BASE + "/threads/thread_2/runs", body=requests.exceptions.ConnectTimeout("slow"))
    with pytest.raises(assistant_stream.APIConnectionError, match="refused") as info:
        client.stream_run("thread_1", assistant_id="asst_1")
    assert type(info.value) is assistant_stream.APIConnectionError
    with pytest.raises(assistant_stream.APITimeoutError, match="timed out"):
        client.stream_run("thread_2", assistant_id="asst_1")


def test_ids_are_quoted_into_the_path(api, client):
    api.add(responses.POST, BASE + "/threads/thread_a.b%3Ac-1/runs/run_9/cancel", json={"id": "run_9", "status": "cancelling"})
    assert client.cancel_run("thread_a.b:c-1", "run_9")["status"] == "cancelling"
    assert api.calls[0].request.path_url == "/v1/threads/thread_a.b%3Ac-1/runs/run_9/cancel"


def test_the_key_never_shows(api, client, caplog):
    echo = {"error": {"message": "Incorrect API key provided: %s." % API_KEY}}
    api.add(responses.POST, BASE + "/threads/thread_1/runs", json=echo, status=401)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(assistant_stream.AuthenticationError) as info:
        client.stream_run("thread_1", assistant_id="asst_1")
    assert API_KEY not in str(info.value)
    assert API_KEY not in repr(info.value)
    assert API_KEY not in json.dumps(info.value.body)
    assert API_KEY not in repr(client)
    assert "POST %s/threads/thread_1/runs" % BASE in caplog.text
    assert API_KEY not in caplog.text


def test_submit_tool_outputs_streams(api, client):
    stream_ok(api, "/threads/thread_1/runs/run_1/submit_tool_outputs")
    outputs = [{"tool_call_id": "call_1", "output": "sunny"}]
    stream = client.submit_tool_outputs("thread_1", "run_1", outputs)
    assert stream.until_done()["status"] == "completed"
    assert json.loads(api.calls[0].request.body) == {"tool_outputs": outputs, "stream": True}


def test_event_names_are_logged_at_debug(api, client, caplog):
    stream_ok(api)
    caplog.set_level(logging.DEBUG, logger="assistant_stream")
    client.stream_run("thread_1", assistant_id="asst_1").until_done()
    assert "event thread.run.completed" in caplog.text and "event done" in caplog.text
    assert "HTTP 200 from POST" in caplog.text
    assert API_KEY not in caplog.text


# -- retries before the first event --------------------------------------------------


@pytest.fixture
def sleeps(monkeypatch):
    slept = []
    monkeypatch.setattr(assistant_stream.time, "sleep", slept.append)
    return slept


def retrying_client(retries=2):
    return assistant_stream.Client(api_key=API_KEY, base_url=BASE, max_retries=retries)


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_then_succeed(api, sleeps, status):
    url = BASE + "/threads/thread_1/runs"
    api.add(responses.POST, url, json={"error": {"message": "busy"}}, status=status)
    api.add(responses.POST, url, body=BODY, content_type="text/event-stream")
    assert retrying_client().stream_run("thread_1", assistant_id="asst_1").until_done()["status"] == "completed"
    assert len(api.calls) == 2 and len(sleeps) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_client_errors_are_never_retried(api, sleeps, status):
    api.add(responses.POST, BASE + "/threads/thread_1/runs", json={"error": {"message": "no"}}, status=status)
    with pytest.raises(assistant_stream.APIStatusError):
        retrying_client().stream_run("thread_1", assistant_id="asst_1")
    assert len(api.calls) == 1 and sleeps == []


def test_backoff_doubles_with_jitter_and_retries_run_out(api, sleeps, monkeypatch):
    draws = iter([0.0, 0.5, 1.0])
    monkeypatch.setattr(assistant_stream.random, "random", lambda: next(draws))
    for _ in range(4):
        api.add(responses.POST, BASE + "/threads/thread_1/runs", json={"error": {"message": "down"}}, status=503)
    with pytest.raises(assistant_stream.InternalServerError, match="down"):
        retrying_client(retries=3).stream_run("thread_1", assistant_id="asst_1")
    assert len(api.calls) == 4
    # 0.5 s, 1 s, 2 s, each shortened by up to a quarter at random
    assert sleeps == [0.5, 1.0 * 0.875, 2.0 * 0.75]


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
    ],
)
def test_retry_after_is_honoured(api, sleeps, headers, expected):
    url = BASE + "/threads/thread_1/runs"
    api.add(responses.POST, url, json={}, status=429, headers=headers)
    api.add(responses.POST, url, body=BODY, content_type="text/event-stream")
    retrying_client().stream_run("thread_1", assistant_id="asst_1").until_done()
    assert sleeps == [expected]


def test_retry_after_as_an_http_date(api, sleeps):
    import email.utils
    import time as real_time

    url = BASE + "/threads/thread_1/runs"
    api.add(responses.POST, url, json={}, status=503, headers={"Retry-After": email.utils.formatdate(real_time.time() + 5, usegmt=True)})
    api.add(responses.POST, url, body=BODY, content_type="text/event-stream")
    retrying_client().stream_run("thread_1", assistant_id="asst_1").until_done()
    assert 3 <= sleeps[0] <= 6


@pytest.mark.parametrize("value", ["600", "-1", "soon"])
def test_an_unreasonable_retry_after_falls_back_to_backoff(api, sleeps, value):
    url = BASE + "/threads/thread_1/runs"
    api.add(responses.POST, url, json={}, status=429, headers={"Retry-After": value})
    api.add(responses.POST, url, body=BODY, content_type="text/event-stream")
    retrying_client().stream_run("thread_1", assistant_id="asst_1").until_done()
    assert 0.375 <= sleeps[0] <= 0.5


def refused():
    """requests' error for a refused connection, shaped as requests raises it."""
    reason = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, BASE, reason=reason))


def test_connect_errors_are_retried_but_a_read_timeout_is_not(api, sleeps):
    url = BASE + "/threads/thread_1/runs"
    api.add(responses.POST, url, body=refused())
    api.add(responses.POST, url, body=requests.exceptions.ConnectTimeout("slow connect"))
    api.add(responses.POST, url, body=BODY, content_type="text/event-stream")
    assert retrying_client().stream_run("thread_1", assistant_id="asst_1").until_done()["status"] == "completed"
    assert len(api.calls) == 3

    api.add(responses.POST, BASE + "/threads/thread_2/runs", body=requests.exceptions.ReadTimeout("the request went out"))
    with pytest.raises(assistant_stream.APITimeoutError, match="the request went out"):
        retrying_client().stream_run("thread_2", assistant_id="asst_1")
    assert len(api.calls) == 4


def test_a_connection_lost_after_it_was_made_is_not_retried(api, sleeps):
    # The server may have the request: sending it again could start a second run.
    aborted = urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
    api.add(responses.POST, BASE + "/threads/thread_1/runs", body=requests.exceptions.ConnectionError(aborted))
    with pytest.raises(assistant_stream.APIConnectionError, match="runs failed: Connection aborted: Connection reset by peer$"):
        retrying_client().stream_run("thread_1", assistant_id="asst_1")
    assert len(api.calls) == 1 and sleeps == []


def test_a_callable_key_is_asked_for_each_request_and_never_shown(api):
    issued = iter(["token-aaaaaaaa-1", "token-bbbbbbbb-2"])
    api.add(responses.POST, BASE + "/threads", json={"id": "thread_1"})
    api.add(responses.POST, BASE + "/threads", json={"error": {"message": "bad token token-bbbbbbbb-2"}}, status=401)
    client = assistant_stream.Client(api_key=lambda: next(issued), base_url=BASE, max_retries=0)
    client.request("POST", "/threads")
    with pytest.raises(assistant_stream.AuthenticationError) as info:
        client.request("POST", "/threads")
    assert [c.request.headers["Authorization"] for c in api.calls] == ["Bearer token-aaaaaaaa-1", "Bearer token-bbbbbbbb-2"]
    assert "token-bbbbbbbb-2" not in str(info.value) and "<api key>" in str(info.value)


# -- credentials stay out of every message (review findings) ----------------------------


def test_a_key_read_from_a_file_with_its_newline_works_and_never_shows(api):
    api.add(responses.GET, BASE + "/threads/t", json={"id": "t"})
    client = assistant_stream.Client(api_key=API_KEY + "\n", base_url=BASE, max_retries=0)
    client.request("GET", "/threads/t")
    assert api.calls[0].request.headers["Authorization"] == "Bearer " + API_KEY


def test_a_header_requests_refuses_never_shows_its_value(api):
    client = assistant_stream.Client(api_key="x" * 10, base_url=BASE, max_retries=0, default_headers={"api-key": "secret-azure\nkey-0123"})
    with pytest.raises(assistant_stream.APIConnectionError) as info:
        client.request("GET", "/threads/t")
    assert "secret-azure" not in str(info.value) and "key-0123" not in str(info.value)


@pytest.mark.parametrize("status, content_type", [(200, "text/plain"), (401, "application/json"), (200, "application/xml")])
def test_an_echoed_credential_is_redacted_everywhere(api, status, content_type):
    azure_key = "azure-key-0123456789"
    echo = "you sent: Bearer %s and api-key %s" % (API_KEY, azure_key)
    body = json.dumps({"error": {"message": echo}}) if content_type == "application/json" else echo
    api.add(responses.POST, BASE + "/threads/thread_1/runs", body=body, status=status, content_type=content_type)
    api.add(responses.GET, BASE + "/threads/thread_1", body=body, status=status, content_type=content_type)
    client = assistant_stream.Client(api_key=API_KEY, base_url=BASE, max_retries=0, default_headers={"api-key": azure_key})
    for call in (lambda: client.stream_run("thread_1", assistant_id="asst_1"), lambda: client.request("GET", "/threads/thread_1")):
        with pytest.raises(assistant_stream.AssistantStreamError) as info:
            call()
        shown = str(info.value) + repr(info.value) + json.dumps(getattr(info.value, "body", None))
        assert API_KEY not in shown and azure_key not in shown
        assert "<api key>" in str(info.value)


def test_an_echoed_credential_in_the_stream_is_redacted(api, client):
    api.add(
        responses.POST,
        BASE + "/threads/thread_1/runs",
        body=b"event: thread.run.created\ndata: {oops " + API_KEY.encode() + b"\n\n",
        content_type="text/event-stream",
    )
    stream = client.stream_run("thread_1", assistant_id="asst_1")
    with pytest.raises(assistant_stream.ProtocolError) as info:
        stream.until_done()
    assert API_KEY not in str(info.value) and "<api key>" in str(info.value)


@pytest.mark.parametrize("retries", [-1, 1.5, "2"])
def test_max_retries_must_be_a_whole_number(retries):
    with pytest.raises(ValueError, match="max_retries"):
        assistant_stream.Client(api_key=API_KEY, base_url=BASE, max_retries=retries)


def test_recovery_refuses_a_list_it_cannot_page_through():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        cut = sse("thread.run.in_progress", {"id": "run_1", "thread_id": "thread_1", "status": "in_progress"})
        api.add(responses.POST, BASE + "/threads/thread_1/runs", body=cut, content_type="text/event-stream")
        api.add(responses.GET, BASE + "/threads/thread_1/runs/run_1", json={"id": "run_1", "thread_id": "thread_1", "status": "completed"})
        api.add(responses.GET, BASE + "/threads/thread_1/runs/run_1/steps", json={"data": [{"status": "completed"}], "has_more": True})
        client = assistant_stream.Client(api_key=API_KEY, base_url=BASE, max_retries=0)
        stream = client.stream_run("thread_1", assistant_id="asst_1", recover=True)
        with pytest.raises(assistant_stream.ProtocolError, match="expected a list of objects"):
            stream.until_done()
        assert stream.closed


# Error answers of every shape: the class goes by the status alone, the message is the best the body offers.
@pytest.mark.parametrize(
    "status, cls, body, shown",
    [
        (400, assistant_stream.BadRequestError, {"detail": "no error key here"}, '{"detail": "no error key here"}'),
        (400, assistant_stream.BadRequestError, {"message": "a bare message"}, "a bare message"),
        (404, assistant_stream.NotFoundError, ["first", {"error": "in a list"}], '["first", {"error": "in a list"}]'),
        (422, assistant_stream.UnprocessableEntityError, "just a string", '"just a string"'),
        (401, assistant_stream.AuthenticationError, {"error": "a string, not an object"}, '{"error": "a string, not an object"}'),
        (429, assistant_stream.RateLimitError, {"error": {"message": {"nested": ["deep"]}}}, "{'nested': ['deep']}"),
        (500, assistant_stream.InternalServerError, {"error": {"message": ""}, "message": "the outer one"}, "the outer one"),
        (402, assistant_stream.APIStatusError, {"error": {"message": "Pay first."}}, "Pay first."),
        (418, assistant_stream.APIStatusError, {"error": {"code": "teapot"}}, '{"error": {"code": "teapot"}}'),
        (451, assistant_stream.APIStatusError, "Unavailable For Legal Reasons", '"Unavailable For Legal Reasons"'),
    ],
)
def test_error_bodies_of_every_shape_get_their_class_and_a_readable_message(api, client, status, cls, body, shown):
    text = json.dumps(body)
    api.add(responses.POST, BASE + "/threads/thread_1/runs", body=text, status=status, content_type="application/json")
    with pytest.raises(cls) as info:
        client.stream_run("thread_1", assistant_id="asst_1")
    error = info.value
    assert type(error) is cls and error.status_code == status
    assert error.body == body  # the JSON, whatever its shape
    assert str(error).startswith("%d " % status) and str(error).endswith(": " + shown)


@pytest.mark.parametrize("status, attempts", [(402, 1), (418, 1), (451, 1), (400, 1), (408, 3), (409, 3), (429, 3), (500, 3), (599, 3)])
def test_only_408_409_429_and_5xx_are_retried_whatever_the_body(api, status, attempts):
    for _ in range(3):
        api.add(
            responses.POST, BASE + "/threads/thread_1/runs", body='["no", "error", "object"]', status=status, headers={"Retry-After": "0"}
        )
    client = assistant_stream.Client(api_key=API_KEY, base_url=BASE, max_retries=2)
    with pytest.raises(assistant_stream.APIStatusError) as info:
        client.stream_run("thread_1", assistant_id="asst_1")
    assert info.value.status_code == status and len(api.calls) == attempts
    api.assert_all_requests_are_fired = False


@pytest.mark.parametrize("status, cls", [s for s in STATUS_ERRORS if s[0] != 503])
def test_a_client_with_only_a_credential_header_gets_the_status_errors_redacted(api, monkeypatch, status, cls):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    azure_key = "azure-key-0123456789abcdef"
    body = {"error": {"message": "Refused api-key %s." % azure_key}}
    api.add(responses.POST, BASE + "/threads/thread_1/runs", json=body, status=status, headers={"x-request-id": "req_" + azure_key})
    client = assistant_stream.Client(base_url=BASE, max_retries=0, default_headers={"api-key": azure_key})
    with pytest.raises(cls) as info:
        client.stream_run("thread_1", assistant_id="asst_1")
    error = info.value
    assert type(error) is cls and error.status_code == status
    assert error.body == {"error": {"message": "Refused api-key <api key>."}} and error.request_id == "req_<api key>"
    assert "Refused api-key <api key>." in str(error) and azure_key not in str(error) + repr(error)
    assert api.calls[0].request.headers["api-key"] == azure_key and "Authorization" not in api.calls[0].request.headers


def test_a_client_with_only_a_credential_header_records_with_it_redacted(api, monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    azure_key = "azure-key-0123456789abcdef"
    echoed = dict(RUN, instructions="You sent %s." % azure_key)
    api.add(
        responses.POST,
        BASE + "/threads/thread_1/runs",
        body=sse("thread.run.completed", echoed) + sse("done", "[DONE]"),
        content_type="text/event-stream",
    )
    client = assistant_stream.Client(base_url=BASE, max_retries=0, default_headers={"api-key": azure_key})
    path = tmp_path / "run.sse"
    assert client.stream_run("thread_1", assistant_id="asst_1", record=str(path)).until_done()["instructions"] == "You sent %s." % azure_key
    recorded = path.read_bytes()
    assert azure_key.encode() not in recorded and b"You sent <api key>." in recorded
    assert assistant_stream.replay(str(path)).until_done()["instructions"] == "You sent <api key>."
