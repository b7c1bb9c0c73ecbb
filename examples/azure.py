"""Azure AI Foundry Agents, classic and new: a project endpoint and a fresh
Entra ID token for every request.  A classic agent (threads and runs, the
Assistants protocol) calls an MCP server once the approval callback says
yes; a new agent (the Responses API) is named instead of a model.

    python examples/azure.py

With AZURE_AI_PROJECT_ENDPOINT set (and azure-identity installed) it talks to
that project: AZURE_AGENT_ID names a classic agent, AZURE_AGENT_NAME a new
one.  Otherwise it talks to the local emulator, set up to demand a token.
"""

import itertools
import os
from typing import Any, Dict

import assistant_stream
from emulator import Emulator

endpoint = os.environ.get("AZURE_AI_PROJECT_ENDPOINT")  # https://<resource>.services.ai.azure.com/api/projects/<project>
if endpoint:
    from azure.identity import DefaultAzureCredential  # not a dependency of assistant_stream

    credential = DefaultAzureCredential()

    def get_entra_token() -> str:
        return str(credential.get_token("https://ai.azure.com/.default").token)

    agent_id, agent_name = os.environ["AZURE_AGENT_ID"], os.environ["AZURE_AGENT_NAME"]
    openai_v1 = endpoint + "/openai/v1"
else:
    issued = itertools.count()

    def get_entra_token() -> str:  # a new token each time, as Entra ID hands them out
        return "entra-token-%d" % next(issued)

    emulated = Emulator(api_key=lambda token: bool(token and token.startswith("entra-token-")))
    endpoint = openai_v1 = emulated.start().base_url
    agent_id, agent_name = "asst_emulated", "emulated-agent"
    print("No AZURE_AI_PROJECT_ENDPOINT set: using the local emulator at %s" % endpoint)

handlers = assistant_stream.Handlers()


@handlers.approval
def allow(call: Dict[str, Any]) -> bool:  # an MCP call awaiting approval, as the server lists it
    label: str = call["server_label"]
    print("approving %s on %s" % (call["name"], label))
    return label == "docs"  # or (True, {"headers": {...}}) for the MCP server


# Classic agents: threads and runs, until 2027-03-31.
classic = assistant_stream.Client(
    base_url=endpoint,
    api_key=get_entra_token,  # called for every request: tokens expire
    default_query={"api-version": "2025-05-15-preview"},  # MCP tools and approvals: a preview, or v1
)
docs = {"type": "mcp", "server_label": "docs", "server_url": "https://learn.microsoft.com/api/mcp"}
thread = {"messages": [{"role": "user", "content": "streaming runs"}]}
with classic.stream_thread_and_run(assistant_id=agent_id, thread=thread, tools=[docs], handlers=handlers) as stream:
    run = stream.until_done()
print(stream.text)
print("status:", run["status"])

# New agents: the Responses API, the agent named instead of a model.
new = assistant_stream.Client(base_url=openai_v1, api_key=get_entra_token)
agent = {"name": agent_name, "type": "agent_reference"}
with new.stream_response(agent=agent, input="Hello, new agent", handlers=handlers) as stream:
    response = stream.until_done()
print(stream.text)
print("status:", response["status"])
