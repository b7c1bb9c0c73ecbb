"""One measured stream, in a process of its own: prints a JSON result.

    python benchmarks/clients.py CLIENT BASE_URL DELTAS [--latency] [--words unicode]

CLIENT is one of:
  raw      requests reading the body's bytes (the floor of the floor)
  sse      the honest floor: the fastest code a user writes by hand with
           sseclient-py -- SSEClient(response.iter_content(None)), json.loads
           of every event's data, the deltas' text joined once at the end.
           iter_content(None) hands over each HTTP chunk as it arrives (one
           event per chunk here); SSEClient(response) iterates the Response,
           which reads 128 bytes at a time and costs about 1 µs more per event.
           Measured against iter_content(65536), response.raw.stream(None)
           and response.raw.read_chunked(), which cost the same within noise,
           and response.raw.read1(65536), which is slower.
  sse_response
           the same over SSEClient(response), as sseclient-py's README shows:
           only for the latency rows (on a connection-close body it waits
           for 128 bytes, and iter_content(None) for the whole body)
  sdk      assistant_stream: a no-op text.delta callback, full accumulation
  openai   the official SDK's AssistantEventHandler with a no-op on_text_delta
  sse_chat, sdk_chat, openai_chat
           the same for a chat completion of the same words (the official
           SDK: its chat.completions.stream() helper, which accumulates too)
  sdk_seq  SEQUENTIAL streams (5) one after the other on one
           assistant_stream.Client; reports how many TCP connections the
           server accepted for them (server.py counts them)

The time is measured in-process, from sending the request to having the whole
text; imports and interpreter start are outside it.  The peak RSS is read
before the request and right after the client returns, before anything else
allocates; the text's sizes (UTF-8 bytes, sys.getsizeof of the str) after.
With --words unicode the server's words have CJK and emoji in them (start the
server with the same flag).
"""

import json
import resource
import sys
import time
import urllib.request
from typing import Any, Callable, Dict, List

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from server import WORD_SETS, text_of  # noqa: E402

THREAD = "thread_bench"
SEQUENTIAL = 5  # streams for sdk_seq


def peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


Runner = Callable[[str, Callable[[str], None]], str]


def raw() -> Runner:
    import requests

    def run(url: str, on_text: Callable[[str], None]) -> str:
        response = requests.post(url + "/threads/%s/runs" % THREAD, json={"assistant_id": "asst_bench", "stream": True}, stream=True)
        while response.raw.read(65536):
            pass
        response.close()
        return ""

    return run


def sse(naive: bool = False) -> Runner:
    import requests
    import sseclient

    def run(url: str, on_text: Callable[[str], None]) -> str:
        response = requests.post(url + "/threads/%s/runs" % THREAD, json={"assistant_id": "asst_bench", "stream": True}, stream=True)
        parts: List[str] = []
        for event in sseclient.SSEClient(response if naive else response.iter_content(None)).events():
            if event.event == "done":
                break
            data = json.loads(event.data)
            if event.event == "thread.message.delta":
                for part in data["delta"]["content"]:
                    text = part["text"]["value"]
                    on_text(text)
                    parts.append(text)
        response.close()
        return "".join(parts)

    return run


def sdk() -> Runner:
    import assistant_stream

    def run(url: str, on_text: Callable[[str], None]) -> str:
        client = assistant_stream.Client(api_key="bench", base_url=url)
        handlers = assistant_stream.Handlers()
        handlers.on("text.delta", lambda event: on_text(event.text))
        stream = client.stream_run(THREAD, assistant_id="asst_bench", handlers=handlers)
        stream.until_done()
        return stream.text

    return run


def connections(url: str) -> Dict[str, int]:
    """The server's counts, asked on a connection of its own."""
    with urllib.request.urlopen(url + "/bench/connections") as answer:
        counts: Dict[str, int] = json.loads(answer.read())
    return counts


def sdk_seq() -> Runner:
    import assistant_stream

    def run(url: str, on_text: Callable[[str], None]) -> str:
        client = assistant_stream.Client(api_key="bench", base_url=url)
        handlers = assistant_stream.Handlers()
        handlers.on("text.delta", lambda event: on_text(event.text))
        texts = []
        for _ in range(SEQUENTIAL):
            with client.stream_run(THREAD, assistant_id="asst_bench", handlers=handlers) as stream:
                stream.until_done()
                texts.append(stream.text)
        client.close()
        return texts[0] if len(set(texts)) == 1 else "(the streams ended with different texts)"

    return run


def openai_sdk() -> Runner:
    import warnings

    from openai import AssistantEventHandler, OpenAI

    warnings.simplefilter("ignore", DeprecationWarning)  # "The Assistants API is deprecated"

    def run(url: str, on_text: Callable[[str], None]) -> str:
        class Handler(AssistantEventHandler):
            def on_text_delta(self, delta: Any, snapshot: Any) -> None:
                on_text(delta.value)

        client = OpenAI(api_key="bench", base_url=url, max_retries=0)
        with client.beta.threads.runs.stream(thread_id=THREAD, assistant_id="asst_bench", event_handler=Handler()) as stream:
            stream.until_done()
            messages = stream.get_final_messages()
        return str(messages[0].content[0].text.value)

    return run


def sse_response() -> Runner:
    return sse(naive=True)


def sse_chat() -> Runner:
    import requests
    import sseclient

    def run(url: str, on_text: Callable[[str], None]) -> str:
        response = requests.post(url + "/chat/completions", json={"model": "bench", "messages": [], "stream": True}, stream=True)
        parts: List[str] = []
        for event in sseclient.SSEClient(response.iter_content(None)).events():
            if event.data == "[DONE]":
                break
            for choice in json.loads(event.data)["choices"]:
                text = choice["delta"].get("content")
                if text:
                    on_text(text)
                    parts.append(text)
        response.close()
        return "".join(parts)

    return run


def sdk_chat() -> Runner:
    import assistant_stream

    def run(url: str, on_text: Callable[[str], None]) -> str:
        client = assistant_stream.Client(api_key="bench", base_url=url)
        handlers = assistant_stream.Handlers()
        handlers.on("text.delta", lambda event: on_text(event.text))
        stream = client.stream_chat(model="bench", messages=[], handlers=handlers)
        stream.until_done()
        return stream.text

    return run


def openai_chat() -> Runner:
    from openai import OpenAI

    def run(url: str, on_text: Callable[[str], None]) -> str:
        client = OpenAI(api_key="bench", base_url=url, max_retries=0)
        with client.chat.completions.stream(model="bench", messages=[]) as stream:
            for event in stream:
                if event.type == "content.delta":
                    on_text(event.delta)
            completion = stream.get_final_completion()
        return str(completion.choices[0].message.content)

    return run


CLIENTS = {
    "raw": raw,
    "sse": sse,
    "sse_response": sse_response,
    "sdk": sdk,
    "sdk_seq": sdk_seq,
    "openai": openai_sdk,
    "sse_chat": sse_chat,
    "sdk_chat": sdk_chat,
    "openai_chat": openai_chat,
}


def main() -> None:
    name, url, deltas = sys.argv[1], sys.argv[2], int(sys.argv[3])
    latency = "--latency" in sys.argv
    words = WORD_SETS[sys.argv[sys.argv.index("--words") + 1] if "--words" in sys.argv else "ascii"]
    client = CLIENTS[name]()  # imports happen here, outside the measurement
    latencies: List[int] = []

    def on_text(text: str) -> None:
        if latency:
            latencies.append(time.monotonic_ns() - int(text))

    counted = connections(url) if name == "sdk_seq" else None
    before = peak_kib()
    start = time.perf_counter()
    text = client(url, on_text if latency else (lambda text: None))
    seconds = time.perf_counter() - start
    after = peak_kib()  # before anything else allocates
    streams = SEQUENTIAL if name == "sdk_seq" else 1
    events = deltas + (4 if name.endswith("_chat") else 11)
    result: Dict[str, Any] = {
        "client": name,
        "deltas": deltas,
        "seconds": seconds,
        "us_per_event": seconds / (events * streams) * 1e6,
        "peak_kib_before": before,
        "peak_kib_after": after,
    }
    if latency:
        result.update(ok=True, latencies_ms=[n / 1e6 for n in latencies])
    else:
        result.update(
            ok=name == "raw" or text == text_of(deltas, words),
            text_chars=len(text),
            text_utf8_bytes=len(text.encode("utf-8")),
            text_str_bytes=sys.getsizeof(text),
        )
    if counted is not None:
        now = connections(url)
        result.update(streams=now["streams"] - counted["streams"], connections=now["streamed"] - counted["streamed"])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
