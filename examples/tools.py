"""Function tools that run themselves: the run goes on in the same stream.

python examples/tools.py
"""

from typing import Any, Dict

import assistant_stream
from emulator import use_emulator_unless_configured

assistant_id = use_emulator_unless_configured()  # the local emulator, unless $OPENAI_API_KEY is set
client = assistant_stream.Client()  # $OPENAI_API_KEY, $OPENAI_BASE_URL
handlers = assistant_stream.Handlers()


@handlers.tool
def get_weather(city: str) -> Dict[str, Any]:
    """Called with the model's arguments as keywords; a dict goes back as JSON."""
    return {"city": city, "sky": "sunny", "celsius": 22}


tools = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather now in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]
thread = client.request("POST", "/threads", json={"messages": [{"role": "user", "content": "Oslo"}]})

with client.stream_run(thread["id"], assistant_id=assistant_id, tools=tools, handlers=handlers) as stream:
    run = stream.until_done()  # through every round of calls

print(stream.text)
print("status:", run["status"])
