"""One handler table for both APIs: the Assistants run you had, and the
Responses API you move to.

    python examples/responses_api.py
"""

import assistant_stream
from emulator import use_emulator_unless_configured

assistant_id = use_emulator_unless_configured()  # the local emulator, unless $OPENAI_API_KEY is set
client = assistant_stream.Client()  # $OPENAI_API_KEY, $OPENAI_BASE_URL

handlers = assistant_stream.Handlers()  # written once, for runs


@handlers.on("text.delta")
def show(event: assistant_stream.Event) -> None:
    print(event.text, end="", flush=True)


@handlers.on("end")
def finished(event: assistant_stream.Event) -> None:
    print("  [%s]" % event.data["status"])


@handlers.tool
def get_weather(city: str) -> str:
    return "sunny in %s" % city


parameters = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}

# Before: an Assistants run (the tool's definition nests under "function").
thread = {"messages": [{"role": "user", "content": "Oslo"}]}
run_tools = [{"type": "function", "function": {"name": "get_weather", "parameters": parameters}}]
client.stream_thread_and_run(assistant_id=assistant_id, thread=thread, tools=run_tools, handlers=handlers).until_done()

# After: a model response, the same handlers (the tool's definition is flat).
response_tools = [{"type": "function", "name": "get_weather", "parameters": parameters}]
stream = client.stream_response(model="gpt-4.1-mini", input="Oslo", tools=response_tools, handlers=handlers)
response = stream.until_done()  # the final response, after the tool round
print("response:", response["id"], "output:", [item["type"] for item in response["output"]])
