"""Stream Assistants API v2 runs (and Responses API responses) over
Server-Sent Events, with callbacks.

    import assistant_stream

    client = assistant_stream.Client()          # $OPENAI_API_KEY, $OPENAI_BASE_URL
    handlers = assistant_stream.Handlers()

    @handlers.on("text.delta")
    def show(event):
        print(event.text, end="", flush=True)

    with client.stream_run(thread_id, assistant_id=assistant_id,
                           handlers=handlers) as stream:
        run = stream.until_done()

One file, two dependencies (requests and sseclient-py), plain blocking socket
I/O: it works the same in scripts, threads and gevent.  ``client.stream_response``
streams the Responses API through the same handlers.  To vendor it, copy this
file next to your code; it carries its version and licence with it.

Homepage: https://pypi.org/project/assistant-stream/
"""
# Copyright (c) 2026 The assistant_stream authors
#
# Permission is hereby granted, free of charge, to any person obtaining a copy
# of this software and associated documentation files (the "Software"), to deal
# in the Software without restriction, including without limitation the rights
# to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
# copies of the Software, and to permit persons to whom the Software is
# furnished to do so, subject to the following conditions:
#
# The above copyright notice and this permission notice shall be included in
# all copies or substantial portions of the Software.
#
# THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
# IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
# FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
# AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
# LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
# OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
# SOFTWARE.

# ---------------------------------------------------------------------------
# Imports
# ---------------------------------------------------------------------------

from __future__ import annotations

import collections
import fnmatch
import http.client
import itertools
import json
import logging
import os
import random
import re
import socket
import sys
import time
from typing import (
    IO,
    Any,
    Callable,
    Collection,
    Deque,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Pattern,
    Set,
    Tuple,
    Union,
)
from urllib.parse import quote

import requests
import sseclient
import urllib3

# ---------------------------------------------------------------------------
# Version and exports
# ---------------------------------------------------------------------------

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Handlers",
    "Stream",
    "Event",
    "replay",
    "AssistantStreamError",
    "APIConnectionError",
    "APITimeoutError",
    "APIStatusError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "UnprocessableEntityError",
    "RateLimitError",
    "InternalServerError",
    "StreamError",
    "IncompleteStreamError",
    "ProtocolError",
]

# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_TIMEOUT = 600.0
DEFAULT_MAX_RETRIES = 2
MAX_EVENT_BYTES = 16 * 1024 * 1024  # one event, as received
MAX_EVENT_LINES = 1000  # sseclient-py's cost grows with lines x bytes

RUN_EVENTS = (
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.requires_action",
    "thread.run.completed",
    "thread.run.incomplete",
    "thread.run.failed",
    "thread.run.cancelling",
    "thread.run.cancelled",
    "thread.run.expired",
)
STEP_EVENTS = (
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.run.step.delta",
    "thread.run.step.completed",
    "thread.run.step.failed",
    "thread.run.step.cancelled",
    "thread.run.step.expired",
)
MESSAGE_EVENTS = (
    "thread.message.created",
    "thread.message.in_progress",
    "thread.message.delta",
    "thread.message.completed",
    "thread.message.incomplete",
)
# The Responses API's stream, as of its reference (2026-11): named SSE events, no "done".
RESPONSE_EVENTS = tuple(
    "response." + name
    for name in (
        "created in_progress queued completed failed incomplete"
        " output_item.added output_item.done content_part.added content_part.done"
        " output_text.delta output_text.done output_text.annotation.added refusal.delta refusal.done"
        " function_call_arguments.delta function_call_arguments.done"
        " custom_tool_call_input.delta custom_tool_call_input.done"
        " mcp_call_arguments.delta mcp_call_arguments.done"
        " code_interpreter_call_code.delta code_interpreter_call_code.done"
        " code_interpreter_call.in_progress code_interpreter_call.interpreting code_interpreter_call.completed"
        " file_search_call.in_progress file_search_call.searching file_search_call.completed"
        " web_search_call.in_progress web_search_call.searching web_search_call.completed"
        " image_generation_call.in_progress image_generation_call.generating"
        " image_generation_call.partial_image image_generation_call.completed"
        " mcp_call.in_progress mcp_call.completed mcp_call.failed"
        " mcp_list_tools.in_progress mcp_list_tools.completed mcp_list_tools.failed"
        " reasoning_summary_part.added reasoning_summary_part.done"
        " reasoning_summary_text.delta reasoning_summary_text.done reasoning_text.delta reasoning_text.done"
        " audio.delta audio.done audio.transcript.delta audio.transcript.done"
        " shell_call_command.added shell_call_command.delta shell_call_command.done"
        " shell_call_output_content.delta shell_call_output_content.done compaction.compacting"
    ).split()
)
# Output items that are tool calls, and the key their streamed text goes under.
_CALL_TEXT = {
    "function_call_arguments": "arguments",
    "custom_tool_call_input": "input",
    "mcp_call_arguments": "arguments",
    "code_interpreter_call_code": "code",
}
API_EVENTS = frozenset(("thread.created", "error", "done") + RUN_EVENTS + STEP_EVENTS + MESSAGE_EVENTS + RESPONSE_EVENTS)
DERIVED_EVENTS = frozenset(
    (
        "text.created",
        "text.delta",
        "text.done",
        "tool_call.created",
        "tool_call.delta",
        "tool_call.done",
        "image_file.done",
        "end",
    )
)
# The short names the API reference uses in prose: "run.created", "step.delta", ...
SHORT_PREFIXES = (("run.", "thread.run."), ("step.", "thread.run.step."), ("message.", "thread.message."))

TERMINAL_STATUSES = frozenset(("completed", "failed", "cancelled", "expired", "incomplete"))
# A stream may end once its run is in one of these: nothing more will come.
STOP_STATUSES = TERMINAL_STATUSES | {"requires_action"}

RECOVER_SECONDS = 300.0  # recover=True polls the run for at most this long
CANCEL_TIMEOUT = 10.0  # cancel_on_interrupt's request gives up after this
RETRY_STATUSES = frozenset((408, 409, 429))  # and every 5xx
RETRY_AFTER_LIMIT = 60.0  # longer Retry-After values are not honoured

_BOM = b"\xef\xbb\xbf"
_READ_SIZE = 65536
_ERROR_BODY_LIMIT = 65536
_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,256}\Z")
_SECRET_HEADER = re.compile(r"auth|key|token|secret", re.IGNORECASE)  # default_headers kept out of messages

log = logging.getLogger("assistant_stream")
# The C scanner under json.loads: (value, end). Not in typeshed, there since Python 2.6.
_scan_json: Callable[[str, int], Tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]

JSON = Dict[str, Any]
Callback = Callable[["Event"], Any]

# ---------------------------------------------------------------------------
# Exceptions
# ---------------------------------------------------------------------------


class AssistantStreamError(Exception):
    """The root of every error this module raises.

    ``stream`` is the Stream the error interrupted (None for errors raised
    before a stream existed): what it received stays readable on it.
    """

    stream: Optional[Stream] = None


class APIConnectionError(AssistantStreamError):
    """The server could not be reached, or the connection failed."""


class APITimeoutError(APIConnectionError):
    """Connecting took longer than the connect timeout, or the server sent
    nothing for longer than the read timeout."""


class APIStatusError(AssistantStreamError):
    """The server answered with an HTTP error status.

    ``status_code`` is the HTTP status, ``body`` the parsed JSON body (or its
    text), ``request_id`` the server's ``x-request-id`` header, if any.
    """

    def __init__(self, message: str, *, status_code: int, body: Any = None, request_id: Optional[str] = None):
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.request_id = request_id


class BadRequestError(APIStatusError):
    """HTTP 400."""


class AuthenticationError(APIStatusError):
    """HTTP 401."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403."""


class NotFoundError(APIStatusError):
    """HTTP 404."""


class ConflictError(APIStatusError):
    """HTTP 409."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422."""


class RateLimitError(APIStatusError):
    """HTTP 429."""


class InternalServerError(APIStatusError):
    """HTTP 5xx."""


class StreamError(AssistantStreamError):
    """The server sent an ``error`` event; ``error`` is its payload."""

    def __init__(self, message: str, error: Any = None):
        super().__init__(message)
        self.error = error


class IncompleteStreamError(AssistantStreamError):
    """The body ended before ``done`` while the run could still go on."""


class ProtocolError(AssistantStreamError):
    """The server's answer is not a valid Assistants event stream."""


_STATUS_ERRORS = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

# ---------------------------------------------------------------------------
# Event
# ---------------------------------------------------------------------------

_UNREAD: Any = object()


class Event:
    """One dispatched event: an API event or a derived one.

    ``name``     the full API name ("thread.message.delta") or the derived name
    ``data``     the parsed JSON payload ("[DONE]" for ``done``)
    ``text``     text events only: the fragment for ``text.delta``, the whole
                 text for ``text.created`` / ``text.done``; None otherwise
    ``snapshot`` the accumulated message, run step, run, text part or tool
                 call, API-shaped; built when first read, from the stream's
                 state at that moment (read it before the stream moves on)
    ``stream``   the Stream that dispatched it
    """

    __slots__ = ("name", "data", "text", "stream", "_source", "_snapshot")

    def __init__(self, name: str, data: Any, stream: Optional[Stream] = None, text: Optional[str] = None, source: Any = None):
        self.name = name
        self.data = data
        self.text = text
        self.stream = stream
        self._source = source
        self._snapshot = _UNREAD

    @property
    def snapshot(self) -> Any:
        if self._snapshot is _UNREAD:
            self._snapshot = snapshot(self._source)
        return self._snapshot

    def __repr__(self) -> str:
        if self.text is not None:
            return "<Event %s %r>" % (self.name, self.text[:40])
        return "<Event %s>" % self.name


# ---------------------------------------------------------------------------
# Accumulation: deltas merged into plain dicts, text kept as fragments
# ---------------------------------------------------------------------------


class _Fragments(List[str]):
    """A string still arriving: fragments appended, joined only when read.

    Every 256 fragments are folded into one string (``pieces``), so a long
    text costs one object per 256 deltas, not one per delta.
    """

    __slots__ = ("pieces",)

    def __init__(self, fragments: Iterable[str]):
        super().__init__(fragments)
        self.pieces: List[str] = []

    def fold(self) -> None:
        self.pieces.append("".join(self))
        self.clear()

    def joined(self) -> str:
        if self.pieces or len(self) != 1:
            self.pieces.append("".join(self))
            self[:] = ["".join(self.pieces)]
            self.pieces = []
        return self[0]


# Keys whose string deltas extend the value instead of replacing it.
_APPENDED = frozenset(("value", "arguments", "input", "logs", "refusal"))
_FOLD = 256


def merge(acc: JSON, delta: JSON) -> JSON:
    """Merge a delta into an accumulated object, in place, and return it.

    Strings under ``value``/``arguments``/``input``/``logs``/``refusal`` are
    appended (as fragments); lists of objects with an ``index`` merge entry by
    entry; other lists and scalars replace; None and empty lists never erase.
    The delta itself is never changed, nor shared with the result.
    """
    for key, value in delta.items():
        kind = type(value)
        if kind is str:
            if key in _APPENDED:
                _append(acc, key, value)
            else:
                acc[key] = value
        elif kind is dict:
            old = acc.get(key)
            acc[key] = merge(old if type(old) is dict else {}, value)
        elif kind is list:
            if not value:
                if key not in acc:
                    acc[key] = []
            elif all(type(item) is dict and type(item.get("index")) is int for item in value):
                entries = acc.get(key)
                if type(entries) is not list:
                    entries = acc[key] = []
                for item in value:
                    merge_entry(entries, item)
            else:
                acc[key] = snapshot(value)
        elif value is None:
            acc.setdefault(key, None)
        else:
            acc[key] = value
    return acc


def merge_entry(entries: List[JSON], item: JSON) -> JSON:
    """Merge one indexed delta entry into a list; return the merged entry.

    Entries that came whole (from a completed object) have no ``index``: their
    position in the list stands for it.
    """
    index = item["index"]
    if type(index) is not int or index < 0:
        raise ValueError("bad index %r" % (index,))
    entry = find_entry(entries, index)
    if entry is not None:
        return merge(entry, item)
    entry = merge({}, item)
    entries.append(entry)
    return entry


def find_entry(entries: List[JSON], index: int) -> Optional[JSON]:
    """The entry of a list with this ``index`` (or at this position)."""
    if index < len(entries):
        entry = entries[index]
        if entry.get("index", index) == index:
            return entry
    for position, entry in enumerate(entries):
        if entry.get("index", position) == index:
            return entry
    return None


def snapshot(obj: Any) -> Any:
    """An API-shaped deep copy of an accumulated object, fragments joined."""
    kind = type(obj)
    if kind is dict:
        return {key: snapshot(value) for key, value in obj.items()}
    if kind is list:
        return [snapshot(value) for value in obj]
    if kind is _Fragments:
        return obj.joined()
    return obj


def _text_of(part: JSON) -> str:
    """The text of a content part: an Assistants part's text.value, a Responses
    part's text, a refusal's refusal ("" for parts without text)."""
    value = part.get("refusal") if part.get("type") == "refusal" else part.get("text")
    if type(value) is dict:
        value = value.get("value")
    if type(value) is _Fragments:
        return value.joined()
    return value if type(value) is str else ""


def _text_source(part: JSON) -> Any:
    """What a text event's snapshot shows: an Assistants part's {value,
    annotations}, or a Responses part as a whole."""
    text = part.get("text")
    return text if type(text) is dict else part


def _is_text(part: Any) -> bool:
    return type(part) is dict and part.get("type") in ("text", "output_text")


def _is_tool_call(item: Any) -> bool:
    """A Responses output item that is a tool call: function_call, mcp_call, ..."""
    return type(item) is dict and str(item.get("type", "")).endswith("_call")


def _append(acc: JSON, key: str, fragment: str) -> None:
    """Add a fragment to a string still arriving."""
    old = acc.get(key)
    if type(old) is _Fragments:
        old.append(fragment)
        if len(old) >= _FOLD:
            old.fold()
    elif type(old) is str and old:
        acc[key] = _Fragments((old, fragment))
    else:
        acc[key] = _Fragments((fragment,))


def _text_field(data: JSON, field: str) -> str:
    """A ``.done`` event's whole text: a string, or the event is malformed."""
    value = data[field]
    if type(value) is not str:
        raise TypeError("%s is not text" % field)
    return value


def _slot(entries: List[Any], index: int) -> JSON:
    """``entries[index]``, or a new empty object appended as it: the API
    numbers items, parts and annotations in order, without gaps."""
    if type(index) is not int or not 0 <= index <= len(entries):
        raise ValueError("bad index %r" % (index,))
    if index == len(entries):
        entries.append({})
    entry = entries[index]
    if type(entry) is not dict:
        raise TypeError("an entry is not an object")
    return entry


# ---------------------------------------------------------------------------
# Wire: response bytes -> complete event blocks -> sseclient-py -> (name, data)
# ---------------------------------------------------------------------------


class _Wire:
    """One response body as a sequence of (event name, parsed data).

    It frames events itself before handing them to sseclient-py, which parses
    the fields: each block handed over is one complete event, so an event is
    dispatched as soon as its last byte arrives, large events cost linear
    time, and sseclient-py's deviations from the WHATWG rules are covered:

    - a leading UTF-8 BOM is stripped;
    - CR and CRLF line endings become LF, so every blank line is a boundary;
    - an event still incomplete when the body ends is never handed over
      (``cut`` keeps its bytes; the Stream decides what that means);
    - invalid UTF-8 becomes ProtocolError instead of UnicodeDecodeError;
    - an event over ``max_bytes`` raises ProtocolError before the rest of it
      is read; one of more than ``MAX_EVENT_LINES`` lines once it is whole
      (sseclient-py's cost grows with its lines times its bytes).
    """

    def __init__(self, chunks: Iterable[bytes], max_bytes: int = MAX_EVENT_BYTES, record: Optional[IO[bytes]] = None):
        self.chunks = chunks
        self.max_bytes = max_bytes
        self.record = record
        self.cut = b""

    def __iter__(self) -> Iterator[Tuple[str, Any]]:
        scan = _scan_json
        try:
            for sse in sseclient.SSEClient(self._blocks()).events():
                name, text = sse.event, sse.data
                if name == "done" or (name == "message" and text == "[DONE]"):  # some servers send data: [DONE] only
                    yield "done", text
                    continue
                try:
                    data, end = scan(text, 0)  # json.loads without its three Python frames
                    if end != len(text):
                        data = json.loads(text)  # whitespace around the value, or an error
                except (StopIteration, ValueError, RecursionError):
                    try:
                        data = json.loads(text)
                    except (ValueError, RecursionError):
                        if name in API_EVENTS:
                            raise ProtocolError("event %r carries invalid JSON: %s" % (name, _preview(text))) from None
                        data = text  # an unknown event may carry anything
                if name == "message" and type(data) is dict and type(data.get("type")) is str:
                    name = data["type"]  # no event line: some servers name events in their JSON only
                if type(data) is not dict and name in API_EVENTS:
                    raise ProtocolError("event %r carries %s, not a JSON object" % (name, type(data).__name__))
                yield name, data
        except UnicodeDecodeError as exc:
            raise ProtocolError("the event stream is not valid UTF-8: %s" % exc) from None

    def _blocks(self) -> Iterator[bytes]:
        """Complete event blocks, each ending with a blank line, LF only."""
        chunks: Iterator[bytes] = iter(self.chunks)
        if self.record is not None:
            chunks = _recorded(chunks, self.record)
        pending: List[bytes] = []  # the event being received, in pieces
        size = 0
        limit = self.max_bytes
        after_cr = False
        for chunk in _without_bom(chunks):
            if after_cr and chunk[:1] == b"\n":
                chunk = chunk[1:]  # the LF of a CRLF split across chunks
            if b"\r" in chunk:
                after_cr = chunk[-1:] == b"\r"
                chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            else:
                after_cr = False
            length = len(chunk)
            if (
                not pending
                and chunk.find(b"\n\n") + 2 == length > 2  # its only blank line ends it
                and length <= limit
                and (b"\ndata" in chunk or chunk.startswith(b"data"))
                and (length <= MAX_EVENT_LINES or chunk.count(b"\n") <= MAX_EVENT_LINES + 1)
            ):
                yield chunk  # the usual chunk: exactly one whole, acceptable event
                continue
            end = chunk.rfind(b"\n\n") + 2  # just past the last blank line
            if end == 1 and not (pending and pending[-1][-1:] == b"\n" and chunk[:1] == b"\n"):
                end = 0  # no blank line ends here (not even one straddling two chunks)
            if not end:
                size += len(chunk)
                if size > limit:
                    raise ProtocolError("an event is larger than %d bytes" % limit)
                if chunk:
                    pending.append(chunk)
                continue
            head = chunk[:end]
            if pending:
                pending.append(head)
                head = b"".join(pending)
            rest = chunk[end:]
            pending = [rest] if rest else []
            size = len(rest)
            for block in head[:-2].split(b"\n\n"):
                if block:
                    yield self._checked(block + b"\n\n")
            if size > limit:
                raise ProtocolError("an event is larger than %d bytes" % limit)
        tail = b"".join(pending)
        if tail.strip():
            self.cut = tail

    def _checked(self, block: bytes) -> bytes:
        """One event's block, ending with its blank line, once it is acceptable."""
        if len(block) > self.max_bytes:
            raise ProtocolError("an event is larger than %d bytes" % self.max_bytes)
        if block.count(b"\n") > MAX_EVENT_LINES + 1:  # its lines, and the blank one
            raise ProtocolError("an event has more than %d lines" % MAX_EVENT_LINES)
        if not block.startswith(b"data") and b"\ndata" not in block:
            # sseclient-py drops an event without data, as the WHATWG rules say;
            # for an API event that would silently lose it.
            for line in block.split(b"\n"):
                if line.startswith(b"event:"):
                    name = line[6:].strip().decode("utf-8", "replace")
                    if name in API_EVENTS:
                        raise ProtocolError("event %r has no data line" % name)
        return block


class _Redacting:
    """A recording file that never receives a credential: a server that
    echoes the key gets "<api key>" written instead.  It holds back the
    last few bytes of each write, in case a credential is split across two."""

    def __init__(self, file: IO[bytes], secrets: Callable[[], List[str]]):
        self.file = file
        self.secrets = secrets
        self.held = b""

    def write(self, chunk: bytes) -> None:
        forms = [secret.encode("utf-8", "replace") for secret in self.secrets()]
        data = self.held + chunk
        for form in forms:
            data = data.replace(form, b"<api key>")
        split = max(0, len(data) - max((len(form) - 1 for form in forms), default=0))
        self.held = data[split:]
        self.file.write(data[:split])

    def flush(self) -> None:
        self.file.write(self.held)
        self.held = b""
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def _recorded(chunks: Iterator[bytes], record: IO[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        record.write(chunk)
        yield chunk


def _without_bom(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The same bytes, less a UTF-8 BOM at the very start (perhaps split)."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= 3 or not _BOM.startswith(head):
            break
    return itertools.chain((head[3:] if head.startswith(_BOM) else head,), chunks)


def _preview(text: Union[str, bytes], limit: int = 200) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text.strip()
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _response_chunks(response: requests.Response) -> Iterator[bytes]:
    """The body of a streaming response, each piece as soon as it arrives.

    Chunked bodies (what the API sends) go through ``iter_content(None)``:
    one piece per HTTP chunk as it arrives, and four times cheaper than
    urllib3's ``read1``, which returns a single chunk per call too.  Other
    bodies: ``iter_content(n)`` would wait for n bytes, so they go through
    urllib3's ``read1`` (>= 2.2) or, with older urllib3 (1.26 is common next
    to botocore), through ``iter_content(None)`` when sized (buffered whole
    upstream), http.client's ``read1`` when not, or a byte at a time if also
    compressed.  Read errors become APITimeoutError (a silence longer than
    the read timeout) or IncompleteStreamError (the connection dropped).
    """
    raw = response.raw
    try:
        if getattr(raw, "chunked", False):
            yield from response.iter_content(None)
        elif hasattr(raw, "read1"):
            chunk = raw.read1(_READ_SIZE, decode_content=True)
            while chunk:
                yield chunk
                chunk = raw.read1(_READ_SIZE, decode_content=True)
        elif response.headers.get("Content-Length"):
            yield from response.iter_content(None)
        elif not response.headers.get("Content-Encoding") and hasattr(getattr(raw, "_fp", None), "read1"):
            read1 = raw._fp.read1  # type: ignore[union-attr]
            chunk = read1(_READ_SIZE)
            while chunk:
                yield chunk
                chunk = read1(_READ_SIZE)
        else:
            yield from response.iter_content(1)
    except (urllib3.exceptions.ReadTimeoutError, socket.timeout) as exc:
        raise APITimeoutError("no data from the server within the read timeout") from exc
    except (urllib3.exceptions.DecodeError, requests.exceptions.ContentDecodingError) as exc:
        raise ProtocolError("the body could not be decoded: %s" % exc) from exc
    except requests.exceptions.ConnectionError as exc:
        if isinstance(exc.args[0] if exc.args else None, urllib3.exceptions.ReadTimeoutError):
            raise APITimeoutError("no data from the server within the read timeout") from exc
        raise IncompleteStreamError("the connection was lost: %s" % exc) from exc
    except (
        urllib3.exceptions.ProtocolError,
        urllib3.exceptions.SSLError,
        requests.exceptions.ChunkedEncodingError,
        http.client.HTTPException,
        OSError,
    ) as exc:
        raise IncompleteStreamError("the connection was lost: %s" % exc) from exc


def _read_and_discard(response: requests.Response) -> bytes:
    """The start of an answer we will not use (an error, not an event
    stream), for the message; its connection is closed, not pooled: a
    server that answered wrongly gets a fresh one."""
    connection = getattr(response.raw, "connection", None)
    try:
        return response.raw.read(_ERROR_BODY_LIMIT, decode_content=True) or b""
    except Exception as exc:  # only for the message
        return ("<unreadable: %r>" % exc).encode()
    finally:
        _close_response(response)
        try:
            if connection is not None:
                connection.close()
        except Exception as exc:  # closing must never raise
            log.debug("closing the connection failed: %r", exc)


def _close_response(response: requests.Response) -> None:
    """Close a response at once, even while another greenlet reads from it."""
    try:
        raw = response.raw
        # urllib3 >= 2.3 can end a read blocked in another greenlet; only for a
        # socket the response still holds: a fully read body's is back in the pool.
        if hasattr(raw, "shutdown") and getattr(raw, "connection", None) is not None:
            raw.shutdown()
        response.close()
    except Exception as exc:  # closing must never raise
        log.debug("closing the response failed: %r", exc)


# ---------------------------------------------------------------------------
# Handlers: the dispatch table
# ---------------------------------------------------------------------------


def _full_name(name: str) -> str:
    for short, full in SHORT_PREFIXES:
        if name.startswith(short):
            return full + name[len(short) :]
    return name


def _closest(name: str) -> str:
    import difflib  # only on the error path

    names = sorted(API_EVENTS | DERIVED_EVENTS) + [
        short + full[len(long_) :] for short, long_ in SHORT_PREFIXES for full in sorted(API_EVENTS) if full.startswith(long_)
    ]
    match = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    return "; did you mean %r?" % match[0] if match else ""


class Handlers:
    """A dispatch table: event names to callbacks, and tools.

    Register with ``@handlers.on(name)`` or ``handlers.on(name, fn)``.  A name
    is an API event ("thread.message.delta"), its short form
    ("message.delta"), a derived event ("text.delta") or a shell-style
    pattern ("thread.run.*", "*"); anything else raises ValueError naming the
    closest valid name.  Callbacks run in registration order and take one
    argument, the Event.  An exception raised by a callback propagates out of
    the stream's ``until_done()`` or iteration, and the stream closes.

    One table may serve any number of streams at once; the callbacks for an
    event name are resolved once and cached until the table changes.
    """

    def __init__(self) -> None:
        self._registrations: List[Tuple[str, Optional[Pattern[str]], Callback]] = []
        self._resolved: Dict[str, Tuple[Callback, ...]] = {}
        self.tools: Dict[str, Callable[..., Any]] = {}
        self._reported: Set[str] = set()  # tools whose errors go to the model

    def on(self, name: str, fn: Optional[Callback] = None) -> Any:
        """Register ``fn`` for the event ``name`` and return ``fn``.

        Without ``fn``, return a decorator that does the same.
        """
        if not isinstance(name, str):
            raise TypeError("an event name must be a str, not %s" % type(name).__name__)
        full = _full_name(name)
        pattern = None
        if any(char in full for char in "*?["):
            pattern = re.compile(fnmatch.translate(full))
            if not any(pattern.match(known) for known in API_EVENTS | DERIVED_EVENTS):
                raise ValueError("the pattern %r matches no event%s" % (name, _closest(name)))
        elif full not in API_EVENTS and full not in DERIVED_EVENTS:
            raise ValueError("unknown event name %r%s" % (name, _closest(name)))

        def register(fn: Callback) -> Callback:
            if not callable(fn):
                raise TypeError("a callback must be callable, not %r" % (fn,))
            self._registrations.append((full, pattern, fn))
            self._resolved.clear()
            return fn

        return register if fn is None else register(fn)

    def callbacks(self, name: str) -> Tuple[Callback, ...]:
        """The callbacks for an incoming event name, in registration order."""
        found = self._resolved.get(name)
        if found is None:
            found = self._resolved[name] = tuple(
                fn for full, pattern, fn in self._registrations if (pattern.match(name) if pattern else full == name)
            )
        return found

    def tool(self, fn: Optional[Callable[..., Any]] = None, *, name: Optional[str] = None, report_errors: bool = False) -> Any:
        """Register a function tool, named after the function unless ``name``.

        When a run requires action and every function call in it has a tool,
        the stream calls each tool in order with the call's JSON arguments as
        keywords, submits the results (a str as is, anything else as JSON)
        and streams the rest of the run.  If a tool raises, or the model's
        arguments are not a JSON object, the exception propagates and the
        stream closes; with ``report_errors=True`` the error's text is
        submitted as the output instead, for the model to handle.
        ``@handlers.tool``, ``@handlers.tool(name=...)`` and
        ``handlers.tool(fn, name=...)`` all return ``fn`` unchanged.
        """

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            if not callable(fn):
                raise TypeError("a tool must be callable, not %r" % (fn,))
            tool_name = name or fn.__name__
            self.tools[tool_name] = fn
            if report_errors:
                self._reported.add(tool_name)
            else:
                self._reported.discard(tool_name)
            return fn

        return register if fn is None else register(fn)

    def __repr__(self) -> str:
        return "<Handlers %d callbacks, %d tools>" % (len(self._registrations), len(self.tools))


# ---------------------------------------------------------------------------
# Stream
# ---------------------------------------------------------------------------

_MALFORMED = (KeyError, TypeError, AttributeError, ValueError, IndexError, RecursionError)
Emission = Tuple[str, Any, Optional[str], Any]  # name, data, text, snapshot source


class Stream:
    """A streamed run: dispatches its events and keeps what they built.

    ``until_done()`` dispatches every event and returns the final run; or
    iterate it: each Event (API and derived) comes after its callbacks ran.
    Any exception (a callback's, a network error, KeyboardInterrupt, a
    gevent Timeout) and leaving a ``with`` block or a ``for`` loop early close
    the connection at once; what was received stays readable on the stream.

    Streams come from a Client's streaming calls, or from ``replay()``.
    """

    def __init__(
        self,
        body: Iterable[bytes],
        handlers: Optional[Handlers] = None,
        *,
        response: Optional[requests.Response] = None,
        client: Optional[Client] = None,
        record: Union[None, str, os.PathLike[str], IO[bytes]] = None,
        max_event_bytes: int = MAX_EVENT_BYTES,
        cancel_on_interrupt: bool = False,
        recover: Union[bool, float] = False,
        request: Optional[JSON] = None,
        resume: Optional[Tuple[str, str]] = None,
    ):
        self._handlers = handlers if handlers is not None else Handlers()
        self._request = request  # a Responses request, repeated with the tools' outputs
        self._own = Handlers()
        # name -> callbacks: the shared table's own cache (cleared in place when
        # it changes) until the stream gets callbacks of its own
        self._table = self._handlers._resolved
        self._http = response
        self._client = client
        self._cancel_on_interrupt = cancel_on_interrupt
        self._recover_seconds = RECOVER_SECONDS if recover is True else float(recover or 0)
        self._record: Optional[IO[bytes]] = None
        self._owns_record = False
        if isinstance(record, (str, os.PathLike)):
            try:
                self._record = open(record, "wb")
            except BaseException:
                if response is not None:
                    _close_response(response)
                raise
            self._owns_record = True
        elif record is not None:
            self._record = record
        if self._record is not None and client is not None:
            self._record = _Redacting(self._record, client._secrets)  # type: ignore[assignment]
        self._max_event_bytes = max_event_bytes
        self._wire = _Wire(body, max_event_bytes, self._record)
        self._events = iter(self._wire)

        self._run: Optional[JSON] = None
        self._response: Optional[JSON] = None  # the Responses API's response, output accumulated
        self._responses: List[JSON] = []  # and every one before it in this stream
        self._items_done: Set[Any] = set()  # output items whose output_item.done came
        self._messages: Dict[str, JSON] = {}
        self._steps: Dict[str, JSON] = {}
        self._message: Optional[JSON] = None
        self._step: Optional[JSON] = None
        self._parts: Dict[Tuple[Any, int], bool] = {}  # text/image part -> done
        self._calls: Dict[Any, bool] = {}  # tool call (its id, or its step and index) -> done
        self._received = 0
        self._debug = log.isEnabledFor(logging.DEBUG)  # checked once, not per event
        self._done = False  # the body said 'done' (or sent the response's final event)
        self._body_over = False  # ... and is to be acted on at the next step
        self._resume = resume  # (thread, run) of a submit_tool_outputs request, to poll by
        self._continuing = resume is not None  # tool outputs sent; the run (or next response) not heard from since
        self._submitted: Set[Any] = set()  # the ids of the tool calls whose outputs were sent
        self._finished = False
        self._closed = False
        self._interrupted = False  # an exception left the stream
        self._recovered = False
        self._queue: Optional[Deque[Emission]] = None  # while iterating
        self._routes: Dict[str, Callable[[str, JSON], List[Emission]]] = {"thread.created": self._on_thread}
        self._routes.update((name, self._on_run) for name in RUN_EVENTS)
        self._routes.update((name, self._on_step) for name in STEP_EVENTS)
        self._routes.update((name, self._on_message) for name in MESSAGE_EVENTS)
        self._routes["thread.run.step.delta"] = self._on_step_delta
        self._routes["thread.message.delta"] = self._on_message_delta
        for name in ("created", "in_progress", "queued", "completed", "failed", "incomplete"):
            self._routes["response." + name] = self._on_response
        for suffix in ("added", "done"):
            self._routes["response.output_item." + suffix] = self._on_output_item
            self._routes["response.content_part." + suffix] = self._on_content_part
            self._routes["response.reasoning_summary_part." + suffix] = self._on_summary_part
        for suffix in ("delta", "done"):
            for kind in ("output_text", "refusal", "reasoning_text"):
                self._routes["response.%s.%s" % (kind, suffix)] = self._on_part_text
            for kind in _CALL_TEXT:
                self._routes["response.%s.%s" % (kind, suffix)] = self._on_call_text
            self._routes["response.reasoning_summary_text." + suffix] = self._on_summary_text
        self._routes["response.output_text.annotation.added"] = self._on_annotation

    # -- registration ------------------------------------------------------

    def on(self, name: str, fn: Optional[Callback] = None) -> Any:
        """Register a callback for this stream only; as ``Handlers.on``.

        The stream's own callbacks run after the shared table's.
        """
        self._table = {}  # from now on: both tables, resolved on each lookup
        return self._own.on(name, fn)

    # -- driving -----------------------------------------------------------

    def until_done(self) -> Optional[JSON]:
        """Dispatch every remaining event; return the final run (Responses
        API: the final response).

        A run that ends failed, cancelled, expired or incomplete is returned
        with that status.  Errors raise (see the module's exceptions) and
        close the stream; on a closed stream this returns the run as received.
        """
        while self._advance():
            pass
        return self._final()

    def _final(self) -> Optional[JSON]:
        """The run, or (Responses API) a snapshot of the response."""
        return self._run if self._run is not None or self._response is None else snapshot(self._response)

    def __iter__(self) -> Iterator[Event]:
        # Events wait in a queue so that each one's callbacks run just before
        # it is yielded, not before the events ahead of it.
        queue: Deque[Emission] = collections.deque()
        self._queue = queue
        try:
            more = True
            while more:
                failure = None
                try:
                    more = self._advance()
                except Exception as exc:  # the events before the failure go first
                    failure = exc
                while queue:
                    yield self._deliver(*queue.popleft())
                if failure is not None:
                    raise failure
        finally:
            self._queue = None
            self.close()

    def text_deltas(self) -> Iterator[str]:
        """Drive the stream, yielding each text fragment as it arrives."""
        for event in self:
            if event.name == "text.delta" and event.text:
                yield event.text

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, exc_type: Any, *exc_info: Any) -> None:
        if exc_type is not None:
            self._interrupted = True
        self.close()

    def close(self) -> None:
        """Close the connection; idempotent, never raises.

        With ``cancel_on_interrupt``, a run left before it finished is
        cancelled (one request, a short timeout, errors only logged); a run
        waiting in ``requires_action`` only if an exception left the stream,
        so that you can break out and submit its tool outputs yourself.
        """
        if self._closed:
            return
        self._closed = True
        if self._cancel_on_interrupt and not self._finished:
            self._cancel()
        self._close_body()
        if self._record is not None:
            try:
                self._record.flush()
                if self._owns_record:
                    self._record.close()
            except Exception as exc:  # closing must never raise
                log.debug("closing the recording failed: %r", exc)

    def _close_body(self) -> None:
        """Close the current response (the stream may go on with another)."""
        if self._http is not None:
            _close_response(self._http)
            self._http = None  # it holds the connection pool
        try:
            getattr(self._wire.chunks, "close", lambda: None)()  # the reader, or a replayed file
        except Exception as exc:  # closing must never raise
            log.debug("closing the body failed: %r", exc)

    def _advance(self) -> bool:
        """Take the next step: dispatch one event, or act on the end of a
        body (finish, recover, or run the tools and go on).  Each step's
        events are dispatched before the next step starts.  False once the
        stream has ended."""
        if self._finished or self._closed:
            return False
        try:
            if self._body_over:
                self._body_over = False
                self._end_of_body(None)
                return True
            try:
                name, data = next(self._events)
            except Exception as exc:
                if self._closed:  # close() from another greenlet or thread ended the read
                    return False
                if not isinstance(exc, (StopIteration, IncompleteStreamError, APITimeoutError)):
                    raise
                self._end_of_body(None if isinstance(exc, StopIteration) else exc)
                return True
            self._dispatch(name, data)
        except BaseException as exc:
            self._fail(exc)
            raise
        return True

    def _dispatch(self, name: str, data: Any) -> None:
        self._received += 1
        if self._debug:
            log.debug("event %s", name)
        if self._done:  # a recording goes on after 'done' with the run's continuation
            self._done = False
        route = self._routes.get(name)
        if route is None:
            if name == "done":
                self._done = True
                self._emit([("done", data, None, None)])
                self._body_over = self._http is not None  # a replay ends with its source instead
            elif name == "error":
                self._emit([("error", data, None, data)])
                raise _stream_error(data)
            elif name in DERIVED_EVENTS:  # 'end' means finished normally: only the Stream may say so
                raise ProtocolError("the server sent an event named %r, a name for events this library derives" % name)
            else:
                self._emit([(name, data, None, None)])
            return
        try:
            emissions = route(name, data)
        except _MALFORMED as exc:
            raise ProtocolError("malformed %r event: %r" % (name, exc)) from exc
        self._emit(emissions)

    def _emit(self, emissions: List[Emission]) -> None:
        """Dispatch events, in order: at once, or queued while iterating."""
        if self._queue is not None:
            self._queue.extend(emissions)
            return
        for name, data, text, source in emissions:
            callbacks = self._table.get(name)
            if callbacks is None:
                callbacks = self._callbacks(name)
            if callbacks:
                event = Event(name, data, self, text, source)
                for callback in callbacks:
                    callback(event)

    def _callbacks(self, name: str) -> Tuple[Callback, ...]:
        """The shared table's callbacks for an event, then the stream's."""
        callbacks = self._handlers.callbacks(name)
        if self._own._registrations:
            callbacks += self._own.callbacks(name)
        return callbacks

    def _deliver(self, name: str, data: Any, text: Optional[str], source: Any) -> Event:
        """Run the callbacks for one queued event (iteration)."""
        event = Event(name, data, self, text, source)
        for callback in self._callbacks(name):
            callback(event)
        return event

    def _end_of_body(self, cut: Optional[AssistantStreamError]) -> None:
        """The body ended (at ``done``, at EOF, or cut off by ``cut``):
        finish, recover, or go on with the tools' outputs."""
        self._close_body()
        status = None if self._continuing else self.status  # what was last received is the round before
        if self._continuing or (not self._done and status not in STOP_STATUSES):
            where = self._where()
            if cut is None:
                detail = " (%d bytes of an unfinished event dropped)" % len(self._wire.cut) if self._wire.cut else ""
                cut = IncompleteStreamError("the stream ended %s%s" % (where, detail))
            else:
                cause = cut.__cause__
                cut = type(cut)("%s, %s" % (cut, where))
                cut.__cause__ = cause
            if not (self._recover_seconds and self._client is not None and self._pollable()):
                raise cut
            self._recover(cut)  # dispatches what the body would have carried
            self._done = self._body_over = True  # then finish, or run the tools, at the next step
            return
        if cut is not None:
            log.debug("stream cut after the run reached %r: %s", status, cut)
        if status == "requires_action" and self._submit_tool_outputs():
            return
        if self._run is None and status == "completed" and self._submit_function_outputs():
            return
        self._finish()

    def _pollable(self) -> bool:
        """Whether the run (or response) can be polled: its id is known.  A
        follow-up response's is not, until its first event."""
        if self._run is not None or self._resume is not None:
            return bool((self._run or {}).get("id") or self._resume)
        return not self._continuing and bool((self._response or {}).get("id"))

    def _where(self) -> str:
        """Where a stream that ended early was: for its error message."""
        kind = "run" if self._run is not None or self._resume is not None or self._response is None else "response"
        if self._continuing:
            return "after the tool outputs were sent, before the %s" % ("run went on" if kind == "run" else "next response started")
        if self.status is None:
            return "before the %s started" % kind
        return "before %s, with the %s in status %r" % ("'done'" if kind == "run" else "the response finished", kind, self.status)

    def _finish(self) -> None:
        self._finished = True
        self.close()
        final = self._final()
        self._emit([("end", final, None, final)])

    def _fail(self, exc: BaseException) -> None:
        if isinstance(exc, AssistantStreamError):
            if exc.stream is None:
                exc.stream = self
            if self._client is not None:
                self._client._redacted(exc)
        self._interrupted = True
        self.close()

    # -- the run lifecycle: tools, recovery, cancel ---------------------------

    def _submit_tool_outputs(self) -> bool:
        """Run the tools a run requires and stream the rest; False if some
        call has no tool (the run stays in ``requires_action``)."""
        assert self._run is not None
        calls = _required_calls(self._run)
        if self._client is None or not calls:
            return False
        try:
            names = [call["function"]["name"] for call in calls]
            ids = [call["id"] for call in calls]
            if not all(type(call_id) is str for call_id in ids):
                raise ValueError("a tool call without an id")
        except _MALFORMED as exc:
            raise ProtocolError("malformed required_action: %r" % (exc,)) from None
        if any(name not in self._handlers.tools for name in names):
            return False
        self._check_unsubmitted(ids)
        path = self._run_path() + "/submit_tool_outputs"  # checked before any tool runs
        outputs = [
            {"tool_call_id": call_id, "output": self._call_tool(name, call_id, call["function"])}
            for call, name, call_id in zip(calls, names, ids)
        ]
        self._attach(self._client._open_stream(path, {"tool_outputs": outputs, "stream": True}))
        return True

    def _call_tool(self, name: str, call_id: Any, function: JSON) -> str:
        try:
            arguments = function.get("arguments")
            if type(arguments) is not dict:  # a JSON text, as the API sends it (some servers send the object)
                try:
                    arguments = json.loads(arguments or "{}")
                except (TypeError, ValueError, RecursionError):
                    arguments = None
            if type(arguments) is not dict:
                raise ProtocolError(
                    "tool call %s: the arguments are not a JSON object: %s" % (call_id, _preview(str(function.get("arguments"))))
                )
            result = self._handlers.tools[name](**arguments)
            return result if isinstance(result, str) else json.dumps(result)
        except Exception as exc:
            if name not in self._handlers._reported:
                raise
            log.debug("tool %s failed, reported to the model: %r", name, exc)
            return "error: %s: %s" % (type(exc).__name__, exc)

    def _submit_function_outputs(self) -> bool:
        """Responses API: run the tools the response's function calls name and
        stream the follow-up response; False if some call has no tool."""
        assert self._response is not None
        calls = [item for item in self._response.get("output") or () if type(item) is dict and item.get("type") == "function_call"]
        if self._client is None or not calls or any(item.get("name") not in self._handlers.tools for item in calls):
            return False
        if not all(type(item.get("call_id")) is str for item in calls) or type(self._response.get("id")) is not str:
            raise ProtocolError("a function call without a call_id, or a response without an id")
        self._check_unsubmitted([item["call_id"] for item in calls])
        outputs = [
            {"type": "function_call_output", "call_id": item["call_id"], "output": self._call_tool(item["name"], item["call_id"], item)}
            for item in calls
        ]
        # The follow-up asks as the request did, except that a tool_choice that
        # forces a call is left to the default (it would force one in every
        # round); allowed_tools keeps its list, in auto mode.  A conversation
        # carries the chain itself (the API refuses it with previous_response_id).
        request = self._request or {}
        body = {key: value for key, value in request.items() if key not in ("input", "previous_response_id", "tool_choice")}
        choice = request.get("tool_choice")
        if choice in ("auto", "none"):
            body["tool_choice"] = choice
        elif type(choice) is dict and choice.get("type") == "allowed_tools":  # keep the restriction, not the force
            body["tool_choice"] = dict(choice, mode="auto")
        if not request.get("conversation"):
            body.pop("conversation", None)
            body["previous_response_id"] = self._response["id"]
        body.update(input=outputs, stream=True)
        self._attach(self._client._open_stream("/responses", body))
        return True

    def _check_unsubmitted(self, call_ids: List[Any]) -> None:
        """Refuse to run a tool call twice: its output was sent already."""
        again = [call_id for call_id in call_ids if call_id in self._submitted]
        if again:
            raise ProtocolError("the server asks again for tool call %s, whose output was already submitted" % again[0])
        self._submitted.update(call_ids)

    def _response_path(self) -> str:
        try:
            return "/responses/%s" % _check_id((self._response or {})["id"], "response id")
        except _MALFORMED as exc:
            raise ProtocolError("the response has no valid id: %r" % (exc,)) from None

    def _run_ids(self) -> Tuple[Any, Any]:
        """The thread and run ids: as the server sent them, else as requested."""
        if self._run is None and self._resume is not None:
            return self._resume
        run = self._run or {}
        return run.get("thread_id"), run.get("id")

    def _run_path(self) -> str:
        """The API path of this stream's run, its ids checked."""
        try:
            return _run_path(*self._run_ids())
        except ValueError as exc:
            raise ProtocolError("the run has no valid thread_id and id: %r" % (exc,)) from None

    def _attach(self, response: requests.Response) -> None:
        """Go on reading from a new response (a continuation of the run)."""
        self._http = response
        self._wire = _Wire(_response_chunks(response), self._max_event_bytes, self._record)
        self._events = iter(self._wire)
        self._done = False
        self._continuing = True

    def _poll(self, path: str, cut: AssistantStreamError, stopped: Callable[[JSON], bool]) -> JSON:
        """GET ``path`` until ``stopped(answer)``, backing off."""
        assert self._client is not None
        deadline = time.monotonic() + self._recover_seconds
        delay = 0.25
        try:
            found = self._client.request("GET", path)
            while not stopped(found):
                if time.monotonic() + delay > deadline:
                    raise IncompleteStreamError(
                        "the stream was cut (%s) and it was still %r after %g s of polling"
                        % (cut, found.get("status"), self._recover_seconds)
                    )
                time.sleep(delay)
                delay = min(delay * 2, 4.0)
                found = self._client.request("GET", path)
        except AssistantStreamError as exc:
            raise exc from cut
        return found

    def _recover(self, cut: AssistantStreamError) -> None:
        """Poll the run (or response) until it stops, then dispatch what the
        lost stream would have: what it finished, and its final event."""
        assert self._client is not None
        if self._run is None and self._resume is None:
            self._recover_response(cut)
            return
        run_path = self._run_path()
        thread_id, run_id = self._run_ids()
        log.debug("recovering run %s after: %s", run_id, cut)
        run = self._poll(run_path, cut, self._run_stopped)
        try:
            steps = self._client._list(run_path + "/steps")
            messages = self._client._list(_thread_path(thread_id) + "/messages", {"run_id": run_id})
        except AssistantStreamError as exc:
            raise exc from cut
        self._recovered = True
        for step in _newly_finished(steps, self._steps, TERMINAL_STATUSES):
            self._dispatch("thread.run.step." + step["status"], step)
        for message in _newly_finished(messages, self._messages, ("completed", "incomplete")):
            self._dispatch("thread.message." + message["status"], message)
        self._dispatch("thread.run." + run["status"], run)

    def _run_stopped(self, run: JSON) -> bool:
        """Whether a polled run has stopped: a run still requiring only the
        calls just answered has not taken the outputs in yet."""
        if run.get("status") not in STOP_STATUSES:
            return False
        required = {call.get("id") for call in _required_calls(run) if type(call) is dict}
        return run.get("status") != "requires_action" or not required or not required <= self._submitted

    def _recover_response(self, cut: AssistantStreamError) -> None:
        log.debug("recovering response %s after: %s", (self._response or {}).get("id"), cut)
        response = self._poll(self._response_path(), cut, lambda found: found.get("status") in TERMINAL_STATUSES)
        self._recovered = True
        output = response.get("output")
        output = output if type(output) is list else []
        streamed = self._response_output()
        for item, place in zip(output, _match(output, streamed)):
            if type(item) is dict and (place is None or self._item_key(place) not in self._items_done):
                index = len(streamed) if place is None else place  # a new item goes after the others
                self._dispatch("response.output_item.done", {"type": "response.output_item.done", "output_index": index, "item": item})
        name = "response." + response["status"]
        if name in self._routes:  # completed, failed, incomplete
            self._dispatch(name, {"type": name, "response": response})
        else:  # cancelled: no event of its own
            self._on_response(name, {"response": response})

    def _cancel(self) -> None:
        if self._run is None and self._response is not None:
            self._cancel_response()
            return
        run = self._run
        if self._client is None or run is None or run.get("status") in TERMINAL_STATUSES | {"cancelling"}:
            return
        if run.get("status") == "requires_action" and not self._interrupted and not self._continuing:
            return  # left on purpose: the caller may submit the tool outputs
        try:
            path = self._run_path() + "/cancel"
            self._client._send("POST", path, None, None, stream=False, timeout=CANCEL_TIMEOUT, retries=0).close()
            log.debug("cancelled run %s", run["id"])
        except Exception as exc:  # never mask why the stream was left
            log.debug("cancelling run %s failed: %r", run.get("id"), exc)

    def _cancel_response(self) -> None:
        response = self._response
        if self._client is None or response is None or response.get("status") in TERMINAL_STATUSES:
            return
        try:
            self._client._send(
                "POST", self._response_path() + "/cancel", None, None, stream=False, timeout=CANCEL_TIMEOUT, retries=0
            ).close()
            log.debug("cancelled response %s", response.get("id"))
        except Exception as exc:  # never mask why the stream was left
            log.debug("cancelling response %s failed: %r", response.get("id"), exc)

    # -- accumulation: each returns the events to dispatch, API event first --

    def _on_thread(self, name: str, data: JSON) -> List[Emission]:
        return [(name, data, None, data)]

    def _on_run(self, name: str, data: JSON) -> List[Emission]:
        status = data["status"]
        self._run = data
        self._continuing = False
        emissions: List[Emission] = [(name, data, None, data)]
        if status == "requires_action":
            for call in _required_calls(data):
                entry = self._find_call(call.get("id"))
                if entry is not None and type(entry.get("function")) is dict and type(call.get("function")) is dict:
                    entry["function"].update(call["function"])  # the run's list is the final word
                emissions += self._call_events(call.get("id"), call, call if entry is None else entry, True)
        return emissions

    def _call_events(self, key: Any, item: Any, entry: Any, done: bool) -> List[Emission]:
        """``tool_call.created`` and (if ``done``) ``tool_call.done``, each
        once per call: ``key`` is the call's id (or its step and index)."""
        emissions: List[Emission] = []
        state = self._calls.get(key)
        if state is None:
            state = self._calls[key] = False
            emissions.append(("tool_call.created", item, None, entry))
        if done and not state:
            self._calls[key] = True
            emissions.append(("tool_call.done", item, None, entry))
        return emissions

    def _on_step(self, name: str, data: JSON) -> List[Emission]:
        step_id = data["id"]
        step = self._steps.get(step_id)
        final = data.get("status") in TERMINAL_STATUSES
        if step is None or final:
            step = snapshot(data)
        else:
            step.update((key, snapshot(value)) for key, value in data.items() if key != "step_details")
        self._steps[step_id] = self._step = step
        emissions: List[Emission] = [(name, data, None, step)]
        received = _tool_calls(data)
        for index, entry in enumerate(_tool_calls(step)):
            emissions += self._call_events(_call_key(step_id, index, entry), _received(received, index, entry), entry, final)
        return emissions

    def _on_step_delta(self, name: str, data: JSON) -> List[Emission]:
        step_id = data["id"]
        step = self._steps.get(step_id)
        if step is None:  # created in an earlier stream
            step = self._steps[step_id] = {"id": step_id, "object": "thread.run.step", "step_details": {}}
        self._step = step
        delta = data["delta"]
        details = delta.get("step_details")
        calls: List[Tuple[JSON, JSON]] = []
        if type(details) is dict and details.get("tool_calls"):
            acc = step.get("step_details")
            if type(acc) is not dict:
                acc = step["step_details"] = {}
            merge(acc, {key: value for key, value in details.items() if key != "tool_calls"})
            entries = acc.get("tool_calls")
            if type(entries) is not list:
                entries = acc["tool_calls"] = []
            calls = [(item, merge_entry(entries, item)) for item in details["tool_calls"]]
            delta = {key: value for key, value in delta.items() if key != "step_details"}
        merge(step, delta)
        emissions: List[Emission] = [(name, data, None, step)]
        for item, entry in calls:
            emissions += self._call_events(_call_key(step_id, item["index"], entry), item, entry, False)
            emissions.append(("tool_call.delta", item, None, entry))
        return emissions

    def _on_message(self, name: str, data: JSON) -> List[Emission]:
        message_id = data["id"]
        message = self._messages.get(message_id)
        final = data.get("status") in ("completed", "incomplete")
        old_parts = message.get("content") if message is not None else None
        if message is None or final:
            message = snapshot(data)
        else:
            message.update((key, snapshot(value)) for key, value in data.items() if key != "content")
        self._messages[message_id] = self._message = message
        emissions: List[Emission] = [(name, data, None, message)]
        parts = message.get("content")
        if type(parts) is not list:
            parts = message["content"] = []
        received = data.get("content")
        received = received if type(received) is list else []
        for index, part in enumerate(parts):
            key = (message_id, index)
            old = old_parts[index] if type(old_parts) is list and index < len(old_parts) else None
            emissions += self._part_events(key, _received(received, index, part), part, old, final)
        if final and type(old_parts) is list:
            for index in range(len(parts), len(old_parts)):  # streamed, then dropped
                key = (message_id, index)
                if self._parts.get(key) is False:
                    self._parts[key] = True
                    part = old_parts[index]
                    emissions.append(("text.done", snapshot(part), _text_of(part), part.get("text")))
        return emissions

    def _part_events(self, key: Tuple[Any, int], item: JSON, part: JSON, old: Optional[JSON], final: bool) -> List[Emission]:
        """Derived events for a content part that arrived whole: ``item`` as
        received, ``part`` as accumulated, ``old`` as it was before."""
        kind = part.get("type")
        emissions: List[Emission] = []
        if kind in ("text", "output_text"):
            text, source = _text_of(part), _text_source(part)
            if key not in self._parts:
                self._parts[key] = False
                emissions.append(("text.created", item, text, source))
                if text:
                    emissions.append(("text.delta", item, text, source))
            elif old is not None:
                streamed = _text_of(old)
                if len(text) > len(streamed) and text.startswith(streamed):
                    emissions.append(("text.delta", item, text[len(streamed) :], source))
            if final and not self._parts[key]:
                self._parts[key] = True
                emissions.append(("text.done", item, text, source))
        elif kind == "image_file" and key not in self._parts:
            self._parts[key] = True
            emissions.append(("image_file.done", item, None, part))
        return emissions

    def _on_message_delta(self, name: str, data: JSON) -> List[Emission]:
        message_id = data["id"]
        message = self._messages.get(message_id)
        if message is None:  # created in an earlier stream
            message = self._messages[message_id] = {"id": message_id, "object": "thread.message", "content": []}
        self._message = message
        delta = data["delta"]
        items = delta.get("content")
        emissions: List[Emission] = [(name, data, None, message)]
        if not items:
            merge(message, delta)
            return emissions
        if len(delta) > 1:
            merge(message, {key: value for key, value in delta.items() if key != "content"})
        entries = message.get("content")
        if type(entries) is not list:
            entries = message["content"] = []
        for item in items:
            known = len(entries)
            entry = merge_entry(entries, item)
            kind = entry.get("type")
            if len(entries) > known:  # a new part
                key = (message_id, item["index"])
                if key not in self._parts:
                    self._parts[key] = kind == "image_file"
                    if kind == "text":
                        emissions.append(("text.created", item, _text_of(entry), entry["text"]))
                    elif kind == "image_file":
                        emissions.append(("image_file.done", item, None, entry))
            if kind == "text":
                text = item.get("text")
                fragment = text.get("value") if type(text) is dict else None
                emissions.append(("text.delta", item, fragment if type(fragment) is str else "", entry["text"]))
        return emissions

    def _find_call(self, call_id: Any) -> Optional[JSON]:
        """The accumulated tool call with this id, from any step."""
        for step in self._steps.values():
            for entry in _tool_calls(step):
                if type(entry) is dict and entry.get("id") == call_id:
                    return entry
        return None

    # -- the Responses API: output items, their parts, their calls ------------

    def _on_response(self, name: str, data: JSON) -> List[Emission]:
        received = data["response"]
        final = received["status"] in TERMINAL_STATUSES
        current = self._response
        if current is None or current.get("id") not in (None, received.get("id")):  # a new one: the first, or after tools
            current = self._response = {"output": []}
            self._responses.append(current)
            self._continuing = False
        old_output = current["output"]
        if final:
            current.clear()
            current.update(snapshot(received))
        else:
            current.update((key, snapshot(value)) for key, value in received.items() if key != "output")
        output = current.get("output")
        if type(output) is not list:
            output = current["output"] = old_output
        emissions: List[Emission] = [(name, data, None, current)]
        if final:  # whatever the body did not finish, the final response does
            emissions += self._close_output(output, old_output)
            self._done = True  # the Responses API's 'done': nothing follows on this body
            self._body_over = self._http is not None
        return emissions

    def _item_key(self, index: int) -> Tuple[int, int]:
        """An output item's key in ``_parts``, ``_calls`` and ``_items_done``:
        its place, which every event about it names (its id may be missing
        from the item or from the events)."""
        return (len(self._responses), index)

    def _close_output(self, output: List[Any], old_output: List[Any]) -> List[Emission]:
        """The derived events a final response completes.  Its items are
        matched to the streamed ones (by id, else by place); streamed items it
        leaves out are kept, after its own, and closed too."""
        emissions: List[Emission] = []
        places = _match(output, old_output)
        fresh = len(old_output)  # keys for items never streamed
        for item, place in zip(output, places):
            if place is None:
                place, fresh = fresh, fresh + 1
            old = old_output[place] if place < len(old_output) else None
            emissions += self._item_events(place, item, item, old, True)
        for place, item in enumerate(old_output):
            if place not in places and type(item) is dict:
                kept = snapshot(item)
                output.append(kept)
                emissions += self._item_events(place, kept, kept, item, True)
        return emissions

    def _response_output(self) -> List[JSON]:
        if self._response is None or self._continuing:  # events of a response this stream never saw created
            self._response = {"output": []}
            self._responses.append(self._response)
            self._continuing = False
        output = self._response.setdefault("output", [])
        if type(output) is not list:
            raise TypeError("output is not a list")
        return output

    def _item_events(self, index: int, received: Any, item: JSON, old: Optional[JSON], done: bool) -> List[Emission]:
        """Derived events for an output item that arrived (or finished) whole."""
        key = self._item_key(index)
        if _is_tool_call(item):
            return self._call_events(key, received, item, done)
        emissions: List[Emission] = []
        if item.get("type") == "message" and type(item.get("content")) is list:
            old_parts = old.get("content") if old is not None else None
            for position, part in enumerate(item["content"]):
                if type(part) is dict:
                    before = old_parts[position] if type(old_parts) is list and position < len(old_parts) else None
                    emissions += self._part_events((key, position), part, part, before, done)
        return emissions

    def _on_output_item(self, name: str, data: JSON) -> List[Emission]:
        index, received = data["output_index"], data["item"]
        output = self._response_output()
        item = _slot(output, index)
        old = snapshot(item) or None
        done = name.endswith(".done")
        if done or old is None:
            item = output[index] = snapshot(received)
        else:  # its events came first: keep what they built
            item.update((key, snapshot(value)) for key, value in received.items() if key not in item)
        if done:
            self._items_done.add(self._item_key(index))
        return [(name, data, None, item)] + self._item_events(index, received, item, old, done)

    def _on_content_part(self, name: str, data: JSON) -> List[Emission]:
        item = _slot(self._response_output(), data["output_index"])
        parts = item.setdefault("content", [])
        position, done = data["content_index"], name.endswith(".done")
        old = snapshot(_slot(parts, position)) or None
        if done or not old:
            parts[position] = snapshot(data["part"])
        key = (self._item_key(data["output_index"]), position)
        return [(name, data, None, item)] + self._part_events(key, data, parts[position], old, done)

    def _on_part_text(self, name: str, data: JSON) -> List[Emission]:
        """response.output_text / refusal / reasoning_text: .delta and .done"""
        item = _slot(self._response_output(), data["output_index"])
        position = data["content_index"]
        part = _slot(item.setdefault("content", []), position)
        field = "refusal" if ".refusal." in name else "text"
        part.setdefault("type", name.split(".")[1])
        key = (self._item_key(data["output_index"]), position)
        emissions: List[Emission] = [(name, data, None, item)]
        if name.endswith(".done"):
            old = snapshot(part)
            part[field] = _text_field(data, field)
            return emissions + self._part_events(key, data, part, old, True)
        fragment = data["delta"]
        if type(fragment) is not str:
            raise TypeError("delta is not text")
        _append(part, field, fragment)
        if _is_text(part):
            if key not in self._parts:
                self._parts[key] = False
                emissions.append(("text.created", data, _text_of(part), part))
            emissions.append(("text.delta", data, fragment, part))
        return emissions

    def _on_annotation(self, name: str, data: JSON) -> List[Emission]:
        item = _slot(self._response_output(), data["output_index"])
        part = _slot(item.setdefault("content", []), data["content_index"])
        annotations = part.setdefault("annotations", [])
        _slot(annotations, data["annotation_index"])
        annotations[data["annotation_index"]] = snapshot(data["annotation"])
        return [(name, data, None, item)]

    def _on_call_text(self, name: str, data: JSON) -> List[Emission]:
        """A tool call's streamed text: function arguments, custom input, code."""
        index = data["output_index"]
        item = _slot(self._response_output(), index)
        field = _CALL_TEXT[name.split(".")[1]]
        emissions: List[Emission] = [(name, data, None, item)]
        if name.endswith(".done"):
            value = data[field]
            item[field] = value if type(value) is dict else _text_field(data, field)  # some servers send the object
            return emissions
        fragment = data["delta"]
        if type(fragment) is not str:
            raise TypeError("delta is not text")
        _append(item, field, fragment)
        emissions += self._call_events(self._item_key(index), data, item, False)
        emissions.append(("tool_call.delta", data, None, item))
        return emissions

    def _on_summary_part(self, name: str, data: JSON) -> List[Emission]:
        item = _slot(self._response_output(), data["output_index"])
        summary = item.setdefault("summary", [])
        old = _slot(summary, data["summary_index"])
        if name.endswith(".done") or not old:
            summary[data["summary_index"]] = snapshot(data["part"])
        return [(name, data, None, item)]

    def _on_summary_text(self, name: str, data: JSON) -> List[Emission]:
        item = _slot(self._response_output(), data["output_index"])
        part = _slot(item.setdefault("summary", []), data["summary_index"])
        if name.endswith(".done"):
            part["text"] = _text_field(data, "text")
        else:
            fragment = data["delta"]
            if type(fragment) is not str:
                raise TypeError("delta is not text")
            _append(part, "text", fragment)
        return [(name, data, None, item)]

    # -- reading the state ---------------------------------------------------

    @property
    def status(self) -> Optional[str]:
        """The run's (or the response's) status as last received; None
        before it appears."""
        latest = self._run if self._run is not None else self._response
        return latest.get("status") if latest is not None else None

    @property
    def current_response(self) -> Optional[JSON]:
        """A snapshot of the response (Responses API) with its output so far."""
        return snapshot(self._response)  # type: ignore[no-any-return]

    @property
    def current_run(self) -> Optional[JSON]:
        """The run as last received."""
        return self._run

    @property
    def current_message(self) -> Optional[JSON]:
        """A snapshot of the message that last changed."""
        return snapshot(self._message)  # type: ignore[no-any-return]

    @property
    def current_run_step(self) -> Optional[JSON]:
        """A snapshot of the run step that last changed."""
        return snapshot(self._step)  # type: ignore[no-any-return]

    @property
    def text(self) -> str:
        """All the text of the run's (or the responses') messages so far,
        joined: what every ``text.delta`` fragment adds up to."""
        messages = list(self._messages.values())
        messages += [
            item
            for response in self._responses
            for item in response.get("output") or ()
            if type(item) is dict and item.get("type") == "message"
        ]
        return "".join(
            _text_of(part)
            for message in messages
            if message.get("role") != "user" and type(message.get("content")) is list
            for part in message["content"]
            if _is_text(part)
        )

    @property
    def finished(self) -> bool:
        """True once the stream ended normally."""
        return self._finished

    @property
    def closed(self) -> bool:
        """True once the connection is closed (finished, failed or closed early)."""
        return self._closed

    @property
    def recovered(self) -> bool:
        """True if the stream was cut and its end was fetched by polling."""
        return self._recovered

    def final_run(self) -> Optional[JSON]:
        """Dispatch the rest of the stream, then return the run.

        On a stream already closed or failed, return the run as received.
        """
        self.until_done()
        return self._run

    def final_messages(self) -> List[JSON]:
        """Dispatch the rest of the stream, then return every message seen."""
        self.until_done()
        return [snapshot(message) for message in self._messages.values()]

    def final_run_steps(self) -> List[JSON]:
        """Dispatch the rest of the stream, then return every run step seen."""
        self.until_done()
        return [snapshot(step) for step in self._steps.values()]

    def final_response(self) -> Optional[JSON]:
        """Dispatch the rest of the stream, then return the response
        (Responses API; after tool calls, the last one), API-shaped."""
        self.until_done()
        return snapshot(self._response)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        latest = self._run if self._run is not None else self._response
        return "<Stream %s=%s status=%s events=%d%s>" % (
            "response" if self._run is None and self._response is not None else "run",
            latest.get("id") if latest is not None else None,
            self.status,
            self._received,
            " closed" if self._closed else "",
        )


def _call_key(step_id: str, index: int, entry: JSON) -> Any:
    call_id = entry.get("id")
    return call_id if type(call_id) is str else (step_id, index)


def _tool_calls(step: JSON) -> List[JSON]:
    details = step.get("step_details")
    calls = details.get("tool_calls") if type(details) is dict else None
    return calls if type(calls) is list else []


def _match(output: List[Any], streamed: List[Any]) -> List[Optional[int]]:
    """For each item of a final (or polled) output, the place of the same
    item in the streamed output: the one with its id, else the one at its
    place unless that one's id says otherwise; None for an item never seen."""
    places = {item["id"]: place for place, item in enumerate(streamed) if type(item) is dict and type(item.get("id")) is str}
    found: List[Optional[int]] = []
    for item in output:
        ident = item.get("id") if type(item) is dict else None
        found.append(places.get(ident) if type(ident) is str else None)
    claimed = set(found)
    for index, item in enumerate(output):
        if found[index] is None and index < len(streamed) and index not in claimed:
            ident = item.get("id") if type(item) is dict else None
            there = streamed[index].get("id") if type(streamed[index]) is dict else None
            if not (type(ident) is str and type(there) is str):  # two ids, different: not the same item
                found[index] = index
                claimed.add(index)
    return found


def _received(items: List[Any], index: int, accumulated: JSON) -> Any:
    """The received form of a list entry: from the payload when it has it."""
    return items[index] if index < len(items) else snapshot(accumulated)


def _newly_finished(items: List[Any], known: Dict[str, JSON], finished: Collection[str]) -> List[JSON]:
    """The objects of a list that are finished but were not seen finished."""
    found = []
    for item in items:
        if type(item) is dict and item.get("status") in finished:
            seen = known.get(str(item.get("id")))
            if seen is None or seen.get("status") not in finished:
                found.append(item)
    return found


def _required_calls(run: JSON) -> List[JSON]:
    action = run.get("required_action") or {}
    calls = (action.get("submit_tool_outputs") or {}).get("tool_calls")
    return calls if type(calls) is list else []


def _stream_error(data: Any) -> StreamError:
    error = data.get("error", data) if type(data) is dict else data
    message = error.get("message") if type(error) is dict else None
    code = error.get("code") if type(error) is dict else None
    text = "the server sent an error event"
    if code:
        text += " (%s)" % code
    if message:
        text += ": %s" % message
    return StreamError(text, error=data)


# ---------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------


def _check_id(value: str, what: str) -> str:
    """Validate an id for a URL path and return it quoted."""
    if not isinstance(value, str) or not _ID.match(value) or value.strip(".") == "":
        raise ValueError("invalid %s: %r" % (what, value))
    return quote(value, safe="")


def _thread_path(thread_id: str) -> str:
    return "/threads/%s" % _check_id(thread_id, "thread id")


def _run_path(thread_id: str, run_id: str) -> str:
    return "%s/runs/%s" % (_thread_path(thread_id), _check_id(run_id, "run id"))


class Client:
    """An Assistants API client whose runs stream.

    ``api_key`` falls back to $OPENAI_API_KEY; it may be a callable that
    returns a fresh bearer token for each request (Entra ID tokens expire).
    ``base_url`` falls back to $OPENAI_BASE_URL, then the OpenAI API;
    ``organization`` and ``project`` to $OPENAI_ORG_ID and $OPENAI_PROJECT_ID.
    ``timeout`` is seconds, or a (connect, read) tuple where read is the
    longest silence allowed.  ``max_retries``: connect errors, 408, 409, 429
    and 5xx are retried that many times, before the first event only, with
    exponential backoff and jitter, honouring Retry-After.  ``session`` is a
    requests.Session to reuse; ``default_headers`` and ``default_query`` go
    with every request (Azure: ``{"api-key": ...}``, ``{"api-version": ...}``).
    """

    def __init__(
        self,
        api_key: Union[None, str, Callable[[], str]] = None,
        base_url: Optional[str] = None,
        organization: Optional[str] = None,
        project: Optional[str] = None,
        timeout: Union[float, Tuple[float, float]] = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        session: Optional[requests.Session] = None,
        default_headers: Optional[Dict[str, str]] = None,
        default_query: Optional[Dict[str, str]] = None,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ):
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if isinstance(self._api_key, str):
            self._api_key = self._api_key.strip()  # as read from a file, with its newline
        self._last_key: Optional[str] = None  # the token last sent, to keep it out of messages
        self.default_headers = dict(default_headers or {})
        if not self._api_key and not any(key.lower() in ("authorization", "api-key") for key in self.default_headers):
            raise ValueError("no API key: pass api_key= or set OPENAI_API_KEY")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError("max_retries must be a whole number >= 0, not %r" % (max_retries,))
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.organization = organization if organization is not None else os.environ.get("OPENAI_ORG_ID")
        self.project = project if project is not None else os.environ.get("OPENAI_PROJECT_ID")
        self.timeout = timeout
        self.max_retries = max_retries
        self.default_query = dict(default_query or {})
        self.max_event_bytes = max_event_bytes
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()

    def __repr__(self) -> str:
        return "<Client %s>" % self.base_url

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the session if this client created it."""
        if self._owns_session:
            self.session.close()

    # -- the API -----------------------------------------------------------

    def stream_run(
        self,
        thread_id: str,
        *,
        assistant_id: str,
        handlers: Optional[Handlers] = None,
        record: Union[None, str, os.PathLike[str], IO[bytes]] = None,
        cancel_on_interrupt: bool = False,
        recover: Union[bool, float] = False,
        **body: Any,
    ) -> Stream:
        """Create a run on a thread and stream it (POST /threads/{id}/runs).

        ``body`` is the request body (``instructions``, ``tools``, ...).
        ``record``: a path or binary file that gets the body's bytes.
        ``cancel_on_interrupt``: cancel the run if the stream is left early.
        ``recover``: if the connection drops or stalls, poll the run (for up
        to 300 s, or this many seconds) and complete the stream from it.
        """
        path = _thread_path(thread_id) + "/runs"
        body = dict(body, assistant_id=assistant_id)
        return self._stream(path, body, handlers, record=record, cancel_on_interrupt=cancel_on_interrupt, recover=recover)

    def stream_thread_and_run(
        self,
        *,
        assistant_id: str,
        thread: Optional[JSON] = None,
        handlers: Optional[Handlers] = None,
        record: Union[None, str, os.PathLike[str], IO[bytes]] = None,
        cancel_on_interrupt: bool = False,
        recover: Union[bool, float] = False,
        **body: Any,
    ) -> Stream:
        """Create a thread and a run on it, and stream the run (POST /threads/runs).

        The options are those of ``stream_run``.
        """
        body = dict(body, assistant_id=assistant_id)
        if thread is not None:
            body["thread"] = thread
        return self._stream("/threads/runs", body, handlers, record=record, cancel_on_interrupt=cancel_on_interrupt, recover=recover)

    def submit_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        tool_outputs: List[JSON],
        *,
        handlers: Optional[Handlers] = None,
        record: Union[None, str, os.PathLike[str], IO[bytes]] = None,
        cancel_on_interrupt: bool = False,
        recover: Union[bool, float] = False,
    ) -> Stream:
        """Submit tool outputs for a run in ``requires_action``; stream the rest.

        The options are those of ``stream_run``.
        """
        path = _run_path(thread_id, run_id) + "/submit_tool_outputs"
        body = {"tool_outputs": tool_outputs}
        return self._stream(
            path, body, handlers, record=record, cancel_on_interrupt=cancel_on_interrupt, recover=recover, resume=(thread_id, run_id)
        )

    def stream_response(
        self,
        *,
        model: str,
        input: Any,
        handlers: Optional[Handlers] = None,
        record: Union[None, str, os.PathLike[str], IO[bytes]] = None,
        cancel_on_interrupt: bool = False,
        recover: Union[bool, float] = False,
        **body: Any,
    ) -> Stream:
        """Create a model response and stream it (POST /responses): the
        Responses API, through the same callbacks as a run.

        ``body`` is the rest of the request (``instructions``, ``tools``,
        ``previous_response_id``, ...); the options are those of
        ``stream_run``.  Function calls with registered tools run themselves:
        their outputs go back with ``previous_response_id`` (or in the
        ``conversation``), in a request like this one without ``tool_choice``.
        """
        body = dict(body, model=model, input=input)
        return self._stream(
            "/responses", body, handlers, record=record, cancel_on_interrupt=cancel_on_interrupt, recover=recover, request=body
        )

    def cancel_run(self, thread_id: str, run_id: str) -> JSON:
        """Cancel a run; return the run object the server answers with."""
        return self.request("POST", _run_path(thread_id, run_id) + "/cancel")

    def request(self, method: str, path: str, json: Optional[JSON] = None, params: Optional[Dict[str, Any]] = None) -> JSON:
        """Call any non-streaming JSON endpoint; return the parsed answer.

        ``path`` is relative to ``base_url`` and starts with "/".
        """
        response = self._send(method, path, json, params, stream=False)
        try:
            body = b"".join(_response_chunks(response))  # read errors become ours
        except AssistantStreamError as exc:
            error = APITimeoutError if isinstance(exc, APITimeoutError) else APIConnectionError
            raise self._redacted(error("%s %s: reading the answer failed: %s" % (method, path, exc))) from None
        finally:
            response.close()
        if not body:
            return {}
        try:
            answer = _loads(body)  # the module: ``json`` is the argument here
        except (ValueError, RecursionError):
            kind = response.headers.get("Content-Type", "no content type")
            raise self._redacted(ProtocolError("expected JSON from %s %s, got %s: %s" % (method, path, kind, _preview(body)))) from None
        if type(answer) is not dict:
            raise ProtocolError("expected a JSON object from %s %s, got %s" % (method, path, type(answer).__name__))
        return answer

    # -- HTTP --------------------------------------------------------------

    def _list(self, path: str, params: Optional[Dict[str, Any]] = None) -> List[JSON]:
        """Every object of a list endpoint, oldest first, across pages."""
        query = dict(params or {}, order="asc", limit=100)
        found: List[JSON] = []
        while True:
            page = self.request("GET", path, params=query)
            data = page.get("data")
            if type(data) is not list or (data and (type(data[-1]) is not dict or type(data[-1].get("id")) is not str)):
                raise self._redacted(ProtocolError("expected a list of objects from GET %s, got %s" % (path, _preview(json.dumps(page)))))
            found += data
            if not page.get("has_more") or not data:
                return found
            query["after"] = data[-1]["id"]

    def _stream(self, path: str, body: JSON, handlers: Optional[Handlers], **options: Any) -> Stream:
        body["stream"] = True
        response = self._open_stream(path, body)
        return Stream(_response_chunks(response), handlers, response=response, client=self, max_event_bytes=self.max_event_bytes, **options)

    def _open_stream(self, path: str, body: JSON) -> requests.Response:
        """POST a streaming request; the response, once it is an event stream."""
        response = self._send("POST", path, body, None, stream=True)
        content_type = response.headers.get("Content-Type", "")
        if not content_type.startswith("text/event-stream"):
            head = _read_and_discard(response)
            raise self._redacted(
                ProtocolError(
                    "expected an event stream from POST %s, got HTTP %d %s: %s"
                    % (path, response.status_code, content_type or "with no content type", _preview(head))
                )
            )
        return response

    def _headers(self, stream: bool) -> Dict[str, str]:
        headers = {
            "OpenAI-Beta": "assistants=v2",
            "User-Agent": "assistant-stream/%s python-requests/%s" % (__version__, requests.__version__),
            "Accept": "text/event-stream" if stream else "application/json",
        }
        key = self._api_key() if callable(self._api_key) else self._api_key
        if key:
            key = self._last_key = key.strip()
            headers["Authorization"] = "Bearer %s" % key
        if self.organization:
            headers["OpenAI-Organization"] = self.organization
        if self.project:
            headers["OpenAI-Project"] = self.project
        headers.update(self.default_headers)
        return headers

    def _send(
        self,
        method: str,
        path: str,
        body: Optional[JSON],
        params: Optional[Dict[str, Any]],
        stream: bool,
        timeout: Union[None, float, Tuple[float, float]] = None,
        retries: Optional[int] = None,
    ) -> requests.Response:
        """Send a request; its response, once the status is a success.

        Connect errors, 408, 409, 429 and 5xx are retried; nothing is ever
        retried once a response has been handed on (its events may be read).
        """
        if not isinstance(path, str) or not path.startswith("/") or any(char.isspace() or ord(char) < 32 for char in path):
            raise ValueError("invalid path: %r" % (path,))
        url = self.base_url + path
        query = dict(self.default_query, **(params or {}))
        retries = self.max_retries if retries is None else retries
        for attempt in range(retries + 1):
            log.debug("%s %s", method, url)
            error: AssistantStreamError
            wait = None
            try:
                response = self.session.request(
                    method,
                    url,
                    json=body,
                    params=query or None,
                    headers=self._headers(stream),
                    timeout=self.timeout if timeout is None else timeout,
                    stream=True,
                    allow_redirects=False,
                )
            except requests.exceptions.ConnectTimeout as exc:
                error = APITimeoutError("%s %s timed out connecting: %s" % (method, url, exc))
            except requests.exceptions.Timeout as exc:  # the request went out: not retried
                raise self._redacted(APITimeoutError("%s %s timed out: %s" % (method, url, exc))) from None
            except requests.exceptions.ConnectionError as exc:
                error = APIConnectionError("%s %s failed: %s" % (method, url, exc))
            except (requests.exceptions.RequestException, ValueError) as exc:  # a header requests refuses, say
                raise self._redacted(APIConnectionError("%s %s failed: %s" % (method, url, exc))) from None
            else:
                log.debug("HTTP %d from %s %s", response.status_code, method, url)
                if response.status_code < 300:
                    return response
                wait = _retry_after(response.headers)
                error = self._status_error(response, method, url)
                if response.status_code not in RETRY_STATUSES and response.status_code < 500:
                    raise self._redacted(error)
            if attempt == retries:
                raise self._redacted(error)
            if wait is None:
                wait = min(8.0, 0.5 * 2**attempt) * (1 - 0.25 * random.random())
            log.debug("retrying %s %s in %.2f s (%s)", method, url, wait, error)
            time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _status_error(self, response: requests.Response, method: str, url: str) -> APIStatusError:
        text = self._redact(_read_and_discard(response).decode("utf-8", "replace"))
        body: Any = text
        message = text.strip()[:500]
        try:
            body = json.loads(text)
        except ValueError:
            pass
        else:
            error = body.get("error") if type(body) is dict else None
            if type(error) is dict and error.get("message"):
                message = str(error["message"])
            elif type(body) is dict and body.get("message"):
                message = str(body["message"])
        status = response.status_code
        request_id = response.headers.get("x-request-id") or response.headers.get("apim-request-id")
        if 300 <= status < 400:
            message = "unexpected redirect to %s" % response.headers.get("Location", "nowhere")
        cls = _STATUS_ERRORS.get(status, InternalServerError if status >= 500 else APIStatusError)
        reason = response.reason or ""
        text = "%d %s from %s %s: %s" % (status, reason, method, url, message or "(no body)")
        if request_id:
            text += " (request id %s)" % request_id
        return cls(text, status_code=status, body=body, request_id=request_id)

    def _secrets(self) -> List[str]:
        """Every credential this client sends, in the forms it may show up in:
        as is, without "Bearer ", and as quoted in messages."""
        secrets = [self._api_key, self._last_key]
        secrets += [value for name, value in self.default_headers.items() if _SECRET_HEADER.search(name)]
        forms = []
        for secret in secrets:
            if isinstance(secret, str):
                for value in (secret, secret.split(" ", 1)[-1]):
                    # 16 characters or more, as real keys and tokens are: a short test
                    # key like "emulator" is also a word, and redacting it would mangle text
                    forms += [form for form in (value, repr(value)[1:-1]) if len(form) >= 16]
        return forms

    def _redact(self, text: str) -> str:
        """The text with every credential this client sends replaced."""
        for secret in self._secrets():
            text = text.replace(secret, "<api key>")
        return text

    def _redacted(self, error: AssistantStreamError) -> AssistantStreamError:
        """The error, with no credential left in its message."""
        error.args = tuple(self._redact(arg) if isinstance(arg, str) else arg for arg in error.args)
        return error


def _loads(text: bytes) -> Any:
    return json.loads(text)


def _retry_after(headers: Any) -> Optional[float]:
    """Seconds to wait from retry-after-ms or Retry-After, if sane."""
    try:
        if headers.get("retry-after-ms"):
            seconds = float(headers["retry-after-ms"]) / 1000
        elif headers.get("Retry-After"):
            value = headers["Retry-After"]
            try:
                seconds = float(value)
            except ValueError:
                import email.utils  # only for the rare HTTP-date form

                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        else:
            return None
    except (TypeError, ValueError, OverflowError):
        return None
    return seconds if 0 <= seconds <= RETRY_AFTER_LIMIT else None


# ---------------------------------------------------------------------------
# Convenience functions
# ---------------------------------------------------------------------------


def replay(
    source: Union[str, os.PathLike[str], bytes, Iterable[bytes]],
    handlers: Optional[Handlers] = None,
    *,
    max_event_bytes: int = MAX_EVENT_BYTES,
) -> Stream:
    """A Stream over recorded SSE bytes: a file path, bytes, or byte chunks.

    It dispatches as a live stream would, through every ``done`` to the end
    of the source (a recording of a run with tool calls holds each
    continuation); a run that stops at ``requires_action`` stays there.
    """
    chunks: Iterable[bytes]
    if isinstance(source, (bytes, bytearray)):
        chunks = [bytes(source)]
    elif isinstance(source, (str, os.PathLike)):
        chunks = _file_chunks(os.fspath(source))
    else:
        chunks = source
    return Stream(chunks, handlers, max_event_bytes=max_event_bytes)


def _file_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as file:
        while True:
            chunk = file.read(_READ_SIZE)
            if not chunk:
                return
            yield chunk


# ---------------------------------------------------------------------------
# Command line: python -m assistant_stream, or assistant-stream
# ---------------------------------------------------------------------------

# Exit codes, most specific first (subclasses before their bases).
EXIT_CODES: List[Tuple[type, int]] = [
    (APITimeoutError, 4),
    (APIConnectionError, 3),
    (APIStatusError, 5),
    (StreamError, 6),
    (IncompleteStreamError, 7),
    (ProtocolError, 8),
]


def main(argv: Optional[List[str]] = None) -> int:
    """``assistant-stream run`` streams a run's text to the terminal;
    ``assistant-stream replay FILE`` plays a recording (of a run or a
    response) back.  Returns the exit code: 0 the run (response) completed,
    1 it ended otherwise, 2 misuse, 3-8 an error (see ``EXIT_CODES``), 130
    interrupted (Ctrl-C), 141 the output was closed (``| head``)."""
    import argparse  # only when run as a command

    parser = argparse.ArgumentParser(prog="assistant-stream", description="Stream Assistants API runs; the key comes from $OPENAI_API_KEY.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="stream a run's text as it arrives")
    run.add_argument("--assistant", required=True, metavar="ID")
    run.add_argument("--thread", metavar="ID", help="a thread to run on (default: a new one)")
    run.add_argument("--message", metavar="TEXT", help="a user message to add first")
    run.add_argument("--record", metavar="FILE", help="write the event stream's bytes to FILE")
    run.add_argument("--base-url", metavar="URL", help="default: $OPENAI_BASE_URL, or the OpenAI API")
    run.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS", help="the longest silence allowed (default: 600)")
    run.add_argument("--cancel-on-interrupt", action="store_true", help="cancel the run on Ctrl-C")
    run.add_argument("--recover", action="store_true", help="poll the run if the connection drops")
    play = commands.add_parser("replay", help="play a recorded event stream back")
    play.add_argument("file")
    play.add_argument("--speed", type=_positive, metavar="EVENTS_PER_SECOND", help="pace the events (default: at once)")
    for command in (run, play):
        command.add_argument("--events", action="store_true", help="one line per event (name, id, size) instead of the text")
    args = parser.parse_args(argv)
    try:
        return _command(args)
    except BrokenPipeError:  # the reader is gone (| head): nothing to say, and nowhere to say it
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that exiting flushes nothing
        except (OSError, ValueError) as exc:  # stdout is not a file
            log.debug("could not silence stdout: %r", exc)
        return 141


def _command(args: Any) -> int:
    """Run a parsed command line; return its exit code."""
    pace = 1 / args.speed if args.command == "replay" and args.speed else 0
    midline = False  # text printed without its newline yet
    try:
        stream = _command_stream(args)
        for event in stream:
            if args.events:
                print(_event_line(event), flush=True)
            elif event.name == "text.delta" and event.text:
                print(event.text, end="", flush=True)
                midline = True
            if pace:
                time.sleep(pace)
    except KeyboardInterrupt:
        print("\nassistant-stream: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # not misuse: main() ends quietly
    except (ValueError, OSError) as error:
        print("assistant-stream: %s" % error, file=sys.stderr)
        return 2
    except AssistantStreamError as error:
        if midline:
            print(flush=True)
        print("assistant-stream: %s: %s" % (type(error).__name__, error), file=sys.stderr)
        return next(code for cls, code in EXIT_CODES if isinstance(error, cls))
    if midline:
        print(flush=True)
    run_, response = stream.current_run, stream.current_response
    kind, latest = ("response", response) if run_ is None and response is not None else ("run", run_)
    print("%s %s: %s" % (kind, (latest or {}).get("id", "-"), stream.status), file=sys.stderr)
    return 0 if stream.status == "completed" else 1


def _positive(text: str) -> float:
    """An argparse type: a number above zero."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:  # NaN too
        raise argparse.ArgumentTypeError("%r is not a number above zero" % text)
    return value


def _command_stream(args: Any) -> Stream:
    if args.command == "replay":
        return replay(args.file)
    client = Client(base_url=args.base_url, timeout=(min(10.0, args.timeout), args.timeout))
    options: Dict[str, Any] = {"record": args.record, "cancel_on_interrupt": args.cancel_on_interrupt, "recover": args.recover}
    message = [{"role": "user", "content": args.message}] if args.message else []
    if args.thread:
        return client.stream_run(args.thread, assistant_id=args.assistant, additional_messages=message or None, **options)
    return client.stream_thread_and_run(assistant_id=args.assistant, thread={"messages": message}, **options)


def _event_line(event: Event) -> str:
    """name, the object's id, the payload's size: for debugging a stream."""
    data, source = event.data, event._source
    ident = data.get("id") or data.get("item_id") if type(data) is dict else None
    if ident is None and type(source) is dict:  # a derived event: the object it is about (never copied)
        ident = source.get("id")
    size = len(json.dumps(data)) if not isinstance(data, str) else len(data)
    line = "%-28s %-30s %6d B" % (event.name, ident or "-", size)
    return line + (" %r" % event.text if event.text is not None else "")


if __name__ == "__main__":
    sys.exit(main())
