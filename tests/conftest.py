import json
import pathlib
import random
import sys
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
RECORDINGS = sorted(FIXTURES.glob("*.sse"))
DOC_EXAMPLES = sorted(FIXTURES.glob("openapi_doc_example_*.txt"))

sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import assistant_stream  # noqa: E402
from emulator import Emulator  # noqa: E402

API_KEY = "sk-test-0123456789abcdef"
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
