"""An AssistantEventHandler from the official SDK, ported: the same
callbacks, as one table that any number of streams can share.

    python examples/migrate.py

The official SDK's version, for comparison:

    class Handler(AssistantEventHandler):
        def on_text_delta(self, delta, snapshot):
            print(delta.value, end="", flush=True)

        def on_tool_call_done(self, tool_call):
            print("\\n[called %s]" % tool_call.type)

        def on_end(self):
            print()

    with client.beta.threads.runs.stream(thread_id=..., assistant_id=..., event_handler=Handler()) as stream:
        stream.until_done()
        run = stream.get_final_run()
"""

import assistant_stream
from emulator import use_emulator_unless_configured

assistant_id = use_emulator_unless_configured()  # the local emulator, unless $OPENAI_API_KEY is set
client = assistant_stream.Client()  # $OPENAI_API_KEY, $OPENAI_BASE_URL
handlers = assistant_stream.Handlers()


@handlers.on("text.delta")
def on_text_delta(event: assistant_stream.Event) -> None:  # delta.value is event.text; the snapshot is event.snapshot
    print(event.text, end="", flush=True)


@handlers.on("tool_call.done")
def on_tool_call_done(event: assistant_stream.Event) -> None:  # once per call, not three times
    print("\n[called %s]" % event.data["type"])


@handlers.on("end")
def on_end(event: assistant_stream.Event) -> None:
    print()


thread = client.request("POST", "/threads", json={"messages": [{"role": "user", "content": "Port me."}]})
with client.stream_run(thread["id"], assistant_id=assistant_id, handlers=handlers) as stream:
    stream.until_done()
    run = stream.final_run() or {}  # None only if no run arrived
print("status:", run["status"])
