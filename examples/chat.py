"""Chat completions from any server that speaks them (OpenAI, Azure OpenAI,
vLLM, llama.cpp, Ollama, LM Studio, a gateway): the same handlers, tools
that run themselves, the same Stream as a run.

    python examples/chat.py

With $OPENAI_API_KEY set it asks $OPENAI_BASE_URL (default: the OpenAI API)
for $CHAT_MODEL (default: gpt-4.1-mini); otherwise the local emulator.
"""

import os
from typing import Any, Dict

import assistant_stream
from emulator import use_emulator_unless_configured

use_emulator_unless_configured(assistant=False)  # the local emulator, unless $OPENAI_API_KEY is set
client = assistant_stream.Client()  # $OPENAI_API_KEY, $OPENAI_BASE_URL: any compatible server
handlers = assistant_stream.Handlers()  # the same table serves runs and responses


@handlers.on("text.delta")
def show(event: assistant_stream.Event) -> None:
    print(event.text, end="", flush=True)


@handlers.tool
def get_weather(city: str) -> Dict[str, Any]:
    return {"city": city, "sky": "sunny", "celsius": 22}


tools = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
]
messages = [{"role": "user", "content": "Oslo"}]
model = os.environ.get("CHAT_MODEL", "gpt-4.1-mini")
with client.stream_chat(model=model, messages=messages, tools=tools, handlers=handlers) as stream:
    completion = stream.until_done()  # through every round of tool calls
print()
print("finish reason:", completion["choices"][0]["finish_reason"], "| tokens:", (completion["usage"] or {}).get("total_tokens"))
