"""A chat page whose answers stream from an assistant run (or a chat
completion), relayed by a WSGI app under gevent: the way a legacy
synchronous web app serves it.

    (cd examples/deep_chat && npm ci)      # the Deep Chat web component
    python examples/deep_chat/app.py --port 8080 [--chat MODEL]

Then open http://127.0.0.1:8080/.  With OPENAI_API_KEY set it relays from that
server ($OPENAI_BASE_URL, --assistant or $ASSISTANT_ID; with --chat, that
model's chat completions); otherwise from the local emulator, started
in-process.

Under gunicorn, the module's ``app`` is configured from the environment:
OPENAI_API_KEY, OPENAI_BASE_URL, ASSISTANT_ID (required with a key, unless
DEEP_CHAT_MODEL names a model whose chat completions to relay instead of
runs); no OPENAI_API_KEY, the emulator (started in the worker on the first
request).  The gevent worker patches itself before it imports the app:

    gunicorn -k gevent -w 1 -b 127.0.0.1:8080 --chdir examples/deep_chat app:app

Conversations live in the worker's memory: run one worker (gevent serves
the concurrent streams), or route each browser to the same worker.

POST /chat takes Deep Chat's request, {"messages": [{"role", "text"}...]},
and answers with the Server-Sent Events Deep Chat's streaming connection
reads: one {"text": fragment} per text delta, or {"error": message} if it
fails.

The conversation is kept per browser session: Deep Chat sends only the
newest message, so the relay remembers the rest.  A session is a random id
in a cookie (HttpOnly, SameSite=Lax; Secure over https; gone when the
browser closes), set by the first POST /chat, naming the session's thread
(runs: the first message starts a thread, each later one is added to it by
the next run) or its messages (--chat: the user's, and the assistant's
replies, up to the last HISTORY_LIMIT, sent whole with each request).  The
table holds the DEEP_CHAT_SESSIONS (4096) most recently used sessions; an
older one, or an id the relay did not issue, starts a new conversation.
While an answer streams, the same session's next message is refused.

What goes wrong upstream (unreachable, an HTTP error, a failed run) reaches
the page as a sentence for the user: the error's class and message go to
the server's log, not to the browser.
"""

if __name__ == "__main__":  # run as a script: patch first, before anything imports socket, ssl or requests
    from gevent import monkey

    monkey.patch_all()  # (gunicorn's gevent worker patches itself before it imports the app)

import argparse  # noqa: E402
import collections  # noqa: E402
import http.cookies  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple  # noqa: E402

import requests  # noqa: E402
from gevent import monkey  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

import assistant_stream  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLE = os.path.join(HERE, "node_modules", "deep-chat", "dist", "deepChat.bundle.js")
log = logging.getLogger("deep_chat_relay")

COOKIE = "deep_chat_session"
HISTORY_LIMIT = 100  # --chat: the messages of a conversation sent with each request
MAX_REQUEST_BYTES = 1 << 20

# What the user reads when an answer fails; the details go to the log.
UNAVAILABLE = "The assistant is unavailable right now. Please try again."
BUSY = "The assistant is busy right now. Please try again in a minute."
SLOW = "The assistant took too long to answer. Please try again."
UNFINISHED = "The assistant could not finish this answer. Please try again."
WAIT = "Please wait until the answer to your previous message is complete."

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


def friendly(error: BaseException) -> str:
    """What the user reads when ``error`` ends an answer."""
    if isinstance(error, assistant_stream.RateLimitError):
        return BUSY
    if isinstance(error, assistant_stream.APITimeoutError):
        return SLOW
    return UNAVAILABLE


class Conversation:
    """One browser session's conversation: its thread (runs) or its messages (chat)."""

    def __init__(self) -> None:
        self.thread_id: Optional[str] = None
        self.messages: List[Dict[str, str]] = []
        self.busy = False  # an answer is streaming


class Sessions:
    """Conversations by session id; beyond ``limit``, the least recently used is forgotten."""

    def __init__(self, limit: int = 4096):
        self.limit = limit
        self._table: collections.OrderedDict[str, Conversation] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._table)

    def find(self, session_id: Optional[str]) -> Optional[Conversation]:
        if not session_id or session_id not in self._table:
            return None
        self._table.move_to_end(session_id)
        return self._table[session_id]

    def start(self) -> Tuple[str, Conversation]:
        session_id = secrets.token_urlsafe(24)
        conversation = self._table[session_id] = Conversation()
        while len(self._table) > self.limit:
            self._table.popitem(last=False)
        return session_id, conversation


def session_id_of(environ: Dict[str, Any]) -> Optional[str]:
    cookies = http.cookies.SimpleCookie()
    try:
        cookies.load(environ.get("HTTP_COOKIE") or "")
    except http.cookies.CookieError:
        return None
    morsel = cookies.get(COOKIE)
    return morsel.value if morsel is not None else None


def session_cookie(session_id: str, environ: Dict[str, Any]) -> str:
    https = environ.get("wsgi.url_scheme") == "https" or environ.get("HTTP_X_FORWARDED_PROTO") == "https"
    return "%s=%s; Path=/; HttpOnly; SameSite=Lax%s" % (COOKIE, session_id, "; Secure" if https else "")


def pooled_session() -> requests.Session:
    # requests keeps 10 connections per host; a relay streams many runs at once.
    session = requests.Session()
    session.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=500))
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=500))
    return session


def emulated() -> assistant_stream.Client:
    """A client of the emulator, started in-process on a free port."""
    sys.path.insert(0, os.path.dirname(HERE))
    from emulator import Emulator

    emulator = Emulator(delay=0.05).start()
    log.warning("No OPENAI_API_KEY set: relaying from the local emulator at %s", emulator.base_url)
    return assistant_stream.Client(api_key="emulator", base_url=emulator.base_url, session=pooled_session())


class Relay:
    """The WSGI app: the page, the Deep Chat bundle, and POST /chat.

    ``connect`` makes the client, on the first request that needs it (so
    that an emulator starts in the worker that serves it)."""

    def __init__(
        self,
        connect: Callable[[], assistant_stream.Client],
        assistant_id: str,
        chat_model: Optional[str] = None,
        sessions: Optional[Sessions] = None,
    ):
        self.connect = connect
        self.assistant_id = assistant_id
        self.chat_model = chat_model  # chat completions of this model, instead of runs
        self.sessions = sessions if sessions is not None else Sessions()
        self._client: Optional[assistant_stream.Client] = None
        self._connecting: Optional[Any] = None  # a lock, made by the first request: after gevent patched threading

    @property
    def client(self) -> assistant_stream.Client:
        if self._client is None:
            if self._connecting is None:
                self._connecting = threading.Lock()
            with self._connecting:
                if self._client is None:
                    self._client = self.connect()
        return self._client

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
            return [b"missing: run npm ci in examples/deep_chat"]
        with open(path, "rb") as file:
            body = file.read()
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]

    def chat(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
            if size > MAX_REQUEST_BYTES:
                start_response("413 Content Too Large", [("Content-Type", "application/json")])
                return [json.dumps({"error": "The message is too long."}).encode()]
            request = json.loads(environ["wsgi.input"].read(size) or b"{}")
            messages = [
                {"role": "assistant" if m.get("role") == "ai" else "user", "content": str(m["text"])}
                for m in request.get("messages", [])
                if isinstance(m, dict) and m.get("text")
            ]
            if not any(m["role"] == "user" for m in messages):
                raise ValueError("no user message")
        except (ValueError, TypeError, KeyError, AttributeError):
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [json.dumps({"error": 'expected {"messages": [{"role", "text"}]}'}).encode()]
        headers = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]
        conversation = self.sessions.find(session_id_of(environ))
        if conversation is None:
            session_id, conversation = self.sessions.start()
            headers.append(("Set-Cookie", session_cookie(session_id, environ)))
        start_response("200 OK", headers)
        return self.relay(conversation, messages)

    def relay(self, conversation: Conversation, messages: List[Dict[str, str]]) -> Iterator[bytes]:
        """Each text fragment as soon as it arrives; an error as Deep Chat shows it.
        If the browser goes away, the generator is closed, and so is the stream."""
        if conversation.busy:
            yield sse({"error": WAIT})
            return
        conversation.busy = True
        try:
            yield from self.answer(conversation, messages)
        except Exception as error:  # the user reads a sentence; the log gets what happened
            if isinstance(error, assistant_stream.AssistantStreamError):
                log.warning("relay failed: %s: %s", type(error).__name__, error)
            else:
                log.exception("relay failed")
            yield sse({"error": friendly(error)})
        finally:
            conversation.busy = False

    def answer(self, conversation: Conversation, messages: List[Dict[str, str]]) -> Iterator[bytes]:
        """The conversation goes on: the request's messages start it; once it
        holds some, only the request's newest user messages are added."""
        if conversation.thread_id or conversation.messages:
            newest = len(messages)
            while newest and messages[newest - 1]["role"] == "user":
                newest -= 1
            messages = messages[newest:]
        if self.chat_model:
            yield from self.answer_chat(conversation, messages)
            return
        if conversation.thread_id is None:
            stream = self.client.stream_thread_and_run(
                assistant_id=self.assistant_id, thread={"messages": messages}, handlers=handlers, cancel_on_interrupt=True
            )
        else:
            stream = self.client.stream_run(
                conversation.thread_id,
                assistant_id=self.assistant_id,
                additional_messages=messages,
                handlers=handlers,
                cancel_on_interrupt=True,
            )
        try:
            with stream:
                for fragment in stream.text_deltas():
                    yield sse({"text": fragment})
        finally:  # the thread holds the messages now, whatever became of the run
            conversation.thread_id = conversation.thread_id or (stream.current_run or {}).get("thread_id")
        if stream.status != "completed":
            error = ((stream.current_run or {}).get("last_error") or {}).get("message")
            log.warning("run %s ended %s: %s", (stream.current_run or {}).get("id"), stream.status, error)
            yield sse({"error": UNFINISHED})

    def answer_chat(self, conversation: Conversation, messages: List[Dict[str, str]]) -> Iterator[bytes]:
        """A chat completion of the whole conversation; kept, with its reply, if it completes."""
        sent = conversation.messages + messages
        stream = self.client.stream_chat(model=self.chat_model or "", messages=sent, handlers=handlers)
        reply = []
        with stream:
            for fragment in stream.text_deltas():
                reply.append(fragment)
                yield sse({"text": fragment})
        if stream.status != "completed":
            log.warning("chat completion ended %s", stream.status)
            yield sse({"error": UNFINISHED})
            return
        kept = sent + [{"role": "assistant", "content": "".join(reply)}]
        del kept[: max(0, len(kept) - HISTORY_LIMIT)]
        while kept and kept[0]["role"] != "user":
            kept.pop(0)
        conversation.messages = kept


def from_environment(environ: Mapping[str, str] = os.environ) -> Relay:
    """The app as gunicorn serves it: configured by environment variables."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not monkey.is_module_patched("socket"):
        log.warning("socket is not patched by gevent: each answer holds a worker (gunicorn -k gevent patches it)")
    chat_model = environ.get("DEEP_CHAT_MODEL") or None
    sessions = Sessions(int(environ.get("DEEP_CHAT_SESSIONS") or 4096))
    if not environ.get("OPENAI_API_KEY"):
        return Relay(emulated, "asst_emulated", chat_model, sessions)
    assistant_id = environ.get("ASSISTANT_ID") or ""
    if not assistant_id and not chat_model:
        raise RuntimeError("set ASSISTANT_ID (or DEEP_CHAT_MODEL, to relay chat completions instead of runs)")
    client = assistant_stream.Client(api_key=environ["OPENAI_API_KEY"], base_url=environ.get("OPENAI_BASE_URL"), session=pooled_session())
    return Relay(lambda: client, assistant_id, chat_model, sessions)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--assistant", default=os.environ.get("ASSISTANT_ID"), metavar="ID")
    parser.add_argument("--base-url", metavar="URL", help="default: $OPENAI_BASE_URL, or the OpenAI API")
    parser.add_argument("--chat", metavar="MODEL", help="relay chat completions of MODEL instead of runs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if os.environ.get("OPENAI_API_KEY") or args.base_url:
        client = assistant_stream.Client(base_url=args.base_url, session=pooled_session())
    else:
        client = emulated()
    sessions = Sessions(int(os.environ.get("DEEP_CHAT_SESSIONS") or 4096))
    server = WSGIServer((args.host, args.port), Relay(lambda: client, args.assistant or "asst_emulated", args.chat, sessions), log=None)
    server.start()
    print("Deep Chat relay on http://%s:%d/" % (args.host, server.server_port), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
else:  # imported by a WSGI server: gunicorn -k gevent ... app:app
    app = from_environment()
