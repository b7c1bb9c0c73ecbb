"""Under gevent: Timeout, a killed greenlet and close() from elsewhere all
close the connection; the emulator runs here, the client in a patched process."""

import json
import pathlib
import subprocess
import sys
import threading
import time

import pytest

import assistant_stream
from conftest import API_KEY, new_thread
from emulator import steer

pytest.importorskip("gevent")

HERE = pathlib.Path(__file__).resolve().parents[1]  # tests/


def test_timeouts_kills_and_closes_from_another_greenlet(client, emulator):
    thread_id = new_thread(client, "gevent")
    script = HERE / "gevent_client.py"
    done = subprocess.run([sys.executable, str(script), emulator.base_url, API_KEY, thread_id], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    for case in ("timeout", "killed", "closed_elsewhere"):
        assert results[case]["closed"], case
        assert results[case]["text"] == "Hello", case
    assert results["killed"]["dead"] and results["closed_elsewhere"]["dead"]
    assert results["closed_elsewhere"]["value"]["status"] == "in_progress"
    assert results["normal"] == {"status": "completed", "text": "Hello from the emulator! You said: gevent"}
    streams = [call for call in emulator.calls if call.path.endswith("/runs")]
    assert len(streams) == 4
    for call in streams[:3]:
        assert call.ended.wait(5) and call.client_closed


def test_close_from_another_thread_ends_a_blocked_read(client, emulator):
    stream = client.stream_run(new_thread(client), assistant_id="asst_1", metadata=steer(hold=8))
    outcome = {}
    reader = threading.Thread(target=lambda: outcome.setdefault("run", stream.until_done()))
    reader.start()
    deadline = time.monotonic() + 5
    while stream.text != "Hello" and time.monotonic() < deadline:
        time.sleep(0.01)
    stream.close()
    reader.join(5)
    assert not reader.is_alive()
    assert outcome["run"]["status"] == "in_progress"
    call = [c for c in emulator.calls if c.path.endswith("/runs")][-1]
    assert call.ended.wait(5) and call.client_closed
    assert isinstance(stream, assistant_stream.Stream) and stream.closed
