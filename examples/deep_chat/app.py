"""A chat page whose answers stream from an assistant run, a model response
or a chat completion, relayed by a WSGI app under gevent: the way a legacy
synchronous web app serves it.

    (cd examples/deep_chat && npm ci)      # the Deep Chat web component (2.4.2, and 1.4.11 as deep-chat-v1)
    python examples/deep_chat/app.py --port 8080 [--api runs|responses|chat] [--model M | --agent NAME]

Then open http://127.0.0.1:8080/ (Deep Chat 2.x; http://127.0.0.1:8080/?deep-chat=1
for the same page on Deep Chat 1.x).  With OPENAI_API_KEY set (or --base-url)
it relays from that server ($OPENAI_BASE_URL); otherwise from the local
emulator, started in-process.  One relay, three APIs:

    --api runs        Assistants runs of --assistant ID ($ASSISTANT_ID)
    --api responses   Responses of --model MODEL, or of --agent NAME (an agent reference)
    --api chat        chat completions of --model MODEL, on any compatible server
                      (--chat MODEL is short for --api chat --model MODEL)

Without --api: responses if an agent is named, chat if a model is, else runs.

Under gunicorn, the module's ``app`` is configured from the environment:
OPENAI_API_KEY, OPENAI_BASE_URL, DEEP_CHAT_API, ASSISTANT_ID, DEEP_CHAT_MODEL,
DEEP_CHAT_AGENT (as the flags above), DEEP_CHAT_SESSIONS; no OPENAI_API_KEY,
the emulator (started in the worker on the first request).  The gevent
worker patches itself before it imports the app:

    gunicorn -k gevent -w 1 -b 127.0.0.1:8080 --chdir examples/deep_chat app:app

Conversations live in the worker's memory: run one worker (gevent serves
the concurrent streams), or route each browser to the same worker.

POST /chat takes Deep Chat's request, {"messages": [{"role", "text"}...]},
and answers with the Server-Sent Events Deep Chat's streaming connection
reads (1.x and 2.x alike): one {"text": fragment} per text delta, or
{"error": message} if it fails.

If the upstream connection drops or stalls mid-answer (runs and responses),
the stream recovers: it polls the run or response and relays only the text
not yet sent, each word once.  Meanwhile the page shows a discreet status:
the relay sends {"text": "", "status": "Reconnecting…"} when recovery
starts and {"text": "", "status": ""} once the answer flows again (an empty
text, which Deep Chat ignores: a page without the status line still works).
When the answer cannot be recovered (chat completions keep nothing to poll,
or the polling fails), the text so far stays and an error follows.

The conversation is kept per browser session: Deep Chat sends only the
newest message, so the relay remembers the rest.  A session is a random id
in a cookie (HttpOnly, SameSite=Lax; Secure over https; gone when the
browser closes), set by the first POST /chat, naming the session's thread
(runs: the first message starts a thread, each later one is added to it by
the next run), its last response (responses: each next one continues it by
previous_response_id) or its messages (chat: the user's, and the
assistant's replies, up to the last HISTORY_LIMIT, sent whole with each
request).  The table holds the DEEP_CHAT_SESSIONS (4096) most recently used
sessions; an older one, or an id the relay did not issue, starts a new
conversation.  While an answer streams, the same session's next message is
refused.

What goes wrong upstream (unreachable, an HTTP error, a failed run) reaches
the page as a sentence for the user: the error's class and message go to
the server's log, not to the browser.

For tests: --metadata JSON (DEEP_CHAT_METADATA) is stored with every run,
response and chat completion the relay starts; the tests put the emulator's
switches there (steer(drop=12): cut the stream mid-answer).  On a real server
it is just stored (OpenAI takes chat completion metadata only with store).
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
import queue  # noqa: E402
import secrets  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import urllib.parse  # noqa: E402
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple  # noqa: E402

import requests  # noqa: E402
from gevent import monkey  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

import assistant_stream  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLES = {  # what /static/... serves: Deep Chat 2.x, and 1.x installed as deep-chat-v1
    "/static/deepChat.bundle.js": os.path.join(HERE, "node_modules", "deep-chat", "dist", "deepChat.bundle.js"),
    "/static/v1/deepChat.bundle.js": os.path.join(HERE, "node_modules", "deep-chat-v1", "dist", "deepChat.bundle.js"),
    "/static/page.js": os.path.join(HERE, "page.js"),  # the pages' status line
}
PAGES = {"": "index.html", "1": "index_v1.html"}  # by ?deep-chat=: the page for each Deep Chat version
APIS = ("runs", "responses", "chat")
EMULATOR_MODEL = "emulator-1"
log = logging.getLogger("deep_chat_relay")

COOKIE = "deep_chat_session"
HISTORY_LIMIT = 100  # chat: the messages of a conversation sent with each request
MAX_REQUEST_BYTES = 1 << 20

# What the user reads when an answer fails; the details go to the log.
UNAVAILABLE = "The assistant is unavailable right now. Please try again."
BUSY = "The assistant is busy right now. Please try again in a minute."
SLOW = "The assistant took too long to answer. Please try again."
UNFINISHED = "The assistant could not finish this answer. Please try again."
WAIT = "Please wait until the answer to your previous message is complete."
RECONNECTING = "Reconnecting…"  # the page's status while a lost upstream connection is recovered

# One table for every request the app serves: callbacks for logging here;
# tools registered on it would run for every conversation.
handlers = assistant_stream.Handlers()


@handlers.on("thread.run.*")
def log_run(event: assistant_stream.Event) -> None:
    if event.name in ("thread.run.created", "thread.run.completed", "thread.run.failed"):
        log.info("%s %s", event.name, event.data.get("id"))


@handlers.on("response.*")
def log_response(event: assistant_stream.Event) -> None:
    if event.name in ("response.created", "response.completed", "response.failed", "response.incomplete"):
        log.info("%s %s", event.name, (event.data.get("response") or {}).get("id"))


@handlers.on("chat.completion.chunk")
def log_chat(event: assistant_stream.Event) -> None:
    for choice in event.data.get("choices") or ():
        if choice.get("finish_reason"):
            log.info("chat.completion %s %s", event.data.get("id"), choice["finish_reason"])


@handlers.on("recovering")
def log_recovering(event: assistant_stream.Event) -> None:
    log.warning("connection lost: recovering %s", (event.data or {}).get("id"))


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
    if isinstance(error, assistant_stream.IncompleteStreamError):  # cut off mid-answer, and not recovered
        return UNFINISHED
    return UNAVAILABLE


class Conversation:
    """One browser session's conversation: its thread (runs), its last response (responses) or its messages (chat)."""

    def __init__(self) -> None:
        self.thread_id: Optional[str] = None
        self.response_id: Optional[str] = None
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
    that an emulator starts in the worker that serves it).  ``api`` says
    what answers: "runs" (of ``assistant_id``), "responses" (of ``model``,
    or of the agent named ``agent``) or "chat" (completions of ``model``).
    ``metadata`` goes with every run, response or completion started."""

    def __init__(
        self,
        connect: Callable[[], assistant_stream.Client],
        api: str = "runs",
        *,
        assistant_id: Optional[str] = None,
        model: Optional[str] = None,
        agent: Optional[str] = None,
        metadata: Optional[Dict[str, str]] = None,
        sessions: Optional[Sessions] = None,
    ):
        if api not in APIS:
            raise ValueError("api is one of %s, not %r" % (", ".join(APIS), api))
        needs = {"runs": assistant_id, "responses": model or agent, "chat": model}[api]
        if not needs:
            raise ValueError(
                {"runs": "runs need an assistant id", "responses": "responses need a model or an agent"}.get(api, "chat needs a model")
            )
        self.connect = connect
        self.api = api
        self.assistant_id = assistant_id or ""
        self.model = model
        self.agent = agent
        self.extra: Dict[str, Any] = {"metadata": metadata} if metadata else {}  # more of each request's body
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
            version = urllib.parse.parse_qs(environ.get("QUERY_STRING") or "").get("deep-chat", [""])[-1]
            page = PAGES.get(version, PAGES[""])
            return self.file(start_response, os.path.join(HERE, page), "text/html; charset=utf-8")
        if method == "GET" and path in BUNDLES:
            return self.file(start_response, BUNDLES[path], "application/javascript")
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
        if conversation.thread_id or conversation.response_id or conversation.messages:
            newest = len(messages)
            while newest and messages[newest - 1]["role"] == "user":
                newest -= 1
            messages = messages[newest:]
        if self.api == "chat":
            yield from self.answer_chat(conversation, messages)
        elif self.api == "responses":
            yield from self.answer_response(conversation, messages)
        else:
            yield from self.answer_run(conversation, messages)

    def answer_run(self, conversation: Conversation, messages: List[Dict[str, str]]) -> Iterator[bytes]:
        """A run on the session's thread (the first message starts it)."""
        if conversation.thread_id is None:
            stream = self.client.stream_thread_and_run(
                assistant_id=self.assistant_id,
                thread={"messages": messages},
                handlers=handlers,
                cancel_on_interrupt=True,
                recover=True,
                **self.extra,
            )
        else:
            stream = self.client.stream_run(
                conversation.thread_id,
                assistant_id=self.assistant_id,
                additional_messages=messages,
                handlers=handlers,
                cancel_on_interrupt=True,
                recover=True,
                **self.extra,
            )
        try:
            yield from text_of(stream)
        finally:  # the thread holds the messages now, whatever became of the run
            conversation.thread_id = conversation.thread_id or (stream.current_run or {}).get("thread_id")
        if stream.status != "completed":
            error = ((stream.current_run or {}).get("last_error") or {}).get("message")
            log.warning("run %s ended %s: %s", (stream.current_run or {}).get("id"), stream.status, error)
            yield sse({"error": UNFINISHED})

    def answer_response(self, conversation: Conversation, messages: List[Dict[str, str]]) -> Iterator[bytes]:
        """A response of the model (or the agent), after the session's last one."""
        named = {"agent": {"type": "agent_reference", "name": self.agent}} if self.agent else {"model": self.model}
        after = {"previous_response_id": conversation.response_id} if conversation.response_id else {}
        stream = self.client.stream_response(
            input=messages, handlers=handlers, cancel_on_interrupt=True, recover=True, **named, **after, **self.extra
        )
        yield from text_of(stream)
        response = stream.current_response or {}
        if stream.status != "completed":
            log.warning("response %s ended %s: %s", response.get("id"), stream.status, response.get("error"))
            yield sse({"error": UNFINISHED})
            return
        conversation.response_id = response.get("id")  # the next message continues from this answer

    def answer_chat(self, conversation: Conversation, messages: List[Dict[str, str]]) -> Iterator[bytes]:
        """A chat completion of the whole conversation; kept, with its reply, if it completes."""
        sent = conversation.messages + messages
        stream = self.client.stream_chat(model=self.model or "", messages=sent, handlers=handlers, **self.extra)
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


def text_of(stream: assistant_stream.Stream) -> Iterator[bytes]:
    """A run's or response's text, fragment by fragment.  If the connection
    is lost and the stream recovers it, the page's status says so until the
    rest comes (only the text not yet sent: each word once).

    The stream runs in a greenlet (a thread) of its own, its callbacks
    passing the page's messages on at once: "recovering" fires as the
    polling starts (a loop over the stream would see it only with the
    events the polling fetched).  When the browser goes away, the generator
    is closed, and so is the stream (its run or response cancelled)."""
    out: queue.Queue[Optional[bytes]] = queue.Queue()
    reconnecting: List[bool] = []
    failed: List[BaseException] = []

    def on_recovering(event: assistant_stream.Event) -> None:
        reconnecting.append(True)
        out.put(sse({"text": "", "status": RECONNECTING}))

    def on_text(event: assistant_stream.Event) -> None:
        if reconnecting:
            reconnecting.clear()
            out.put(sse({"text": "", "status": ""}))
        if event.text:
            out.put(sse({"text": event.text}))

    def drive() -> None:
        try:
            with stream:
                stream.until_done()
        except Exception as error:  # raised again by the generator, for relay() to tell the user
            failed.append(error)
        finally:
            out.put(None)

    stream.on("recovering", on_recovering)
    stream.on("text.delta", on_text)
    worker = threading.Thread(target=drive, name="relay-stream", daemon=True)
    worker.start()
    try:
        yield from iter(out.get, None)
    finally:  # over, or the browser went away: then the stream is closed, its run cancelled
        stream.close()
        worker.join()
    if failed:
        raise failed[0]
    if reconnecting:  # recovered, with no more text
        yield sse({"text": "", "status": ""})


def configure(
    api: Optional[str], assistant_id: Optional[str], model: Optional[str], agent: Optional[str], emulator: bool
) -> Dict[str, Any]:
    """Relay's ``api``, ``assistant_id``, ``model`` and ``agent``: without ``api``,
    responses if an agent is named, chat if a model is, else runs.  From the
    emulator, any assistant id and model do."""
    api = api or ("responses" if agent else "chat" if model else "runs")
    if api not in APIS:
        raise RuntimeError("the API is one of %s, not %r" % (", ".join(APIS), api))
    if emulator:
        assistant_id = assistant_id or "asst_emulated"
        model = model or (None if agent else EMULATOR_MODEL)
    if api == "runs" and not assistant_id:
        raise RuntimeError("set ASSISTANT_ID (--assistant) for runs, or DEEP_CHAT_MODEL (--model) for chat completions")
    if api == "responses" and not (model or agent):
        raise RuntimeError("set DEEP_CHAT_MODEL (--model) or DEEP_CHAT_AGENT (--agent) for responses")
    if api == "chat" and not model:
        raise RuntimeError("set DEEP_CHAT_MODEL (--model) for chat completions")
    return {"api": api, "assistant_id": assistant_id, "model": model, "agent": agent}


def metadata_of(text: Optional[str]) -> Optional[Dict[str, str]]:
    """--metadata / DEEP_CHAT_METADATA: a JSON object of strings, or nothing."""
    if not text:
        return None
    found = json.loads(text)
    if not isinstance(found, dict) or not all(isinstance(value, str) for value in found.values()):
        raise RuntimeError("DEEP_CHAT_METADATA (--metadata) is a JSON object of strings")
    return found


def from_environment(environ: Mapping[str, str] = os.environ) -> Relay:
    """The app as gunicorn serves it: configured by environment variables."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not monkey.is_module_patched("socket"):
        log.warning("socket is not patched by gevent: each answer holds a worker (gunicorn -k gevent patches it)")
    settings = configure(
        environ.get("DEEP_CHAT_API") or None,
        environ.get("ASSISTANT_ID") or None,
        environ.get("DEEP_CHAT_MODEL") or None,
        environ.get("DEEP_CHAT_AGENT") or None,
        emulator=not environ.get("OPENAI_API_KEY"),
    )
    sessions = Sessions(int(environ.get("DEEP_CHAT_SESSIONS") or 4096))
    metadata = metadata_of(environ.get("DEEP_CHAT_METADATA"))
    if not environ.get("OPENAI_API_KEY"):
        return Relay(emulated, metadata=metadata, sessions=sessions, **settings)
    client = assistant_stream.Client(api_key=environ["OPENAI_API_KEY"], base_url=environ.get("OPENAI_BASE_URL"), session=pooled_session())
    return Relay(lambda: client, metadata=metadata, sessions=sessions, **settings)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--base-url", metavar="URL", help="default: $OPENAI_BASE_URL, or the OpenAI API")
    parser.add_argument("--api", choices=APIS, default=os.environ.get("DEEP_CHAT_API") or None, help="default: $DEEP_CHAT_API, or as named")
    parser.add_argument("--assistant", default=os.environ.get("ASSISTANT_ID"), metavar="ID", help="runs: the assistant")
    parser.add_argument("--model", default=os.environ.get("DEEP_CHAT_MODEL"), help="responses or chat: the model")
    parser.add_argument("--agent", default=os.environ.get("DEEP_CHAT_AGENT"), metavar="NAME", help="responses: an agent, by name")
    parser.add_argument("--chat", metavar="MODEL", help="relay chat completions of MODEL (--api chat --model MODEL)")
    parser.add_argument("--metadata", default=os.environ.get("DEEP_CHAT_METADATA"), metavar="JSON", help="stored with each request (tests)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.chat:
        args.api, args.model = "chat", args.chat
    live = bool(os.environ.get("OPENAI_API_KEY") or args.base_url)
    try:
        settings = configure(args.api, args.assistant, args.model, args.agent, emulator=not live)
        metadata = metadata_of(args.metadata)
    except (RuntimeError, ValueError) as error:
        parser.error(str(error))
    client = assistant_stream.Client(base_url=args.base_url, session=pooled_session()) if live else emulated()
    sessions = Sessions(int(os.environ.get("DEEP_CHAT_SESSIONS") or 4096))
    relay = Relay(lambda: client, metadata=metadata, sessions=sessions, **settings)
    server = WSGIServer((args.host, args.port), relay, log=None)
    server.start()
    print("Deep Chat relay (%s) on http://%s:%d/" % (relay.api, args.host, server.server_port), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
else:  # imported by a WSGI server: gunicorn -k gevent ... app:app
    app = from_environment()
