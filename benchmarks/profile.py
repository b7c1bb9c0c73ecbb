"""Where the time and memory per event go, stage by stage, in memory.

    python benchmarks/profile.py

The same run as the throughput benchmark (20k deltas, one event per chunk, as
iter_content(None) hands them over), without the network: each stage alone,
then the whole SDK.  Then the peak memory of parsing the run's last big event
(the completed message, carrying the whole text again) at 1M deltas.
"""

import gc
import json
import os
import statistics
import sys
import time
import tracemalloc
from typing import Any, Callable, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import sseclient  # noqa: E402
from server import delta, head, tail, text_of, word  # noqa: E402

import assistant_stream  # noqa: E402


def per_event(run: Callable[[], Any], events: int, repeats: int = 9) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / events * 1e6


def main() -> None:
    deltas = 20000
    chunks = head() + [delta(word(i)) for i in range(deltas)] + tail(text_of(deltas))
    names = assistant_stream._API_EVENTS

    def framing() -> List[bytes]:
        return list(assistant_stream._Framer(names).blocks(iter(chunks)))

    blocks = framing()
    texts = [event.data for event in sseclient.SSEClient(iter(blocks)).events()][:-1]
    scan = assistant_stream._scan_json
    pairs = list(assistant_stream._decode(assistant_stream._Framer(names), iter(chunks), names))
    handlers = assistant_stream.Handlers()
    handlers.on("text.delta", lambda event: None)

    def dispatch_only() -> None:
        stream = assistant_stream.Stream([], handlers)
        stream._events = iter(pairs)  # the wire's output, already decoded
        stream.until_done()

    stages = [
        ("framing (the module's _Framer)", framing),
        ("sseclient-py: fields of whole events", lambda: [None for _ in sseclient.SSEClient(iter(blocks)).events()]),
        ("JSON (the C scanner json.loads uses)", lambda: [scan(text, 0) and None for text in texts]),
        ("dispatch, accumulation, a no-op callback", dispatch_only),
        ("the whole SDK (a body as a live stream reads it)", lambda: assistant_stream.Stream(iter(chunks), handlers).until_done()),
    ]
    print("µs per event, %d events, one per chunk:" % len(chunks))
    for name, run in stages:
        print("  %-44s %5.2f" % (name, per_event(run, len(chunks))))

    deltas = 1000000
    text = text_of(deltas)
    completed = tail(text)[0]
    measured: List[float] = []
    for parse in (lambda: list(sseclient.SSEClient(iter([completed])).events()), lambda: json.loads(completed.split(b"data: ", 1)[1])):
        gc.collect()
        tracemalloc.start()
        parse()
        measured.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    print("\nthe completed message of a %dk-delta run: %.1f MB of text" % (deltas // 1000, len(text) / 1e6))
    print("  peak while sseclient-py parses it:   %5.1f MB  (%.1f× the text)" % (measured[0] / 1e6, measured[0] / len(text)))
    print("  peak while json parses its data:     %5.1f MB  (%.1f× the text)" % (measured[1] / 1e6, measured[1] / len(text)))


if __name__ == "__main__":
    main()
