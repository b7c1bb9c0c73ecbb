"""A scripted HTTP server on a real socket, for wire-level tests.

Each connection gets the same scripted answer: a status, headers, then a body
sent step by step.  A step is bytes (sent as one write, or one HTTP chunk), a
float (a pause in seconds), a threading.Event (wait until the test sets it,
recording whether it was set in time), or an iterator of bytes (each sent as
it comes, until the client goes: a body larger than memory).  With
``framing="raw"`` the bytes go out as they are, HTTP chunk framing and all:
a hostile server's.  After the script the server waits to see whether the
client closes the connection, and records when.
"""

import gzip
import select
import socket
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Union

Step = Union[bytes, float, threading.Event, Iterator[bytes]]


class Connection:
    def __init__(self) -> None:
        self.request = b""
        self.client_closed = False
        self.closed_at: Optional[float] = None
        self.finished_at: Optional[float] = None  # when the script was done
        self.waits_released: List[bool] = []  # one per Event step: set in time?
        self.bytes_sent = 0  # of the body, as written to the socket
        self.done = threading.Event()


class ScriptedServer:
    def __init__(
        self,
        script: List[Step],
        *,
        status: int = 200,
        headers: Optional[Dict[str, str]] = None,
        framing: str = "chunked",  # "chunked", "close" (no length), "length" (at once), "sized" (a length, sent step by step), "raw"
        gzip_body: bool = False,
        wait_timeout: float = 5.0,
        end: str = "finish",  # "finish": end the body; "drop": close abruptly; "hold": wait for the client
    ):
        self.script = script
        self.status = status
        self.headers = {"Content-Type": "text/event-stream"} if headers is None else headers
        self.framing = framing
        self.gzip_body = gzip_body
        self.wait_timeout = wait_timeout
        self.end = end
        self.connections: List[Connection] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._stopped = False
        self._open: List[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d/v1" % self._sock.getsockname()[1]

    def __enter__(self) -> "ScriptedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stopped = True
        self._sock.close()
        for conn in self._open:  # no connection outlives the test (nor changes its descriptor count later)
            _shut(conn)

    def wait_closed(self, index: int = 0, timeout: float = 5.0) -> Connection:
        """The index-th connection, once the server is done with it."""
        deadline = time.monotonic() + timeout
        while len(self.connections) <= index and time.monotonic() < deadline:
            time.sleep(0.005)
        connection = self.connections[index]
        connection.done.wait(max(0.0, deadline - time.monotonic()))
        return connection

    def _serve(self) -> None:
        while not self._stopped:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            record = Connection()
            self.connections.append(record)
            self._open.append(conn)
            threading.Thread(target=self._answer, args=(conn, record), daemon=True).start()

    def _answer(self, conn: socket.socket, record: Connection) -> None:
        try:
            record.request = _read_request(conn)
            head = "HTTP/1.1 %d Scripted\r\n" % self.status
            headers = dict(self.headers)
            if self.gzip_body:
                headers["Content-Encoding"] = "gzip"
            if self.framing in ("chunked", "raw"):
                headers["Transfer-Encoding"] = "chunked"
            elif self.framing == "length":
                body = b"".join(step for step in self.script if isinstance(step, bytes))
                headers["Content-Length"] = str(len(gzip.compress(body) if self.gzip_body else body))
            elif self.framing == "sized":  # the length of what will be sent, step by step
                steps = [step for step in self.script if isinstance(step, bytes)]
                if self.gzip_body:
                    packer = _Gzip()
                    steps = [packer.compress(step) for step in steps] + [packer.flush_end()]
                headers["Content-Length"] = str(sum(len(step) for step in steps))
            else:
                headers["Connection"] = "close"
            head += "".join("%s: %s\r\n" % item for item in headers.items()) + "\r\n"
            conn.sendall(head.encode())
            compressor = _Gzip() if self.gzip_body else None
            for step in self.script:
                if isinstance(step, float):
                    time.sleep(step)
                elif isinstance(step, threading.Event):
                    record.waits_released.append(step.wait(self.wait_timeout))
                elif isinstance(step, bytes):
                    data = compressor.compress(step) if compressor else step
                    self._send(conn, data)
                    record.bytes_sent += len(data)
                else:
                    for piece in step:
                        self._send(conn, piece)
                        record.bytes_sent += len(piece)
            if compressor:
                self._send(conn, compressor.flush_end())
            record.finished_at = time.monotonic()
            if self.end == "drop":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                return
            if self.end == "finish":
                if self.framing == "chunked":
                    conn.sendall(b"0\r\n\r\n")
                if self.framing not in ("length", "sized"):
                    conn.shutdown(socket.SHUT_WR)
            # Wait for the client to close its end.
            deadline = time.monotonic() + self.wait_timeout
            while time.monotonic() < deadline:
                readable, _, _ = select.select([conn], [], [], 0.02)
                if readable:
                    try:
                        if conn.recv(65536) == b"":
                            break
                    except OSError:
                        break
            else:
                return
            record.client_closed = True
            record.closed_at = time.monotonic()
        except (OSError, ValueError):  # ValueError: select on a connection the test's end shut
            record.client_closed = True
            record.closed_at = time.monotonic()
        finally:
            conn.close()
            record.done.set()

    def _send(self, conn: socket.socket, data: bytes) -> None:
        if not data:
            return
        if self.framing == "chunked":
            data = b"%x\r\n%s\r\n" % (len(data), data)
        conn.sendall(data)


class _Gzip:
    def __init__(self) -> None:
        import zlib

        self._z = zlib.compressobj(6, zlib.DEFLATED, 31)

    def compress(self, data: bytes) -> bytes:
        import zlib

        return self._z.compress(data) + self._z.flush(zlib.Z_SYNC_FLUSH)

    def flush_end(self) -> bytes:
        return self._z.flush()


def _shut(conn: socket.socket) -> None:
    """End a connection a server thread may still be using."""
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    conn.close()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return data
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            break
        body += piece
    return head + b"\r\n\r\n" + body


class RoutedServer:
    """A server whose answer depends on the request's path: ``routes`` maps a
    path suffix to a function ``answer(conn, request)`` that writes what it
    likes (or nothing) and may close.  ``requests`` records every request it
    read, in order; ``connections`` counts the connections it accepted.
    ``raw(conn)``, if given, takes each connection before any of that."""

    def __init__(self, routes: Dict[str, Any], raw: Any = None):
        self.routes = routes
        self.raw = raw
        self.requests: List[bytes] = []
        self.connections = 0
        self._open: List[socket.socket] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d/v1" % self._sock.getsockname()[1]

    def paths(self) -> List[str]:
        return [request.split(b" ", 2)[1].decode() for request in self.requests]

    def __enter__(self) -> "RoutedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._sock.close()
        for conn in self._open:  # no connection outlives the test (nor changes its descriptor count later)
            _shut(conn)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            self._open.append(conn)
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            if self.raw is not None:
                self.raw(conn)
                return
            while True:  # keep-alive: one request after another
                request = _read_request(conn)
                if not request:
                    return
                self.requests.append(request)
                path = request.split(b" ", 2)[1].decode().split("?")[0]
                answer = next(fn for suffix, fn in self.routes.items() if path.endswith(suffix))
                if answer(conn, request) is False:
                    return
        except (OSError, ValueError):  # the test ended: its connections are shut
            pass
        finally:
            conn.close()


def close(conn: socket.socket, request: bytes) -> bool:
    """Read the request, answer nothing, close."""
    return False


def reset(conn: socket.socket, request: bytes) -> bool:
    """Read the request, answer nothing, reset the connection."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    return False


def half_answer(conn: socket.socket, request: bytes) -> bool:
    """Start an answer, then close in the middle of its status line."""
    conn.sendall(b"HTTP/1.1 20")
    return False


def event_stream(body: bytes, keep_alive: bool = False) -> Any:
    """An answer: this event stream, chunked; the connection kept, or closed."""

    def answer(conn: socket.socket, request: bytes) -> bool:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
        head += b"\r\n" if keep_alive else b"Connection: close\r\n\r\n"
        conn.sendall(head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        return keep_alive

    return answer


def drip(answer: bytes, pause: float) -> Any:
    """An answer sent one byte at a time, ``pause`` seconds apart: each read
    gets a byte well within any read timeout, and the whole takes ages."""

    def send(conn: socket.socket, request: bytes) -> bool:
        for byte in answer:
            conn.sendall(bytes((byte,)))  # raises once the test is over and the connection shut
            time.sleep(pause)
        return False

    return send
