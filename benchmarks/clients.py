"""One measured stream, in a process of its own: prints a JSON result.

    python benchmarks/clients.py CLIENT BASE_URL DELTAS [--latency]

CLIENT is one of:
  raw      requests reading the body's bytes (the floor of the floor)
  sse      sseclient-py over the Response + json.loads + a list join: the
           code a user writes by hand (SSEClient(response), as documented)
  sdk      assistant_stream: a no-op text.delta callback, full accumulation
  openai   the official SDK's AssistantEventHandler with a no-op on_text_delta
  sse_chat, sdk_chat, openai_chat
           the same for a chat completion of the same words (the official
           SDK: its chat.completions.stream() helper, which accumulates too)

The time is measured in-process, from sending the request to having the whole
text; imports and interpreter start are outside it.
"""

import json
import resource
import sys
import time
from typing import Any, Callable, Dict, List

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from server import text_of  # noqa: E402

THREAD = "thread_bench"


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


def sse() -> Runner:
    import requests
    import sseclient

    def run(url: str, on_text: Callable[[str], None]) -> str:
        response = requests.post(url + "/threads/%s/runs" % THREAD, json={"assistant_id": "asst_bench", "stream": True}, stream=True)
        parts: List[str] = []
        for event in sseclient.SSEClient(response).events():
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


def sse_chat() -> Runner:
    import requests
    import sseclient

    def run(url: str, on_text: Callable[[str], None]) -> str:
        response = requests.post(url + "/chat/completions", json={"model": "bench", "messages": [], "stream": True}, stream=True)
        parts: List[str] = []
        for event in sseclient.SSEClient(response).events():
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


CLIENTS = {"raw": raw, "sse": sse, "sdk": sdk, "openai": openai_sdk, "sse_chat": sse_chat, "sdk_chat": sdk_chat, "openai_chat": openai_chat}


def main() -> None:
    name, url, deltas = sys.argv[1], sys.argv[2], int(sys.argv[3])
    latency = "--latency" in sys.argv
    client = CLIENTS[name]()  # imports happen here, outside the measurement
    latencies: List[int] = []

    def on_text(text: str) -> None:
        if latency:
            latencies.append(time.monotonic_ns() - int(text))

    before = peak_kib()
    start = time.perf_counter()
    text = client(url, on_text if latency else (lambda text: None))
    seconds = time.perf_counter() - start
    result: Dict[str, Any] = {
        "client": name,
        "deltas": deltas,
        "seconds": seconds,
        "us_per_event": seconds / (deltas + (4 if name.endswith("_chat") else 11)) * 1e6,
        "ok": latency or name == "raw" or text == text_of(deltas),
        "text_bytes": len(text_of(deltas)) if not latency else 0,
        "peak_kib_before": before,
        "peak_kib_after": peak_kib(),
    }
    if latency:
        result["latencies_ms"] = [n / 1e6 for n in latencies]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
