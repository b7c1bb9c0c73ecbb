"""A loopback server that answers any POST with one pre-built streamed run.

    python benchmarks/server.py --deltas 20000 [--pause-ms 10] [--framing close]

It prints its base URL, then serves until killed.  The run is realistic:
run/step/message lifecycle events, N ``thread.message.delta`` events of one
short word each, the completed message with the whole text, ``done``.  Each
event is one HTTP chunk (``--framing close``: no chunking, the body ends
with the connection).  With ``--pause-ms`` the deltas go out that far apart,
to any number of connections at once; with ``--timestamps`` too, each
delta's text is its send time (time.monotonic_ns: one clock for every
process on the machine), so a client can tell how long it took to arrive.
"""

import argparse
import heapq
import json
import selectors
import socket
import threading
import time
from typing import Dict, List, Optional, Tuple

WORDS = ["the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog,", " then"]
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


def word(i: int) -> str:
    return WORDS[i % len(WORDS)]


def text_of(deltas: int) -> str:
    """The text a client must end up with."""
    return "".join(word(i) for i in range(deltas))


def event(name: str, data: object) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
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
    return b"data: " + json.dumps(dict(body, choices=choices, **extra), separators=(",", ":")).encode() + b"\n\n"


def chat_events(deltas: int) -> List[bytes]:
    """The same words as a chat completion: a role chunk, a chunk per word,
    the finish chunk, the usage chunk, [DONE] (deltas + 4 events)."""
    usage = {"prompt_tokens": 1, "completion_tokens": deltas, "total_tokens": deltas + 1}
    return (
        [chat_chunk({"role": "assistant", "content": "", "refusal": None})]
        + [chat_chunk({"content": word(i)}) for i in range(deltas)]
        + [chat_chunk({}, "stop"), chat_chunk(None, usage=usage), b"data: [DONE]\n\n"]
    )


def frame(data: bytes, chunked: bool) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data


def read_request(conn: socket.socket) -> Optional[bytes]:
    """Read one request (headers and body); its path, or None if the client went away."""
    request = b""
    while b"\r\n\r\n" not in request:
        piece = conn.recv(65536)
        if not piece:
            return None
        request += piece
    head, _, body = request.partition(b"\r\n\r\n")
    length = 0
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            return None
        body += piece
    return head.split(b" ", 2)[1]


def response_head(chunked: bool) -> bytes:
    framing = "Transfer-Encoding: chunked" if chunked else "Connection: close"
    return ("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n%s\r\n\r\n" % framing).encode()


def finish(conn: socket.socket, chunked: bool) -> None:
    try:
        if chunked:
            conn.sendall(b"0\r\n\r\n")
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):  # until the client closes
            pass
    except OSError:
        pass
    conn.close()


def serve_whole(conn: socket.socket, bodies: Dict[str, bytes], chunked: bool) -> None:
    """The whole run (or chat completion) at once: throughput."""
    try:
        path = read_request(conn)
        if path is not None:
            conn.sendall(response_head(chunked) + bodies["chat" if path.endswith(b"/chat/completions") else "run"])
    except OSError:
        pass
    finish(conn, chunked)


def serve_paced(sock: socket.socket, deltas: int, pause: float, chunked: bool, timestamps: bool) -> None:
    """Every connection gets its deltas `pause` seconds apart; one thread and a
    heap of due times serve any number of connections."""
    head_frames = b"".join(frame(e, chunked) for e in head())
    words = [frame(delta(word(i)), chunked) for i in range(deltas)]
    tail_frames = b"".join(frame(e, chunked) for e in tail("(paced run)" if timestamps else text_of(deltas)))
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
                    conn.sendall(frame(delta(str(time.monotonic_ns())), chunked) if timestamps else words[i])
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
    args = parser.parse_args()
    chunked = args.framing == "chunked"
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    if args.pause_ms:
        print("http://127.0.0.1:%d/v1" % sock.getsockname()[1], flush=True)
        serve_paced(sock, args.deltas, args.pause_ms / 1000, chunked, args.timestamps)
        return
    events = head() + [delta(word(i)) for i in range(args.deltas)] + tail(text_of(args.deltas))
    bodies = {"run": b"".join(frame(e, chunked) for e in events), "chat": b"".join(frame(e, chunked) for e in chat_events(args.deltas))}
    print("http://127.0.0.1:%d/v1" % sock.getsockname()[1], flush=True)
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=serve_whole, args=(conn, bodies, chunked), daemon=True).start()


if __name__ == "__main__":
    main()
