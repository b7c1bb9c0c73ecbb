"""Stream a run: callbacks for the text, then the final run and its messages.

python examples/stream_a_run.py
"""

import assistant_stream
from emulator import use_emulator_unless_configured

assistant_id = use_emulator_unless_configured()  # the local emulator, unless $OPENAI_API_KEY is set

client = assistant_stream.Client()  # $OPENAI_API_KEY, $OPENAI_BASE_URL
handlers = assistant_stream.Handlers()  # one table, for any number of streams


@handlers.on("text.delta")
def show(event: assistant_stream.Event) -> None:
    print(event.text, end="", flush=True)


thread = {"messages": [{"role": "user", "content": "What is a stream?"}]}
with client.stream_thread_and_run(assistant_id=assistant_id, thread=thread, handlers=handlers) as stream:
    run = stream.until_done()  # the final run, a dict

print()
print("status:", run["status"])
print("messages:", [message["content"][0]["text"]["value"] for message in stream.final_messages()])

# Or iterate: each event comes after its callbacks ran. Here, on the same thread.
for event in client.stream_run(run["thread_id"], assistant_id=assistant_id):
    if event.name == "thread.run.step.completed":
        print("a step completed:", event.data["type"])
