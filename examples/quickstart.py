"""Stream an assistant run and print its text as it arrives.

    python examples/quickstart.py [your question]

With OPENAI_API_KEY set it talks to that server ($OPENAI_BASE_URL, or the
OpenAI API; $ASSISTANT_ID, left as it is, or else a temporary assistant on
$ASSISTANT_MODEL, deleted at the end).
Without it, it starts the local emulator in-process.
"""

import os
import sys

import assistant_stream


def main() -> None:
    question = " ".join(sys.argv[1:]) or "What can you do?"
    emulator = None
    if os.environ.get("OPENAI_API_KEY"):
        client = assistant_stream.Client()
    else:
        from emulator import Emulator  # examples/emulator.py, next to this file

        emulator = Emulator(delay=0.03).start()
        print("No OPENAI_API_KEY set: streaming from the local emulator at %s" % emulator.base_url)
        client = assistant_stream.Client(api_key="emulator", base_url=emulator.base_url)

    handlers = assistant_stream.Handlers()

    @handlers.on("text.delta")
    def show(event: assistant_stream.Event) -> None:
        print(event.text, end="", flush=True)

    assistant_id = os.environ.get("ASSISTANT_ID")  # yours: used, never deleted
    created = None
    try:
        if assistant_id is None:  # a temporary one, deleted below however the run ends
            model = os.environ.get("ASSISTANT_MODEL", "gpt-4o-mini")
            body = {"model": model, "name": "assistant_stream quickstart"}
            assistant_id = created = client.request("POST", "/assistants", json=body)["id"]
        thread = {"messages": [{"role": "user", "content": question}]}
        with client.stream_thread_and_run(assistant_id=assistant_id, thread=thread, handlers=handlers) as stream:
            run = stream.until_done()
        print()
        print("run %s: %s" % (run["id"], run["status"]))
    finally:
        try:
            if created is not None:
                client.request("DELETE", "/assistants/%s" % created)
        finally:
            client.close()
            if emulator is not None:
                emulator.stop()


if __name__ == "__main__":
    main()
