"""Record a run's event stream, then play it back through the same callbacks.

python examples/record_and_replay.py
"""

import os
import tempfile

import assistant_stream
from emulator import use_emulator_unless_configured

assistant_id = use_emulator_unless_configured()  # the local emulator, unless $OPENAI_API_KEY is set
client = assistant_stream.Client()  # $OPENAI_API_KEY, $OPENAI_BASE_URL
thread = client.request("POST", "/threads", json={"messages": [{"role": "user", "content": "Remember this."}]})
path = os.path.join(tempfile.mkdtemp(), "run.sse")

with client.stream_run(thread["id"], assistant_id=assistant_id, record=path) as stream:
    stream.until_done()  # run.sse now holds the body's bytes, as received

handlers = assistant_stream.Handlers()
handlers.on("run.*", lambda event: print(event.name, event.data["status"]))

replayed = assistant_stream.replay(path, handlers)  # a path, bytes, or byte chunks
replayed.until_done()
print("same text:", replayed.text == stream.text)
