"""Azure AI Foundry Agents, or any Assistants-compatible server: a base URL,
an api-version query, and a fresh Entra ID token for every request.

    python examples/azure.py

With AZURE_AI_PROJECT_ENDPOINT set (and azure-identity installed) it talks to
that project; otherwise to the local emulator, set up to demand the same.
"""

import itertools
import os

import assistant_stream
from emulator import Emulator

endpoint = os.environ.get("AZURE_AI_PROJECT_ENDPOINT")  # https://<resource>.services.ai.azure.com/api/projects/<project>
if endpoint:
    from azure.identity import DefaultAzureCredential  # not a dependency of assistant_stream

    credential = DefaultAzureCredential()

    def get_entra_token():
        return credential.get_token("https://ai.azure.com/.default").token

    assistant_id = os.environ["ASSISTANT_ID"]
else:
    issued = itertools.count()

    def get_entra_token():  # a new token each time, as Entra ID hands them out
        return "entra-token-%d" % next(issued)

    emulated = Emulator(
        api_key=lambda token: bool(token and token.startswith("entra-token-")), required_query={"api-version": "2025-05-01"}
    )
    endpoint, assistant_id = emulated.start().base_url, "asst_emulated"
    print("No AZURE_AI_PROJECT_ENDPOINT set: using the local emulator at %s" % endpoint)

client = assistant_stream.Client(
    base_url=endpoint,
    api_key=get_entra_token,  # called for every request: tokens expire
    default_query={"api-version": "2025-05-01"},
)
thread = {"messages": [{"role": "user", "content": "Hello, Azure"}]}
with client.stream_thread_and_run(assistant_id=assistant_id, thread=thread) as stream:
    run = stream.until_done()
print(stream.text)
print("status:", run["status"])
