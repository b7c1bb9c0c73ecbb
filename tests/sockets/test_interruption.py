"""Every way of leaving a stream early closes it: nothing leaks over 2,000."""

import gc
import os
import subprocess
import sys

import pytest

import assistant_stream
from conftest import API_KEY, ROOT
from emulator import steer

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc/self/fd")


@pytest.fixture
def remote_emulator():
    """The emulator in a process of its own, so that only the client's
    descriptors are counted here."""
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "emulator.py"), "--port", "0", "--delay", "0", "--api-key", API_KEY],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield server.stdout.readline().split()[-1]
    finally:
        server.terminate()
        server.wait(10)


def open_descriptors() -> int:
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


def raise_in_callback(stream):
    stream.on("text.delta", lambda event: (_ for _ in ()).throw(RuntimeError("stop")))
    with pytest.raises(RuntimeError):
        stream.until_done()


def keyboard_interrupt(stream):
    stream.on("text.delta", lambda event: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        stream.until_done()


def break_out(stream):
    for event in stream:
        if event.name == "text.delta":
            break


def close_the_generator(stream):
    deltas = stream.text_deltas()
    next(deltas)
    deltas.close()


def leave_the_with_block(stream):
    with stream:
        next(iter(stream.text_deltas()))


def close_it(stream):
    stream.close()


WAYS = [raise_in_callback, keyboard_interrupt, break_out, close_the_generator, leave_the_with_block, close_it]


def test_no_descriptor_leaks_over_2000_interrupted_streams(remote_emulator):
    client = assistant_stream.Client(api_key=API_KEY, base_url=remote_emulator, timeout=(5, 10))
    thread_id = client.request("POST", "/threads", json={"messages": [{"role": "user", "content": "leak?"}]})["id"]
    metadata = steer(hold=8, finish_after=0)

    kept = []  # the streams stay referenced, as an application may keep them:
    # only closing them, not the garbage collector, can give their sockets back

    def interrupted(way):
        stream = client.stream_run(thread_id, assistant_id="asst_1", metadata=metadata)
        kept.append(stream)
        way(stream)
        assert stream.closed and stream.text == ("" if way is close_it else "Hello")

    for way in WAYS:  # warm up: the pool holds its connection from here on
        interrupted(way)
    before = open_descriptors()
    for n in range(2000):
        interrupted(WAYS[n % len(WAYS)])
    assert open_descriptors() == before
    assert len(kept) == 2006
