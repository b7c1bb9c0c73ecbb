"""The emulator's REST surface over HTTP, with plain requests: every
endpoint the client and the examples call, in the API's shapes (objects,
lists and their pages, deletions, 404s for unknown ids), and a 400 in the
API's error shape for every malformed body, never a crashed handler."""

import json
import socket
from typing import Any, Dict, Iterator, Optional

import pytest
import requests

from conftest import API_KEY
from emulator import Emulator

HEADERS = {"Authorization": "Bearer " + API_KEY, "OpenAI-Beta": "assistants=v2"}
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
ERROR_KEYS = {"message", "type", "param", "code"}


class API:
    """requests against the emulator: each call returns (status, JSON)."""

    def __init__(self, emulator: Emulator) -> None:
        self.base = emulator.base_url
        self.session = requests.Session()

    def __call__(self, method: str, path: str, body: Any = None, params: Optional[Dict[str, Any]] = None, data: Any = None) -> Any:
        headers = dict(HEADERS, **({"Content-Type": "application/json"} if data is not None else {}))
        answer = self.session.request(method, self.base + path, json=body, data=data, params=params, headers=headers, timeout=10)
        assert answer.headers["Content-Type"] == "application/json"
        return answer.status_code, answer.json()

    def ok(self, method: str, path: str, body: Any = None, params: Optional[Dict[str, Any]] = None) -> Any:
        status, found = self(method, path, body, params)
        assert status == 200, found
        return found


@pytest.fixture
def api(emulator: Emulator) -> Iterator[API]:
    session = API(emulator)
    yield session
    session.session.close()
    assert all(call.status < 500 for call in emulator.calls), [(c.method, c.path, c.status) for c in emulator.calls]


def assert_error(answer: Any, status: int, param: Optional[str] = None) -> Dict[str, Any]:
    got, body = answer
    assert got == status, body
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS, body
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["message"]
    if param is not None:
        assert body["error"]["param"] == param, body
    return body["error"]  # type: ignore[no-any-return]


# -- the CRUD surface ------------------------------------------------------------


def test_assistants_are_created_listed_in_pages_modified_and_deleted(api):
    made = [api.ok("POST", "/assistants", {"model": "gpt-4o-mini", "name": "a%d" % n, "tools": [WEATHER]}) for n in range(3)]
    first = made[0]
    assert first["object"] == "assistant" and first["id"].startswith("asst_") and first["name"] == "a0" and first["tools"] == [WEATHER]
    assert first["model"] == "gpt-4o-mini" and first["metadata"] == {} and first["description"] is None
    assert api.ok("GET", "/assistants/" + first["id"]) == first

    page = api.ok("GET", "/assistants", params={"limit": 2, "order": "asc"})
    ids = [a["id"] for a in made]
    assert page["object"] == "list" and [a["id"] for a in page["data"]] == ids[:2]
    assert (page["first_id"], page["last_id"], page["has_more"]) == (ids[0], ids[1], True)
    rest = api.ok("GET", "/assistants", params={"limit": 2, "order": "asc", "after": page["last_id"]})
    assert [a["id"] for a in rest["data"]] == ids[2:] and rest["has_more"] is False
    newest_first = api.ok("GET", "/assistants")  # desc, 20, by default
    assert [a["id"] for a in newest_first["data"]] == ids[::-1] and newest_first["has_more"] is False
    before = api.ok("GET", "/assistants", params={"order": "asc", "before": ids[2]})
    assert [a["id"] for a in before["data"]] == ids[:2]

    changed = api.ok("POST", "/assistants/" + first["id"], {"name": "renamed", "metadata": {"k": "v"}})
    assert changed["name"] == "renamed" and changed["metadata"] == {"k": "v"} and changed["model"] == "gpt-4o-mini"
    assert api.ok("GET", "/assistants/" + first["id"])["name"] == "renamed"

    assert api.ok("DELETE", "/assistants/" + first["id"]) == {"id": first["id"], "object": "assistant.deleted", "deleted": True}
    for method, body in (("GET", None), ("POST", {"name": "x"}), ("DELETE", None)):
        error = assert_error(api(method, "/assistants/" + first["id"], body), 404)
        assert error["message"] == "No assistant found with id '%s'." % first["id"]
    assert [a["id"] for a in api.ok("GET", "/assistants", params={"order": "asc"})["data"]] == ids[1:]


def test_a_thread_its_messages_runs_and_steps(api):
    thread = api.ok("POST", "/threads", {"messages": [{"role": "user", "content": "Oslo"}], "metadata": {"topic": "weather"}})
    assert thread["object"] == "thread" and thread["metadata"] == {"topic": "weather"}
    assert api.ok("GET", "/threads/" + thread["id"]) == thread
    assert api.ok("POST", "/threads/" + thread["id"], {"metadata": {"topic": "rain"}})["metadata"] == {"topic": "rain"}
    base = "/threads/" + thread["id"]

    parts = [{"type": "text", "text": "and"}, {"type": "image_url", "image_url": {"url": "https://example.test/a.png"}}]
    message = api.ok("POST", base + "/messages", {"role": "user", "content": parts, "metadata": {"n": "2"}})
    assert message["object"] == "thread.message" and message["thread_id"] == thread["id"] and message["metadata"] == {"n": "2"}
    assert message["content"] == [{"type": "text", "text": {"value": "and", "annotations": []}}, parts[1]]
    assert api.ok("GET", base + "/messages/" + message["id"]) == message
    assert api.ok("POST", base + "/messages/" + message["id"], {"metadata": {"n": "3"}})["metadata"] == {"n": "3"}
    listed = api.ok("GET", base + "/messages", params={"order": "asc"})
    assert [m["role"] for m in listed["data"]] == ["user", "user"] and listed["last_id"] == message["id"]

    run = api.ok("POST", base + "/runs", {"assistant_id": "asst_any", "tools": [WEATHER]})
    assert run["object"] == "thread.run" and run["status"] == "requires_action" and run["thread_id"] == thread["id"]
    assert api.ok("GET", base + "/runs/" + run["id"]) == run
    assert api.ok("POST", base + "/runs/" + run["id"], {"metadata": {"tag": "x"}})["metadata"] == {"tag": "x"}
    calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    outputs = [{"tool_call_id": call["id"], "output": "sunny"} for call in calls]
    done = api.ok("POST", base + "/runs/%s/submit_tool_outputs" % run["id"], {"tool_outputs": outputs})
    assert done["status"] == "completed" and done["id"] == run["id"]
    assert_error(api("POST", base + "/runs/%s/cancel" % run["id"]), 400)  # too late

    steps = api.ok("GET", base + "/runs/%s/steps" % run["id"], params={"order": "asc"})
    assert [s["type"] for s in steps["data"]] == ["tool_calls", "message_creation"] and steps["object"] == "list"
    step = steps["data"][1]
    assert api.ok("GET", base + "/runs/%s/steps/%s" % (run["id"], step["id"])) == step
    reply = api.ok("GET", base + "/messages", params={"run_id": run["id"]})["data"]
    assert [m["content"][0]["text"]["value"] for m in reply] == ["The tools said: sunny."]

    waiting = api.ok("POST", base + "/runs", {"assistant_id": "asst_any", "tools": [WEATHER]})
    cancelled = api.ok("POST", base + "/runs/%s/cancel" % waiting["id"])
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"]
    runs = api.ok("GET", base + "/runs", params={"limit": 1})
    assert [r["id"] for r in runs["data"]] == [waiting["id"]] and runs["has_more"] is True

    assert api.ok("DELETE", base + "/messages/" + message["id"]) == {
        "id": message["id"],
        "object": "thread.message.deleted",
        "deleted": True,
    }
    assert_error(api("GET", base + "/messages/" + message["id"]), 404)
    assert api.ok("DELETE", base) == {"id": thread["id"], "object": "thread.deleted", "deleted": True}
    for path in (base, base + "/messages", base + "/runs/" + run["id"]):
        assert assert_error(api("GET", path), 404)["message"] == "No thread found with id '%s'." % thread["id"]


def test_a_thread_and_run_in_one_request(api):
    run = api.ok("POST", "/threads/runs", {"assistant_id": "asst_any", "thread": {"messages": [{"role": "user", "content": "Hi"}]}})
    assert run["status"] == "completed"
    messages = api.ok("GET", "/threads/%s/messages" % run["thread_id"], params={"order": "asc"})["data"]
    assert [m["content"][0]["text"]["value"] for m in messages] == ["Hi", "Hello from the emulator! You said: Hi"]


def test_an_assistant_made_is_the_one_a_run_uses(api):
    made = api.ok("POST", "/assistants", {"model": "gpt-test", "instructions": "Be brief."})
    run = api.ok("POST", "/threads/runs", {"assistant_id": made["id"]})
    assert (run["assistant_id"], run["model"], run["instructions"]) == (made["id"], "gpt-test", "Be brief.")


def test_responses_are_created_retrieved_and_deleted(api):
    response = api.ok("POST", "/responses", {"model": "gpt-4.1-mini", "input": "Hi"})
    assert response["object"] == "response" and response["status"] == "completed"
    assert response["output"][0]["content"][0]["text"] == "Hello from the emulator! You said: Hi"
    assert api.ok("GET", "/responses/" + response["id"]) == response
    assert_error(api("POST", "/responses/%s/cancel" % response["id"]), 400)  # it is done
    follow = api.ok("POST", "/responses", {"model": "gpt-4.1-mini", "input": "More", "previous_response_id": response["id"]})
    assert follow["previous_response_id"] == response["id"]
    assert api.ok("DELETE", "/responses/" + response["id"]) == {"id": response["id"], "object": "response", "deleted": True}
    for method, path in (("GET", ""), ("DELETE", ""), ("POST", "/cancel")):
        assert_error(api(method, "/responses/" + response["id"] + path), 404, "response_id")
    assert_error(api("POST", "/responses", {"model": "m", "input": "x", "previous_response_id": response["id"]}), 404)


def test_a_chat_completion_without_streaming(api):
    completion = api.ok("POST", "/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "n": 2})
    assert completion["object"] == "chat.completion" and len(completion["choices"]) == 2
    assert completion["choices"][1]["message"]["content"] == "Hello from the emulator! You said: Hi"


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/assistants/asst_nope"),
        ("GET", "/threads/thread_nope"),
        ("POST", "/threads/thread_nope/messages"),
        ("GET", "/threads/{thread}/messages/msg_nope"),
        ("GET", "/threads/{thread}/runs/run_nope"),
        ("POST", "/threads/{thread}/runs/run_nope/cancel"),
        ("GET", "/threads/{thread}/runs/{run}/steps/step_nope"),
        ("GET", "/responses/resp_nope"),
        ("GET", "/no/such/endpoint"),
        ("PUT", "/assistants"),
        ("DELETE", "/threads/{thread}/runs/{run}"),
    ],
)
def test_what_is_not_there_is_a_404_in_the_apis_shape(api, method, path):
    thread = api.ok("POST", "/threads", {})
    run = api.ok("POST", "/threads/%s/runs" % thread["id"], {"assistant_id": "asst_any"})
    assert_error(api(method, path.format(thread=thread["id"], run=run["id"]), {"role": "user", "content": "x"}), 404)


@pytest.mark.parametrize(
    "params, param", [({"limit": "many"}, "limit"), ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"order": "sideways"}, "order")]
)
def test_bad_list_parameters_are_a_400(api, params, param):
    thread = api.ok("POST", "/threads", {})
    for path in ("/assistants", "/threads/%s/messages" % thread["id"], "/threads/%s/runs" % thread["id"]):
        assert_error(api("GET", path, params=params), 400, param)


# -- malformed bodies ------------------------------------------------------------

# Bodies that are no JSON object at all: every POST endpoint answers each with a 400.
NOT_OBJECTS = {
    "not JSON": b"hello",
    "cut short": b'{"model": "m"',
    "array": b'[{"model": "m"}]',
    "string": b'"model"',
    "number": b"42",
    "null": b"null",
    "boolean": b"true",
    "NaN": b'{"model": NaN}',
    "bad UTF-8": b'{"model": "\xff\xfe"}',
    "deep": b"[" * 100000 + b"]" * 100000,
    "deep object": b'{"metadata": ' + b'{"a": ' * 200 + b"1" + b"}" * 201,
}
POSTS = [
    "/assistants",
    "/assistants/{assistant}",
    "/threads",
    "/threads/runs",
    "/threads/{thread}",
    "/threads/{thread}/messages",
    "/threads/{thread}/messages/{message}",
    "/threads/{thread}/runs",
    "/threads/{thread}/runs/{run}",
    "/threads/{thread}/runs/{run}/cancel",
    "/threads/{thread}/runs/{run}/submit_tool_outputs",
    "/responses",
    "/responses/{response}/cancel",
    "/chat/completions",
]
MESSAGE = {"role": "user", "content": "Hi"}
RUN = {"assistant_id": "asst_any"}
RESPONSE = {"model": "m", "input": "Hi"}
CHAT = {"model": "m", "messages": [MESSAGE]}
# Objects with a field of the wrong type (or a missing one): (endpoint, body, the param named).
WRONG_FIELDS = [
    ("/assistants", {}, "model"),
    ("/assistants", {"model": 4}, "model"),
    ("/assistants", {"model": "m", "name": ["a"]}, "name"),
    ("/assistants", {"model": "m", "instructions": {}}, "instructions"),
    ("/assistants", {"model": "m", "tools": "get_weather"}, "tools"),
    ("/assistants", {"model": "m", "tools": [5]}, "tools[0]"),
    ("/assistants", {"model": "m", "tools": [{"type": "function"}]}, "tools[0].function"),
    ("/assistants", {"model": "m", "tools": [{"type": "function", "function": {"name": 3}}]}, "tools[0].function.name"),
    (
        "/assistants",
        {"model": "m", "tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]},
        "tools[0].function.parameters",
    ),
    ("/assistants", {"model": "m", "metadata": ["a"]}, "metadata"),
    ("/assistants", {"model": "m", "metadata": {"k": 1}}, "metadata"),
    ("/assistants", {"model": "m", "metadata": {str(n): "v" for n in range(17)}}, "metadata"),
    ("/assistants/{assistant}", {"model": 1}, "model"),
    ("/assistants/{assistant}", {"tools": {}}, "tools"),
    ("/threads", {"messages": "Hi"}, "messages"),
    ("/threads", {"messages": ["Hi"]}, "messages[0]"),
    ("/threads", {"messages": [{"role": "user"}]}, "messages[0].content"),
    ("/threads", {"messages": [{"content": "Hi"}]}, "messages[0].role"),
    ("/threads", {"messages": [{"role": "robot", "content": "Hi"}]}, "messages[0].role"),
    ("/threads", {"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ("/threads", {"messages": [{"role": "user", "content": [5]}]}, "messages[0].content[0]"),
    ("/threads", {"messages": [{"role": "user", "content": [{"type": "text", "text": {"value": "x"}}]}]}, "messages[0].content[0].text"),
    ("/threads", {"messages": [{"role": "user", "content": [{"type": "audio"}]}]}, "messages[0].content[0].type"),
    ("/threads", {"metadata": "x"}, "metadata"),
    ("/threads", {"tool_resources": []}, "tool_resources"),
    ("/threads/runs", {}, "assistant_id"),
    ("/threads/runs", {"assistant_id": 5}, "assistant_id"),
    ("/threads/runs", dict(RUN, thread="Hi"), "thread"),
    ("/threads/runs", dict(RUN, thread={"messages": {}}), "thread.messages"),
    ("/threads/runs", dict(RUN, thread={"messages": [{"role": "user", "content": None}]}), "thread.messages[0].content"),
    ("/threads/runs", dict(RUN, stream="yes"), "stream"),
    ("/threads/runs", dict(RUN, tools="x"), "tools"),
    ("/threads/{thread}", {"metadata": []}, "metadata"),
    ("/threads/{thread}", {"tool_resources": "x"}, "tool_resources"),
    ("/threads/{thread}/messages", {"role": "user"}, "content"),
    ("/threads/{thread}/messages", {"role": 1, "content": "Hi"}, "role"),
    ("/threads/{thread}/messages", {"role": "user", "content": {"text": "Hi"}}, "content"),
    ("/threads/{thread}/messages", dict(MESSAGE, attachments="x"), "attachments"),
    ("/threads/{thread}/messages", dict(MESSAGE, metadata={"k": None}), "metadata"),
    ("/threads/{thread}/messages/{message}", {"metadata": 5}, "metadata"),
    ("/threads/{thread}/runs", {"assistant_id": ["a"]}, "assistant_id"),
    ("/threads/{thread}/runs", {"assistant_id": None}, "assistant_id"),
    ("/threads/{thread}/runs", dict(RUN, model=3), "model"),
    ("/threads/{thread}/runs", dict(RUN, instructions=[]), "instructions"),
    ("/threads/{thread}/runs", dict(RUN, temperature="hot"), "temperature"),
    ("/threads/{thread}/runs", dict(RUN, stream=1), "stream"),
    ("/threads/{thread}/runs", dict(RUN, additional_messages="Hi"), "additional_messages"),
    ("/threads/{thread}/runs", dict(RUN, additional_messages=[{"role": "user", "content": 7}]), "additional_messages[0].content"),
    ("/threads/{thread}/runs", dict(RUN, tools=[{"type": 1}]), "tools[0].type"),
    # The emulator's switches, in metadata, take what they take.
    ("/threads/{thread}/runs", dict(RUN, metadata={"emulator_drop": "soon"}), "metadata.emulator_drop"),
    ("/threads/{thread}/runs", dict(RUN, metadata={"emulator_delay": "-1"}), "metadata.emulator_delay"),
    ("/threads/{thread}/runs", dict(RUN, metadata={"emulator_delay": "nan"}), "metadata.emulator_delay"),
    ("/threads/{thread}/runs", dict(RUN, metadata={"emulator_stall": "3"}), "metadata.emulator_stall"),
    ("/threads/{thread}/runs", dict(RUN, metadata={"emulator_inject": "lava:3"}), "metadata.emulator_inject"),
    ("/threads/{thread}/runs", dict(RUN, metadata={"emulator_fail": "abc"}), "metadata.emulator_fail"),
    ("/threads/{thread}/runs", dict(RUN, metadata={"emulator_fail": "200"}), "metadata.emulator_fail"),
    ("/threads/{thread}/runs", dict(RUN, metadata={"emulator_args": "[1]"}), "metadata.emulator_args"),
    ("/threads/{thread}/runs", dict(RUN, metadata={"emulator_status": "exploded"}), "metadata.emulator_status"),
    ("/threads/{thread}/runs", dict(RUN, metadata={"emulator_framing": "smoke"}), "metadata.emulator_framing"),
    ("/threads/{thread}/runs/{run}", {"metadata": "x"}, "metadata"),
    ("/threads/{thread}/runs/{run}/submit_tool_outputs", {"tool_outputs": "x"}, "tool_outputs"),
    ("/threads/{thread}/runs/{run}/submit_tool_outputs", {"tool_outputs": [1]}, "tool_outputs[0]"),
    ("/threads/{thread}/runs/{run}/submit_tool_outputs", {"tool_outputs": [{"output": "x"}]}, "tool_outputs[0].tool_call_id"),
    (
        "/threads/{thread}/runs/{run}/submit_tool_outputs",
        {"tool_outputs": [{"tool_call_id": ["c"], "output": "x"}]},
        "tool_outputs[0].tool_call_id",
    ),
    ("/threads/{thread}/runs/{run}/submit_tool_outputs", {"tool_outputs": [{"tool_call_id": "c", "output": 5}]}, "tool_outputs[0].output"),
    (
        "/threads/{thread}/runs/{run}/submit_tool_outputs",
        {"tool_approvals": [{"tool_call_id": "c", "approve": "yes"}]},
        "tool_approvals[0].approve",
    ),
    ("/threads/{thread}/runs/{run}/submit_tool_outputs", {"tool_outputs": [], "stream": "true"}, "stream"),
    ("/responses", {"model": 5}, "model"),
    ("/responses", dict(RESPONSE, input=5), "input"),
    ("/responses", dict(RESPONSE, input=[5]), "input[0]"),
    ("/responses", dict(RESPONSE, input=[{"role": "user", "content": 5}]), "input[0].content"),
    ("/responses", dict(RESPONSE, input=[{"role": "user", "content": [{"type": "input_text", "text": 5}]}]), "input[0].content[0].text"),
    ("/responses", dict(RESPONSE, input=[{"role": "user", "content": ["Hi"]}]), "input[0].content[0]"),
    ("/responses", dict(RESPONSE, input=[{"type": "function_call_output", "call_id": "c"}]), "input[0].output"),
    (
        "/responses",
        dict(RESPONSE, input=[{"type": "mcp_approval_response", "approval_request_id": ["a"], "approve": True}]),
        "input[0].approval_request_id",
    ),
    (
        "/responses",
        dict(RESPONSE, input=[{"type": "mcp_approval_response", "approval_request_id": "a", "approve": "yes"}]),
        "input[0].approve",
    ),
    ("/responses", dict(RESPONSE, stream="yes"), "stream"),
    ("/responses", dict(RESPONSE, previous_response_id=["resp_1"]), "previous_response_id"),
    ("/responses", dict(RESPONSE, instructions=1), "instructions"),
    ("/responses", dict(RESPONSE, tools=[{"type": "function"}]), "tools[0].name"),
    ("/responses", dict(RESPONSE, tools=[{"type": "mcp", "server_label": 1}]), "tools[0].server_label"),
    ("/responses", dict(RESPONSE, agent="my-agent"), "agent"),
    ("/responses", {"agent": {"name": 1, "type": "agent_reference"}, "input": "Hi"}, "agent.name"),
    ("/responses", dict(RESPONSE, metadata={"emulator_status": "expired"}), "metadata.emulator_status"),
    ("/chat/completions", {"messages": [MESSAGE]}, "model"),
    ("/chat/completions", {"model": 5, "messages": [MESSAGE]}, "model"),
    ("/chat/completions", {"model": "m"}, "messages"),
    ("/chat/completions", {"model": "m", "messages": "Hi"}, "messages"),
    ("/chat/completions", {"model": "m", "messages": []}, "messages"),
    ("/chat/completions", {"model": "m", "messages": ["Hi"]}, "messages[0]"),
    ("/chat/completions", {"model": "m", "messages": [{"content": "Hi"}]}, "messages[0].role"),
    ("/chat/completions", {"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ("/chat/completions", dict(CHAT, tools="x"), "tools"),
    ("/chat/completions", dict(CHAT, tools=[{"type": "function", "function": "f"}]), "tools[0].function"),
    ("/chat/completions", dict(CHAT, n="2"), "n"),
    ("/chat/completions", dict(CHAT, n=True), "n"),
    ("/chat/completions", dict(CHAT, n=0), "n"),
    ("/chat/completions", dict(CHAT, n=10**9), "n"),
    ("/chat/completions", dict(CHAT, stream="yes"), "stream"),
    ("/chat/completions", dict(CHAT, stream_options="usage"), "stream_options"),
    ("/chat/completions", dict(CHAT, stream_options={"include_usage": "yes"}), "stream_options.include_usage"),
    ("/chat/completions", dict(CHAT, metadata={"emulator_rounds": "two"}), "metadata.emulator_rounds"),
]


@pytest.fixture
def ids(api):
    """An id of each kind, for the paths."""
    thread = api.ok("POST", "/threads", {"messages": [MESSAGE]})
    message = api.ok("GET", "/threads/%s/messages" % thread["id"])["data"][0]
    run = api.ok("POST", "/threads/%s/runs" % thread["id"], {"assistant_id": "asst_any", "tools": [WEATHER]})
    assert run["status"] == "requires_action"
    assistant = api.ok("POST", "/assistants", {"model": "m"})
    response = api.ok("POST", "/responses", RESPONSE)
    return {"thread": thread["id"], "message": message["id"], "run": run["id"], "assistant": assistant["id"], "response": response["id"]}


def _unchanged(api, ids):
    """The objects the refused requests named are as they were."""
    run = api.ok("GET", "/threads/{thread}/runs/{run}".format(**ids))
    assert run["status"] == "requires_action" and run["metadata"] == {}
    assert api.ok("GET", "/assistants/" + ids["assistant"])["model"] == "m"


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("kind", sorted(NOT_OBJECTS))
def test_a_body_that_is_no_json_object_is_a_400_everywhere(api, ids, path, kind):
    assert_error(api("POST", path.format(**ids), data=NOT_OBJECTS[kind]), 400)
    _unchanged(api, ids)


def test_every_post_endpoint_has_its_malformed_fields_tested():
    assert {path for path, _, _ in WRONG_FIELDS} == set(POSTS) - {"/threads/{thread}/runs/{run}/cancel", "/responses/{response}/cancel"}


@pytest.mark.parametrize("path, body, param", WRONG_FIELDS, ids=["%s %s" % (p, json.dumps(b)[:60]) for p, b, _ in WRONG_FIELDS])
def test_a_field_of_the_wrong_type_is_a_400_naming_it(api, emulator, ids, path, body, param):
    threads = len(emulator.state.threads)
    error = assert_error(api("POST", path.format(**ids), body), 400, param)
    assert error["code"] in ("invalid_type", "invalid_value", "missing_required_parameter", "empty_array"), error
    assert len(emulator.state.threads) == threads  # nothing was made of it
    _unchanged(api, ids)


# A field the API does not know (a misspelling, most often) is a 400 naming it, as
# the API answers: (endpoint, body, the param named).
UNKNOWN_FIELDS = [
    ("/assistants", {"model": "m", "instruction": "Be brief."}, "instruction"),
    ("/assistants/{assistant}", {"modle": "m"}, "modle"),
    ("/threads", {"messages": [], "message": []}, "message"),
    ("/threads", {"messages": [dict(MESSAGE, rol="user")]}, "messages[0].rol"),
    ("/threads/runs", dict(RUN, additional_messages=[MESSAGE]), "additional_messages"),
    ("/threads/runs", dict(RUN, thread={"messages": [], "id": "thread_x"}), "thread.id"),
    ("/threads/runs", dict(RUN, thread={"messages": [{"role": "user", "text": "Hi"}]}), "thread.messages[0].text"),
    ("/threads/{thread}", {"metadata": {}, "name": "x"}, "name"),
    ("/threads/{thread}/messages", dict(MESSAGE, file_ids=[]), "file_ids"),
    ("/threads/{thread}/messages/{message}", {"content": "Hi"}, "content"),
    ("/threads/{thread}/runs", dict(RUN, thread={"messages": []}), "thread"),
    ("/threads/{thread}/runs", dict(RUN, additional_messages=[dict(MESSAGE, name="x")]), "additional_messages[0].name"),
    ("/threads/{thread}/runs/{run}", {"metadata": {}, "status": "cancelled"}, "status"),
    ("/threads/{thread}/runs/{run}/submit_tool_outputs", {"tool_outputs": [], "outputs": []}, "outputs"),
    (
        "/threads/{thread}/runs/{run}/submit_tool_outputs",
        {"tool_outputs": [{"tool_call_id": "call_1", "output": "x", "id": "call_1"}]},
        "tool_outputs[0].id",
    ),
    ("/responses", dict(RESPONSE, messages=[MESSAGE]), "messages"),
    ("/chat/completions", dict(CHAT, input="Hi"), "input"),
    ("/chat/completions", dict(CHAT, stream=True, stream_options={"usage": True}), "stream_options.usage"),
]


@pytest.mark.parametrize(
    "path, body",
    [
        ("/responses", dict(RESPONSE, input=[{"id": "msg_abc"}, MESSAGE], prompt_cache_retention="24h", store=True)),  # an item reference
        ("/chat/completions", dict(CHAT, prompt_cache_retention="24h", seed=1, user="u")),
        ("/chat/completions", dict(CHAT, data_sources=[], user_security_context={})),  # Azure OpenAI's
        ("/threads/runs", dict(RUN, thread={"messages": [MESSAGE]}, tool_resources={}, response_format="auto")),
    ],
    ids=["responses", "chat", "azure chat", "thread and run"],
)
def test_fields_the_api_knows_are_taken(api, path, body):
    status, answer = api("POST", path, body)
    assert status == 200, answer


def test_every_post_endpoint_has_an_unknown_field_tested():
    assert {path for path, _, _ in UNKNOWN_FIELDS} == set(POSTS) - {"/threads/{thread}/runs/{run}/cancel", "/responses/{response}/cancel"}


@pytest.mark.parametrize("path, body, param", UNKNOWN_FIELDS, ids=["%s %s" % (p, param) for p, _, param in UNKNOWN_FIELDS])
def test_a_field_the_api_does_not_know_is_a_400_naming_it(api, emulator, ids, path, body, param):
    threads = len(emulator.state.threads)
    error = assert_error(api("POST", path.format(**ids), body), 400, param)
    assert error["code"] == "unknown_parameter" and error["message"] == "Unknown parameter: '%s'." % param
    assert len(emulator.state.threads) == threads
    _unchanged(api, ids)


@pytest.mark.parametrize(
    "path, body, param",
    [
        ("/threads/{thread}/messages", {"content": "Hi"}, "role"),
        ("/threads/runs", dict(RUN, thread={"messages": [{"content": "Hi"}]}), "thread.messages[0].role"),
        ("/threads/{thread}/runs", dict(RUN, additional_messages=[{"content": "Hi"}]), "additional_messages[0].role"),
        ("/responses", dict(RESPONSE, input=[{"content": "Hi"}]), "input[0].role"),
        ("/responses", dict(RESPONSE, input=[{"type": "message", "content": "Hi"}]), "input[0].role"),
    ],
)
def test_a_message_without_its_role_is_a_400(api, ids, path, body, param):
    error = assert_error(api("POST", path.format(**ids), body), 400, param)
    assert error["code"] == "missing_required_parameter"


def _raw(emulator: Emulator, head: bytes) -> bytes:
    """Send bytes as they are, and read the answer until the server closes."""
    host, port = emulator.base_url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        answer = b""
        while True:
            piece = sock.recv(65536)
            if not piece:
                return answer
            answer += piece


@pytest.mark.parametrize(
    "framing, status",
    [
        (b"Content-Length: lots\r\n", b"400"),
        (b"Content-Length: -5\r\n", b"400"),
        (b"Content-Length: 99999999999\r\n", b"413"),
        (b"Transfer-Encoding: chunked\r\n", b"411"),
    ],
)
def test_a_body_whose_length_is_unknown_is_refused_and_the_connection_closed(emulator, framing, status):
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n%s\r\n{}" % (API_KEY.encode(), framing)
    answer = _raw(emulator, head)
    assert answer.startswith(b"HTTP/1.0 " + status) or answer.startswith(b"HTTP/1.1 " + status), answer[:100]
    error = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
    assert error["type"] == "invalid_request_error"
