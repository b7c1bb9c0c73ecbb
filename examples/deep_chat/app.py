"""A chat page whose answers stream from an assistant run (or a chat
completion), relayed by a WSGI app under gevent: the way a legacy
synchronous web app serves it.

    (cd examples/deep_chat && npm install)      # the Deep Chat web component
    python examples/deep_chat/app.py --port 8080 [--chat MODEL]

Then open http://127.0.0.1:8080/.  With OPENAI_API_KEY set it relays from that
server ($OPENAI_BASE_URL, --assistant or $ASSISTANT_ID; with --chat, that
model's chat completions); otherwise from the local emulator, started
in-process.

POST /chat takes Deep Chat's request, {"messages": [{"role", "text"}...]},
starts a run on a new thread holding them (or a chat completion of them),
and answers with the Server-Sent Events Deep Chat's streaming connection
reads: one {"text": fragment} per text delta, or {"error": message} if it
fails.
"""

from gevent import monkey

monkey.patch_all()  # first: before anything imports socket, ssl or requests

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional  # noqa: E402

import requests  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

import assistant_stream  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLE = os.path.join(HERE, "node_modules", "deep-chat", "dist", "deepChat.bundle.js")
log = logging.getLogger("deep_chat_relay")

# One table for every request the app serves: callbacks for logging here;
# tools registered on it would run for every conversation.
handlers = assistant_stream.Handlers()


@handlers.on("thread.run.*")
def log_run(event: assistant_stream.Event) -> None:
    if event.name in ("thread.run.created", "thread.run.completed", "thread.run.failed"):
        log.info("%s %s", event.name, event.data.get("id"))


@handlers.on("end")
def log_end(event: assistant_stream.Event) -> None:
    log.info("finished %s", (event.data or {}).get("id"))


def sse(payload: Dict[str, str]) -> bytes:
    return ("data: %s\n\n" % json.dumps(payload)).encode()


class Relay:
    """The WSGI app: the page, the Deep Chat bundle, and POST /chat."""

    def __init__(self, client: assistant_stream.Client, assistant_id: str, chat_model: Optional[str] = None):
        self.client = client
        self.assistant_id = assistant_id
        self.chat_model = chat_model  # chat completions of this model, instead of runs

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
        if method == "GET" and path == "/":
            return self.file(start_response, os.path.join(HERE, "index.html"), "text/html; charset=utf-8")
        if method == "GET" and path == "/static/deepChat.bundle.js":
            return self.file(start_response, BUNDLE, "application/javascript")
        if method == "POST" and path == "/chat":
            return self.chat(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    def file(self, start_response: Callable[..., Any], path: str, kind: str) -> List[bytes]:
        if not os.path.exists(path):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"missing: run npm install in examples/deep_chat"]
        with open(path, "rb") as file:
            body = file.read()
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]

    def chat(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
            request = json.loads(environ["wsgi.input"].read(size) or b"{}")
            messages = [
                {"role": "assistant" if m.get("role") == "ai" else "user", "content": m["text"]}
                for m in request.get("messages", [])
                if isinstance(m, dict) and m.get("text")
            ]
        except (ValueError, TypeError, KeyError):
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [json.dumps({"error": 'expected {"messages": [{"role", "text"}]}'}).encode()]
        start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
        return self.relay(messages)

    def relay(self, messages: List[Dict[str, str]]) -> Iterator[bytes]:
        """Each text fragment as soon as it arrives; an error as Deep Chat shows it.
        If the browser goes away, the generator is closed, and so is the stream."""
        try:
            if self.chat_model:
                stream = self.client.stream_chat(model=self.chat_model, messages=messages, handlers=handlers)
            else:
                stream = self.client.stream_thread_and_run(
                    assistant_id=self.assistant_id, thread={"messages": messages}, handlers=handlers, cancel_on_interrupt=True
                )
            with stream:
                for fragment in stream.text_deltas():
                    yield sse({"text": fragment})
            if stream.status != "completed":
                error = ((stream.current_run or {}).get("last_error") or {}).get("message") or "it ended %s" % stream.status
                yield sse({"error": error})
        except assistant_stream.AssistantStreamError as error:
            log.warning("relay failed: %s", error)
            yield sse({"error": "The assistant is unavailable (%s)." % type(error).__name__})


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--assistant", default=os.environ.get("ASSISTANT_ID"), metavar="ID")
    parser.add_argument("--base-url", metavar="URL", help="default: $OPENAI_BASE_URL, or the OpenAI API")
    parser.add_argument("--chat", metavar="MODEL", help="relay chat completions of MODEL instead of runs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # requests keeps 10 connections per host; a relay streams many runs at once.
    session = requests.Session()
    session.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=500))
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=500))
    if os.environ.get("OPENAI_API_KEY") or args.base_url:
        client = assistant_stream.Client(base_url=args.base_url, session=session)
    else:
        sys.path.insert(0, os.path.dirname(HERE))
        from emulator import Emulator

        emulator = Emulator(delay=0.05).start()
        print("No OPENAI_API_KEY set: relaying from the local emulator at %s" % emulator.base_url, flush=True)
        client = assistant_stream.Client(api_key="emulator", base_url=emulator.base_url, session=session)
    server = WSGIServer((args.host, args.port), Relay(client, args.assistant or "asst_emulated", args.chat), log=None)
    server.start()
    print("Deep Chat relay on http://%s:%d/" % (args.host, server.server_port), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
