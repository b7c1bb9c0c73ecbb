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
(the Responses API) and ``client.stream_chat`` (Chat Completions) stream through
the same handlers.  To vendor it, copy this file next to your code; it carries
its version and licence with it.  To install it: ``pip install
assistant-stream-sync`` (the PyPI project "assistant-stream" is another one).
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
import contextlib
import contextvars
import fnmatch
import http.client
import io
import itertools
import json
import logging
import os
import random
import re
import socket
import sys
import time
import zlib
from typing import (
    IO,
    Any,
    Callable,
    Collection,
    Container,
    Deque,
    Dict,
    FrozenSet,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Pattern,
    Protocol,
    Set,
    Tuple,
    Type,
    TypeVar,
    Union,
    overload,
)
from urllib.parse import quote, quote_plus, urlsplit

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
# Event names and statuses
# ---------------------------------------------------------------------------

# The Assistants API v2 stream.
_THREAD_EVENTS = ("thread.created",)
_RUN_EVENTS = (
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
_STEP_EVENTS = (
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.run.step.delta",
    "thread.run.step.completed",
    "thread.run.step.failed",
    "thread.run.step.cancelled",
    "thread.run.step.expired",
)
_MESSAGE_EVENTS = (
    "thread.message.created",
    "thread.message.in_progress",
    "thread.message.delta",
    "thread.message.completed",
    "thread.message.incomplete",
)
# The short names the API reference uses in prose: "run.created", "step.delta", ...
_SHORT_PREFIXES = (("run.", "thread.run."), ("step.", "thread.run.step."), ("message.", "thread.message."))

# The Responses API's stream, as of its reference (2026-11): named SSE events, no "done".
_RESPONSE_FINAL_EVENTS = (
    "response.completed",
    "response.failed",
    "response.incomplete",
    "response.cancelled",  # never streamed (the API's webhook name): what recovery dispatches for a cancelled response
)
_RESPONSE_EVENTS = _RESPONSE_FINAL_EVENTS + (
    "response.created",
    "response.in_progress",
    "response.queued",
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.output_text.delta",
    "response.output_text.done",
    "response.output_text.annotation.added",
    "response.refusal.delta",
    "response.refusal.done",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.custom_tool_call_input.delta",
    "response.custom_tool_call_input.done",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.done",
    "response.code_interpreter_call_code.delta",
    "response.code_interpreter_call_code.done",
    "response.code_interpreter_call.in_progress",
    "response.code_interpreter_call.interpreting",
    "response.code_interpreter_call.completed",
    "response.file_search_call.in_progress",
    "response.file_search_call.searching",
    "response.file_search_call.completed",
    "response.web_search_call.in_progress",
    "response.web_search_call.searching",
    "response.web_search_call.completed",
    "response.image_generation_call.in_progress",
    "response.image_generation_call.generating",
    "response.image_generation_call.partial_image",
    "response.image_generation_call.completed",
    "response.mcp_call.in_progress",
    "response.mcp_call.completed",
    "response.mcp_call.failed",
    "response.mcp_list_tools.in_progress",
    "response.mcp_list_tools.completed",
    "response.mcp_list_tools.failed",
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_part.done",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done",
    "response.reasoning_text.delta",
    "response.reasoning_text.done",
    "response.audio.delta",
    "response.audio.done",
    "response.audio.transcript.delta",
    "response.audio.transcript.done",
    "response.shell_call_command.added",
    "response.shell_call_command.delta",
    "response.shell_call_command.done",
    "response.shell_call_output_content.delta",
    "response.shell_call_output_content.done",
    "response.compaction.compacting",
)
# The streamed text of the output items that are tool calls, and the key it goes under.
_CALL_TEXT = {
    "response.function_call_arguments.delta": "arguments",
    "response.function_call_arguments.done": "arguments",
    "response.custom_tool_call_input.delta": "input",
    "response.custom_tool_call_input.done": "input",
    "response.mcp_call_arguments.delta": "arguments",
    "response.mcp_call_arguments.done": "arguments",
    "response.code_interpreter_call_code.delta": "code",
    "response.code_interpreter_call_code.done": "code",
}

# Chat Completions: data-only chunks (named "message" on the wire), dispatched as this.
_CHAT_EVENTS = ("chat.completion.chunk",)
# A chat delta's text fields, joined as they arrive.
_CHAT_TEXT = frozenset(("refusal", "reasoning_content", "reasoning"))
# The finish reasons that cut a choice short.
_CUT_SHORT = ("length", "content_filter")

# Every API's: an error, and the end of a body ("done", or a data line "[DONE]").
_SHARED_EVENTS = ("error", "done")
# Events whose data need not be JSON: an error's may be text.
_FREE_EVENTS = frozenset(("error",))
# The events this module derives from the API's.
_DERIVED_EVENTS = frozenset(
    (
        "text.created",
        "text.delta",
        "text.done",
        "tool_call.created",
        "tool_call.delta",
        "tool_call.done",
        "image_file.done",
        "recovering",
        "end",
    )
)

_TERMINAL = frozenset(("completed", "failed", "cancelled", "expired", "incomplete"))
# A body may end once its run is in one of these: nothing more will come.
_STOPS = _TERMINAL | {"requires_action"}
_MESSAGE_FINAL = ("completed", "incomplete")

# ---------------------------------------------------------------------------
# Constants and types
# ---------------------------------------------------------------------------

_DEFAULT_BASE_URL = "https://api.openai.com/v1"
_DEFAULT_TIMEOUT = 600.0
_DEFAULT_MAX_RETRIES = 2
_MAX_EVENT_BYTES = 16 * 1024 * 1024  # one event, as received
_MAX_EVENT_LINES = 1000  # sseclient-py's cost grows with lines x bytes
_LARGE_EVENT = 256 * 1024  # an event larger than this is parsed by _fields, not sseclient-py
_LARGE = b"event:\x00\ndata:\x00\n\n"  # what sseclient-py gets in its place
_RUN_BYTES = 4096  # a batch of events for sseclient-py, at most (it re-copies its data for every line)
_RECOVER_SECONDS = 300.0  # recover=True polls for at most this long
_CANCEL_TIMEOUT = 10.0  # cancel_on_interrupt's request gives up after this
_STOP_GRACE = 2.0  # once a run stopped, the most its body is read for
_DRAIN_SECONDS = 0.05  # after a body's last word, the most its end is waited for (to keep the connection)
_LONGEST_TIMEOUT = 1_000_000  # seconds (11 days): sockets and poll() refuse much longer
_RETRY_STATUSES = frozenset((408, 409, 429))  # and every 5xx
_RETRY_AFTER_LIMIT = 60.0  # longer Retry-After values are not honoured

_BOM = b"\xef\xbb\xbf"
_READ_SIZE = 65536  # the most read (or decompressed) at a time
_MAX_CHUNK_LINE = 1024  # a chunk size, and its extensions
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})\r\n")  # the usual size line: 1 to 16 hex digits alone
_UNKNOWN_NAMES = 256  # how many names a Handlers cache holds besides the known ones
_MAX_ENTRIES = 10_000  # content parts, tool calls, annotations, outputs: in one list, at most
_ERROR_BODY_LIMIT = 65536  # the most of an answer we will not use that is read (an error, not an event stream)
_ERROR_BODY_WAIT = 10.0  # ... and the longest it is read for
_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,256}\Z")
# default_headers and default_query whose names say so are kept out of messages
# The paths of the Assistants API, whose requests say OpenAI-Beta: assistants=v2.
_ASSISTANTS_PATHS = ("/threads", "/assistants", "/vector_stores")
# Azure's hosts (OpenAI, AI Foundry, their sovereign clouds), whose SDKs send no OpenAI-Beta.
_AZURE_HOSTS = (".azure.com", ".azure.us", ".azure.cn", ".azureml.ms")
_SECRET_NAME = re.compile(r"auth|key|token|secret|sig|password|credential", re.IGNORECASE)

_log = logging.getLogger("assistant_stream")
# The C scanner under json.loads: (value, end). Not in typeshed, there since Python 2.6.
_scan_json: Callable[[str, int], Tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]

JSON = Dict[str, Any]
Callback = Callable[["Event"], Any]
_C = TypeVar("_C", bound=Callable[["Event"], Any])  # a callback, typed as registered
_T = TypeVar("_T", bound=Callable[..., Any])  # a tool, typed as registered
# What an accumulator hands the stream to dispatch: name, data, text, snapshot source.
Emission = Tuple[str, Any, Optional[str], Any]
Route = Callable[[str, JSON], List[Emission]]
# What a malformed payload raises while it is taken apart: a ProtocolError.
_MALFORMED = (KeyError, TypeError, AttributeError, ValueError, IndexError, RecursionError)

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
    """The body ended, or the connection dropped, while the run (or the
    response) could still go on; or after tool outputs were sent, before it
    went on."""


class ProtocolError(AssistantStreamError):
    """The server's answer does not follow the protocol: not an event stream,
    invalid JSON or UTF-8, an event too large, a field of the wrong shape."""


_STATUS_ERRORS = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _stream_error(data: Any, redact: Optional[Callable[[str], str]] = None) -> StreamError:
    """The exception for an ``error`` event: its JSON, or its text (the
    format is not documented; Azure's SDK takes what is not JSON as text)."""
    error = data.get("error", data) if type(data) is dict else data
    message = error.get("message") if type(error) is dict else _preview(error, 500, redact) if type(error) is str else None
    code = error.get("code") if type(error) is dict else None
    text = "the server sent an error event"
    if code:
        text += " (%s)" % code
    if message:
        text += ": %s" % message
    return StreamError(text, error=data)


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
    ``snapshot`` the accumulated message, run step, run, response, output
                 item, text part or tool call, API-shaped; built when first
                 read, from the stream's state at that moment (read it before
                 the stream moves on)
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
            self._snapshot = _snapshot(self._source)
        return self._snapshot

    def __repr__(self) -> str:
        if self.text is not None:
            return "<Event %s %r>" % (self.name, self.text[:40])
        return "<Event %s>" % self.name


# ---------------------------------------------------------------------------
# Wire: body bytes -> complete event blocks -> sseclient-py -> (name, data)
# ---------------------------------------------------------------------------


class _Framer:
    """Chunks of a body in, complete event blocks out.

    Each block is one event, ending with its blank line, LF only, so that
    sseclient-py (which parses the fields) dispatches it as soon as its last
    byte arrives and parses it in linear time.  It also covers sseclient-py's
    deviations from the WHATWG rules:

    - a leading UTF-8 BOM is stripped;
    - CR and CRLF line endings become LF, so every blank line is a boundary;
    - an event still unfinished when the chunks end is never handed over:
      its bytes stay in ``tail`` (the stream decides what that means);
    - an event over ``max_bytes`` raises ProtocolError before the rest of it
      is read; one of more than ``_MAX_EVENT_LINES`` lines once it is whole;
    - an event named in ``required`` without a data line raises
      ProtocolError (sseclient-py drops it, as the WHATWG rules say).
    """

    def __init__(self, required: Container[str], max_bytes: int = _MAX_EVENT_BYTES):
        self.required = required
        self.max_bytes = max_bytes
        self.tail = b""
        self.last = b""  # the block handed over last
        self.large: Optional[bytes] = None  # a large event's block, handed over as _LARGE
        self.batched = 0  # how many events the block handed over last holds (0: one, as received)

    def blocks(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        pending: List[bytes] = []  # the event being received, in pieces
        size = 0
        limit = self.max_bytes
        after_cr = False
        for chunk in _without_bom(iter(chunks)):
            if not chunk:
                continue  # nothing: and it must not part a CR from its LF
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
                and length <= _LARGE_EVENT
                and (b"\ndata" in chunk or chunk.startswith(b"data"))
                and (length <= _MAX_EVENT_LINES or chunk.count(b"\n") <= _MAX_EVENT_LINES + 1)
            ):
                self.last = chunk
                self.batched = 0
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
            if len(head) > 2 and head.find(b"\n\n") + 2 == len(head):
                whole = [(head, 0)]  # one event: a large one is not copied again
            else:
                whole = _batched([block for block in head.split(b"\n\n") if block], min(limit, _LARGE_EVENT))
            del head
            whole.reverse()
            while whole:
                block, self.batched = whole.pop()
                if not self.batched:
                    block = self._checked(block)
                    if len(block) > _LARGE_EVENT:  # _decode parses it; nothing here holds it meanwhile
                        self.large, block = block, _LARGE
                self.last = block
                yield block
            if size > limit:
                raise ProtocolError("an event is larger than %d bytes" % limit)
        tail = b"".join(pending)
        if tail.strip():
            self.tail = tail

    def _checked(self, block: bytes) -> bytes:
        """One event's block, ending with its blank line, once it is acceptable."""
        if len(block) > self.max_bytes:
            raise ProtocolError("an event is larger than %d bytes" % self.max_bytes)
        if block.count(b"\n") > _MAX_EVENT_LINES + 1:  # its lines, and the blank one
            raise ProtocolError("an event has more than %d lines" % _MAX_EVENT_LINES)
        if not block.startswith(b"data") and b"\ndata" not in block:
            for line in block.split(b"\n"):
                if line.startswith(b"event:"):
                    name = line[6:].strip().decode("utf-8", "replace")
                    if name in self.required:
                        raise ProtocolError("event %r has no data line" % name)
        return block


def _batched(blocks: List[bytes], limit: int) -> List[Tuple[bytes, int]]:
    """Event blocks that arrived together (without their blank line), for
    sseclient-py, each with the number of events it holds: a run of events
    of one ``event:`` line and one ``data:`` line, of the same name (or of
    data lines only), goes as one event of many data lines, which _decode
    splits back (a data line holds no newline), for sseclient-py's cost is
    mostly per event.  Any other block goes as it is, with 0, to be checked
    as ever (one over ``limit`` bytes, without its blank line: it is
    parsed by _fields, or refused).  A run stops growing at ``_RUN_BYTES``:
    sseclient-py copies an event's data again for each of its lines."""
    found: List[Tuple[bytes, int]] = []
    run: List[bytes] = []  # the data lines of the run being gathered
    head = b""  # its name line, or b"" for data lines only
    size = 0  # the bytes of its data lines
    for block in blocks:
        cut = block.find(b"\n")
        if cut < 0:
            line, data = b"", block
        elif block.startswith(b"event:") and block.find(b"\n", cut + 1) < 0:
            line, data = block[:cut], block[cut + 1 :]
        else:
            line, data = None, b""
        if line is not None and data.startswith(b"data:") and len(block) <= limit:
            if run and line == head and size < _RUN_BYTES:
                run.append(data)
                size += len(data) + 1
                continue
            if run:
                found.append(_run_block(head, run))
            head, run, size = line, [data], len(data) + 1
            continue
        if run:
            found.append(_run_block(head, run))
            run = []
        found.append((block + b"\n\n" if len(block) <= limit else block, 0))  # (a large one is not copied again)
    if run:
        found.append(_run_block(head, run))
    return found


def _run_block(head: bytes, run: List[bytes]) -> Tuple[bytes, int]:
    if len(run) == 1:
        return (head + b"\n" + run[0] if head else run[0]) + b"\n\n", 0
    return (head + b"\n" if head else b"") + b"\n".join(run) + b"\n\n", len(run)


def _decode(
    framer: _Framer, chunks: Iterable[bytes], required: Container[str], redact: Optional[Callable[[str], str]] = None
) -> Iterator[Tuple[str, Any]]:
    """A body's events, as (name, data): ``framer`` makes whole event blocks
    of the chunks, sseclient-py parses their fields, the data is parsed as
    JSON, a data line ``[DONE]`` is the event ``done``, and an event without
    an ``event:`` line is named by its JSON ``type``.  An event named in
    ``required`` must carry a JSON object (else ProtocolError); any other may
    carry anything (its data as text if it is not JSON).  Invalid UTF-8 is
    decoded as U+FFFD, as the WHATWG rules (and browsers) have it.  A large
    event (the final message of a long run repeats its whole text) is
    parsed by ``_fields`` instead, which decodes its data once."""
    scan = _scan_json
    blocks = framer.blocks(chunks)
    source: Iterator[bytes] = blocks
    while True:
        try:
            for sse in sseclient.SSEClient(source).events():
                name, text = sse.event, sse.data
                if name == "\x00" and framer.large is not None:  # a large event, in its place
                    del sse, text  # (nothing holds the large event's text but what comes next)
                    large, framer.large = framer.large, None
                    fields = _fields(large)
                    del large
                    if fields is None:
                        continue
                    name, text = fields
                    del fields
                texts = text.split("\n") if framer.batched else [text]  # a batch: one event per data line
                for text in texts:
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
                            if name in required:
                                raise ProtocolError("event %r carries invalid JSON: %s" % (name, _preview(text, redact=redact))) from None
                            data = text
                    called = name
                    if name == "message" and type(data) is dict and type(data.get("type")) is str:
                        called = data["type"]  # no event line: some servers name events in their JSON only
                    if type(data) is not dict and called in required:
                        raise ProtocolError("event %r carries %s, not a JSON object" % (called, type(data).__name__))
                    texts[0] = text = ""  # nothing holds the JSON text (a large one) while its value is used
                    yield called, data
            return
        except UnicodeDecodeError as exc:  # sseclient-py decodes strictly: its block again, repaired
            _log.debug("invalid UTF-8 in an event, decoded as U+FFFD: %s", exc)
            source = itertools.chain((framer.last.decode("utf-8", "replace").encode(),), blocks)


def _fields(block: bytes) -> Optional[Tuple[str, str]]:
    """An event block's name and data, by sseclient-py's rules (the name of
    its last ``event`` line, else "message"; its ``data`` lines' values,
    less one leading space, joined by newlines; None without any), for an
    event too large for sseclient-py, which copies each line five times:
    here each value is decoded once, straight from the block.  Invalid UTF-8
    is U+FFFD, as it is for the rest."""
    view = memoryview(block)
    name = ""
    values: List[str] = []
    start, end = 0, len(block)
    while start < end:
        stop = block.find(b"\n", start)
        if stop < 0:
            stop = end
        colon = block.find(b":", start, stop)
        field = block[start : stop if colon < 0 else colon]
        if field in (b"data", b"event"):
            begin = stop if colon < 0 else colon + 1
            if begin < stop and block[begin] == 0x20:
                begin += 1
            value = str(view[begin:stop], "utf-8", "replace")
            if field == b"data":
                values.append(value)
            else:
                name = value
        start = stop + 1
    view.release()
    return (name or "message", "\n".join(values)) if values else None


def _without_bom(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The same bytes, less a UTF-8 BOM at the very start (perhaps split)."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= 3 or not _BOM.startswith(head):
            break
    return itertools.chain((head[3:] if head.startswith(_BOM) else head,), chunks)


def _preview(text: Union[str, bytes], limit: int = 200, redact: Optional[Callable[[str], str]] = None) -> str:
    """The start of a text, for an error message: credentials redacted before
    it is cut, so that no fragment of one is left at the cut."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text.strip()
    if redact is not None:
        text = redact(text)
    return repr(text if len(text) <= limit else text[:limit] + "...")


class _Body:
    """A body being read: its chunks as they arrive, and ``close()``, which
    also ends a read blocked in another greenlet or thread."""

    __slots__ = ("chunks", "response", "until")

    def __init__(self, chunks: Iterable[bytes], response: Any = None):
        self.chunks = chunks
        self.response = response  # a requests.Response; or, replayed, what holds the file
        self.until: Optional[float] = None  # when the reader stops, on time.monotonic()

    @classmethod
    def of(cls, response: requests.Response) -> _Body:
        """A streaming response's body."""
        body = cls((), response)
        body.chunks = _response_chunks(response, body)
        return body

    def grace(self, seconds: float) -> None:
        """Read for ``seconds`` more at most: what the body is about has
        stopped, and a server may hold it open without its last word (or
        trickle keep-alive comments into it)."""
        self.until = time.monotonic() + seconds
        sock = getattr(getattr(getattr(self.response, "raw", None), "connection", None), "sock", None)
        if sock is not None:
            try:
                timeout = sock.gettimeout()
                sock.settimeout(seconds if timeout is None else min(timeout, seconds))
            except OSError as exc:  # closed meanwhile
                _log.debug("no grace for a closed socket: %r", exc)

    def drain(self, seconds: float) -> None:
        """The body said its last word: read its end (the last chunk, which
        normally came with it) for ``seconds`` at most, 64 KiB at most, so
        that the connection goes back to the pool and the next request on
        the client reuses it, with no new handshake.  A body whose end does
        not come in time, or that carries more, is closed as before; a body
        without a length (read to the connection's close) is not waited
        for.  Never raises."""
        raw = getattr(self.response, "raw", None)
        if not isinstance(self.response, requests.Response) or not (
            getattr(raw, "chunked", False) or getattr(raw, "length_remaining", None)
        ):
            return
        self.grace(seconds)
        left = _ERROR_BODY_LIMIT
        try:
            for piece in self.chunks:
                left -= len(piece)
                if left < 0:
                    return
        except Exception as exc:  # the end did not come in time, or not whole: close() closes it
            _log.debug("a body did not end after its last word: %r", exc)

    def close(self) -> None:
        """Close the connection (and the reader); never raises."""
        if isinstance(self.response, requests.Response):
            _close_response(self.response)
        elif self.response is not None:
            self.response.close()  # a recording's sections
        self.response = None  # it holds the connection pool
        try:
            getattr(self.chunks, "close", lambda: None)()  # the reader, or a replayed file
        except Exception as exc:  # closing must never raise
            _log.debug("closing the body failed: %r", exc)


def _response_chunks(response: requests.Response, body: Optional[_Body] = None) -> Iterator[bytes]:
    """The body of a streaming response, in pieces of at most 64 KiB, each as
    soon as it arrives, decompressed here in bounded steps: whatever the
    server's chunks or compression, memory stays bounded.

    A chunked body (what the APIs send) is read by ``_dechunked`` from the
    connection's buffered reader, with strict chunk sizes; any other through
    urllib3's ``read1``, which returns what has arrived (``iter_content(n)``
    would wait for n bytes); urllib3 before 2.2 has none, so a sized body is
    read in 64 KiB pieces and an unsized one through http.client's ``read1``.
    Read errors become APITimeoutError (a silence longer than the read
    timeout) or IncompleteStreamError (the connection dropped).  The reading
    stops at ``body.until``, if that is set.
    """
    raw = response.raw
    reader = getattr(getattr(raw, "_fp", None), "fp", None)  # http.client's buffered socket reader
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    try:
        pieces: Iterator[bytes]
        if getattr(raw, "chunked", False) and hasattr(reader, "read1"):
            pieces = _dechunked(reader, raw, body)
        elif hasattr(raw, "read1"):
            pieces = _read_until(lambda: raw.read1(_READ_SIZE, decode_content=False), body)
        elif hasattr(getattr(raw, "_fp", None), "read1"):  # urllib3 < 2.2: http.client's read1, which is prompt
            read1 = raw._fp.read1  # type: ignore[union-attr]
            pieces = _read_until(lambda: read1(_READ_SIZE), body)
        else:
            pieces = _read_until(lambda: raw.read(_READ_SIZE, decode_content=False), body)
        yield from _inflated(pieces, encoding)
        _give_back(raw)
    except (urllib3.exceptions.ReadTimeoutError, socket.timeout) as exc:
        raise APITimeoutError("no data from the server within the read timeout") from exc
    except (urllib3.exceptions.DecodeError, requests.exceptions.ContentDecodingError, zlib.error) as exc:
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
        ValueError,  # what http.client makes of some broken framing
    ) as exc:
        raise IncompleteStreamError("the connection was lost: %s" % exc) from exc


def _read_until(read: Callable[[], bytes], body: Optional[_Body]) -> Iterator[bytes]:
    """What ``read()`` returns, until it returns nothing or ``body.until``."""
    piece = read()
    while piece:
        yield piece
        if body is not None and body.until is not None and time.monotonic() > body.until:
            return
        piece = read()


def _dechunked(reader: Any, raw: Any, body: Optional[_Body] = None) -> Iterator[bytes]:
    """The data of a chunked body (RFC 9112 7.1), as it arrives: each piece
    is the data of everything that has arrived (``read1``: what the reader
    holds, or one read from the socket), at most 64 KiB, however large a
    chunk claims to be, and however many chunks came together.  A chunk size
    that is not 1 to 16 hex digits is a ProtocolError, and so is a chunk
    without its CRLF, once the data before it is handed over; a body that
    ends before its last chunk, an IncompleteStreamError.  Read to its end,
    with nothing after it, the body gives its connection back to urllib3's
    pool (``raw``)."""
    held = b""  # bytes read and not yet taken apart
    left, crlf = 0, False  # data bytes of the current chunk still to come; whether its CRLF is next
    while True:
        more = reader.read1(_READ_SIZE)
        if not more:
            if left:
                raise IncompleteStreamError("the connection was lost in the middle of a chunk")
            raise IncompleteStreamError("the connection was lost before the body's last chunk")
        data: List[bytes] = []
        try:
            held, left, crlf, ended = _chunks_in(held + more if held else more, left, crlf, data)
        except ProtocolError:
            if data:
                yield b"".join(data)  # what came before the fault
            raise
        if data:
            yield b"".join(data)  # (one piece: itself, not a copy)
        if ended:
            _trailer(reader, raw, body, held)
            return
        if body is not None and body.until is not None and time.monotonic() > body.until:
            return


def _chunks_in(held: bytes, left: int, crlf: bool, data: List[bytes]) -> Tuple[bytes, int, bool, bool]:
    """Take the chunks in ``held`` apart, the current one having ``left``
    data bytes to come (then its CRLF, if ``crlf``): their data into
    ``data``.  Returns what is left (an unfinished size line, or CRLF), the
    current chunk's ``left`` and ``crlf``, and whether the last chunk came
    (then what is left is the trailer)."""
    at = 0
    while True:
        if left:
            take = min(left, len(held) - at)
            data.append(held[at : at + take])
            at += take
            left -= take
            if left:
                break
            crlf = True
        if crlf:
            if len(held) - at < 2:
                break
            if held[at : at + 2] != b"\r\n":
                raise ProtocolError("a chunk does not end with CRLF")
            at += 2
            crlf = False
        at = _whole_chunks(held, at, data)
        end = held.find(b"\n", at, at + _MAX_CHUNK_LINE)  # a line of _MAX_CHUNK_LINE bytes at most, its LF included
        if end < 0:
            if len(held) - at >= _MAX_CHUNK_LINE:
                raise ProtocolError("a chunk size line is longer than %d bytes" % _MAX_CHUNK_LINE)
            break
        line = held[at : end + 1]
        text = line.split(b";", 1)[0].strip()
        if not text or len(text) > 16 or text.strip(b"0123456789abcdefABCDEF"):
            raise ProtocolError("invalid chunk size %s" % _preview(line, _MAX_CHUNK_LINE + 1))  # never cut
        at = end + 1
        left = int(text, 16)
        if not left:
            return held[at:], 0, False, True
    return held[at:], left, crlf, False


def _whole_chunks(held: bytes, at: int, data: List[bytes]) -> int:
    """The usual chunks in ``held`` from ``at`` on, each in one step: a size
    line of hex digits alone, then the data and its CRLF, all arrived; their
    data into ``data``.  Returns where the first other chunk begins (the
    last one, one not all here, anything unusual): _chunks_in reads it."""
    usual = _CHUNK_SIZE.match(held, at)
    while usual is not None:
        start = usual.end()
        stop = start + int(usual[1], 16)
        if stop == start or not held.startswith(b"\r\n", stop):
            break
        data.append(held[start:stop])
        at = stop + 2
        usual = _CHUNK_SIZE.match(held, at)
    return at


def _trailer(reader: Any, raw: Any, body: Optional[_Body], held: bytes) -> None:
    """Read a chunked body's trailer fields, then the blank line that ends
    it; then its connection goes back to the pool, if nothing came after."""
    for _ in range(_MAX_EVENT_LINES):
        end = held.find(b"\n")
        while end < 0:
            if len(held) > _MAX_CHUNK_LINE or (body is not None and body.until is not None and time.monotonic() > body.until):
                return  # (not given back: close() closes it)
            more = reader.read1(_READ_SIZE)
            if not more:
                return
            held += more
            end = held.find(b"\n")
        line, held = held[: end + 1], held[end + 1 :]
        if line in (b"\r\n", b"\n"):
            if not held:
                getattr(raw, "_original_response", reader).close()  # as urllib3 does at the end of a chunked body
                raw.release_conn()
            return
    raise ProtocolError("a chunked body's trailer is too long")


def _inflated(pieces: Iterator[bytes], encoding: str) -> Iterator[bytes]:
    """Compressed pieces decompressed, at most 64 KiB out at a time: a small
    piece that inflates to gigabytes costs 64 KiB of memory at a time (the
    event size limit applies to what comes out).  gzip (any number of
    members) and deflate (zlib-wrapped or raw); requests are sent with
    ``Accept-Encoding: gzip, deflate``, so nothing else should come."""
    if encoding in ("", "identity"):
        yield from pieces
        return
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise ProtocolError("the body is encoded as %r; only gzip and deflate were asked for" % encoding)
    wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    members = 0  # whole gzip members so far
    produced = False
    for piece in pieces:
        while piece:
            if inflater.eof:  # what follows a whole member is another member
                members += 1
                inflater = zlib.decompressobj(wbits)
            try:
                out = inflater.decompress(piece, _READ_SIZE)
            except zlib.error:
                if members:  # garbage after a whole member: ignored, as gzip does
                    return
                if encoding != "deflate" or produced or wbits < 0:
                    raise
                wbits = -zlib.MAX_WBITS  # deflate without its zlib wrapper, as some servers send it
                inflater = zlib.decompressobj(wbits)
                continue
            piece = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
            if out:
                produced = True
                yield out
    rest = inflater.flush()
    if rest:
        yield rest


def _give_back(raw: Any) -> None:
    """A body read to its end gives its connection back to urllib3's pool."""
    original = getattr(raw, "_original_response", None)
    if isinstance(original, http.client.HTTPResponse) and (original.isclosed() or original.length == 0):
        original.close()  # (http.client's read1 leaves a sized body read to its end open)
        raw.release_conn()


def _close_response(response: requests.Response) -> None:
    """Close a response at once, even while another greenlet reads from it;
    a body already read to its end gives its connection back instead."""
    try:
        raw = response.raw
        _give_back(raw)
        # urllib3 >= 2.3 can end a read blocked in another greenlet; only for a
        # socket the response still holds: a fully read body's is back in the pool.
        if hasattr(raw, "shutdown") and getattr(raw, "connection", None) is not None:
            raw.shutdown()
        response.close()
    except Exception as exc:  # closing must never raise
        _log.debug("closing the response failed: %r", exc)


class _Recording:
    """Where a stream writes the bytes it receives (``record=``): a file it
    opens from a path (and closes), or a binary file it is given (left open).

    The server's bytes go in as received, with two exceptions: a credential
    (``secrets``) is written as "<api key>", and a line that would read as
    one of this module's markers is written as a plain comment, so that a
    server cannot forge one.  The last bytes of each write are held back, in
    case a credential or a marker is split across two."""

    def __init__(self, target: Union[str, os.PathLike[str], IO[bytes]], secrets: Optional[Callable[[], List[str]]] = None):
        self.owned = isinstance(target, (str, os.PathLike))
        self.file: IO[bytes] = open(target, "wb") if isinstance(target, (str, os.PathLike)) else target
        self.secrets = secrets
        self.held = b""
        self.line_start = True  # what was written so far ends a line (or nothing was)
        self.closed = False

    def write(self, chunk: bytes) -> None:
        """Bytes the server sent."""
        if self.closed or not chunk:
            return
        data = self.held + chunk
        data = data.replace(b"\n" + _MARK, b"\n" + _SERVED_MARK)
        if self.line_start and data.startswith(_MARK):
            data = _SERVED_MARK + data[len(_MARK) :]
        forms = [secret.encode("utf-8", "replace") for secret in self.secrets()] if self.secrets is not None else []
        data = self._redacted(data, forms)
        split = max(0, len(data) - max([len(_MARK)] + [len(form) - 1 for form in forms]))
        self.held = data[split:]
        self._put(data[:split])

    def mark(self, following: str, events: Iterable[Tuple[str, Any]] = ()) -> None:
        """A marker line: what follows is a ``continuation`` (the body that
        came after tool outputs) or what a recovery fetched (``recovered``,
        with its ``events``).  ``replay()`` reads a recording body by body."""
        if self.closed:
            return
        self._put(self.held)
        self.held = b""
        data = (b"" if self.line_start else b"\n") + _MARK + following.encode() + b"\n"
        data += b"".join(("event: %s\ndata: %s\n\n" % (name, json.dumps(payload))).encode() for name, payload in events)
        forms = [secret.encode("utf-8", "replace") for secret in self.secrets()] if self.secrets is not None else []
        self._put(self._redacted(data, forms))

    def _redacted(self, data: bytes, forms: List[bytes]) -> bytes:
        for form in forms:
            data = data.replace(form, b"<api key>")
        return data

    def _put(self, data: bytes) -> None:
        if data:
            self.file.write(data)
            self.line_start = data.endswith(b"\n")

    def close(self) -> None:
        """Write what was held back; close the file if it was opened here.
        Never raises."""
        if self.closed:
            return
        try:
            self._put(self.held)
            self.held = b""
            self.file.flush()
            if self.owned:
                self.file.close()
        except Exception as exc:  # closing must never raise
            _log.debug("closing the recording failed: %r", exc)
        finally:
            self.closed = True


_MARK = b": assistant-stream "  # at a line start, in a recording: a comment line to SSE readers
_SERVED_MARK = b": assistant-stream-served "  # a server's line that would read as one


class _Sections:
    """A recording, read body by body, as ``record=`` marks them: the first
    body; after a ``continuation`` marker, the body that followed tool
    outputs; after a ``recovered`` marker, the events recovery fetched.
    ``section()`` gives the next one's chunks; then ``following`` says what
    comes after it (None at the end)."""

    def __init__(self, chunks: Iterable[bytes]):
        self.chunks = iter(chunks)
        self.held = b""
        self.line_start = True  # the held bytes begin a line
        self.following: Optional[str] = None

    def section(self) -> Iterator[bytes]:
        self.following = None
        data, self.held = self.held, b""
        while True:
            if data:
                emit, data, following = self._split(data)
                if emit:
                    yield emit
                if following is not None:
                    self.following, self.held = following, data
                    return
            chunk = next(self.chunks, None)
            if chunk is None:
                if data:
                    yield data
                return
            if not data and chunk[-1:] == b"\n" and _MARK not in chunk:
                self.line_start = True
                yield chunk  # the usual chunk: whole lines, and no marker
                continue
            data += chunk

    def _split(self, data: bytes) -> Tuple[bytes, bytes, Optional[str]]:
        """What to hand over now, what to hold, and what a whole marker line
        (at a line start) says follows it, if there is one."""
        at = data.find(_MARK)
        while at > 0 and data[at - 1 : at] != b"\n" or at == 0 and not self.line_start:
            at = data.find(_MARK, at + 1)
        if at >= 0:
            end = data.find(b"\n", at)
            if end >= 0:
                self.line_start = True
                return data[:at], data[end + 1 :], data[at + len(_MARK) : end].decode("ascii", "replace")
            keep = at if len(data) - at < 64 else len(data)  # a marker's line, unfinished (or no marker's)
        else:
            tail = data.rfind(b"\n") + 1  # the end of the data may begin a marker
            keep = tail if tail < len(data) and _MARK.startswith(data[tail:]) else len(data)
        if keep:
            self.line_start = data[keep - 1 : keep] == b"\n"
        return data[:keep], data[keep:], None

    def close(self) -> None:
        try:
            getattr(self.chunks, "close", lambda: None)()  # a replayed file
        except Exception as exc:  # closing must never raise
            _log.debug("closing the recording failed: %r", exc)


def _recorded(chunks: Iterable[bytes], record: _Recording) -> Iterator[bytes]:
    """The same chunks, each written to ``record`` as it passes."""
    for chunk in chunks:
        record.write(chunk)
        yield chunk


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


def _merge(acc: JSON, delta: JSON) -> JSON:
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
            acc[key] = _merge(old if type(old) is dict else {}, value)
        elif kind is list:
            if not value:
                if key not in acc:
                    acc[key] = []
            elif all(type(item) is dict and type(item.get("index")) is int for item in value):
                entries = acc.get(key)
                if type(entries) is not list:
                    entries = acc[key] = []
                for item in value:
                    _merge_entry(entries, item)
            else:
                acc[key] = _snapshot(value)
        elif value is None:
            acc.setdefault(key, None)
        else:
            acc[key] = value
    return acc


def _merge_entry(entries: List[JSON], item: JSON) -> JSON:
    """Merge one indexed delta entry into a list; return the merged entry.

    Entries that came whole (from a completed object) have no ``index``: their
    position in the list stands for it.  The list is kept in index order,
    whatever order the deltas come in, so an entry is found in log time.
    """
    index = item["index"]
    if type(index) is not int or index < 0:
        raise ValueError("bad index %r" % (index,))
    if index < len(entries):  # the usual case: entry n at position n
        entry = entries[index]
        if entry.get("index", index) == index:
            return _merge(entry, item)
    low, high = 0, len(entries)  # else the list is in index order: bisect it
    while low < high:
        middle = (low + high) // 2
        if entries[middle].get("index", middle) < index:
            low = middle + 1
        else:
            high = middle
    if low < len(entries) and entries[low].get("index", low) == index:
        return _merge(entries[low], item)
    if len(entries) >= _MAX_ENTRIES:
        raise ValueError("more than %d entries in one list" % _MAX_ENTRIES)
    entry = _merge({}, item)
    entries.insert(low, entry)
    return entry


def _snapshot(obj: Any) -> Any:
    """An API-shaped deep copy of an accumulated object, fragments joined
    (one stack frame per level: whatever the JSON parser took, this takes)."""
    kind = type(obj)
    if kind is dict:
        copy = {}
        for key, value in obj.items():
            copy[key] = _snapshot(value)
        return copy
    if kind is list:
        items = []
        for value in obj:
            items.append(_snapshot(value))
        return items
    if kind is _Fragments:
        return obj.joined()
    return obj


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


def _finished(accumulated: Optional[JSON], received: JSON) -> JSON:
    """A finished object: as received, the final word, but for what it
    leaves out (or sends as null): its own fields, and deeper down the text
    that was streamed (a part's value, a call's arguments), which stay as
    they were.  Its lists say how many entries there are."""
    final: JSON = _snapshot(received)
    return _kept(final, accumulated, True) if accumulated else final


def _kept(final: Any, streamed: Any, top: bool) -> Any:
    """``final``, with what ``streamed`` has that it leaves out."""
    if type(final) is dict and type(streamed) is dict:
        if final.get("type", streamed.get("type")) != streamed.get("type"):
            return final  # another kind of part: nothing of the old one is its
        for key, value in streamed.items():
            mine = final.get(key)
            if mine is None:
                if key != "index" and (top or _carries_text(value)):  # an index is a delta's place in its list
                    final[key] = value
            elif type(mine) in (dict, list):
                final[key] = _kept(mine, value, False)
    elif type(final) is list and type(streamed) is list:
        for place in range(min(len(final), len(streamed))):
            final[place] = _kept(final[place], streamed[place], False)
    return final


def _carries_text(value: Any) -> bool:
    """Whether streamed text (fragments) is in it."""
    kind = type(value)
    if kind is _Fragments:
        return True
    if kind is dict:
        return any(_carries_text(item) for item in value.values())
    if kind is list:
        return any(_carries_text(item) for item in value)
    return False


def _received(items: List[Any], index: int, accumulated: JSON) -> Any:
    """The received form of a list entry: from the payload when it has it."""
    return items[index] if index < len(items) else _snapshot(accumulated)


def _match(output: List[Any], streamed: List[Any]) -> List[Optional[int]]:
    """For each item of a final (or polled) output, the place of the same
    item in the streamed output: the one with its id, else the one at its
    place if it is of its type (or of none yet) and no two ids say
    otherwise, else the first one left without an id of its type; None for
    an item never seen."""
    places = {item["id"]: place for place, item in enumerate(streamed) if type(item) is dict and type(item.get("id")) is str}
    found: List[Optional[int]] = []
    for item in output:
        ident = item.get("id") if type(item) is dict else None
        found.append(places.get(ident) if type(ident) is str else None)
    claimed = set(found)
    for index, item in enumerate(output):
        there = streamed[index] if found[index] is None and index < len(streamed) and index not in claimed else None
        if type(item) is dict and type(there) is dict and _kind(there) in (None, _kind(item)):  # (deltas before its item: no type)
            if not (type(item.get("id")) is str and type(there.get("id")) is str):  # two ids, different: not the same item
                found[index] = index
                claimed.add(index)
    spare: Dict[Optional[str], List[int]] = {}  # unclaimed streamed items without ids, by type, first one last
    for place in reversed(range(len(streamed))):
        if place not in claimed and type(streamed[place]) is dict and type(streamed[place].get("id")) is not str:
            spare.setdefault(_kind(streamed[place]), []).append(place)
    for index, item in enumerate(output):
        if found[index] is None and type(item) is dict and type(item.get("id")) is not str and spare.get(_kind(item)):
            found[index] = spare[_kind(item)].pop()
    return found


def _kind(item: JSON) -> Optional[str]:
    kind = item.get("type")
    return kind if type(kind) is str else None


def _text_of(part: JSON) -> str:
    """The text of a content part: an Assistants part's text.value, a Responses
    part's text, a refusal's refusal, a chat message's content ("" for parts
    without text)."""
    value = part.get("refusal") if part.get("type") == "refusal" else part.get("text", part.get("content"))
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


def _joined_text(messages: Iterable[JSON]) -> str:
    """The text parts of the assistant's messages (those that say no role
    too), joined: a user's, a system's or a developer's are not its text."""
    return "".join(
        _text_of(part)
        for message in messages
        if message.get("role") in (None, "assistant") and type(message.get("content")) is list
        for part in message["content"]
        if _is_text(part)
    )


def _text_field(data: JSON, field: str) -> str:
    """A ``.done`` event's whole text: a string, or the event is malformed."""
    value = data[field]
    if type(value) is not str:
        raise TypeError("%s is not text" % field)
    return value


def _status(obj: JSON, required: bool = True) -> Optional[str]:
    """An object's status: a string, or the object is malformed (as it is
    without one, when ``required``)."""
    status = obj["status"] if required else obj.get("status")
    if status is not None and type(status) is not str:
        raise TypeError("status is not a string: %r" % (status,))
    return status


def _final_status(name: str, data: JSON) -> Optional[str]:
    """The final status an event gives its object, or None: the payload's,
    if it is final; else the event name's, if that is final (Azure sends a
    ``thread.message.completed`` whose data says "in_progress")."""
    status = _status(data, required=False)
    if status in _TERMINAL:
        return status
    word = name[name.rfind(".") + 1 :]
    return word if word in _TERMINAL else None


def _delta_text(data: JSON) -> str:
    """A ``.delta`` event's fragment: a string, or the event is malformed."""
    fragment = data["delta"]
    if type(fragment) is not str:
        raise TypeError("delta is not text")
    return fragment


# ---------------------------------------------------------------------------
# Derived events: text.*, image_file.done and tool_call.*, each exactly once
# ---------------------------------------------------------------------------


class _Derived:
    """The derived events that fire once: ``text.created`` and ``text.done``
    per text part, ``image_file.done`` per image part, ``tool_call.created``
    and ``tool_call.done`` per tool call.

    The accumulators key parts and calls as their API allows: a part by its
    message's id (or its output item's place) and its index; a call by its id,
    or its step and index, or its output item's place.  The rules are the
    same for every API, and live here only.
    """

    __slots__ = ("parts", "calls")

    def __init__(self) -> None:
        self.parts: Dict[Any, bool] = {}  # part key -> done
        self.calls: Dict[Any, bool] = {}  # call key -> done

    def appeared(self, key: Any, data: Any, part: JSON) -> List[Emission]:
        """A part first seen in a delta: ``text.created`` for a text part,
        ``image_file.done`` for an image (whose file id comes whole)."""
        if key in self.parts:
            return []
        kind = part.get("type")
        self.parts[key] = kind == "image_file"
        if kind == "text":
            return [("text.created", data, _text_of(part), part["text"])]
        if kind == "image_file":
            return [("image_file.done", data, None, part)]
        return []

    def text(self, key: Any, data: Any, fragment: str, part: JSON) -> List[Emission]:
        """A text delta: ``text.created`` first for a new part, then
        ``text.delta``; nothing once the part is done (a late delta is only
        folded into the part)."""
        done = self.parts.get(key)
        if done is not None:
            return [] if done else [("text.delta", data, fragment, part)]
        self.parts[key] = False
        return [("text.created", data, _text_of(part), part), ("text.delta", data, fragment, part)]

    def whole(self, key: Any, data: Any, part: JSON, old: Optional[JSON], final: bool) -> List[Emission]:
        """A part that arrived (or finished) whole: ``data`` as received,
        ``part`` as accumulated, ``old`` as it was before.  The text it adds
        to what was streamed comes as a ``text.delta``, so that the fragments
        join to the final text; ``text.done`` once ``final``."""
        kind = part.get("type")
        emissions: List[Emission] = []
        if kind in ("text", "output_text"):
            text, source = _text_of(part), _text_source(part)
            if key not in self.parts:
                self.parts[key] = False
                emissions.append(("text.created", data, text, source))
                if text:
                    emissions.append(("text.delta", data, text, source))
            elif old is not None:
                streamed = _text_of(old)
                if len(text) > len(streamed) and text.startswith(streamed):
                    emissions.append(("text.delta", data, text[len(streamed) :], source))
            if final and not self.parts[key]:
                self.parts[key] = True
                emissions.append(("text.done", data, text, source))
        elif kind == "image_file" and key not in self.parts:
            self.parts[key] = True
            emissions.append(("image_file.done", data, None, part))
        return emissions

    def dropped(self, key: Any, part: JSON) -> List[Emission]:
        """A streamed part that the finished message left out: ``text.done``
        if it is still open."""
        return self.text_done(key, _snapshot(part), part)

    def text_done(self, key: Any, data: Any, part: JSON) -> List[Emission]:
        """``text.done`` for a part still open (a chat choice's text, at its finish reason)."""
        if self.parts.get(key) is not False:
            return []
        self.parts[key] = True
        return [("text.done", data, _text_of(part), _text_source(part))]

    def call_dropped(self, key: Any, entry: Any) -> List[Emission]:
        """A streamed call that the finished step left out: ``tool_call.done``
        if it is still open, as it was streamed."""
        if self.calls.get(key) is not False:
            return []
        self.calls[key] = True
        return [("tool_call.done", _snapshot(entry), None, entry)]

    def call_delta(self, key: Any, data: Any, entry: Any) -> List[Emission]:
        """A call's delta: ``tool_call.created`` first for a new call, then
        ``tool_call.delta``; nothing once the call is done (Azure sends an
        MCP call's output after its step completed: it is only folded into
        the call)."""
        if self.calls.get(key):
            return []
        return self.call(key, data, entry, False) + [("tool_call.delta", data, None, entry)]

    def call(self, key: Any, data: Any, entry: Any, done: bool) -> List[Emission]:
        """``tool_call.created`` the first time, ``tool_call.done`` (once)
        when ``done``: ``data`` as received, ``entry`` as accumulated."""
        emissions: List[Emission] = []
        state = self.calls.get(key)
        if state is None:
            state = self.calls[key] = False
            emissions.append(("tool_call.created", data, None, entry))
        if done and not state:
            self.calls[key] = True
            emissions.append(("tool_call.done", data, None, entry))
        return emissions


# ---------------------------------------------------------------------------
# Accumulators: one per API, pure
# ---------------------------------------------------------------------------


class _Accumulator:
    """What one API's events build, API-shaped, and the events they derive.

    ``routes`` maps each event name of the API to the method that takes it:
    (name, data) in, the events to dispatch out, the API event first, then
    the derived events it causes.  No I/O, no callbacks, no Stream: a test
    feeds it pairs.  ``waiting`` is True from when tool outputs are sent
    until the run (or the next response) is heard from.
    """

    def __init__(self) -> None:
        self.derived = _Derived()
        self.waiting = False
        self.routes: Dict[str, Route] = {}

    def feed(self, name: str, data: Any) -> List[Emission]:
        """One event's emissions; an event of no route passes as it is."""
        route = self.routes.get(name)
        return route(name, data) if route is not None else [(name, data, None, None)]

    @property
    def status(self) -> Optional[str]:
        """The status of what the stream is about, as last received."""
        raise NotImplementedError

    def final(self) -> Optional[JSON]:
        """What the stream is about, API-shaped, as it stands."""
        raise NotImplementedError

    def text(self) -> str:
        """The assistant's text so far, joined."""
        raise NotImplementedError

    def messages(self) -> List[JSON]:
        return []

    def steps(self) -> List[JSON]:
        return []

    def current_message(self) -> Optional[JSON]:
        return None

    def current_step(self) -> Optional[JSON]:
        return None

    def finish(self) -> List[Emission]:
        """The derived events that close what the API left open, when the
        stream finishes (a chat server that never gives a finish reason)."""
        return []


class _RunAccumulator(_Accumulator):
    """An Assistants run: the run as last received; its steps and messages,
    by id, merged from their deltas.  A step or message first seen mid-stream
    (a continuation starts with the step of the previous one) is taken as it
    comes."""

    def __init__(self) -> None:
        super().__init__()
        self.run: Optional[JSON] = None
        self.steps_by_id: Dict[str, JSON] = {}
        self.messages_by_id: Dict[str, JSON] = {}
        self.step: Optional[JSON] = None  # the one that last changed
        self.message: Optional[JSON] = None
        self.routes = {
            "thread.created": self._on_thread,
            **dict.fromkeys(_RUN_EVENTS, self._on_run),
            **dict.fromkeys(_STEP_EVENTS, self._on_step),
            **dict.fromkeys(_MESSAGE_EVENTS, self._on_message),
            "thread.run.step.delta": self._on_step_delta,
            "thread.message.delta": self._on_message_delta,
        }

    @property
    def status(self) -> Optional[str]:
        return self.run.get("status") if self.run is not None else None

    def final(self) -> Optional[JSON]:
        return self.run

    def text(self) -> str:
        return _joined_text(self.messages_by_id.values())

    def messages(self) -> List[JSON]:
        return [_snapshot(message) for message in self.messages_by_id.values()]

    def steps(self) -> List[JSON]:
        return [_snapshot(step) for step in self.steps_by_id.values()]

    def current_message(self) -> Optional[JSON]:
        return _snapshot(self.message)  # type: ignore[no-any-return]

    def current_step(self) -> Optional[JSON]:
        return _snapshot(self.step)  # type: ignore[no-any-return]

    def _on_thread(self, name: str, data: JSON) -> List[Emission]:
        return [(name, data, None, data)]

    def _on_run(self, name: str, data: JSON) -> List[Emission]:
        status = _final_status(name, data) or _status(data)
        self.run = data if data.get("status") == status else dict(data, status=status)
        self.waiting = False
        emissions: List[Emission] = [(name, data, None, self.run)]
        if status == "requires_action":
            streamed = {entry.get("id"): entry for step in self.steps_by_id.values() for entry in _tool_calls(step) if type(entry) is dict}
            for call in _required_calls(data):
                entry = streamed.get(call.get("id")) if type(call.get("id")) is str else None
                if entry is not None and type(entry.get("function")) is dict and type(call.get("function")) is dict:
                    entry["function"].update(call["function"])  # the run's list is the final word
                emissions += self.derived.call(call.get("id"), call, call if entry is None else entry, True)
        return emissions

    def _on_step(self, name: str, data: JSON) -> List[Emission]:
        step_id = data["id"]
        step = self.steps_by_id.get(step_id)
        status = _final_status(name, data)
        final = status is not None
        streamed = _tool_calls(step) if step is not None and final else []
        if step is None or final:
            step = _finished(step, data)
            if final:
                step["status"] = status
        else:
            step.update((key, _snapshot(value)) for key, value in data.items() if key != "step_details")
        self.steps_by_id[step_id] = self.step = step
        emissions: List[Emission] = [(name, data, None, step)]
        received = _tool_calls(data)
        for index, entry in enumerate(_tool_calls(step)):
            emissions += self.derived.call(_call_key(step_id, index, entry), _received(received, index, entry), entry, final)
        for index, entry in enumerate(streamed):  # streamed, then left out of the finished step
            place = entry.get("index")  # where its deltas put it: its key, if it has no id
            emissions += self.derived.call_dropped(_call_key(step_id, place if type(place) is int else index, entry), entry)
        return emissions

    def _on_step_delta(self, name: str, data: JSON) -> List[Emission]:
        step_id = data["id"]
        step = self.steps_by_id.get(step_id)
        if step is None:  # created in an earlier stream
            step = self.steps_by_id[step_id] = {"id": step_id, "object": "thread.run.step", "step_details": {}}
        self.step = step
        delta = data["delta"]
        details = delta.get("step_details")
        calls: List[Tuple[JSON, JSON]] = []
        if type(details) is dict and details.get("tool_calls"):
            acc = step.get("step_details")
            if type(acc) is not dict:
                acc = step["step_details"] = {}
            _merge(acc, {key: value for key, value in details.items() if key != "tool_calls"})
            entries = acc.get("tool_calls")
            if type(entries) is not list:
                entries = acc["tool_calls"] = []
            calls = [(item, _merge_entry(entries, item)) for item in details["tool_calls"]]
            delta = {key: value for key, value in delta.items() if key != "step_details"}
        _merge(step, delta)
        emissions: List[Emission] = [(name, data, None, step)]
        for item, entry in calls:
            emissions += self.derived.call_delta(_call_key(step_id, item["index"], entry), item, entry)
        return emissions

    def _on_message(self, name: str, data: JSON) -> List[Emission]:
        message_id = data["id"]
        message = self.messages_by_id.get(message_id)
        status = _final_status(name, data)
        final = status is not None
        old_parts = message.get("content") if message is not None else None
        if message is None or final:
            message = _finished(message, data)
            if final:
                message["status"] = status
        else:
            message.update((key, _snapshot(value)) for key, value in data.items() if key != "content")
        self.messages_by_id[message_id] = self.message = message
        emissions: List[Emission] = [(name, data, None, message)]
        parts = message.get("content")
        if type(parts) is not list:
            parts = message["content"] = []
        received = data.get("content")
        received = received if type(received) is list else []
        for index, part in enumerate(parts if final else parts[: len(received)]):  # only what this event carries
            old = old_parts[index] if type(old_parts) is list and index < len(old_parts) else None
            emissions += self.derived.whole((message_id, index), _received(received, index, part), part, old, final)
        if final and type(old_parts) is list:
            for index in range(len(parts), len(old_parts)):  # streamed, then dropped
                emissions += self.derived.dropped((message_id, index), old_parts[index])
        return emissions

    def _on_message_delta(self, name: str, data: JSON) -> List[Emission]:
        message_id = data["id"]
        message = self.messages_by_id.get(message_id)
        if message is not None:  # the usual delta, a text fragment for an open part: as below, in fewer steps
            fragment = _text_fragment(data["delta"], message, self.derived.parts, message_id)
            if fragment is not None:
                self.message = message
                part, item = fragment
                return [(name, data, None, message), ("text.delta", item, item["text"]["value"], part)]
        if message is None:  # created in an earlier stream
            message = self.messages_by_id[message_id] = {"id": message_id, "object": "thread.message", "content": []}
        self.message = message
        delta = data["delta"]
        items = delta.get("content")
        emissions: List[Emission] = [(name, data, None, message)]
        if not items:
            _merge(message, delta)
            return emissions
        if len(delta) > 1:
            _merge(message, {key: value for key, value in delta.items() if key != "content"})
        entries = message.get("content")
        if type(entries) is not list:
            entries = message["content"] = []
        late = message.get("status") in _TERMINAL  # its parts are done: a late delta is only folded in
        for item in items:
            known = len(entries)
            entry = _merge_entry(entries, item)
            if late:
                continue
            if len(entries) > known:  # a new part
                emissions += self.derived.appeared((message_id, item["index"]), item, entry)
            if entry.get("type") == "text":  # (its text.created came with it: appeared)
                text = item.get("text")
                fragment = text.get("value") if type(text) is dict else None
                emissions.append(("text.delta", item, fragment if type(fragment) is str else "", entry["text"]))
        return emissions


def _text_fragment(delta: JSON, message: JSON, parts: Dict[Any, bool], message_id: str) -> Optional[Tuple[JSON, JSON]]:
    """The usual message delta, appended: one text fragment (with no
    annotation) for a text part already open, of a message not finished.
    Returns the part's text and the delta's item; None, having changed
    nothing, for any other delta (the general path takes it)."""
    items = delta.get("content")
    if len(delta) != 1 or type(items) is not list or len(items) != 1:
        return None
    item = items[0]
    if type(item) is not dict or len(item) != 3 or item.get("type") != "text":
        return None
    index, text = item.get("index"), item.get("text")
    if type(text) is not dict or type(text.get("value")) is not str or parts.get((message_id, index)) is not False:
        return None  # (an open part's key is False: it has had its text.created, and not its text.done)
    annotated = len(text) == 2 and text.get("annotations") == []  # as the API sends it
    if len(text) != 1 and not annotated:
        return None
    entries = message.get("content")
    if type(entries) is not list or type(index) is not int or not 0 <= index < len(entries):
        return None
    entry = entries[index]
    part = entry.get("text")
    if entry.get("index") != index or entry.get("type") != "text" or type(part) is not dict or message.get("status") in _TERMINAL:
        return None
    _append(part, "value", text["value"])
    if annotated and "annotations" not in part:
        part["annotations"] = []
    return part, item


def _call_key(step_id: str, index: int, entry: JSON) -> Any:
    """A run step's tool call: its id, else its step and index."""
    call_id = entry.get("id")
    return call_id if type(call_id) is str else (step_id, index)


def _tool_calls(step: JSON) -> List[JSON]:
    details = step.get("step_details")
    calls = details.get("tool_calls") if type(details) is dict else None
    return calls if type(calls) is list else []


def _required_calls(run: JSON) -> List[JSON]:
    """The calls a run requires: tool outputs, or approvals (Azure's MCP calls)."""
    action = run.get("required_action") or {}
    calls = (action.get("submit_tool_outputs") or action.get("submit_tool_approval") or {}).get("tool_calls")
    return calls if type(calls) is list else []


class _ResponseAccumulator(_Accumulator):
    """Responses API responses: the current one, its output items merged from
    their events, and every one before it in the stream (one per tool round).

    Every event names its output item by place (``output_index``); ids may be
    missing.  An event for an item not yet added is kept; a final response's
    items are matched to the streamed ones by id, else by place.
    """

    def __init__(self) -> None:
        super().__init__()
        self.response: Optional[JSON] = None
        self.responses: List[JSON] = []
        self.items_done: Set[Any] = set()  # output items whose output_item.done came
        self.routes = {
            **dict.fromkeys(_RESPONSE_FINAL_EVENTS, self._on_response),
            "response.created": self._on_response,
            "response.in_progress": self._on_response,
            "response.queued": self._on_response,
            "response.output_item.added": self._on_output_item,
            "response.output_item.done": self._on_output_item,
            "response.content_part.added": self._on_content_part,
            "response.content_part.done": self._on_content_part,
            "response.output_text.delta": self._on_part_text,
            "response.output_text.done": self._on_part_text,
            "response.refusal.delta": self._on_part_text,
            "response.refusal.done": self._on_part_text,
            "response.reasoning_text.delta": self._on_part_text,
            "response.reasoning_text.done": self._on_part_text,
            "response.output_text.annotation.added": self._on_annotation,
            "response.reasoning_summary_part.added": self._on_summary_part,
            "response.reasoning_summary_part.done": self._on_summary_part,
            "response.reasoning_summary_text.delta": self._on_summary_text,
            "response.reasoning_summary_text.done": self._on_summary_text,
            **dict.fromkeys(_CALL_TEXT, self._on_call_text),
        }

    @property
    def status(self) -> Optional[str]:
        return self.response.get("status") if self.response is not None else None

    def final(self) -> Optional[JSON]:
        return _snapshot(self.response)  # type: ignore[no-any-return]

    def text(self) -> str:
        return _joined_text(
            item
            for response in self.responses
            for item in response.get("output") or ()
            if type(item) is dict and item.get("type") == "message"
        )

    def item_key(self, index: int) -> Tuple[int, int]:
        """An output item's key for the derived events and ``items_done``:
        its response's place in the stream, and its own in the output."""
        return (len(self.responses), index)

    def output(self) -> List[JSON]:
        """The current response's output; a new response's if tool outputs
        were sent since (its events may come before its response.created)."""
        if self.response is None or self.waiting:
            self.response = {"output": []}
            self.responses.append(self.response)
            self.waiting = False
        output = self.response.setdefault("output", [])
        if type(output) is not list:
            raise TypeError("output is not a list")
        return output

    def _on_response(self, name: str, data: JSON) -> List[Emission]:
        received = data["response"]
        status = _final_status(name, received) or _status(received)
        final = status in _TERMINAL
        current = self.response
        received_id = received.get("id")
        if current is None or self.waiting or (received_id is not None and current.get("id") not in (None, received_id)):
            current = self.response = {"output": []}  # the first, or after tools (an event without an id is the current one's)
            self.responses.append(current)
            self.waiting = False
        old_output = current["output"]
        if final:
            kept = _finished(current, received)
            current.clear()
            current.update(kept, status=status)
        else:
            current.update((key, _snapshot(value)) for key, value in received.items() if key != "output")
        output = current.get("output")
        if type(output) is not list:
            output = current["output"] = old_output
        emissions: List[Emission] = [(name, data, None, current)]
        if final:  # whatever the body did not finish, the final response does
            emissions += self._close_output(output, old_output)
        return emissions

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
                kept = _snapshot(item)
                output.append(kept)
                emissions += self._item_events(place, kept, kept, item, True)
        return emissions

    def _item_events(self, index: int, received: Any, item: JSON, old: Optional[JSON], done: bool) -> List[Emission]:
        """Derived events for an output item that arrived (or finished) whole."""
        key = self.item_key(index)
        if _is_tool_call(item):
            return self.derived.call(key, received, item, done)
        emissions: List[Emission] = []
        if item.get("type") == "message" and type(item.get("content")) is list:
            old_parts = old.get("content") if old is not None else None
            for position, part in enumerate(item["content"]):
                if type(part) is dict:
                    before = old_parts[position] if type(old_parts) is list and position < len(old_parts) else None
                    emissions += self.derived.whole((key, position), part, part, before, done)
        return emissions

    def _on_output_item(self, name: str, data: JSON) -> List[Emission]:
        index, received = data["output_index"], data["item"]
        output = self.output()
        item = _slot(output, index)
        old = _snapshot(item) or None
        done = name == "response.output_item.done"
        if done or old is None:
            item = output[index] = _finished(item, received)
        else:  # its events came first: keep what they built
            item.update((key, _snapshot(value)) for key, value in received.items() if key not in item)
        if done:
            self.items_done.add(self.item_key(index))
        return [(name, data, None, item)] + self._item_events(index, received, item, old, done)

    def _on_content_part(self, name: str, data: JSON) -> List[Emission]:
        item = _slot(self.output(), data["output_index"])
        parts = item.setdefault("content", [])
        position, done = data["content_index"], name == "response.content_part.done"
        old = _snapshot(_slot(parts, position)) or None
        if done or not old:
            parts[position] = _finished(parts[position], data["part"])
        key = (self.item_key(data["output_index"]), position)
        return [(name, data, None, item)] + self.derived.whole(key, data, parts[position], old, done)

    def _on_part_text(self, name: str, data: JSON) -> List[Emission]:
        """response.output_text / refusal / reasoning_text: .delta and .done"""
        item = _slot(self.output(), data["output_index"])
        position = data["content_index"]
        part = _slot(item.setdefault("content", []), position)
        field = "refusal" if name.startswith("response.refusal.") else "text"
        part.setdefault("type", name.split(".")[1])
        key = (self.item_key(data["output_index"]), position)
        emissions: List[Emission] = [(name, data, None, item)]
        if name.endswith(".done"):
            old = _snapshot(part)
            part[field] = _text_field(data, field)
            return emissions + self.derived.whole(key, data, part, old, True)
        fragment = _delta_text(data)
        _append(part, field, fragment)
        if _is_text(part):
            emissions += self.derived.text(key, data, fragment, part)
        return emissions

    def _on_annotation(self, name: str, data: JSON) -> List[Emission]:
        item = _slot(self.output(), data["output_index"])
        part = _slot(item.setdefault("content", []), data["content_index"])
        annotations = part.setdefault("annotations", [])
        _slot(annotations, data["annotation_index"])
        annotations[data["annotation_index"]] = _snapshot(data["annotation"])
        return [(name, data, None, item)]

    def _on_call_text(self, name: str, data: JSON) -> List[Emission]:
        """A tool call's streamed text: function arguments, custom input, code."""
        index = data["output_index"]
        item = _slot(self.output(), index)
        field = _CALL_TEXT[name]
        emissions: List[Emission] = [(name, data, None, item)]
        if name.endswith(".done"):
            value = data[field]
            item[field] = value if type(value) is dict else _text_field(data, field)  # some servers send the object
            return emissions
        _append(item, field, _delta_text(data))
        return emissions + self.derived.call_delta(self.item_key(index), data, item)

    def _on_summary_part(self, name: str, data: JSON) -> List[Emission]:
        item = _slot(self.output(), data["output_index"])
        summary = item.setdefault("summary", [])
        old = _slot(summary, data["summary_index"])
        if name == "response.reasoning_summary_part.done" or not old:
            summary[data["summary_index"]] = _snapshot(data["part"])
        return [(name, data, None, item)]

    def _on_summary_text(self, name: str, data: JSON) -> List[Emission]:
        item = _slot(self.output(), data["output_index"])
        part = _slot(item.setdefault("summary", []), data["summary_index"])
        if name == "response.reasoning_summary_text.done":
            part["text"] = _text_field(data, "text")
        else:
            _append(part, "text", _delta_text(data))
        return [(name, data, None, item)]


class _PayloadError(Exception):
    """An accumulator found an error inside a payload (a chat chunk that
    carries ``error``): the stream dispatches ``emissions`` (what the payload
    built, its ``error`` event last), then raises a StreamError."""

    def __init__(self, emissions: List[Emission], data: JSON):
        super().__init__()
        self.emissions = emissions
        self.data = data


class _ChatAccumulator(_Accumulator):
    """Chat completions: the current one, API-shaped as the ``chat.completion``
    a request without ``stream`` returns, its choices merged from their deltas
    by index; and every one before it in the stream (one per tool round).

    Chunks are data-only events, which the wire names "message"; each is
    dispatched as ``chat.completion.chunk``.  A choice's text and tool calls
    are done at its finish reason (the first one: never overwritten).  The
    status is "in_progress" until every choice has a finish reason (or the
    body said [DONE]): then "completed", or "incomplete" if some choice was
    cut short ("length", "content_filter").
    """

    def __init__(self) -> None:
        super().__init__()
        self.completion: Optional[JSON] = None
        self.completions: List[JSON] = []
        self.done = False  # the body said [DONE]
        self._status: Optional[str] = None
        self._unfinished = 0  # choices without a finish reason
        self._cut = False
        self._call_ids: Dict[Any, int] = {}  # (round, choice, call id) -> index, for servers that leave the index out
        self._unsaid: List[str] = []  # the completion's fields no chunk has given yet
        self.routes = {"message": self._on_chunk}

    @property
    def status(self) -> Optional[str]:
        return "completed" if self.done and self._status == "in_progress" else self._status

    def final(self) -> Optional[JSON]:
        return _snapshot(self.completion)  # type: ignore[no-any-return]

    def text(self) -> str:
        """Each round's first choice: the reply the conversation goes on with."""
        return "".join(
            _text_of(choice["message"]) for completion in self.completions for choice in completion["choices"] if choice["index"] == 0
        )

    def _on_chunk(self, name: str, data: JSON) -> List[Emission]:
        completion = self.completion
        if completion is None or self.waiting:  # the first, or after tools
            completion = self.completion = {"id": None, "object": "chat.completion", "created": None, "model": None, "choices": []}
            completion["usage"] = None
            self.completions.append(completion)
            self.waiting = self.done = self._cut = False
            self._unfinished = 0
            self._status = "in_progress"
            self._unsaid = ["id", "created", "model", "system_fingerprint", "service_tier"]
        for key in self._unsaid:  # each from the first chunk that says (Azure's filter chunk says "")
            value = data.get(key)
            if value is not None and value != "":
                completion[key] = value
                self._unsaid = [other for other in self._unsaid if other != key]  # (the loop goes on over the old list)
        for key in ("usage", "prompt_filter_results"):
            value = data.get(key)
            if value is not None:
                completion[key] = _snapshot(value)
        emissions: List[Emission] = [("chat.completion.chunk", data, None, completion)]
        choices = data.get("choices")
        if choices:
            for received in choices:
                emissions += self._on_choice(completion["choices"], received)
        if data.get("error") is not None:  # some servers report a failure in a chunk
            raise _PayloadError(emissions + [("error", data, None, data)], data)
        return emissions

    def _on_choice(self, choices: List[JSON], received: JSON) -> List[Emission]:
        index = received.get("index", 0)  # some servers leave it out when there is one choice
        if type(index) is int and 0 <= index < len(choices) and choices[index]["index"] == index:
            choice = choices[index]
        else:
            known = len(choices)
            choice = _merge_entry(choices, {"index": index})
            if len(choices) > known:
                choice.update(message={"role": "assistant", "content": None, "refusal": None}, finish_reason=None, logprobs=None)
                self._unfinished += 1
                self._status = "in_progress"
        key = (len(self.completions), index)
        message = choice["message"]
        emissions: List[Emission] = []
        delta = received.get("delta")
        if delta:
            for field, value in delta.items():
                if field == "content":
                    fragment = value if type(value) is str else _content_text(value)
                    if fragment:
                        _append(message, "content", fragment)
                        emissions += self.derived.text(key, received, fragment, message)
                elif field == "tool_calls":
                    emissions += self._on_calls(key, received, message, value)
                elif field in _CHAT_TEXT:
                    if type(value) is str and value:
                        _append(message, field, value)
                elif field == "role":
                    if type(value) is str:
                        message["role"] = value
                else:  # whatever else a server adds (function_call, audio, ...)
                    _merge(message, {field: value})
        logprobs = received.get("logprobs")
        if type(logprobs) is dict:  # each chunk's tokens, appended
            kept = choice["logprobs"] = choice["logprobs"] or {}
            for field, tokens in logprobs.items():
                if type(tokens) is not list:
                    kept.setdefault(field, tokens)
                elif type(kept.get(field)) is list:
                    kept[field].extend(_snapshot(tokens))
                else:
                    kept[field] = _snapshot(tokens)
        filters = received.get("content_filter_results")
        if filters is not None:
            choice["content_filter_results"] = _snapshot(filters)
        reason = received.get("finish_reason")
        if reason is not None and choice["finish_reason"] is None:  # the first one stays
            if type(reason) is not str:
                raise TypeError("finish_reason is not a string: %r" % (reason,))
            choice["finish_reason"] = reason
            self._unfinished -= 1
            self._cut = self._cut or reason in _CUT_SHORT
            if not self._unfinished:
                self._status = "incomplete" if self._cut else "completed"
            emissions += self._close(key, received, message)
        return emissions

    def _close(self, key: Tuple[int, Any], data: Any, message: JSON) -> List[Emission]:
        """A choice's text and tool calls are done."""
        emissions = self.derived.text_done(key, data, message)
        for position, entry in enumerate(message.get("tool_calls") or ()):
            emissions += self.derived.call(key + (entry.pop("index", position),), data, entry, True)
        return emissions

    def finish(self) -> List[Emission]:
        """The choices that never had a finish reason (the body said [DONE]) are done too."""
        emissions: List[Emission] = []
        if self.completion is not None:
            for choice in self.completion["choices"]:
                if choice["finish_reason"] is None:
                    emissions += self._close((len(self.completions), choice["index"]), _snapshot(choice), choice["message"])
        return emissions

    def _on_calls(self, key: Tuple[int, Any], received: JSON, message: JSON, calls: Any) -> List[Emission]:
        """A delta's tool calls, merged by index: an id and name once, the
        arguments in pieces; or a whole call in one delta; or (some servers)
        no index: the call with this id, else a new one, else the last."""
        if calls is None:
            return []
        entries = message.get("tool_calls")
        if type(entries) is not list:
            entries = message["tool_calls"] = []
        emissions: List[Emission] = []
        for item in calls:
            index = item.get("index")
            if index is None:
                call_id = item.get("id")
                known = self._call_ids.get(key + (call_id,)) if call_id else None
                index = known if known is not None else len(entries) if call_id or not entries else len(entries) - 1
                item = dict(item, index=index)
            if item.get("id"):
                self._call_ids[key + (item["id"],)] = index
            entry = _merge_entry(entries, item)
            emissions += self.derived.call_delta(key + (index,), item, entry)
        return emissions


def _content_text(content: Any) -> str:
    """The text of a chat delta's content given as parts (as Mistral does):
    its text parts, joined; other parts (thinking) are not the reply's text."""
    if content is None:
        return ""
    if type(content) is not list:
        raise TypeError("content is neither a string nor a list of parts: %r" % (content,))
    return "".join(part["text"] for part in content if type(part) is dict and part.get("type") == "text" and type(part.get("text")) is str)


def _is_tool_call(item: Any) -> bool:
    """A Responses output item that is a tool call (function_call, mcp_call,
    ...), or a call awaiting approval (mcp_approval_request)."""
    if type(item) is not dict:
        return False
    kind = str(item.get("type", ""))
    return kind.endswith("_call") or kind == "mcp_approval_request"


# ---------------------------------------------------------------------------
# Dialects: what differs per API (paths, stops, tool rounds, recovery, cancel)
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


class _Transport(Protocol):
    """What a Stream asks of its Client, and nothing more: the seam a test
    fills with a fake.  Client documents each method."""

    def _open_stream(self, path: str, body: JSON) -> _Body: ...

    def _get(self, path: str, deadline: Optional[_Deadline] = None) -> JSON: ...

    def _list(self, path: str, params: Optional[Dict[str, Any]] = None, deadline: Optional[_Deadline] = None) -> List[JSON]: ...

    def _post_quietly(self, path: str) -> None: ...

    def _redacted(self, error: AssistantStreamError) -> AssistantStreamError: ...

    def _redact(self, text: str) -> str: ...

    def _secrets(self) -> List[str]: ...


class _Call(NamedTuple):
    """A tool call a stop requires, checked: a string id and name.  A
    "function" call is answered with its tool's output; an "approval" (an
    MCP call awaiting it) with the approval callback's decision, which is
    shown ``item``, the call as the server listed it."""

    id: str
    name: str
    arguments: Any
    kind: str = "function"
    item: Any = None


def _checked_calls(calls: Iterable[Tuple[Any, ...]]) -> List[_Call]:
    """The calls, each with a string id and name, each once: a call listed
    twice the same way is answered once; listed twice differently, it is
    malformed (ValueError)."""
    found: Dict[str, _Call] = {}
    for call in (_Call(*call) for call in calls):
        if type(call.id) is not str or type(call.name) is not str:
            raise ValueError("a tool call without a string id and name")
        if found.setdefault(call.id, call) != call:
            raise ValueError("tool call %s is listed twice, differently" % call.id)
    return list(found.values())


class _Deadline(NamedTuple):
    """A total time budget: ``seconds`` long, ending at ``at`` (on
    ``time.monotonic()``), cut short when ``closed()`` says so."""

    seconds: float
    at: float
    closed: Callable[[], bool]


def _poll(transport: _Transport, path: str, deadline: _Deadline, cut: AssistantStreamError, stopped: Callable[[JSON], bool]) -> JSON:
    """GET ``path`` until ``stopped(answer)``, backing off (0.25 s, doubling
    to 4 s), within the deadline: its total, each answer included (however
    slowly the server sends it); errors are chained to ``cut``."""
    delay = 0.25
    try:
        found = transport._get(path, deadline)
        while not stopped(found):
            if time.monotonic() + delay > deadline.at:
                raise IncompleteStreamError(
                    "the stream was cut (%s) and it was still %r after %g s of polling" % (cut, found.get("status"), deadline.seconds)
                )
            if not _nap(delay, deadline):
                raise IncompleteStreamError("the stream was closed while it was being recovered, after: %s" % cut)
            delay = min(delay * 2, 4.0)
            found = transport._get(path, deadline)
    except AssistantStreamError as exc:
        raise exc from cut
    return found


def _nap(seconds: float, deadline: _Deadline) -> bool:
    """Sleep, in slices to notice a close from elsewhere; False if closed."""
    while seconds > 0:
        if deadline.closed():
            return False
        piece = min(seconds, 0.25)
        time.sleep(piece)
        seconds -= piece
    return not deadline.closed()


def _newly_finished(items: List[Any], known: Dict[str, JSON], finished: Collection[str]) -> List[JSON]:
    """The objects of a list that are finished but were not seen finished."""
    found = []
    for item in items:
        if type(item) is dict and item.get("status") in finished:
            seen = known.get(str(item.get("id")))
            if seen is None or seen.get("status") not in finished:
                found.append(item)
    return found


class _Dialect:
    """One API's ways, for one stream: its accumulator (``acc``), the event
    names it sends, where a body has stopped, the tool calls a stop requires
    and the request that answers them, recovery by polling, cancel, and the
    words for where a stream ended.  The Stream asks; it never looks at which
    API it speaks.  ``answered`` holds the ids of the calls answered so far:
    no call is answered twice."""

    kind = ""  # what the stream is about: "run", "response"
    accumulator: Type[_Accumulator] = _Accumulator
    events: FrozenSet[str] = frozenset()  # the names of its API's events, which callbacks may register
    ends: Tuple[str, ...] = ()  # events after which a body carries nothing more (as after "done")
    settles: Tuple[str, ...] = ()  # events that may stop what the stream is about: then a silence ends the body
    went_on = ""  # the words for what follows sent tool outputs: "run went on"
    last_word = ""  # and for the end of a body: "'done'"

    def __init__(self) -> None:
        self.acc = self.accumulator()
        self.answered: Set[str] = set()

    @property
    def required(self) -> FrozenSet[str]:
        """The names, as the wire gives them, whose events must carry a JSON
        object (and a data line): its API's events, but ``error``."""
        return self.events - _FREE_EVENTS

    @classmethod
    def claims(cls, name: str, data: Any) -> bool:
        """Whether this API sent this event: how a replay finds its dialect."""
        return name in cls.events and name not in _SHARED_EVENTS

    def ended(self, said_done: bool) -> bool:
        """Whether a body that ended here leaves nothing to wait for: it said
        its last word, or what the stream is about stopped; never before the
        round after sent tool outputs was heard from."""
        return not self.acc.waiting and (said_done or self.acc.status in _STOPS)

    def where(self) -> str:
        """Where a stream that ended early was, for its error message."""
        if self.acc.waiting:
            return "after the tool outputs were sent, before the %s" % self.went_on
        status = self.acc.status
        if status is None:
            return "before the %s started" % self.kind
        return "before %s, with the %s in status %r" % (self.last_word, self.kind, status)

    def answer(self, calls: List[_Call]) -> None:
        """Note calls as answered; a call answered before is a ProtocolError."""
        again = [call.id for call in calls if call.id in self.answered]
        if again:
            raise ProtocolError("the server asks again for tool call %s, whose output was already submitted" % again[0])
        self.answered.update(call.id for call in calls)

    def describe(self) -> str:
        """What the stream is about, for log lines: "run run_1"."""
        latest = self.acc.final()
        return "%s %s" % (self.kind, latest.get("id") if latest is not None else None)

    def required_calls(self) -> List[_Call]:
        """The function calls the stop requires, checked (ProtocolError if one
        has no string id or name); [] if it requires none."""
        raise NotImplementedError

    def follow_up_path(self) -> str:
        """Where the tool outputs go; its ids checked before any tool runs."""
        raise NotImplementedError

    def follow_up_body(self, calls: List[_Call], answers: List[Any]) -> JSON:
        """The request that sends the answers (a function call's output, an
        approval's (approve, fields)) and streams what follows."""
        raise NotImplementedError

    def pollable(self) -> bool:
        """Whether what the stream is about can be polled: its id is known."""
        raise NotImplementedError

    def recover(self, transport: _Transport, deadline: _Deadline, cut: AssistantStreamError) -> List[Tuple[str, Any]]:
        """Poll until it stops, within the deadline; the events the lost body
        would have carried (what it finished, and its final event), for the
        stream to dispatch."""
        raise NotImplementedError

    def cancel_path(self, interrupted: bool) -> Optional[str]:
        """Where to cancel what the stream is about, if it may be cancelled
        (``interrupted``: an exception left the stream); None if not."""
        raise NotImplementedError


class _RunDialect(_Dialect):
    """Assistants runs: ``POST …/submit_tool_outputs`` answers a run that
    requires action; a run is polled, with its steps and messages.
    ``resume`` is (thread id, run id) for a stream that begins with tool
    outputs sent (``Client.submit_tool_outputs``)."""

    kind = "run"
    events = frozenset(_THREAD_EVENTS + _RUN_EVENTS + _STEP_EVENTS + _MESSAGE_EVENTS + _SHARED_EVENTS)
    settles = _RUN_EVENTS
    went_on = "run went on"
    last_word = "'done'"

    accumulator = _RunAccumulator
    acc: _RunAccumulator

    def __init__(self, resume: Optional[Tuple[str, str]] = None) -> None:
        super().__init__()
        self.resume = resume
        self.acc.waiting = resume is not None

    def _ids(self) -> Tuple[Any, Any]:
        """The thread and run ids: as the server sent them, else as requested."""
        run = self.acc.run
        if run is None and self.resume is not None:
            return self.resume
        run = run or {}
        return run.get("thread_id"), run.get("id")

    def _path(self) -> str:
        """The run's API path, its ids checked."""
        try:
            return _run_path(*self._ids())
        except ValueError as exc:
            raise ProtocolError("the run has no valid thread_id and id: %r" % (exc,)) from None

    def required_calls(self) -> List[_Call]:
        run = self.acc.run
        if run is None or run.get("status") != "requires_action":
            return []
        try:
            if (run.get("required_action") or {}).get("type") == "submit_tool_approval":  # Azure's MCP calls
                return _checked_calls((call["id"], call["name"], call.get("arguments"), "approval", call) for call in _required_calls(run))
            return _checked_calls(
                (call["id"], call["function"]["name"], call["function"].get("arguments")) for call in _required_calls(run)
            )
        except _MALFORMED as exc:
            raise ProtocolError("malformed required_action: %r" % (exc,)) from None

    def follow_up_path(self) -> str:
        return self._path() + "/submit_tool_outputs"

    def follow_up_body(self, calls: List[_Call], answers: List[Any]) -> JSON:
        body: JSON = {}
        for call, answer in zip(calls, answers):
            if call.kind == "approval":
                body.setdefault("tool_approvals", []).append(dict(answer[1], tool_call_id=call.id, approve=answer[0]))
            else:
                body.setdefault("tool_outputs", []).append({"tool_call_id": call.id, "output": answer})
        return dict(body, stream=True)

    def pollable(self) -> bool:
        return bool((self.acc.run or {}).get("id") or self.resume)

    def recover(self, transport: _Transport, deadline: _Deadline, cut: AssistantStreamError) -> List[Tuple[str, Any]]:
        path = self._path()
        thread_id, run_id = self._ids()
        _log.debug("%s", transport._redact("recovering run %s after: %s" % (run_id, cut)))
        run = _poll(transport, path, deadline, cut, self._stopped)
        try:
            steps = transport._list(path + "/steps", None, deadline)
            messages = transport._list(_thread_path(thread_id) + "/messages", {"run_id": run_id}, deadline)
        except AssistantStreamError as exc:
            raise exc from cut
        acc = self.acc
        events = [("thread.run.step." + step["status"], step) for step in _newly_finished(steps, acc.steps_by_id, _TERMINAL)]
        events += [("thread.message." + msg["status"], msg) for msg in _newly_finished(messages, acc.messages_by_id, _MESSAGE_FINAL)]
        events.append(("thread.run." + run["status"], run))
        return events

    def _stopped(self, run: JSON) -> bool:
        """Whether a polled run has stopped: a run still requiring only the
        calls just answered has not taken the outputs in yet."""
        if run.get("status") not in _STOPS:
            return False
        required = {call.get("id") for call in _required_calls(run) if type(call) is dict}
        return run.get("status") != "requires_action" or not required or not required <= self.answered

    def cancel_path(self, interrupted: bool) -> Optional[str]:
        status = self.acc.status
        if self.acc.run is None or status in _TERMINAL or status == "cancelling":
            return None
        if status == "requires_action" and not interrupted and not self.acc.waiting:
            return None  # left on purpose: the caller may submit the tool outputs
        return self._path() + "/cancel"


class _ResponseDialect(_Dialect):
    """Responses API responses: a follow-up response answers the function
    calls of a completed one (``_follow_up``); a response is polled by id.
    ``request`` is the first request's body, repeated in each follow-up."""

    kind = "response"
    events = frozenset(_RESPONSE_EVENTS + _SHARED_EVENTS)
    ends = _RESPONSE_FINAL_EVENTS
    went_on = "next response started"
    last_word = "the response finished"

    accumulator = _ResponseAccumulator
    acc: _ResponseAccumulator

    def __init__(self, request: Optional[JSON] = None) -> None:
        super().__init__()
        self.request = request or {}

    def _id(self) -> str:
        """The response's id, checked for a URL path."""
        try:
            return _check_id((self.acc.response or {})["id"], "response id")
        except _MALFORMED as exc:
            raise ProtocolError("the response has no valid id: %r" % (exc,)) from None

    def required_calls(self) -> List[_Call]:
        response = self.acc.response
        if response is None or response.get("status") != "completed":
            return []
        try:
            items = [item for item in response.get("output") or () if type(item) is dict]
            return _checked_calls(
                (item.get("call_id"), item.get("name"), item.get("arguments"))
                if item.get("type") == "function_call"
                else (item.get("id"), item.get("name"), item.get("arguments"), "approval", item)
                for item in items
                if item.get("type") in ("function_call", "mcp_approval_request")
            )
        except _MALFORMED as exc:
            raise ProtocolError("malformed function_call or mcp_approval_request: %r" % (exc,)) from None

    def _chained_id(self) -> str:
        """The id a follow-up continues, in its body (any string: gateways make ids of base64)."""
        found = (self.acc.response or {}).get("id")
        if type(found) is not str or not found:
            raise ProtocolError("the response has no id to continue: %r" % (found,))
        return found

    def follow_up_path(self) -> str:
        self._chained_id()
        return "/responses"

    def follow_up_body(self, calls: List[_Call], answers: List[Any]) -> JSON:
        items = [
            dict(answer[1], type="mcp_approval_response", approval_request_id=call.id, approve=answer[0])
            if call.kind == "approval"
            else {"type": "function_call_output", "call_id": call.id, "output": answer}
            for call, answer in zip(calls, answers)
        ]
        return _follow_up(self.request, self._chained_id(), items)

    def pollable(self) -> bool:
        return not self.acc.waiting and bool((self.acc.response or {}).get("id"))

    def recover(self, transport: _Transport, deadline: _Deadline, cut: AssistantStreamError) -> List[Tuple[str, Any]]:
        acc = self.acc
        _log.debug("%s", transport._redact("recovering response %s after: %s" % ((acc.response or {}).get("id"), cut)))
        finals = [name[len("response.") :] for name in _RESPONSE_FINAL_EVENTS]
        response = _poll(transport, "/responses/" + self._id(), deadline, cut, lambda found: found.get("status") in finals)
        output = response.get("output")
        output = output if type(output) is list else []
        streamed = acc.output()
        events: List[Tuple[str, Any]] = []
        fresh = len(streamed)  # places for items never streamed, after the others
        for item, place in zip(output, _match(output, streamed)):
            if type(item) is dict and (place is None or acc.item_key(place) not in acc.items_done):
                if place is None:
                    place, fresh = fresh, fresh + 1
                events.append(("response.output_item.done", {"type": "response.output_item.done", "output_index": place, "item": item}))
        name = "response." + response["status"]
        events.append((name, {"type": name, "response": response}))
        return events

    def cancel_path(self, interrupted: bool) -> Optional[str]:
        if self.acc.response is None or self.acc.status in _TERMINAL:
            return None
        return "/responses/%s/cancel" % self._id()


class _ChatDialect(_Dialect):
    """Chat Completions: a finish reason with tool calls is answered by the
    conversation again, with the assistant's message and one ``tool``
    message per call (``_chat_follow_up``), in a request like the first.
    Nothing can be polled or cancelled: a stream left early is only closed.
    ``request`` is the first request's body."""

    kind = "completion"
    events = frozenset(_CHAT_EVENTS + _SHARED_EVENTS)
    settles = ("message",)
    went_on = "next completion started"
    last_word = "[DONE]"

    accumulator = _ChatAccumulator
    acc: _ChatAccumulator

    def __init__(self, request: Optional[JSON] = None) -> None:
        super().__init__()
        self.request = request or {}
        self.messages = list(self.request.get("messages") or ())  # the conversation so far

    @property
    def required(self) -> FrozenSet[str]:
        return frozenset(("message",))  # a chunk is a data-only event: a JSON object

    @classmethod
    def claims(cls, name: str, data: Any) -> bool:
        return (
            name == "message"
            and type(data) is dict
            and (data.get("object") == "chat.completion.chunk" or type(data.get("choices")) is list)
        )

    def ended(self, said_done: bool) -> bool:
        """As for any API; and a body that said [DONE] has finished its
        completion, whether or not it gave finish reasons (asked at every
        chunk: kept short)."""
        acc = self.acc
        if acc.waiting:
            return False
        if said_done:
            acc.done = True
            return True
        return acc._status in _STOPS

    def required_calls(self) -> List[_Call]:
        """The tool calls of the one choice (with n > 1, which reply goes on is
        the caller's to choose), unless it was cut short."""
        completion = self.acc.completion
        if completion is None or self.acc.waiting or len(completion["choices"]) != 1:
            return []
        choice = completion["choices"][0]
        calls = _snapshot(choice["message"].get("tool_calls"))
        if not calls or choice["finish_reason"] in _CUT_SHORT:
            return []
        try:
            return _checked_calls((call["id"], call["function"]["name"], call["function"].get("arguments")) for call in calls)
        except _MALFORMED as exc:
            raise ProtocolError("malformed tool_calls: %r" % (exc,)) from None

    def follow_up_path(self) -> str:
        return "/chat/completions"

    def follow_up_body(self, calls: List[_Call], answers: List[Any]) -> JSON:
        reply = self.acc.completion["choices"][0]["message"]  # type: ignore[index]
        content = _text_of(reply) or None
        assistant = {"role": "assistant", "content": content, "tool_calls": [_chat_call(call) for call in calls]}
        self.messages += [assistant] + [
            {"role": "tool", "tool_call_id": call.id, "content": answer} for call, answer in zip(calls, answers)
        ]
        return _chat_follow_up(self.request, self.messages)

    def pollable(self) -> bool:
        return False

    def cancel_path(self, interrupted: bool) -> Optional[str]:
        return None


def _chat_call(call: _Call) -> JSON:
    """A tool call as the assistant's message carries it back."""
    arguments = call.arguments if type(call.arguments) is str else json.dumps(call.arguments)
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}}


def _chat_follow_up(request: JSON, messages: List[JSON]) -> JSON:
    """The request that sends the tools' outputs back: the first one again,
    with the conversation so far, and without a ``tool_choice`` that forces a
    call (as ``_follow_up``)."""
    body = {key: value for key, value in request.items() if key not in ("messages", "tool_choice")}
    choice = _unforced(request.get("tool_choice"))
    if choice is not None:
        body["tool_choice"] = choice
    body.update(messages=messages, stream=True)
    return body


def _unforced(choice: Any) -> Any:
    """A ``tool_choice`` fit for a follow-up: "auto" and "none" as they are,
    ``allowed_tools`` in auto mode; None for one that forces a call, or it
    would force one in every round."""
    if choice in ("auto", "none"):
        return choice
    if type(choice) is dict and choice.get("type") == "allowed_tools":
        return dict(choice, mode="auto")
    return None


def _follow_up(request: JSON, response_id: str, outputs: List[JSON]) -> JSON:
    """The request that sends a response's tool outputs back: the first one
    again, with the outputs as input, chained to the response (or, with a
    ``conversation``, through it: the API takes one or the other), without a
    ``tool_choice`` that forces a call (``_unforced``)."""
    body = {key: value for key, value in request.items() if key not in ("input", "previous_response_id", "tool_choice")}
    choice = _unforced(request.get("tool_choice"))
    if choice is not None:
        body["tool_choice"] = choice
    if not request.get("conversation"):
        body.pop("conversation", None)
        body["previous_response_id"] = response_id
    body.update(input=outputs, stream=True)
    return body


# Every dialect, by kind; a replay takes the one whose API sends its first event.
_DIALECTS: Dict[str, Type[_Dialect]] = {dialect.kind: dialect for dialect in (_RunDialect, _ResponseDialect, _ChatDialect)}
# Every API's event names: what Handlers accepts, and what a replay holds to JSON before it knows its API.
_API_EVENTS: FrozenSet[str] = frozenset().union(*(dialect.events for dialect in _DIALECTS.values()))
_REQUIRED_BEFORE_SETTLED = _API_EVENTS - _FREE_EVENTS


def _dialect_for(name: str, data: Any) -> Optional[Type[_Dialect]]:
    """The dialect whose API sends this event, if any."""
    for dialect in _DIALECTS.values():
        if dialect.claims(name, data):
            return dialect
    return None


# ---------------------------------------------------------------------------
# Handlers: the dispatch table
# ---------------------------------------------------------------------------


def _full_name(name: str) -> str:
    for short, full in _SHORT_PREFIXES:
        if name.startswith(short):
            return full + name[len(short) :]
    return name


def _closest(name: str) -> str:
    import difflib  # only on the error path

    names = sorted(_API_EVENTS | _DERIVED_EVENTS) + [
        short + full[len(long_) :] for short, long_ in _SHORT_PREFIXES for full in sorted(_API_EVENTS) if full.startswith(long_)
    ]
    match = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    return "; did you mean %r?" % match[0] if match else ""


def _matches(full: str, pattern: Optional[Pattern[str]], names: Collection[str]) -> bool:
    """Whether a registered name (or its pattern) takes any of these events."""
    return any(pattern.match(name) for name in names) if pattern else full in names


def _signature(fn: Callable[..., Any]) -> Any:
    """fn's inspect.Signature, or None where Python cannot tell (some builtins)."""
    import inspect  # only when registering

    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _takes_one(fn: Callable[..., Any], what: str) -> None:
    """Refuse, at registration, a callable that cannot be called with one
    argument: an official-SDK style ``on_text_delta(delta, snapshot)`` would
    otherwise fail in the middle of a stream."""
    if not callable(fn):
        raise TypeError("%s must be callable, not %r" % (what, fn))
    signature = _signature(fn)
    if signature is None:
        return
    try:
        signature.bind(None)
    except TypeError:
        name = getattr(fn, "__name__", type(fn).__name__)
        raise TypeError(
            "%s %s%s cannot be called with one argument: it gets one, the Event "
            "(event.data, event.text, event.snapshot); write it as def %s(event): ..." % (what, name, signature, name)
        ) from None


class Handlers:
    """A dispatch table: event names to callbacks, and tools.

    Register with ``@handlers.on(name)`` or ``handlers.on(name, fn)``.  A name
    is an API event ("thread.message.delta", "response.output_text.delta"),
    its short form ("message.delta"), a derived event ("text.delta") or a
    shell-style pattern ("thread.run.*", "*"); anything else raises
    ValueError naming the closest valid name.  Callbacks run in registration
    order and take one argument, the Event.  An exception raised by a
    callback propagates out of the stream's ``until_done()`` or iteration,
    and the stream closes.

    One table may serve any number of streams at once, of either API; the
    callbacks for an event name are resolved once and cached until the table
    changes.
    """

    def __init__(self) -> None:
        self._registrations: List[Tuple[str, Optional[Pattern[str]], Callback]] = []
        self._resolved: Dict[str, Tuple[Callback, ...]] = {}
        self.tools: Dict[str, Callable[..., Any]] = {}
        self._reported: Set[str] = set()  # tools whose errors go to the model
        self._approve: Optional[Callable[[JSON], Any]] = None
        self._strangers: Dict[FrozenSet[str], List[str]] = {}  # by API: the names only other APIs send

    @overload
    def on(self, name: str) -> Callable[[_C], _C]: ...
    @overload
    def on(self, name: str, fn: _C) -> _C: ...
    def on(self, name: str, fn: Optional[Callback] = None) -> Any:
        """Register ``fn`` for the event ``name`` and return ``fn``.

        Without ``fn``, return a decorator that does the same.  A callback
        that cannot be called with one argument (the Event) is refused here,
        with a TypeError, rather than in the middle of a stream.
        """
        if not isinstance(name, str):
            raise TypeError("an event name must be a str, not %s" % type(name).__name__)
        full = _full_name(name)
        pattern = None
        if any(char in full for char in "*?["):
            pattern = re.compile(fnmatch.translate(full))
            if not any(pattern.match(known) for known in _API_EVENTS | _DERIVED_EVENTS):
                raise ValueError("the pattern %r matches no event%s" % (name, _closest(name)))
        elif full not in _API_EVENTS and full not in _DERIVED_EVENTS:
            raise ValueError("unknown event name %r%s" % (name, _closest(name)))

        def register(fn: Callback) -> Callback:
            _takes_one(fn, "a callback")
            self._registrations.append((full, pattern, fn))
            self._resolved.clear()
            self._strangers.clear()
            return fn

        return register if fn is None else register(fn)

    def callbacks(self, name: str) -> Tuple[Callback, ...]:
        """The callbacks for an incoming event name, in registration order.

        Resolved once per name and cached: every known name, and others up to
        ``_UNKNOWN_NAMES`` names in all, each of 256 characters at most (a
        server may send any number of names, of any length)."""
        found = self._resolved.get(name)
        if found is None:
            found = tuple(fn for full, pattern, fn in self._registrations if (pattern.match(name) if pattern else full == name))
            if name in _API_EVENTS or name in _DERIVED_EVENTS or (len(self._resolved) < _UNKNOWN_NAMES and len(name) <= 256):
                self._resolved[name] = found
        return found

    @overload
    def tool(self, fn: _T, *, name: Optional[str] = None, report_errors: bool = False) -> _T: ...
    @overload
    def tool(self, fn: None = None, *, name: Optional[str] = None, report_errors: bool = False) -> Callable[[_T], _T]: ...
    def tool(self, fn: Optional[Callable[..., Any]] = None, *, name: Optional[str] = None, report_errors: bool = False) -> Any:
        """Register a function tool, named after the function unless ``name``.

        When a run requires action (or a response completes with function
        calls) and every call in it has a tool, the stream calls each tool in
        order with the call's JSON arguments as keywords, sends the results
        (a str as is, anything else as JSON) and streams what follows.  If a
        tool raises, or the model's arguments are not a JSON object, the
        exception propagates and the stream closes; with
        ``report_errors=True`` the error's text is sent as the output
        instead, for the model to handle.  ``@handlers.tool``,
        ``@handlers.tool(name=...)`` and ``handlers.tool(fn, name=...)`` all
        return ``fn`` unchanged.
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

    def approval(self, fn: _T) -> _T:
        """Register the callback that decides tool approvals, and return it.

        When a run requires approval of MCP calls (Azure's
        ``submit_tool_approval``) or a response asks for it
        (``mcp_approval_request`` items), the stream calls ``fn`` with each
        call, a dict as the server listed it (``name``, ``arguments``,
        ``server_label``, ...), sends the decisions and streams what
        follows.  ``fn`` returns True or False, or ``(True, {...})`` whose
        dict goes into the answer as it is (Azure: ``{"headers": {...}}``
        for the MCP server).  If ``fn`` raises, the exception propagates and
        the stream closes; anything else it returns is a TypeError.  One
        table has one approval callback: registering another replaces it.
        """
        _takes_one(fn, "an approval callback")
        self._approve = fn
        return fn

    def _check_tools(self, tools: Any) -> None:
        """Refuse, before a request is sent, a registered tool that cannot
        take the arguments its schema in the request's ``tools`` describes:
        an argument it has no parameter for, or a parameter without a
        default that the schema never gives.  Tools without a schema there
        (an assistant's own), or whose schema lists no ``properties``, are
        not checked."""
        for tool in tools if type(tools) is list else ():
            if type(tool) is not dict or tool.get("type") != "function":
                continue
            spec = tool["function"] if type(tool.get("function")) is dict else tool  # nested but in the Responses API
            fn = self.tools.get(spec.get("name"))  # type: ignore[arg-type]
            schema = spec.get("parameters")
            signature = _signature(fn) if fn is not None and type(schema) is dict else None
            if signature is None:
                continue
            properties = schema.get("properties")  # type: ignore[union-attr]
            if type(properties) is not dict:
                continue  # an object of any fields: nothing to check against
            given = set(properties)
            parameters = list(signature.parameters.values())
            keywords = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
            unknown = [] if any(p.kind == p.VAR_KEYWORD for p in parameters) else sorted(given - keywords)
            needed = [
                p.name
                for p in parameters
                if p.default is p.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                and (p.name not in given or p.name not in keywords)
            ]
            if unknown or needed:
                raise ValueError(
                    "the tool %r does not match its schema in tools: %s%s%s"
                    % (
                        spec["name"],
                        "it has no parameter for %s" % ", ".join(map(repr, unknown)) if unknown else "",
                        "; " if unknown and needed else "",
                        "it needs %s, which the schema does not give by name" % ", ".join(map(repr, needed)) if needed else "",
                    )
                )

    def _answers(self, call: _Call) -> bool:
        """Whether this table can answer a call: a tool for it, or an approval callback."""
        return self._approve is not None if call.kind == "approval" else call.name in self.tools

    def _answer(self, call: _Call, redact: Optional[Callable[[str], str]] = None) -> Any:
        """A call's answer: a function call's output; an approval's decision,
        as (approve, more fields for the answer)."""
        if call.kind != "approval":
            return self._output(call, redact)
        assert self._approve is not None
        decision = self._approve(_snapshot(call.item))  # a copy: the callback cannot change the stream's state
        if type(decision) is bool:
            return decision, {}
        if type(decision) is tuple and len(decision) == 2 and type(decision[0]) is bool and type(decision[1]) is dict:
            return decision
        raise TypeError("the approval callback returned %r for call %s: return True, False or (True, {...})" % (decision, call.id))

    def _foreign(self, events: FrozenSet[str]) -> List[str]:
        """The names registered for events that only other APIs send (a
        ``response.*`` callback, say, where ``events`` are a run's), when no
        callback is registered for an event of this API's own: a table
        written for another API.  A table written for several says nothing."""
        found = self._strangers.get(events)
        if found is None:
            own = events.difference(_SHARED_EVENTS)
            found = []
            if not any(_matches(full, pattern, own) for full, pattern, _ in self._registrations):
                found = [
                    full
                    for full, pattern, _ in self._registrations
                    if not _matches(full, pattern, events) and not _matches(full, pattern, _DERIVED_EVENTS)
                ]
            self._strangers[events] = found
        return found

    def _cache(self) -> Dict[str, Tuple[Callback, ...]]:
        """The resolved callbacks by event name, for a stream's one dict
        lookup per event; cleared in place whenever the table changes."""
        return self._resolved

    def _output(self, call: _Call, redact: Optional[Callable[[str], str]] = None) -> str:
        """Call the tool a call names with its arguments (a JSON text, or an
        object) as keywords; its result as the output to send: a str as is,
        anything else as JSON.  What the tool raises propagates, unless it
        reports errors: then the error's text is the output."""
        try:
            arguments = call.arguments
            if type(arguments) is not dict:  # a JSON text, as the API sends it (some servers send the object)
                try:
                    arguments = json.loads(arguments or "{}")
                except (TypeError, ValueError, RecursionError):
                    arguments = None
            if type(arguments) is not dict:
                arguments = _preview(str(call.arguments), redact=redact)
                raise ProtocolError("tool call %s: the arguments are not a JSON object: %s" % (call.id, arguments))
            result = self.tools[call.name](**arguments)
            return result if isinstance(result, str) else json.dumps(result)
        except Exception as exc:
            if call.name not in self._reported:
                raise
            _log.debug("tool %s failed, reported to the model: %r", call.name, exc)
            return "error: %s: %s" % (type(exc).__name__, exc)

    def __repr__(self) -> str:
        approval = ", an approval callback" if self._approve is not None else ""
        return "<Handlers %d callbacks, %d tools%s>" % (len(self._registrations), len(self.tools), approval)


# ---------------------------------------------------------------------------
# Stream
# ---------------------------------------------------------------------------

# A stream's phase, which only the reader changes: reading a body; the body
# said its last word (acted on at the next step); ended normally.  Closing is
# separate: close() may come from another greenlet or thread at any moment.
_READING, _STOPPED, _FINISHED = "reading", "stopped", "finished"


class Stream:
    """A stream of events (from a run, a response, or a recording): it
    dispatches them to callbacks and keeps what they built.

    ``until_done()`` dispatches every event and returns the final run (or
    response); or iterate it: each Event (API and derived) comes after its
    callbacks ran.  Any exception (a callback's, a network error,
    KeyboardInterrupt, a gevent Timeout) and leaving a ``with`` block or a
    ``for`` loop early close the connection at once; what was received stays
    readable on the stream.

    Streams come from a Client's streaming calls, or from ``replay()``.
    """

    def __init__(
        self,
        body: Union[_Body, _Sections, Iterable[bytes]],
        handlers: Optional[Handlers] = None,
        *,
        dialect: Optional[_Dialect] = None,
        transport: Optional[_Transport] = None,
        record: Union[None, str, os.PathLike[str], IO[bytes], _Recording] = None,
        max_event_bytes: int = _MAX_EVENT_BYTES,
        cancel_on_interrupt: bool = False,
        recover: Union[bool, float] = False,
    ):
        self._sections = body if isinstance(body, _Sections) else None  # a recording: body by body
        if isinstance(body, _Sections):
            body = _Body(body.section(), body)
        self._body = body if isinstance(body, _Body) else _Body(body)
        self._handlers = handlers if handlers is not None else Handlers()
        self._table = self._handlers._cache()  # one dict lookup per event, until the stream has callbacks of its own
        self._own: Optional[Handlers] = None
        self._transport = transport
        self._redact = transport._redact if transport is not None else None
        self._cancel_on_interrupt = cancel_on_interrupt
        self._recover_seconds = _RECOVER_SECONDS if recover is True else float(recover or 0)
        self._max_event_bytes = max_event_bytes
        self._record = record if isinstance(record, _Recording) or record is None else None
        if record is not None and self._record is None:
            try:
                self._record = _Recording(record, transport._secrets if transport is not None else None)  # type: ignore[arg-type]
            except BaseException:
                self._body.close()
                raise
        # A replay learns its API from its first event: until then every event
        # is unrouted, and the stream speaks of a run.
        self._settled = dialect is not None
        self._use(dialect or _RunDialect())
        self._names = self._dialect.required if self._settled else _REQUIRED_BEFORE_SETTLED
        self._phase = _READING
        self._closed = False
        self._received = 0
        self._interrupted = False  # an exception left the stream
        self._recovered = False
        self._lost: Optional[AssistantStreamError] = None  # a body cut short, recovered at the next step
        self._queue: Optional[Deque[Emission]] = None  # while iterating
        self._debug = _log.isEnabledFor(logging.DEBUG)  # checked once, not per event
        self._read(self._body)

    # -- registration ------------------------------------------------------

    @overload
    def on(self, name: str) -> Callable[[_C], _C]: ...
    @overload
    def on(self, name: str, fn: _C) -> _C: ...
    def on(self, name: str, fn: Optional[Callback] = None) -> Any:
        """Register a callback for this stream only; as ``Handlers.on``.

        The stream's own callbacks run after the shared table's.
        """
        if self._own is None:
            self._own = Handlers()
            self._table = {}  # from now on: both tables, resolved on each lookup
        return self._own.on(name) if fn is None else self._own.on(name, fn)

    # -- driving -----------------------------------------------------------

    def until_done(self) -> JSON:
        """Dispatch every remaining event; return the final run (Responses
        API: the final response; Chat Completions: the completion).

        A run that ends failed, cancelled, expired or incomplete is returned
        with that status.  Errors raise (see the module's exceptions) and
        close the stream; on a closed stream this returns what was received,
        and if that is nothing (closed before its first event), raises
        IncompleteStreamError.
        """
        self._drain()
        final = self._acc.final()
        if final is None:
            raise IncompleteStreamError("the stream was closed before its first event")
        return final

    def _drain(self) -> None:
        """Dispatch every remaining event."""
        while self._advance():
            pass

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

        With ``cancel_on_interrupt``, a run (or response) left before it
        finished is cancelled (one request, a short timeout, errors only
        logged); a run waiting in ``requires_action`` only if an exception
        left the stream, so that you can break out and submit its tool
        outputs yourself.
        """
        if self._closed:
            return
        self._closed = True
        self._body.close()
        if self._cancel_on_interrupt and self._phase != _FINISHED:
            self._cancel()
        if self._record is not None:
            self._record.close()

    def _use(self, dialect: _Dialect) -> None:
        """Speak this dialect: its accumulator's routes, and its last words."""
        self._dialect = dialect
        self._acc = dialect.acc
        routes: Dict[str, Route] = dict(dialect.acc.routes)
        for name in dialect.settles:
            routes[name] = self._settling
        for name in dialect.ends:
            routes[name] = self._last
        self._routes = routes if self._settled else {}
        if self._settled:
            foreign = self._handlers._foreign(dialect.events)
            if foreign:  # a table written for another API: say so once, the stream goes on
                _log.warning(
                    "callbacks for %s will not run: this stream is a %s, whose API sends no such event",
                    ", ".join(repr(name) for name in foreign),
                    dialect.kind,
                )

    def _read(self, body: _Body) -> None:
        """Read events from this body (the first, or what follows tool outputs)."""
        self._body = body
        chunks = body.chunks if self._record is None else _recorded(body.chunks, self._record)
        self._framer = _Framer(self._names, self._max_event_bytes)
        self._events = _decode(self._framer, chunks, self._names, self._redact)
        self._last_word = -1  # the event count when the body said its last word

    def _advance(self) -> bool:
        """Take the next step: dispatch one event, or act on the end of a
        body (finish, recover, or run the tools and go on).  Each step's
        events are dispatched before the next step starts.  False once the
        stream has ended."""
        if self._closed:
            return False
        try:
            if self._phase == _STOPPED:
                self._phase = _READING
                self._end_of_body(None, True)
                return True
            if self._lost is not None:  # recovering: dispatch what the lost body would have carried
                cut, self._lost = self._lost, None
                self._recover(cut)
                self._phase = _STOPPED  # then finish, or run the tools, at the next step
                return True
            try:
                name, data = next(self._events)
            except Exception as exc:
                if self._closed:  # close() from another greenlet or thread ended the read
                    return False
                if not isinstance(exc, (StopIteration, IncompleteStreamError, APITimeoutError)):
                    raise
                self._end_of_body(None if isinstance(exc, StopIteration) else exc, self._last_word == self._received)
                return True
            self._dispatch(name, data)
        except BaseException as exc:
            self._fail(exc)
            raise
        return True

    def _dispatch(self, name: str, data: Any) -> None:
        self._received += 1
        if self._debug:
            _log.debug("event %s", self._redact(name) if self._redact is not None else name)
        route = self._routes.get(name)
        if route is None:
            route = self._unrouted(name, data)
            if route is None:
                return
        try:
            emissions = route(name, data)
        except _MALFORMED as exc:
            raise ProtocolError("malformed %r event: %r" % (name, exc)) from exc
        except _PayloadError as found:  # an error inside a payload: what it built, then its error
            emissions, error = found.emissions, found.data
        else:
            self._emit(emissions)
            return
        self._emit(emissions)  # outside the handler: a callback's exception chains nothing internal
        raise _stream_error(error, self._redact)

    def _unrouted(self, name: str, data: Any) -> Optional[Route]:
        """An event no route takes: ``done``, ``error``, a name this module
        derives, or an unknown event, dispatched here; or a replay's first
        event of an API, whose route (from now on, its dialect's) it returns."""
        if not self._settled:
            dialect = _dialect_for(name, data)
            if dialect is not None:
                self._settled = True
                self._use(dialect())
                return self._routes.get(name)
        if name == "done":
            self._said_last_word()
            self._emit([("done", data, None, None)])
        elif name == "error":
            self._emit([("error", data, None, data)])
            raise _stream_error(data, self._redact)
        elif name in _DERIVED_EVENTS:  # 'end' means finished normally: only the Stream may say so
            raise ProtocolError("the server sent an event named %r, a name for events this library derives" % name)
        else:
            self._emit([(name, data, None, None)])
        return None

    def _last(self, name: str, data: JSON) -> List[Emission]:
        """The route of an event after which its body carries nothing more."""
        emissions = self._acc.routes[name](name, data)
        self._said_last_word()
        return emissions

    def _settling(self, name: str, data: JSON) -> List[Emission]:
        """The route of an event that may stop what the stream is about: if it
        did, a body that then stays silent for ``_STOP_GRACE`` seconds has
        ended, though the server holds it open without its last word."""
        emissions = self._acc.routes[name](name, data)
        if self._dialect.ended(said_done=False):
            self._body.grace(_STOP_GRACE)
        return emissions

    def _said_last_word(self) -> None:
        """The body said its last word: a live one is closed and acted on at
        the next step; a replay reads on (a recording of tool rounds holds
        every body), and acts at its end."""
        self._last_word = self._received
        if self._transport is not None:
            self._phase = _STOPPED

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
        if self._own is not None:
            callbacks += self._own.callbacks(name)
        return callbacks

    def _deliver(self, name: str, data: Any, text: Optional[str], source: Any) -> Event:
        """Run the callbacks for one queued event (iteration); one that raises
        interrupts the stream, as it would in ``until_done()``."""
        event = Event(name, data, self, text, source)
        try:
            for callback in self._callbacks(name):
                callback(event)
        except BaseException:
            self._interrupted = True
            raise
        return event

    def _end_of_body(self, cut: Optional[AssistantStreamError], said_done: bool) -> None:
        """A body ended (at its last word, at EOF, or cut off by ``cut``):
        finish, recover, or go on with the tools' outputs."""
        if cut is None and said_done and not self._closed:
            self._body.drain(_DRAIN_SECONDS)  # so that the next request reuses the connection
        self._body.close()
        if self._closed:  # from elsewhere, meanwhile: nothing more
            return
        if not self._dialect.ended(said_done):
            cut = self._incomplete(cut)
            if not self._recoverable():
                raise cut
            latest = self._acc.final()
            self._emit([("recovering", latest, None, latest)])  # a step of its own: a loop sees it before the polling
            self._lost = cut
            return
        if cut is not None and self._debug:
            _log.debug("stream cut after the %s stopped: %s", self._dialect.kind, self._redact(str(cut)) if self._redact else cut)
        if not self._tool_round() and not self._closed:
            self._finish()

    def _recoverable(self) -> bool:
        """Whether a body that ended too early can be recovered: live, by
        polling (with ``recover``); a replay, if the live stream was."""
        if self._sections is not None:
            return self._sections.following == "recovered"
        return bool(self._recover_seconds and self._transport is not None and self._dialect.pollable())

    def _incomplete(self, cut: Optional[AssistantStreamError]) -> AssistantStreamError:
        """The error for a body that ended too early, saying where."""
        where = self._dialect.where()
        if cut is None:
            tail = self._framer.tail
            detail = " (%d bytes of an unfinished event dropped)" % len(tail) if tail else ""
            return IncompleteStreamError("the stream ended %s%s" % (where, detail))
        error = type(cut)("%s, %s" % (cut, where))
        error.__cause__ = cut.__cause__
        return error

    def _finish(self) -> None:
        self._phase = _FINISHED
        self.close()
        final = self._acc.final()
        self._emit(self._acc.finish() + [("end", final, None, final)])

    def _fail(self, exc: BaseException) -> None:
        if isinstance(exc, AssistantStreamError):
            if exc.stream is None:
                exc.stream = self
            if self._transport is not None:
                self._transport._redacted(exc)
        self._interrupted = True
        self.close()

    # -- the tool round, recovery, cancel: the dialect says how ----------------

    def _tool_round(self) -> bool:
        """Answer the calls the stop requires (run the tools, ask the
        approval callback), send the answers and read what follows; False if
        it requires none, or some call has no answer here (the stream then
        ends where it stopped).  A replay never calls tools nor asks for
        approvals: it reads the body that followed them, if the live stream
        did."""
        dialect = self._dialect
        if self._transport is None:
            if self._sections is None or self._sections.following != "continuation":
                return False
            dialect.answer(dialect.required_calls())
            self._read(_Body(self._sections.section(), self._sections))
            self._acc.waiting = True
            return True
        calls = dialect.required_calls()
        if not calls or not all(self._handlers._answers(call) for call in calls):
            return False
        dialect.answer(calls)
        path = dialect.follow_up_path()  # its ids checked before any tool runs
        answers = [self._handlers._answer(call, self._redact) for call in calls]
        if self._closed:  # closed while the tools ran: nothing is sent
            return False
        opened = self._transport._open_stream(path, dialect.follow_up_body(calls, answers))
        if self._closed:  # closed while the answer came: it is not read
            opened.close()
            return False
        if self._record is not None:
            self._record.mark("continuation")
        self._read(opened)
        self._acc.waiting = True
        return True

    def _recover(self, cut: AssistantStreamError) -> None:
        """Dispatch what the lost body would have carried: live, what polling
        finds (written to the recording); a replay, what the live stream
        dispatched."""
        if self._sections is not None:
            framer = _Framer(self._names, self._max_event_bytes)
            events = list(_decode(framer, self._sections.section(), self._names, self._redact))
        else:
            assert self._transport is not None
            deadline = _Deadline(self._recover_seconds, time.monotonic() + self._recover_seconds, lambda: self._closed)
            try:
                events = self._dialect.recover(self._transport, deadline, cut)
            except _MALFORMED as exc:
                raise ProtocolError("a malformed answer while recovering: %r" % (exc,)) from exc
            if self._record is not None:
                self._record.mark("recovered", events)
        self._recovered = True
        for name, data in events:
            self._dispatch(name, data)

    def _cancel(self) -> None:
        if self._transport is None:
            return
        try:
            path = self._dialect.cancel_path(self._interrupted)
            if path is not None:
                self._transport._post_quietly(path)
                _log.debug("%s", self._transport._redact("cancelled %s" % self._dialect.describe()))
        except Exception as exc:  # never mask why the stream was left
            _log.debug("%s", self._transport._redact("cancelling %s failed: %r" % (self._dialect.describe(), exc)))

    # -- reading the state ---------------------------------------------------

    def _latest(self, kind: str) -> Optional[JSON]:
        return self._acc.final() if self._dialect.kind == kind else None

    @property
    def status(self) -> Optional[str]:
        """The run's (or the response's) status as last received; None
        before it appears."""
        return self._acc.status

    @property
    def current_run(self) -> Optional[JSON]:
        """The run as last received."""
        return self._latest("run")

    @property
    def current_response(self) -> Optional[JSON]:
        """A snapshot of the response (Responses API) with its output so far."""
        return self._latest("response")

    @property
    def current_message(self) -> Optional[JSON]:
        """A snapshot of the message that last changed."""
        return self._acc.current_message()

    @property
    def current_run_step(self) -> Optional[JSON]:
        """A snapshot of the run step that last changed."""
        return self._acc.current_step()

    @property
    def text(self) -> str:
        """All the text of the run's (or the responses') messages so far,
        joined: what every ``text.delta`` fragment adds up to."""
        return self._acc.text()

    @property
    def finished(self) -> bool:
        """True once the stream ended normally."""
        return self._phase == _FINISHED

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
        self._drain()
        return self._latest("run")

    def final_messages(self) -> List[JSON]:
        """Dispatch the rest of the stream, then return every message seen."""
        self._drain()
        return self._acc.messages()

    def final_run_steps(self) -> List[JSON]:
        """Dispatch the rest of the stream, then return every run step seen."""
        self._drain()
        return self._acc.steps()

    def final_response(self) -> Optional[JSON]:
        """Dispatch the rest of the stream, then return the response
        (Responses API; after tool calls, the last one), API-shaped."""
        self._drain()
        return self._latest("response")

    def final_chat_completion(self) -> Optional[JSON]:
        """Dispatch the rest of the stream, then return the chat completion
        (after tool calls, the last one), API-shaped as a request without
        ``stream`` would return it."""
        self._drain()
        return self._latest("completion")

    def __repr__(self) -> str:
        return "<Stream %s status=%s events=%d%s>" % (
            self._dialect.describe().replace(" ", "=", 1),
            self.status,
            self._received,
            " closed" if self.closed else "",
        )


# ---------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------


# The deadline in force for this greenlet's (or thread's) requests.
_DEADLINE: contextvars.ContextVar[Optional[_Deadline]] = contextvars.ContextVar("assistant_stream_deadline", default=None)
# Whether this greenlet's (or thread's) last request was written out whole:
# None if its connection was not one of this module's, which cannot tell.
_WRITTEN: contextvars.ContextVar[Optional[bool]] = contextvars.ContextVar("assistant_stream_written", default=None)


@contextlib.contextmanager
def _bounded(deadline: Optional[_Deadline]) -> Iterator[None]:
    """Requests sent (and answers read) in this block end by ``deadline``,
    or as soon as it says the stream was closed."""
    token = _DEADLINE.set(deadline) if deadline is not None else None
    try:
        yield
    finally:
        if token is not None:
            _DEADLINE.reset(token)


class _DeadlineSocket:
    """A connected socket whose every read and write ends by the deadline in
    force: requests' timeouts bound each read, and a server that sends one
    byte at a time never trips them.  A read also ends within a quarter of a
    second of the stream being closed.  Anything else goes to the socket."""

    def __init__(self, sock: Any):
        self._sock = sock
        self._timeout = sock.gettimeout()
        self._sliced = False  # the socket's own timeout is not _timeout

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def settimeout(self, timeout: Optional[float]) -> None:
        self._timeout = timeout
        self._sock.settimeout(timeout)
        self._sliced = False

    def gettimeout(self) -> Optional[float]:
        return self._timeout  # type: ignore[no-any-return]

    def _left(self, deadline: _Deadline, idle_until: Optional[float]) -> float:
        """Seconds left for this read or write; socket.timeout if none."""
        if deadline.closed():
            raise socket.timeout("the stream was closed")
        ends = deadline.at if idle_until is None else min(deadline.at, idle_until)
        left = ends - time.monotonic()
        if left <= 0:
            raise socket.timeout("the deadline passed")
        return left

    def _read(self, read: Callable[..., Any], *args: Any) -> Any:
        deadline = _DEADLINE.get()
        if deadline is None:
            if self._sliced:
                self._sock.settimeout(self._timeout)
                self._sliced = False
            return read(*args)
        self._sliced = True
        idle_until = None if self._timeout is None else time.monotonic() + self._timeout
        while True:  # in slices, to notice a close from elsewhere
            self._sock.settimeout(min(self._left(deadline, idle_until), 0.25))
            try:
                return read(*args)
            except socket.timeout:
                continue

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        return self._read(self._sock.recv_into, buffer, nbytes, flags)  # type: ignore[no-any-return]

    def recv(self, size: int, flags: int = 0) -> bytes:
        return self._read(self._sock.recv, size, flags)  # type: ignore[no-any-return]

    def sendall(self, data: bytes, flags: int = 0) -> None:
        deadline = _DEADLINE.get()
        if deadline is not None:
            left = self._left(deadline, None)
            self._sock.settimeout(left if self._timeout is None else min(self._timeout, left))
            self._sliced = True
        elif self._sliced:
            self._sock.settimeout(self._timeout)
            self._sliced = False
        self._sock.sendall(data, flags)

    def makefile(self, mode: str = "r", buffering: Optional[int] = None, **kwargs: Any) -> Any:
        """http.client's reader: over this socket, so that it is bounded too."""
        if mode != "rb":
            return self._sock.makefile(mode, buffering, **kwargs)
        reader = io.BufferedReader(socket.SocketIO(self, "rb"), buffering or io.DEFAULT_BUFFER_SIZE)  # type: ignore[arg-type]
        self._sock._io_refs += 1  # as the socket's own makefile does: closing the socket waits for the reader
        return reader

    def _decref_socketios(self) -> None:
        """The reader is closed: the socket may close now, if it was closed."""
        self._sock._decref_socketios()


class _Tracked:
    """What this module's connections add to urllib3's: sockets that keep
    deadlines, and a word on whether the request went out whole."""

    sock: Any

    def connect(self) -> None:
        _WRITTEN.set(False)
        super().connect()  # type: ignore[misc]
        self.sock = _DeadlineSocket(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _WRITTEN.set(False)
        super().request(*args, **kwargs)  # type: ignore[misc]
        _WRITTEN.set(True)  # (a failed write returns nothing: it raises, or urllib3 swallows it)


class _BoundedHTTPConnection(_Tracked, urllib3.connection.HTTPConnection):
    pass


class _BoundedHTTPSConnection(_Tracked, urllib3.connection.HTTPSConnection):
    pass


class _BoundedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _BoundedHTTPConnection


class _BoundedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _BoundedHTTPSConnection


_BOUNDED_POOLS = {"http": _BoundedHTTPPool, "https": _BoundedHTTPSPool}


class _BoundedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, with connections whose sockets keep deadlines."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _BOUNDED_POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if type(manager) is urllib3.ProxyManager:  # a SOCKS proxy's connections stay its own
            manager.pool_classes_by_scheme = _BOUNDED_POOLS
        return manager


def _read_and_discard(response: requests.Response) -> bytes:
    """The start of an answer we will not use (an error, not an event
    stream), for the message: 64 KiB at most, read for 10 s at most (a
    server that sends it a byte at a time gets cut off).  Its connection is
    closed, not pooled: a server that answered wrongly gets a fresh one."""
    connection = getattr(response.raw, "connection", None)
    head = b""
    body = _Body.of(response)  # decompressed here, in bounded steps
    body.grace(_ERROR_BODY_WAIT)
    try:
        for piece in body.chunks:
            head += piece
            if len(head) >= _ERROR_BODY_LIMIT:
                break
        return head[:_ERROR_BODY_LIMIT]
    except Exception as exc:  # only for the message
        return head + ("<unreadable: %r>" % exc).encode()
    finally:
        _close_response(response)
        try:
            if connection is not None:
                connection.close()
        except Exception as exc:  # closing must never raise
            _log.debug("closing the connection failed: %r", exc)


class Client:
    """A client for the Assistants and Responses APIs, whose runs and
    responses stream.

    ``api_key`` falls back to $OPENAI_API_KEY; it may be a callable that
    returns a fresh bearer token for each request (Entra ID tokens expire).
    ``base_url`` falls back to $OPENAI_BASE_URL, then the OpenAI API (one
    without ``http://`` or ``https://`` is a ValueError);
    ``organization`` and ``project`` to $OPENAI_ORG_ID and $OPENAI_PROJECT_ID.
    ``timeout`` is seconds, or a (connect, read) tuple where read is the
    longest silence allowed.  ``max_retries``: connect errors, 408, 409, 429
    and 5xx are retried that many times, before the first event only, with
    exponential backoff and jitter, honouring Retry-After.  ``session`` is a
    requests.Session to reuse; ``default_headers`` and ``default_query`` go
    with every request (Azure: ``{"api-key": ...}``, ``{"api-version": ...}``).

    A client is also its streams' transport: ``_open_stream``, ``_get``,
    ``_list`` and ``_post_quietly`` are all a Stream asks of it (with
    ``_redacted`` and ``_secrets``, to keep credentials out of what it shows).
    """

    def __init__(
        self,
        api_key: Union[None, str, Callable[[], str]] = None,
        base_url: Optional[str] = None,
        organization: Optional[str] = None,
        project: Optional[str] = None,
        timeout: Union[float, Tuple[float, float]] = _DEFAULT_TIMEOUT,
        max_retries: int = _DEFAULT_MAX_RETRIES,
        session: Optional[requests.Session] = None,
        default_headers: Optional[Dict[str, str]] = None,
        default_query: Optional[Dict[str, str]] = None,
        max_event_bytes: int = _MAX_EVENT_BYTES,
    ):
        self.default_headers = dict(default_headers or {})
        credential = any(_SECRET_NAME.search(name) for name, value in self.default_headers.items() if value is not None)
        if api_key is None and not credential:  # a credential header is the credential: $OPENAI_API_KEY is not sent too
            api_key = os.environ.get("OPENAI_API_KEY")
        self._api_key = api_key.strip() if isinstance(api_key, str) else api_key  # as read from a file, with its newline
        self._keys_sent: Deque[str] = collections.deque(maxlen=16)  # the last tokens sent, kept out of messages
        if not self._api_key and not credential:
            raise ValueError("no API key: pass api_key= or set OPENAI_API_KEY")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError("max_retries must be a whole number >= 0, not %r" % (max_retries,))
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or _DEFAULT_BASE_URL).rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "the base URL %r is not an http:// or https:// URL (write it as http://%s)"
                % (self.base_url, self.base_url.split("://")[-1])
            )
        self._azure = (parts.hostname or "").lower().endswith(_AZURE_HOSTS)
        self.organization = organization if organization is not None else os.environ.get("OPENAI_ORG_ID")
        self.project = project if project is not None else os.environ.get("OPENAI_PROJECT_ID")
        self.timeout = _checked_timeout(timeout)
        self.max_retries = max_retries
        self.default_query = dict(default_query or {})
        self.max_event_bytes = max_event_bytes
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        if session is None:  # its connections keep deadlines, and tell whether a request went out whole
            self.session.mount("https://", _BoundedAdapter())
            self.session.mount("http://", _BoundedAdapter())
        self._bounded_adapter: Optional[_BoundedAdapter] = None  # a session of the caller's, for the requests that have a deadline

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
        if self._bounded_adapter is not None:
            self._bounded_adapter.close()

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
        return self._stream(path, body, handlers, _RunDialect(), record=record, cancel_on_interrupt=cancel_on_interrupt, recover=recover)

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
        return self._stream(
            "/threads/runs", body, handlers, _RunDialect(), record=record, cancel_on_interrupt=cancel_on_interrupt, recover=recover
        )

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
        dialect = _RunDialect(resume=(thread_id, run_id))
        return self._stream(path, body, handlers, dialect, record=record, cancel_on_interrupt=cancel_on_interrupt, recover=recover)

    def submit_tool_approvals(
        self,
        thread_id: str,
        run_id: str,
        tool_approvals: List[JSON],
        *,
        handlers: Optional[Handlers] = None,
        record: Union[None, str, os.PathLike[str], IO[bytes]] = None,
        cancel_on_interrupt: bool = False,
        recover: Union[bool, float] = False,
    ) -> Stream:
        """Approve (or not) the MCP calls of a run in ``requires_action``
        (Azure's ``submit_tool_approval``): ``tool_approvals`` as
        ``[{"tool_call_id": ..., "approve": True}]``; stream the rest.

        The options are those of ``stream_run``.
        """
        path = _run_path(thread_id, run_id) + "/submit_tool_outputs"
        body = {"tool_approvals": tool_approvals}
        dialect = _RunDialect(resume=(thread_id, run_id))
        return self._stream(path, body, handlers, dialect, record=record, cancel_on_interrupt=cancel_on_interrupt, recover=recover)

    def stream_response(
        self,
        *,
        model: Optional[str] = None,
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
        ``model`` may be left out when the body names an agent (Azure AI
        Foundry: ``agent={"name": ..., "type": "agent_reference"}``).
        """
        body = dict(body, input=input) if model is None else dict(body, model=model, input=input)
        dialect = _ResponseDialect(request=body)
        return self._stream("/responses", body, handlers, dialect, record=record, cancel_on_interrupt=cancel_on_interrupt, recover=recover)

    def stream_chat(
        self,
        *,
        model: str,
        messages: List[JSON],
        handlers: Optional[Handlers] = None,
        record: Union[None, str, os.PathLike[str], IO[bytes]] = None,
        cancel_on_interrupt: bool = False,
        recover: Union[bool, float] = False,
        **body: Any,
    ) -> Stream:
        """Create a chat completion and stream it (POST /chat/completions):
        OpenAI, Azure OpenAI and every compatible server, through the same
        callbacks as a run.

        ``body`` is the rest of the request (``tools``, ``temperature``,
        ...); ``stream_options`` defaults to ``{"include_usage": True}``.
        Tool calls with registered tools run themselves: the conversation
        goes back with the assistant's message and the tools' outputs.
        There is nothing to poll: ``recover`` is a ValueError;
        ``cancel_on_interrupt`` only closes the stream.
        """
        if recover:
            raise ValueError("recover= is not possible for chat completions: the API keeps nothing to poll")
        body = dict(body, model=model, messages=messages)
        body.setdefault("stream_options", {"include_usage": True})
        dialect = _ChatDialect(request=body)
        return self._stream("/chat/completions", body, handlers, dialect, record=record, cancel_on_interrupt=cancel_on_interrupt)

    def cancel_run(self, thread_id: str, run_id: str) -> JSON:
        """Cancel a run; return the run object the server answers with."""
        return self.request("POST", _run_path(thread_id, run_id) + "/cancel")

    def request(self, method: str, path: str, json: Optional[JSON] = None, params: Optional[Dict[str, Any]] = None) -> JSON:
        """Call any non-streaming JSON endpoint; return the parsed answer.

        ``path`` is relative to ``base_url`` and starts with "/".
        """
        return self._fetch(method, path, json, params)[0]

    def _fetch(self, method: str, path: str, json: Optional[JSON], params: Optional[Dict[str, Any]]) -> Tuple[JSON, int]:
        """A JSON answer, and its size in bytes (bounded by ``max_event_bytes``)."""
        response = self._send(method, path, json, params, stream=False)
        pieces: List[bytes] = []
        size = 0
        try:
            for piece in _response_chunks(response):  # read errors become ours
                size += len(piece)
                if size > self.max_event_bytes:
                    raise ProtocolError("the answer to %s %s is larger than %d bytes" % (method, path, self.max_event_bytes))
                pieces.append(piece)
        except ProtocolError as exc:
            raise self._redacted(exc) from None
        except AssistantStreamError as exc:
            error = APITimeoutError if isinstance(exc, APITimeoutError) else APIConnectionError
            raise self._redacted(error("%s %s: reading the answer failed: %s" % (method, path, exc))) from None
        finally:
            response.close()
        body = b"".join(pieces)
        if not body:
            return {}, 0
        try:
            answer = _loads(body)  # the module: ``json`` is the argument here
        except (ValueError, RecursionError):
            kind = response.headers.get("Content-Type", "no content type")
            shown = _preview(body, redact=self._redact)
            raise self._redacted(ProtocolError("expected JSON from %s %s, got %s: %s" % (method, path, kind, shown))) from None
        if type(answer) is not dict:
            raise ProtocolError("expected a JSON object from %s %s, got %s" % (method, path, type(answer).__name__))
        return answer, size

    # -- the transport a stream uses -------------------------------------------

    def _open_stream(self, path: str, body: JSON) -> _Body:
        """POST a streaming request; its body, once the answer is an event
        stream (else ProtocolError, saying what came back)."""
        response = self._send("POST", path, body, None, stream=True)
        content_type = response.headers.get("Content-Type", "")
        if content_type.split(";", 1)[0].strip().lower() != "text/event-stream":  # media types ignore case
            head = _read_and_discard(response)
            raise self._redacted(
                ProtocolError(
                    "expected an event stream from POST %s, got HTTP %d %s: %s"
                    % (path, response.status_code, content_type or "with no content type", _preview(head, redact=self._redact))
                )
            )
        return _Body.of(response)

    def _get(self, path: str, deadline: Optional[_Deadline] = None) -> JSON:
        """GET a JSON object (polling), whole by the deadline if there is one."""
        with _bounded(deadline):
            return self.request("GET", path)

    def _list(self, path: str, params: Optional[Dict[str, Any]] = None, deadline: Optional[_Deadline] = None) -> List[JSON]:
        """Every object of a list endpoint, oldest first, across pages: all of
        them by the deadline if there is one, and no more than
        ``max_event_bytes`` of JSON in all."""
        query = dict(params or {}, order="asc", limit=100)
        found: List[JSON] = []
        size = 0
        while True:
            if deadline is not None and deadline.closed():
                raise IncompleteStreamError("the stream was closed while GET %s was being read" % path)
            with _bounded(deadline):
                page, length = self._fetch("GET", path, None, query)
            data = page.get("data")
            if type(data) is not list or (data and (type(data[-1]) is not dict or type(data[-1].get("id")) is not str)):
                shown = _preview(json.dumps(page), redact=self._redact)
                raise self._redacted(ProtocolError("expected a list of objects from GET %s, got %s" % (path, shown)))
            found += data
            size += length
            if not page.get("has_more") or not data:
                return found
            if size > self.max_event_bytes:
                raise ProtocolError("GET %s: more than %d bytes of objects, and more to come" % (path, self.max_event_bytes))
            if query.get("after") == data[-1]["id"]:
                raise ProtocolError("GET %s: the page after %r begins the same way again" % (path, query["after"]))
            query["after"] = data[-1]["id"]

    def _post_quietly(self, path: str) -> None:
        """POST with no body, once, all of it within the cancel timeout
        (cancelling); the answer is discarded, a failure raises."""
        with _bounded(_Deadline(_CANCEL_TIMEOUT, time.monotonic() + _CANCEL_TIMEOUT, lambda: False)):
            self._send("POST", path, None, None, stream=False, retries=0).close()

    # -- HTTP --------------------------------------------------------------

    def _stream(
        self,
        path: str,
        body: JSON,
        handlers: Optional[Handlers],
        dialect: _Dialect,
        record: Union[None, str, os.PathLike[str], IO[bytes]] = None,
        **options: Any,
    ) -> Stream:
        """Send a streaming request and stream it; misuse is refused first,
        before anything is sent (and the recording is opened first too)."""
        if handlers is not None and not isinstance(handlers, Handlers):
            raise TypeError("handlers must be an assistant_stream.Handlers, not %s" % type(handlers).__name__)
        if "event_handler" in body:
            raise TypeError("event_handler= is the official SDK's: register callbacks on an assistant_stream.Handlers, and pass handlers=")
        recover = options.get("recover", False)
        if not (isinstance(recover, bool) or (isinstance(recover, (int, float)) and 0 <= recover <= _LONGEST_TIMEOUT)):
            raise ValueError("recover must be True, False or seconds (0 to %d), not %r" % (_LONGEST_TIMEOUT, recover))
        body["stream"] = True
        _json_body(body)  # TypeError, naming the keyword
        if handlers is not None:
            handlers._check_tools(body.get("tools"))
        recording = _Recording(record, self._secrets) if record is not None else None
        try:
            opened = self._open_stream(path, body)
        except BaseException:
            if recording is not None:
                recording.close()
            raise
        return Stream(opened, handlers, dialect=dialect, transport=self, record=recording, max_event_bytes=self.max_event_bytes, **options)

    def _headers(self, stream: bool, json_body: bool = False, path: str = "") -> Dict[str, str]:
        """A request's headers: ``OpenAI-Beta: assistants=v2`` for the
        Assistants endpoints, but on Azure (whose SDKs do not send it); the
        key as a bearer token; then ``default_headers``, where a value of
        None leaves a header out."""
        headers: Dict[str, Any] = {
            "User-Agent": "assistant-stream/%s python-requests/%s" % (__version__, requests.__version__),
            "Accept": "text/event-stream" if stream else "application/json",
            "Accept-Encoding": "gzip, deflate",  # what _inflated decompresses, in bounded steps
        }
        if path.startswith(_ASSISTANTS_PATHS) and not self._azure:
            headers["OpenAI-Beta"] = "assistants=v2"
        if json_body:
            headers["Content-Type"] = "application/json"
        key = self._api_key() if callable(self._api_key) else self._api_key
        if key:
            key = key.strip()
            if key not in self._keys_sent:
                self._keys_sent.append(key)
            headers["Authorization"] = "Bearer %s" % key
        if self.organization:
            headers["OpenAI-Organization"] = self.organization
        if self.project:
            headers["OpenAI-Project"] = self.project
        headers.update(self.default_headers)
        return {key: value for key, value in headers.items() if value is not None}

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
        if not isinstance(path, str) or not path.startswith("/") or not path.isprintable() or " " in path:  # no space, no control
            raise ValueError("invalid path: %r" % (path,))
        url = self.base_url + path
        query = dict(self.default_query, **(params or {}))
        retries = self.max_retries if retries is None else retries
        debug = _log.isEnabledFor(logging.DEBUG)  # redacting the URL costs microseconds: only for a line that is logged
        for attempt in range(retries + 1):
            if debug:
                _log.debug("%s %s", method, self._redact(url))
            error: AssistantStreamError
            wait = None
            _WRITTEN.set(None)  # until one of this module's connections says
            try:
                if _DEADLINE.get() is None:
                    response = self.session.request(
                        method,
                        url,
                        data=None if body is None else _json_body(body),
                        params=query or None,
                        headers=self._headers(stream, body is not None, path),
                        timeout=self.timeout if timeout is None else timeout,
                        stream=True,
                        allow_redirects=False,
                    )
                else:
                    response = self._send_bounded(
                        requests.Request(
                            method,
                            url,
                            data=None if body is None else _json_body(body),
                            params=query or None,
                            headers=self._headers(stream, body is not None, path),
                        )
                    )
            except requests.exceptions.ConnectTimeout as exc:
                error = self._redacted(APITimeoutError("%s %s timed out connecting: %s" % (method, url, exc)))
            except requests.exceptions.Timeout as exc:
                error = self._redacted(APITimeoutError("%s %s timed out: %s" % (method, url, exc)))
                if _WRITTEN.get() is not False:  # the request went out: not retried
                    raise error from None
            except requests.exceptions.ConnectionError as exc:
                error = self._redacted(APIConnectionError("%s %s failed: %s" % (method, url, _why(exc))))
                if not _never_sent(exc):  # the server may have it: sending it again could run it twice
                    raise error from None
            except (requests.exceptions.RequestException, ValueError) as exc:  # a header requests refuses, say
                raise self._redacted(APIConnectionError("%s %s failed: %s" % (method, url, exc))) from None
            else:
                if debug:
                    _log.debug("HTTP %d from %s %s", response.status_code, method, self._redact(url))
                if response.status_code < 300:
                    return response
                wait = _retry_after(response.headers)
                error = self._redacted(self._status_error(response, method, url))
                if response.status_code not in _RETRY_STATUSES and response.status_code < 500:
                    raise self._redacted(error)
            if attempt == retries:
                raise self._redacted(error)
            if wait is None:
                wait = min(8.0, 0.5 * 2**attempt) * (1 - 0.25 * random.random())
            deadline = _DEADLINE.get()
            if deadline is not None and (time.monotonic() + wait > deadline.at or not _nap(wait, deadline)):
                raise self._redacted(error)  # no time left to wait, or the stream was closed
            if deadline is None:
                _log.debug("retrying %s %s in %.2f s (%s)", method, self._redact(url), wait, error)
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_bounded(self, request: requests.Request) -> requests.Response:
        """Send a request as the session would, through an adapter whose
        sockets hold every read and write to the deadline in force (the
        session's own adapter, if it mounted one of its own kind)."""
        deadline = _DEADLINE.get()
        assert deadline is not None
        left = deadline.at - time.monotonic()
        if left <= 0 or deadline.closed():
            raise requests.exceptions.ReadTimeout("the deadline passed, or the stream was closed, before the request was sent")
        prepared = self.session.prepare_request(request)
        settings: Dict[str, Any] = dict(self.session.merge_environment_settings(prepared.url, {}, True, None, None))
        del settings["stream"]  # what remains is the session's own: proxies, TLS verification, client certificate
        adapter = self.session.get_adapter(prepared.url or "")
        if type(adapter) is requests.adapters.HTTPAdapter:
            if self._bounded_adapter is None:
                self._bounded_adapter = _BoundedAdapter()
            adapter = self._bounded_adapter
        connect, read = self.timeout if isinstance(self.timeout, tuple) else (self.timeout, self.timeout)
        timeout = (min(connect or left, left), min(read or left, left))
        return adapter.send(prepared, stream=True, timeout=timeout, **settings)

    def _status_error(self, response: requests.Response, method: str, url: str) -> APIStatusError:
        text = self._redact(_read_and_discard(response).decode("utf-8", "replace"))
        body: Any = text
        message = text.strip()[:500]
        try:
            body = self._redact_json(json.loads(text))  # a key escaped in JSON (\\u0073k-...) shows once parsed
        except (ValueError, RecursionError):  # kept as text
            pass
        else:
            error = body.get("error") if type(body) is dict else None
            if type(error) is dict and error.get("message"):
                message = str(error["message"])
            elif type(body) is dict and body.get("message"):
                message = str(body["message"])
        status = response.status_code
        request_id = response.headers.get("x-request-id") or response.headers.get("apim-request-id")
        request_id = self._redact(request_id) if request_id else request_id
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
        as is, without "Bearer ", quoted in messages, and encoded in a URL.
        The key, the last 16 tokens a key callable returned, and the values
        of default headers and query parameters whose names say secret."""
        secrets: List[Any] = [self._api_key, *self._keys_sent]
        for given in (self.default_headers, self.default_query):
            secrets += [value for name, value in given.items() if _SECRET_NAME.search(str(name))]
        forms = []
        for secret in secrets:
            if isinstance(secret, str):
                for value in (secret, secret.split(" ", 1)[-1]):
                    # 16 characters or more, as real keys and tokens are: a short test
                    # key like "emulator" is also a word, and redacting it would mangle text
                    candidates = (value, repr(value)[1:-1], quote(value, safe=""), quote_plus(value))
                    forms += [form for form in candidates if len(form) >= 16]
        return list(dict.fromkeys(forms))

    def _redact(self, text: str) -> str:
        """The text with every credential this client sends replaced."""
        for secret in self._secrets():
            text = text.replace(secret, "<api key>")
        return text

    def _redact_json(self, value: Any) -> Any:
        """Parsed JSON with every credential in its strings replaced."""
        kind = type(value)
        if kind is str:
            return self._redact(value)
        if kind is dict:
            return {self._redact(str(key)): self._redact_json(item) for key, item in value.items()}
        if kind is list:
            return [self._redact_json(item) for item in value]
        return value

    def _redacted(self, error: AssistantStreamError) -> AssistantStreamError:
        """The error, with no credential left in its message, nor in its
        request id or text body."""
        error.args = tuple(self._redact(arg) if isinstance(arg, str) else arg for arg in error.args)
        if isinstance(error, APIStatusError):
            error.request_id = self._redact(error.request_id) if isinstance(error.request_id, str) else error.request_id
            error.body = self._redact(error.body) if isinstance(error.body, str) else error.body
        return error


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """Whether a failed request provably never reached the server whole.

    This module's connections say so (``_WRITTEN``): the connection could
    not be made (refused, DNS, connect timeout, TLS handshake, the proxy's
    tunnel), or writing the request failed (a pooled connection the server
    had closed, a reset while the body went out): a server that has no whole
    request cannot act on it.  A connection closed, reset or broken after
    the request was written may have carried it, so it is not sent again.

    Through an adapter of the caller's, which cannot say, only a connection
    that could not be made counts (refused, DNS, connect timeout)."""
    written = _WRITTEN.get()
    if written is not None:
        return not written
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError says why
    if isinstance(reason, urllib3.exceptions.ProxyError):
        reason = getattr(reason, "original_error", reason)
    return isinstance(reason, urllib3.exceptions.ConnectTimeoutError)  # NewConnectionError and NameResolutionError too


def _why(exc: BaseException) -> str:
    """Why a connection failed, in one readable line: the socket's own error
    ("Connection refused", a host that does not resolve, a certificate),
    found under requests' and urllib3's wrappers, whose texts repeat their
    class names; their text when there is none."""
    seen: List[BaseException] = []
    todo = [exc]
    when = ""  # "Connection aborted: ", when urllib3 says the connection was made first
    while todo and len(seen) < 32:
        current = todo.pop(0)
        if any(current is known for known in seen):
            continue
        seen.append(current)
        if isinstance(current, urllib3.exceptions.ProtocolError) and current.args and isinstance(current.args[0], str):
            when = when or current.args[0].rstrip(".") + ": "
        if isinstance(current, socket.gaierror):
            return "the host name could not be resolved (%s)" % (current.strerror or current)
        if isinstance(current, OSError) and current.strerror:
            return when + str(current.strerror)
        linked = [getattr(current, "reason", None), current.__cause__, current.__context__] + list(current.args)
        todo += [item for item in linked if isinstance(item, BaseException)]
    return str(exc)


def _json_body(body: JSON) -> bytes:
    """A request body as JSON, as requests sends it; TypeError naming the
    keyword whose value is not JSON."""
    try:
        return json.dumps(body, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        for key, value in body.items():
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError) as bad:
                raise TypeError("%s=%r cannot be sent: %s" % (key, value, bad)) from None
        raise TypeError("the request body cannot be sent: %s" % exc) from None


def _loads(text: bytes) -> Any:
    return json.loads(text)


def _checked_timeout(timeout: Any) -> Any:
    """A timeout as requests takes it: seconds above zero, finite, or None
    for no limit; or a (connect, read) pair of those."""
    for seconds in timeout if isinstance(timeout, tuple) and len(timeout) == 2 else (timeout,):
        if seconds is not None and not (isinstance(seconds, (int, float)) and 0 < seconds <= _LONGEST_TIMEOUT):
            raise ValueError(
                "timeout must be seconds above zero, up to %d (None for no limit), or a (connect, read) pair of those: %r"
                % (_LONGEST_TIMEOUT, timeout)
            )
    return timeout


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
    return seconds if 0 <= seconds <= _RETRY_AFTER_LIMIT else None


# ---------------------------------------------------------------------------
# Convenience functions
# ---------------------------------------------------------------------------


def replay(
    source: Union[str, os.PathLike[str], bytes, Iterable[bytes]],
    handlers: Optional[Handlers] = None,
    *,
    max_event_bytes: int = _MAX_EVENT_BYTES,
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
    return Stream(_Sections(chunks), handlers, max_event_bytes=max_event_bytes)


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
_EXIT_CODES: List[Tuple[type, int]] = [
    (APITimeoutError, 4),
    (APIConnectionError, 3),
    (APIStatusError, 5),
    (StreamError, 6),
    (IncompleteStreamError, 7),
    (ProtocolError, 8),
]


def main(argv: Optional[List[str]] = None) -> int:
    """``assistant-stream run`` streams a run's text (``--responses``: a
    response's, ``--chat``: a chat completion's) to the terminal;
    ``assistant-stream replay FILE`` plays a recording (of a run, a response
    or a chat completion) back.  Returns the exit code: 0 it completed, 1 it
    ended otherwise, 2 misuse, 3-8 an error (see ``_EXIT_CODES``), 130
    interrupted (Ctrl-C), 141 the output was closed (``| head``)."""
    import argparse  # only when run as a command

    parser = argparse.ArgumentParser(
        prog="assistant-stream",
        description="Stream Assistants API runs, responses or chat completions; the key comes from $OPENAI_API_KEY.",
    )
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="stream a run's text (or a response's, or a chat completion's) as it arrives")
    run.add_argument("--assistant", metavar="ID", help="the assistant to run (required without --responses or --chat)")
    run.add_argument("--thread", metavar="ID", help="a thread to run on (default: a new one)")
    api = run.add_mutually_exclusive_group()
    api.add_argument("--responses", action="store_true", help="a response (Responses API) instead of a run: --model and --message")
    api.add_argument("--chat", action="store_true", help="a chat completion instead of a run: --model and --message")
    run.add_argument("--model", metavar="NAME", help="the model of a response or a chat completion")
    run.add_argument("--message", metavar="TEXT", help="a user message to add first (with --responses or --chat: the message)")
    run.add_argument("--record", metavar="FILE", help="write the event stream's bytes to FILE")
    run.add_argument("--base-url", metavar="URL", help="default: $OPENAI_BASE_URL, or the OpenAI API")
    run.add_argument(
        "--timeout", type=_positive, default=_DEFAULT_TIMEOUT, metavar="SECONDS", help="the longest silence allowed (default: 600)"
    )
    run.add_argument("--cancel-on-interrupt", action="store_true", help="cancel the run on Ctrl-C")
    run.add_argument("--recover", action="store_true", help="poll the run if the connection drops")
    play = commands.add_parser("replay", help="play a recorded event stream back")
    play.add_argument("file")
    play.add_argument(
        "--speed",
        type=_positive,
        metavar="EVENTS_PER_SECOND",
        help="pace the events as received (default: at once); derived events follow theirs",
    )
    for command in (run, play):
        command.add_argument("--events", action="store_true", help="one line per event (name, id, size) instead of the text")
    args = parser.parse_args(argv)
    if args.command == "run" and (args.chat or args.responses):
        flag = "--chat" if args.chat else "--responses"
        if not (args.model and args.message) or args.thread or args.assistant:
            run.error("%s takes --model and --message, and no --assistant or --thread" % flag)
    elif args.command == "run" and not args.assistant:
        run.error("the following arguments are required: --assistant (or --responses, or --chat)")
    try:
        return _command(args)
    except BrokenPipeError:  # the reader is gone (| head): nothing to say, and nowhere to say it
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that exiting flushes nothing
        except (OSError, ValueError) as exc:  # stdout is not a file
            _log.debug("could not silence stdout: %r", exc)
        return 141


def _command(args: Any) -> int:
    """Run a parsed command line; return its exit code."""
    pace = 1 / args.speed if args.command == "replay" and args.speed else 0
    midline = False  # text printed without its newline yet
    stream: Optional[Stream] = None
    try:
        stream = _command_stream(args)
        for event in stream:
            if args.events:
                print(_event_line(event), flush=True)
            elif event.name == "text.delta" and event.text:
                print(_printable(event.text), end="", flush=True)
                midline = True
            if pace and event.name not in _DERIVED_EVENTS:  # the wire's pace: derived events come with theirs
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
        if args.command == "replay" and isinstance(error, IncompleteStreamError) and stream is not None and not stream._received:
            print("assistant-stream: %s is not an event stream: %s" % (args.file, _not_events(args.file)), file=sys.stderr)
            return 2
        hint = ""
        if isinstance(error, NotFoundError) and urlsplit(args.base_url or os.environ.get("OPENAI_BASE_URL") or "/v1").path in ("", "/"):
            hint = " (the base URL has no path: most servers want /v1 at its end)"
        print("assistant-stream: %s: %s%s" % (type(error).__name__, error, hint), file=sys.stderr)
        return next(code for cls, code in _EXIT_CODES if isinstance(error, cls))
    if midline:
        print(flush=True)
    latest = stream._acc.final() or {}
    print("%s %s: %s" % (stream._dialect.kind, latest.get("id", "-"), stream.status), file=sys.stderr)
    return 0 if stream.status == "completed" else 1


def _positive(text: str) -> float:
    """An argparse type: a number above zero, a million at most."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= _LONGEST_TIMEOUT:  # NaN too
        raise argparse.ArgumentTypeError("%r is not a number from 0 to %d" % (text, _LONGEST_TIMEOUT))
    return value


def _command_stream(args: Any) -> Stream:
    if args.command == "replay":
        return replay(args.file)
    client = Client(base_url=args.base_url, timeout=(min(10.0, args.timeout), args.timeout))
    options: Dict[str, Any] = {"record": args.record, "cancel_on_interrupt": args.cancel_on_interrupt, "recover": args.recover}
    message = [{"role": "user", "content": args.message}] if args.message else []
    if args.chat:
        return client.stream_chat(model=args.model, messages=message, **options)
    if args.responses:
        return client.stream_response(model=args.model, input=args.message, **options)
    if args.thread:
        return client.stream_run(args.thread, assistant_id=args.assistant, additional_messages=message or None, **options)
    return client.stream_thread_and_run(assistant_id=args.assistant, thread={"messages": message}, **options)


def _not_events(path: str) -> str:
    """Why a file that held no event is not an event stream, in words."""
    with open(path, "rb") as file:
        head = file.read(4096)
    if not head.strip():
        return "it is empty"
    if head.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed (gunzip it first)"
    return "no event in it (an event stream is lines like 'event: NAME' and 'data: {...}', each event ended by a blank line)"


def _event_line(event: Event) -> str:
    """name, the object's id, the payload's size: for debugging a stream."""
    data, source = event.data, event._source
    ident = data.get("id") or data.get("item_id") if type(data) is dict else None
    if ident is None and type(source) is dict:  # a derived event: the object it is about (never copied)
        ident = source.get("id")
    size = len(json.dumps(data)) if not isinstance(data, str) else len(data)
    line = "%-28s %-30s %6d B" % (event.name, ident or "-", size)
    line += " %r" % event.text if event.text is not None else ""
    return _printable(line)


def _printable(text: str) -> str:
    """Text a terminal can take: a lone surrogate (JSON allows them) is a "?"."""
    return text.encode("utf-8", "replace").decode("utf-8")


if __name__ == "__main__":
    sys.exit(main())
