"""A loopback server that answers any POST with one pre-built streamed run.

    python benchmarks/server.py --deltas 20000 [--pause-ms 10] [--framing close]
                                [--words unicode]

It prints its base URL, then serves until killed.  The run is realistic:
run/step/message lifecycle events, N ``thread.message.delta`` events of one
short word each, the completed message with the whole text, ``done``.  The
words are ASCII, or with ``--words unicode`` a mix with CJK and emoji (then
CPython stores the text at 4 bytes a character); JSON goes out as UTF-8,
unescaped, as the API sends it.  Each event is one HTTP chunk (``--framing
close``: no chunking, the body ends with the connection).  A chunked body
keeps its connection open for the next request (HTTP/1.1 keep-alive, unless
the request says ``Connection: close``), and ``GET .../bench/connections``
answers how many TCP connections were accepted and how many carried streams,
so a client can tell whether its streams shared one.  With ``--pause-ms``
the deltas go out that far apart, to any number of connections at once
(one stream each); with ``--timestamps`` too, each delta's text is its send
time (time.monotonic_ns: one clock for every process on the machine), so a
client can tell how long it took to arrive.  (The chat body, at a path ending
in /chat/completions, is the same words as chat completion chunks.)
"""

import argparse
import heapq
import json
import selectors
import socket
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

WORDS = ["the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog,", " then"]
# The same rhythm with CJK (3 UTF-8 bytes a character) and emoji (4, and outside
# the BMP: a str holding one takes 4 bytes for every character).
UNICODE_WORDS = ["the", " quick", " 棕色的", " fox", " 🦊", " jumps", " über", " 懒狗", " dog 🐕,", " then"]
WORD_SETS = {"ascii": WORDS, "unicode": UNICODE_WORDS}
RUN = {
    "id": "run_bench",
    "object": "thread.run",
    "created_at": 1,
    "assistant_id": "asst_bench",
    "thread_id": "thread_bench",
    "status": "queued",
    "started_at": None,
    "expires_at": None,
    "cancelled_at": None,
    "failed_at": None,
    "completed_at": None,
    "required_action": None,
    "last_error": None,
    "model": "gpt-4o",
    "instructions": None,
    "tools": [],
    "metadata": {},
    "temperature": 1.0,
    "top_p": 1.0,
    "max_completion_tokens": None,
    "max_prompt_tokens": None,
    "truncation_strategy": {"type": "auto", "last_messages": None},
    "incomplete_details": None,
    "usage": None,
    "response_format": "auto",
    "tool_choice": "auto",
    "parallel_tool_calls": True,
}
STEP = {
    "id": "step_bench",
    "object": "thread.run.step",
    "created_at": 1,
    "run_id": "run_bench",
    "assistant_id": "asst_bench",
    "thread_id": "thread_bench",
    "type": "message_creation",
    "status": "in_progress",
    "cancelled_at": None,
    "completed_at": None,
    "expires_at": None,
    "failed_at": None,
    "last_error": None,
    "step_details": {"type": "message_creation", "message_creation": {"message_id": "msg_bench"}},
    "usage": None,
}
MESSAGE = {
    "id": "msg_bench",
    "object": "thread.message",
    "created_at": 1,
    "assistant_id": "asst_bench",
    "thread_id": "thread_bench",
    "run_id": "run_bench",
    "status": "in_progress",
    "incomplete_details": None,
    "incomplete_at": None,
    "completed_at": None,
    "role": "assistant",
    "content": [],
    "attachments": [],
    "metadata": {},
}


def word(i: int, words: Sequence[str] = WORDS) -> str:
    return words[i % len(words)]


def text_of(deltas: int, words: Sequence[str] = WORDS) -> str:
    """The text a client must end up with."""
    return "".join(word(i, words) for i in range(deltas))


class Counts:
    """TCP connections accepted, and the streams they carried (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted = 0  # every connection, the queries of /bench/connections too
        self.streamed = 0  # connections that carried at least one stream
        self.streams = 0  # streams (requests answered with a body of events)

    def as_json(self) -> bytes:
        with self.lock:
            return json.dumps({"accepted": self.accepted, "streamed": self.streamed, "streams": self.streams}).encode()


def event(name: str, data: object) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return ("event: %s\ndata: %s\n\n" % (name, payload)).encode()


def delta(value: str) -> bytes:
    return event(
        "thread.message.delta",
        {
            "id": "msg_bench",
            "object": "thread.message.delta",
            "delta": {"content": [{"index": 0, "type": "text", "text": {"value": value, "annotations": []}}]},
        },
    )


def head() -> List[bytes]:
    return [
        event("thread.run.created", RUN),
        event("thread.run.queued", RUN),
        event("thread.run.in_progress", dict(RUN, status="in_progress")),
        event("thread.run.step.created", STEP),
        event("thread.run.step.in_progress", STEP),
        event("thread.message.created", MESSAGE),
        event("thread.message.in_progress", MESSAGE),
    ]


def tail(text: str) -> List[bytes]:
    done = dict(MESSAGE, status="completed", content=[{"type": "text", "text": {"value": text, "annotations": []}}])
    return [
        event("thread.message.completed", done),
        event("thread.run.step.completed", dict(STEP, status="completed")),
        event("thread.run.completed", dict(RUN, status="completed")),
        event("done", "[DONE]"),
    ]


def chat_chunk(delta: object, finish: object = None, **extra: object) -> bytes:
    """One chat completion chunk, as a data-only event."""
    body = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "bench", "system_fingerprint": "fp_bench"}
    choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    return b"data: " + json.dumps(dict(body, choices=choices, **extra), separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


def chat_events(deltas: int, words: Sequence[str] = WORDS) -> List[bytes]:
    """The same words as a chat completion: a role chunk, a chunk per word,
    the finish chunk, the usage chunk, [DONE] (deltas + 4 events)."""
    usage = {"prompt_tokens": 1, "completion_tokens": deltas, "total_tokens": deltas + 1}
    return (
        [chat_chunk({"role": "assistant", "content": "", "refusal": None})]
        + [chat_chunk({"content": word(i, words)}) for i in range(deltas)]
        + [chat_chunk({}, "stop"), chat_chunk(None, usage=usage), b"data: [DONE]\n\n"]
    )


def frame(data: bytes, chunked: bool) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data


class Request:
    """What the server needs of a request: its method, its path, and whether
    the client asked to close the connection after the response."""

    __slots__ = ("method", "path", "close")

    def __init__(self, method: bytes, path: bytes, close: bool):
        self.method, self.path, self.close = method, path, close


def read_request(conn: socket.socket) -> Optional[Request]:
    """Read one request (headers and body), or None if the client went away."""
    request = b""
    while b"\r\n\r\n" not in request:
        piece = conn.recv(65536)
        if not piece:
            return None
        request += piece
    head, _, body = request.partition(b"\r\n\r\n")
    length = 0
    close = False
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            length = int(line.split(b":")[1])
        elif line.startswith(b"connection:"):
            close = b"close" in line
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            return None
        body += piece
    method, path = head.split(b" ", 2)[:2]
    return Request(method, path, close)


def response_head(chunked: bool) -> bytes:
    framing = "Transfer-Encoding: chunked" if chunked else "Connection: close"
    return ("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n%s\r\n\r\n" % framing).encode()


def finish(conn: socket.socket, chunked: bool = False) -> None:
    """End the body (``chunked``: with its last chunk) and close the connection."""
    try:
        if chunked:
            conn.sendall(b"0\r\n\r\n")
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):  # until the client closes
            pass
    except OSError:
        pass
    conn.close()


def serve_whole(conn: socket.socket, bodies: Dict[str, bytes], chunked: bool, counts: Counts) -> None:
    """The whole run (or chat completion) at once: throughput.  A chunked
    response leaves the connection open for the client's next request."""
    streamed = False
    try:
        while True:
            request = read_request(conn)
            if request is None:
                break
            if request.path.endswith(b"/bench/connections"):
                answer = counts.as_json()
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                    % (len(answer), answer)
                )
                break
            with counts.lock:
                counts.streams += 1
                if not streamed:
                    counts.streamed += 1
                    streamed = True
            body = bodies["chat" if request.path.endswith(b"/chat/completions") else "run"]
            conn.sendall(response_head(chunked) + body + (b"0\r\n\r\n" if chunked else b""))
            if not chunked or request.close:
                break
    except OSError:
        pass
    finish(conn)


def serve_paced(sock: socket.socket, deltas: int, pause: float, chunked: bool, timestamps: bool, words: Sequence[str]) -> None:
    """Every connection gets its deltas `pause` seconds apart; one thread and a
    heap of due times serve any number of connections (one stream each)."""
    head_frames = b"".join(frame(e, chunked) for e in head())
    paced = [frame(delta(word(i, words)), chunked) for i in range(deltas)]
    tail_frames = b"".join(frame(e, chunked) for e in tail("(paced run)" if timestamps else text_of(deltas, words)))
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    due: List[Tuple[float, int, socket.socket, int]] = []
    serial = 0
    while True:
        wait = max(0.0, due[0][0] - time.monotonic()) if due else None
        if selector.select(wait):
            conn, _ = sock.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if read_request(conn) is not None:
                conn.sendall(response_head(chunked) + head_frames)
                serial += 1
                heapq.heappush(due, (time.monotonic(), serial, conn, 0))
        now = time.monotonic()
        while due and due[0][0] <= now:
            when, serial_, conn, i = heapq.heappop(due)
            try:
                if i < deltas:
                    conn.sendall(frame(delta(str(time.monotonic_ns())), chunked) if timestamps else paced[i])
                    heapq.heappush(due, (when + pause, serial_, conn, i + 1))
                else:
                    conn.sendall(tail_frames)
                    threading.Thread(target=finish, args=(conn, chunked), daemon=True).start()
            except OSError:
                conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=int, default=20000)
    parser.add_argument("--pause-ms", type=float, default=0.0, help="send the deltas this far apart")
    parser.add_argument("--timestamps", action="store_true", help="paced: each delta's text is its send time")
    parser.add_argument("--framing", choices=["chunked", "close"], default="chunked")
    parser.add_argument("--words", choices=sorted(WORD_SETS), default="ascii", help="unicode: with CJK and emoji")
    args = parser.parse_args()
    words = WORD_SETS[args.words]
    chunked = args.framing == "chunked"
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    if args.pause_ms:
        print("http://127.0.0.1:%d/v1" % sock.getsockname()[1], flush=True)
        serve_paced(sock, args.deltas, args.pause_ms / 1000, chunked, args.timestamps, words)
        return
    events = head() + [delta(word(i, words)) for i in range(args.deltas)] + tail(text_of(args.deltas, words))
    chat = chat_events(args.deltas, words)
    bodies = {"run": b"".join(frame(e, chunked) for e in events), "chat": b"".join(frame(e, chunked) for e in chat)}
    del events, chat
    counts = Counts()
    print("http://127.0.0.1:%d/v1" % sock.getsockname()[1], flush=True)
    while True:
        conn, _ = sock.accept()
        with counts.lock:
            counts.accepted += 1
        threading.Thread(target=serve_whole, args=(conn, bodies, chunked, counts), daemon=True).start()


if __name__ == "__main__":
    main()
