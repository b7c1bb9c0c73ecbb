"""A run that survives a dropped connection, retries, and is cancelled if
the caller goes away.

    python examples/resilience.py
"""

import assistant_stream
from emulator import steer, use_emulator_unless_configured

assistant_id = use_emulator_unless_configured()  # the local emulator, unless $OPENAI_API_KEY is set
# Connect within 5 s, allow 60 s of silence, retry 429s, 5xx and connect errors 4 times.
client = assistant_stream.Client(timeout=(5, 60), max_retries=4)
thread = client.request("POST", "/threads", json={"messages": [{"role": "user", "content": "Keep going."}]})

# The emulator can drop the connection mid-stream; on a real server this metadata is just stored.
cut = steer(drop=9) if "127.0.0.1" in client.base_url else {}

stream = client.stream_run(
    thread["id"],
    assistant_id=assistant_id,
    recover=True,  # if the connection drops, poll the run and finish the stream from it
    cancel_on_interrupt=True,  # if we leave early (Ctrl-C, an exception), cancel the run
    metadata=cut,
)
try:
    run = stream.until_done()
except assistant_stream.APIConnectionError as error:
    print("could not reach the server:", error)
else:
    print(stream.text)
    print("status:", run["status"], "| recovered after a drop:", stream.recovered)
