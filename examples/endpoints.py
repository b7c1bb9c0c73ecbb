"""Driving a run by hand: submit tool outputs yourself, cancel a run, and
call any other endpoint.

    python examples/endpoints.py
"""

import assistant_stream
from emulator import use_emulator_unless_configured

assistant_id = use_emulator_unless_configured()  # the local emulator, unless $OPENAI_API_KEY is set
client = assistant_stream.Client()  # $OPENAI_API_KEY, $OPENAI_BASE_URL

thread_id = client.request("POST", "/threads", json={"messages": [{"role": "user", "content": "Book it"}]})["id"]
tools = [{"type": "function", "function": {"name": "book_flight", "parameters": {"type": "object", "properties": {}}}}]

stream = client.stream_run(thread_id, assistant_id=assistant_id, tools=tools)
run = stream.until_done()
if run["status"] == "requires_action":  # no tool registered for book_flight: our turn
    calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    outputs = [{"tool_call_id": call["id"], "output": "booked: AB123"} for call in calls]
    with client.submit_tool_outputs(thread_id, run["id"], outputs) as stream:  # the rest of the run
        run = stream.until_done()
print(stream.text)  # the reply, whether the model called the tool or not

run = client.stream_run(thread_id, assistant_id=assistant_id, tools=tools).until_done()
if run["status"] == "requires_action":  # stopped for the tool again: cancel the run instead
    print("cancelled:", client.cancel_run(thread_id, run["id"])["status"])  # -> the run, a dict

messages = client.request("GET", "/threads/%s/messages" % thread_id, params={"order": "asc"})  # any JSON endpoint
print([message["role"] for message in messages["data"]])
