"""Azure AI Foundry Agents against the emulator, over real sockets: classic
agents (threads and runs) with MCP approvals and Azure's stream quirks, and
new agents on the Responses API, by agent reference."""

import pytest

import assistant_stream
from conftest import Recorder, calls_to, new_thread
from emulator import MCP_TOOL, Emulator, steer

DOCS = {"type": "mcp", "server_label": "docs", "server_url": "https://docs.example/mcp"}
AGENT = {"type": "agent_reference", "name": "docs-agent"}


def deciding(approve, fields=None):
    handlers = assistant_stream.Handlers()
    handlers.asked = []
    handlers.seen = handlers.on("*", Recorder())

    @handlers.approval
    def decide(call):
        handlers.asked.append(call)
        return (approve, fields) if fields else approve

    return handlers


@pytest.mark.parametrize("quirks", [False, True], ids=["plain", "azure quirks"])
@pytest.mark.parametrize("approve", [True, False], ids=["approved", "refused"])
def test_a_classic_agent_asks_for_approval_and_goes_on_in_one_stream(client, emulator, approve, quirks):
    handlers = deciding(approve, {"headers": {"x-docs-token": "t0k"}})
    thread_id = new_thread(client, "webhooks")
    stream = client.stream_run(thread_id, assistant_id="asst_1", tools=[DOCS], handlers=handlers, metadata=steer(quirks=quirks))
    run = stream.until_done()
    said = "docs about webhooks" if approve else "the call to %s was not approved" % MCP_TOOL
    assert run["status"] == "completed" and stream.text == "The tools said: %s." % said
    assert [(call["name"], call["server_label"], call["type"]) for call in handlers.asked] == [(MCP_TOOL, "docs", "mcp")]
    (submitted,) = calls_to(emulator, "/submit_tool_outputs")
    assert submitted.body == {
        "tool_approvals": [{"tool_call_id": handlers.asked[0]["id"], "approve": approve, "headers": {"x-docs-token": "t0k"}}],
        "stream": True,
    }
    names = handlers.seen.names
    assert [n for n in names if n.startswith(("tool_call.", "text.created", "text.done"))] == [
        "tool_call.created", "tool_call.delta", "tool_call.done", "text.created", "text.done",
    ]  # fmt: skip
    assert names.count("thread.run.step.created") == (4 if quirks else 3)  # three steps; the one Azure says twice, once more
    assert [message["status"] for message in stream.final_messages()] == ["completed"]
    steps = stream.final_run_steps()
    assert [step["type"] for step in steps] == ["activities", "tool_calls", "message_creation"]
    assert steps[1]["step_details"]["tool_calls"][0]["output"] == ("docs about webhooks" if approve else None)


def test_a_classic_agent_approved_by_hand(client, emulator):
    thread_id = new_thread(client, "retention")
    stream = client.stream_run(thread_id, assistant_id="asst_1", tools=[DOCS])
    run = stream.until_done()  # no approval callback: it waits
    assert run["status"] == "requires_action" and run["required_action"]["type"] == "submit_tool_approval"
    (call,) = run["required_action"]["submit_tool_approval"]["tool_calls"]
    rest = client.submit_tool_approvals(thread_id, run["id"], [{"tool_call_id": call["id"], "approve": True}])
    assert rest.until_done()["status"] == "completed" and rest.text == "The tools said: docs about retention."


def test_an_azure_project_with_an_entra_token_and_an_api_version(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-0000000000000000")  # OpenAI's key stays at home: the token is the credential
    with Emulator(api_key="entra-token", required_query={"api-version": "2025-05-15-preview"}, required_headers={}) as azure:
        client = assistant_stream.Client(
            base_url=azure.base_url, api_key=lambda: "entra-token", default_query={"api-version": "2025-05-15-preview"}
        )
        handlers = deciding(True)
        thread_id = new_thread(client, "limits")
        assert client.stream_run(thread_id, assistant_id="asst_1", tools=[DOCS], handlers=handlers).until_done()["status"] == "completed"
        assert all(call.headers["Authorization"] == "Bearer entra-token" for call in azure.calls)


@pytest.mark.parametrize("approve", [True, False], ids=["approved", "refused"])
def test_a_new_agent_by_reference_asks_for_approval_in_one_stream(client, emulator, approve):
    handlers = deciding(approve)
    stream = client.stream_response(agent=AGENT, input="quotas", handlers=handlers, tools=[dict(DOCS, require_approval="always")])
    final = stream.until_done()
    said = "docs about quotas" if approve else "the call to %s was not approved" % MCP_TOOL
    assert final["status"] == "completed" and stream.text == "The tools said: %s." % said
    first, second = calls_to(emulator, "/responses")
    assert "model" not in first.body and first.body["agent"] == AGENT
    assert second.body["agent"] == AGENT and second.body["previous_response_id"] == stream._acc.responses[0]["id"]
    request_id = handlers.asked[0]["id"]
    assert second.body["input"] == [{"type": "mcp_approval_response", "approval_request_id": request_id, "approve": approve}]
    types = [item["type"] for response in stream._acc.responses for item in response["output"]]
    assert types == ["mcp_list_tools", "mcp_approval_request"] + (["mcp_call"] if approve else []) + ["message"]


def test_a_new_agent_without_tools_streams_its_text(client, emulator):
    stream = client.stream_response(agent=AGENT, input="hello")
    assert stream.until_done()["agent"] == AGENT and stream.text == "Hello from the emulator! You said: hello"
    (call,) = calls_to(emulator, "/responses")
    assert "OpenAI-Beta" not in call.headers  # an Assistants header, on the Assistants endpoints only


def test_a_response_request_with_neither_model_nor_agent_is_the_servers_to_refuse(client):
    with pytest.raises(assistant_stream.BadRequestError, match="model"):
        client.stream_response(input="hello")


@pytest.mark.parametrize("api", ["run", "response"])
def test_a_recorded_approval_round_replays_as_it_ran(client, tmp_path, api):
    from conftest import trace

    path = tmp_path / "approval.sse"
    handlers = deciding(True)
    if api == "run":
        stream = client.stream_run(
            new_thread(client, "limits"),
            assistant_id="asst_1",
            tools=[DOCS],
            handlers=handlers,
            record=str(path),
            metadata=steer(quirks=True),
        )
    else:
        stream = client.stream_response(agent=AGENT, input="limits", tools=[DOCS], handlers=handlers, record=str(path))
    live = trace(stream)
    assert live["text"] == "The tools said: docs about limits." and len(handlers.asked) == 1
    assert trace(assistant_stream.replay(path)) == live  # the replay asks nobody: it reads what followed the decision
