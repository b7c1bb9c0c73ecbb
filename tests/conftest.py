"""What the tests share: byte streams and their chunkings, recorders, the
local servers, and a fake transport for the stream's logic."""

import copy
import json
import pathlib
import random
import sys
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
RECORDINGS = sorted(FIXTURES.glob("*.sse"))
AZURE = sorted((FIXTURES / "azure").glob("*.sse"))  # Azure AI Foundry Agents (classic) runs
CHAT = sorted((FIXTURES / "chat").glob("*.sse"))  # Chat Completions, from OpenAI and compatible servers
DOC_EXAMPLES = sorted(FIXTURES.glob("openapi_doc_example_*.txt"))

sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import assistant_stream  # noqa: E402
from emulator import Emulator  # noqa: E402

API_KEY = "sk-test-0123456789abcdef"
BASE = "https://api.example.test/v1"  # a host no test reaches: mocks and fakes only
# Each documented HTTP status and the error class it raises.
STATUS_ERRORS = [
    (400, assistant_stream.BadRequestError),
    (401, assistant_stream.AuthenticationError),
    (403, assistant_stream.PermissionDeniedError),
    (404, assistant_stream.NotFoundError),
    (409, assistant_stream.ConflictError),
    (422, assistant_stream.UnprocessableEntityError),
    (429, assistant_stream.RateLimitError),
    (500, assistant_stream.InternalServerError),
    (503, assistant_stream.InternalServerError),
]


# -- building and slicing event streams ---------------------------------------


def sse(name: str, data: Any) -> bytes:
    """One event as the API writes it."""
    payload = data if isinstance(data, str) else json.dumps(data)
    return ("event: %s\ndata: %s\n\n" % (name, payload)).encode()


def event(name: str, **fields: Any) -> bytes:
    """One Responses API event, as the API writes it: its name in its JSON too."""
    return sse(name, dict(fields, type=name))


def chunk(*choices: Dict[str, Any], **fields: Any) -> bytes:
    """One chat completion chunk, as a data-only event: choices are (index, delta, finish_reason) dicts."""
    body = dict({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": list(choices)}, **fields)
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def choice(delta: Optional[Dict[str, Any]] = None, finish: Optional[str] = None, index: int = 0, **fields: Any) -> Dict[str, Any]:
    """One choice of a chat chunk."""
    return dict({"index": index, "delta": delta or {}, "finish_reason": finish}, **fields)


CHAT_DONE = b"data: [DONE]\n\n"


def response(status: str = "in_progress", output: Iterable[Any] = (), **fields: Any) -> Dict[str, Any]:
    """A Responses API response object."""
    return dict({"id": "resp_1", "object": "response", "status": status, "output": list(output)}, **fields)


RUN = {"id": "run_1", "object": "thread.run", "thread_id": "thread_1", "status": "in_progress"}
# A Responses API function call: get_weather(city="Oslo"), as call_1.
FUNCTION_CALL = {
    "id": "fc_1",
    "type": "function_call",
    "status": "completed",
    "arguments": '{"city": "Oslo"}',
    "call_id": "call_1",
    "name": "get_weather",
}
FINISHED = sse("thread.run.completed", dict(RUN, status="completed")) + sse("done", "[DONE]")


def early_follow_up() -> Tuple[bytes, Dict[str, Any]]:
    """A follow-up response (resp_2) whose message events come before its
    ``response.created``; and the message, finished, that says "Sunny."."""
    message = {"id": "msg_2", "type": "message", "role": "assistant", "content": []}
    done = dict(message, status="completed", content=[{"type": "output_text", "text": "Sunny.", "annotations": []}])
    body = b"".join(
        [
            event("response.output_item.added", output_index=0, item=message),
            event("response.output_text.delta", item_id="msg_2", output_index=0, content_index=0, delta="Sunny."),
            event("response.created", response=response(id="resp_2")),
            event("response.completed", response=response("completed", [done], id="resp_2")),
        ]
    )
    return body, done


def one_chunk(body: bytes) -> List[bytes]:
    return [body]


def byte_chunks(body: bytes) -> List[bytes]:
    return [body[i : i + 1] for i in range(len(body))]


def random_chunks(body: bytes, seed: int = 7) -> List[bytes]:
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(body):
        n = rng.choice((1, 2, 3, 7, 64, 300, 4096))
        out.append(body[i : i + n])
        i += n
    return out


def crlf(body: bytes) -> bytes:
    return body.replace(b"\n", b"\r\n")


def cr(body: bytes) -> bytes:
    return body.replace(b"\n", b"\r")


CHUNKINGS: Dict[str, Callable[[bytes], List[bytes]]] = {
    "whole": one_chunk,
    "bytes": byte_chunks,
    "random": random_chunks,
    "crlf-random": lambda body: random_chunks(crlf(body), seed=11),
    "cr-bytes": lambda body: byte_chunks(cr(body)),
}


def reference_events(body: bytes) -> Iterator[Tuple[str, str]]:
    """The (event, data) pairs of a recording with one data line per event,
    read independently of the module, to compute expected values."""
    name = None
    for line in body.decode("utf-8").split("\n"):
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            assert name is not None
            yield name, line[6:]
            name = None


def pairs(body: bytes) -> List[Tuple[str, Any]]:
    """The (name, data) pairs the wire makes of a body: what accumulators take."""
    framer = assistant_stream._Framer(assistant_stream._API_EVENTS)
    return list(assistant_stream._decode(framer, [body], assistant_stream._API_EVENTS))


def feed(accumulator: Any, *bodies: bytes) -> List[Tuple[str, Any, Any, Any]]:
    """Every emission of an accumulator fed the events of these bodies, its
    snapshot taken at once, as a callback reading event.snapshot sees it."""
    return [
        (name_, data_, text, assistant_stream._snapshot(source))
        for body in bodies
        for name, data in pairs(body)
        for name_, data_, text, source in accumulator.feed(name, data)
    ]


def derived(events: Iterable[Any]) -> List[Tuple[str, Any]]:
    """(name, text) of the derived events among emissions or Events, end aside."""
    names_texts = [(e[0], e[2]) if isinstance(e, tuple) else (e.name, e.text) for e in events]
    return [(name, text) for name, text in names_texts if name in assistant_stream._DERIVED_EVENTS and name != "end"]


def play(*bodies: bytes, handlers: Any = None) -> Tuple["assistant_stream.Stream", "Recorder", Any]:
    """Replay bodies through a stream whose '*' callback records every event:
    (the stream, the recorder, what until_done() returned)."""
    handlers = handlers or assistant_stream.Handlers()
    seen = handlers.on("*", Recorder())
    stream = assistant_stream.replay(b"".join(bodies), handlers)
    return stream, seen, stream.until_done()


def trace(stream: "assistant_stream.Stream") -> Dict[str, Any]:
    """Everything a user can observe of a stream, for comparing runs."""
    events = [(event.name, event.data, event.text, event.snapshot) for event in stream]
    return {
        "events": events,
        "run": stream.final_run(),
        "messages": stream.final_messages(),
        "steps": stream.final_run_steps(),
        "text": stream.text,
    }


class Recorder:
    """A callback that keeps what it was called with."""

    def __init__(self) -> None:
        self.events: List[Any] = []

    def __call__(self, event: Any) -> None:
        self.events.append(event)

    @property
    def names(self) -> List[str]:
        return [event.name for event in self.events]


# -- servers --------------------------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY) as server:
        yield server


@pytest.fixture
def client(emulator: Emulator) -> Iterator["assistant_stream.Client"]:
    with assistant_stream.Client(api_key=API_KEY, base_url=emulator.base_url, timeout=(5, 10)) as c:
        yield c


def new_thread(client: "assistant_stream.Client", text: str = "Hello there") -> str:
    return client.request("POST", "/threads", json={"messages": [{"role": "user", "content": text}]})["id"]


def calls_to(emulator: Emulator, suffix: str) -> List[Any]:
    """The requests the emulator saw whose path ends so."""
    return [call for call in emulator.calls if call.path.endswith(suffix)]


# -- a fake transport ----------------------------------------------------------


class FakeTransport(assistant_stream.Client):
    """A Client whose transport is scripted: no sockets, no mocks.

    ``stream(path, *bodies)`` scripts what each POST to ``path`` streams, in
    turn; ``answer(path, *objects)`` what each GET answers (``_list`` pages
    are lists).  ``requests`` records every request as (method, path, body or
    params).  A request with nothing scripted fails the test.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(api_key=API_KEY, base_url=BASE, max_retries=0, **options)
        self.streams: Dict[str, List[bytes]] = {}
        self.answers: Dict[str, List[Any]] = {}
        self.requests: List[Tuple[str, str, Any]] = []
        self.deadlines: List[Any] = []  # of each GET
        self.opened: List[assistant_stream._Body] = []

    def stream(self, path: str, *bodies: bytes) -> "FakeTransport":
        self.streams.setdefault(path, []).extend(bodies)
        return self

    def answer(self, path: str, *objects: Any) -> "FakeTransport":
        self.answers.setdefault(path, []).extend(objects)
        return self

    def _next(self, scripts: Dict[str, List[Any]], method: str, path: str) -> Any:
        if not scripts.get(path):
            raise AssertionError("nothing scripted for %s %s" % (method, path))
        return scripts[path].pop(0)

    def _open_stream(self, path: str, body: Dict[str, Any]) -> "assistant_stream._Body":
        self.requests.append(("POST", path, copy.deepcopy(body)))
        opened = assistant_stream._Body(iter([self._next(self.streams, "POST", path)]))
        self.opened.append(opened)
        return opened

    def _get(self, path: str, deadline: Any = None) -> Dict[str, Any]:
        self.requests.append(("GET", path, None))
        self.deadlines.append(deadline)
        return self._next(self.answers, "GET", path)  # type: ignore[no-any-return]

    def _list(self, path: str, params: Any = None, deadline: Any = None) -> List[Dict[str, Any]]:
        self.requests.append(("GET", path, params))
        self.deadlines.append(deadline)
        return self._next(self.answers, "GET", path)  # type: ignore[no-any-return]

    def _post_quietly(self, path: str) -> None:
        self.requests.append(("POST", path, None))

    @property
    def paths(self) -> List[str]:
        return [path for method, path, body in self.requests]
