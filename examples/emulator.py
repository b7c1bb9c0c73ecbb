"""A local server that speaks the Assistants API v2, streaming included.

Standalone:

    python examples/emulator.py --port 8000
    OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=any python your_script.py

In-process (tests, examples):

    with Emulator() as emulator:
        client = assistant_stream.Client(api_key="any", base_url=emulator.base_url)

It keeps what it is given, and answers for it, as the API does: assistants
(create, list, retrieve, modify, delete), threads (create, retrieve, modify,
delete), their messages (create, list, retrieve, modify, delete) and runs
(create, list, retrieve, modify, cancel, submit_tool_outputs, and their
steps: list, retrieve), responses (create, retrieve, cancel, delete) and chat
completions.  Lists page as the API's do (``limit``, ``order``, ``after``,
``before``); an unknown id is a 404, and a body that is not JSON, not an
object, has a field of the wrong type, misses a required one (a message's
``role``) or has one the API does not know is a 400, each with the API's error
body.  Any assistant id works for a run, as if it existed.

It answers like a deterministic assistant: the reply quotes the last user
message, split into one delta per word.  It answers responses and chat
completions the same way, streaming or not.  When the run has function tools it
first asks for a call to each of them (arguments built from their JSON
schemas: strings get the last user message), and after the outputs are
submitted it replies with what the tools returned.  Events are written one
HTTP chunk per event, flushed, in the shapes of recorded API streams.

A run's (or response's) ``metadata`` steers it: ``steer()`` builds it from
named switches, checked, as strings (the API requires them):

    metadata=steer(drop=9, reply="Hello")
    # {"emulator_drop": "9", "emulator_reply": "Hello"}

The switches are listed in ``SWITCHES``, each with what it takes.

Only the standard library: it runs wherever Python does.
"""

import argparse
import json
import select
import socket
import sys
import threading
import time
import traceback
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union
from urllib.parse import parse_qs, urlsplit

JSON = Dict[str, Any]
Event = Tuple[Optional[str], Any]  # a name, or None for a data-only event (chat chunks)

# ---------------------------------------------------------------------------
# Objects, shaped as the API returns them
# ---------------------------------------------------------------------------


def _id(prefix: str) -> str:
    return "%s_%s" % (prefix, uuid.uuid4().hex[:24])


def _now() -> int:
    return int(time.time())


def text_content(text: str) -> List[JSON]:
    return [{"type": "text", "text": {"value": text, "annotations": []}}]


def new_message(thread_id: str, role: str, content: Any, run_id: Optional[str] = None, assistant_id: Optional[str] = None) -> JSON:
    if isinstance(content, str):
        content = text_content(content)
    return {
        "id": _id("msg"),
        "object": "thread.message",
        "created_at": _now(),
        "assistant_id": assistant_id,
        "thread_id": thread_id,
        "run_id": run_id,
        "status": "completed",
        "incomplete_details": None,
        "incomplete_at": None,
        "completed_at": _now(),
        "role": role,
        "content": content,
        "attachments": [],
        "metadata": {},
    }


def new_assistant(assistant_id: str) -> JSON:
    return {
        "id": assistant_id,
        "object": "assistant",
        "created_at": _now(),
        "name": "Emulated assistant",
        "description": None,
        "model": "emulator-1",
        "instructions": None,
        "tools": [],
        "tool_resources": {},
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "response_format": "auto",
    }


def new_run(thread_id: str, assistant: JSON, body: JSON) -> JSON:
    return {
        "id": _id("run"),
        "object": "thread.run",
        "created_at": _now(),
        "assistant_id": assistant["id"],
        "thread_id": thread_id,
        "status": "queued",
        "started_at": None,
        "expires_at": _now() + 600,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "required_action": None,
        "last_error": None,
        "model": body.get("model") or assistant.get("model", "emulator-1"),
        "instructions": body.get("instructions") or assistant.get("instructions"),
        "tools": body.get("tools") if body.get("tools") is not None else assistant.get("tools", []),
        "tool_resources": {},
        "metadata": body.get("metadata") or {},
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


def new_step(run: JSON, details: JSON) -> JSON:
    return {
        "id": _id("step"),
        "object": "thread.run.step",
        "created_at": _now(),
        "run_id": run["id"],
        "assistant_id": run["assistant_id"],
        "thread_id": run["thread_id"],
        "type": details["type"],
        "status": "in_progress",
        "cancelled_at": None,
        "completed_at": None,
        "expires_at": run["expires_at"],
        "failed_at": None,
        "last_error": None,
        "step_details": details,
        "usage": None,
    }


def _pieces(text: str, size: int) -> List[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _words(text: str) -> List[str]:
    """Split text into word-sized deltas that join back to it exactly."""
    out: List[str] = []
    for word in text.split(" "):
        out.append(word if not out else " " + word)
    return [w for w in out if w] or [""]


def _example(schema: Any, prompt: str) -> Any:
    """A value that fits a JSON schema, for building call arguments (any
    JSON at all is taken as a schema: what is not understood gives ``prompt``)."""
    if not isinstance(schema, dict):
        return prompt
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties")
        return {str(name): _example(sub, prompt) for name, sub in (properties.items() if isinstance(properties, dict) else ())}
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    return prompt


# ---------------------------------------------------------------------------
# The state of the emulated account
# ---------------------------------------------------------------------------


class State:
    """Assistants, threads, messages and runs, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.assistants: Dict[str, JSON] = {}
        self.threads: Dict[str, JSON] = {}
        self.messages: Dict[str, List[JSON]] = {}
        self.runs: Dict[str, JSON] = {}
        self.steps: Dict[str, List[JSON]] = {}
        self.scripts: Dict[str, JSON] = {}  # run id -> private progress
        self.failures: Dict[Tuple[str, str], int] = {}  # (path, emulator_fail) -> failures served
        self.responses: Dict[str, JSON] = {}  # Responses API: id -> response

    def assistant(self, assistant_id: str) -> JSON:
        """The assistant a run names: one created, or else any id works for a
        run, as if it existed (GET /assistants/{id} finds only those created)."""
        with self.lock:
            return self.assistants.get(assistant_id) or new_assistant(assistant_id)

    def new_thread(self, checked: JSON) -> JSON:
        """A thread from a checked request (``thread_request``)."""
        thread = {"id": _id("thread"), "object": "thread", "created_at": _now(), "metadata": checked["metadata"], "tool_resources": {}}
        with self.lock:
            self.threads[thread["id"]] = thread
            self.messages[thread["id"]] = []
            for message in checked["messages"]:
                self.add_message(thread["id"], message)
        return thread

    def add_message(self, thread_id: str, checked: JSON, **extra: Any) -> JSON:
        """A message from a checked request (``message_request``)."""
        message = new_message(thread_id, checked["role"], checked["content"], **extra)
        message.update(attachments=checked["attachments"], metadata=checked["metadata"])
        with self.lock:
            self.messages.setdefault(thread_id, []).append(message)
        return message

    def last_user_text(self, thread_id: str) -> str:
        with self.lock:
            for message in reversed(self.messages.get(thread_id, [])):
                if message["role"] == "user":
                    return "".join(p["text"]["value"] for p in message["content"] if p.get("type") == "text")
        return ""


# ---------------------------------------------------------------------------
# Runs as event sequences
# ---------------------------------------------------------------------------


# Each switch, what it does, and the values it takes (a type, or the allowed strings).
SWITCHES: Dict[str, Tuple[str, Any]] = {
    "reply": ("the exact reply text", str),
    "rounds": ("how many rounds of tool calls before replying (1)", int),
    "args": ("{tool name: arguments} instead of schema-built ones (a str is sent as the raw arguments text)", dict),
    "delay": ("seconds between events (else the server's --delay)", float),
    "hold": (
        "after this many events, stop sending and hold the connection open until the client closes it "
        "(or for Emulator.hold_limit seconds, then drop it)",
        int,
    ),
    "drop": ("after this many events, send half of the next one and drop the connection", int),
    "linger": (
        "True: after the last event (done), hold the body open without its last chunk until the client closes it "
        "(or for Emulator.hold_limit seconds)",
        bool,
    ),
    "stall": ("(N, S): after N events, send nothing for S seconds", tuple),
    "fail": ("statuses to answer the first requests with, in turn: [429, 503] lets the third attempt through", list),
    "retry_after": ("the Retry-After header sent with those (0)", float),
    "finish_after": ("a run whose stream ended early still finishes this many seconds later (0.2), unless cancelled", float),
    "close_after": ("after this many whole events, drop the connection", int),
    "error_after": ("after this many events, send an error event", int),
    "inject": (
        "(KIND, N): after N events, send one bad thing: bad_utf8 (a text delta of another message, 'café' in Latin-1), bad_json, or huge (an event that never ends, "
        "of huge_bytes, until the client goes); or noise: a comment and an unknown event around each event",
        tuple,
    ),
    "huge_bytes": ("the size of the huge event (64 MiB)", int),
    "status": ("how the run ends", ("completed", "failed", "cancelled", "expired", "incomplete")),
    "no_done": ("True: end the body without the done event", bool),
    "gzip": ("True: gzip the body (Content-Encoding: gzip)", bool),
    "answer": ("answer the stream request with a 200 page or JSON object instead of an event stream", ("html", "json")),
    "filters": (
        "True: Azure OpenAI's content filters in a chat stream: a first chunk of prompt_filter_results, "
        "content_filter_results in every choice",
        bool,
    ),
    "quirks": (
        "True: Azure AI Foundry's stream quirks: a tool_calls step created twice, an MCP call's output sent after its "
        "step completed, a thread.message.completed whose data says in_progress",
        bool,
    ),
    "framing": (
        "chunked (the default); close: the body ends when the connection closes; "
        "length: the whole body at once, with a Content-Length (as a buffering proxy sends it)",
        ("chunked", "close", "length"),
    ),
}
INJECTIONS = ("bad_utf8", "bad_json", "huge")


def steer(**switches: Any) -> Dict[str, str]:
    """The metadata that steers the emulator: steer(drop=9) -> {"emulator_drop": "9"}.
    An unknown switch, or a value it does not take, raises ValueError."""
    metadata = {}
    for name, value in switches.items():
        if name not in SWITCHES:
            raise ValueError("no emulator switch %r; the switches: %s" % (name, ", ".join(sorted(SWITCHES))))
        takes = SWITCHES[name][1]
        if name == "inject" and value == "noise":
            text = value
        elif name == "inject":
            kind, after = value
            if kind not in INJECTIONS:
                raise ValueError("inject takes (KIND, N) with KIND one of %s, or 'noise'" % ", ".join(INJECTIONS))
            text = "%s:%d" % (kind, after)
        elif isinstance(takes, tuple):
            if value not in takes:
                raise ValueError("%s takes one of %s, not %r" % (name, ", ".join(takes), value))
            text = value
        elif takes is bool:
            text = "1" if value else ""
        elif takes is tuple:  # stall
            text = "%d:%g" % tuple(value)
        elif takes is list:
            text = ",".join(str(int(status)) for status in value)
        elif takes is dict:
            text = json.dumps(value)
        else:
            text = str(takes(value))
        metadata["emulator_" + name] = text
    return metadata


def _meta(run: JSON, key: str, default: Any = None) -> Any:
    assert key in SWITCHES, key
    return (run.get("metadata") or {}).get("emulator_" + key, default)


def run_events(
    state: State, run: JSON, tool_outputs: Optional[List[JSON]] = None, approvals: Optional[List[JSON]] = None
) -> Iterator[Event]:
    """The events of a run from creation (or from submitted outputs or
    approvals) until it stops: completed, or requires_action for another
    round of calls (or for the approval of an MCP call, as Azure asks)."""
    script = state.scripts[run["id"]]
    if approvals is not None:
        yield from _approved(state, run, approvals)
    elif tool_outputs is None:
        yield "thread.run.created", dict(run)
        yield "thread.run.queued", dict(run)
    else:
        step = script.pop("tool_step")
        outputs = {o.get("tool_call_id"): o.get("output", "") for o in tool_outputs}
        script["outputs"].extend(str(outputs.get(c["id"], "")) for c in step["step_details"]["tool_calls"])
        for call in step["step_details"]["tool_calls"]:
            call["function"]["output"] = outputs.get(call["id"])
        step.update(status="completed", completed_at=_now())
        yield "thread.run.step.completed", step
        run.update(status="queued", required_action=None)
        yield "thread.run.queued", dict(run)
    run.update(status="in_progress", started_at=run["started_at"] or _now())
    yield "thread.run.in_progress", dict(run)

    servers = [t for t in run.get("tools") or [] if t.get("type") == "mcp"]
    if servers and "mcp_call" not in script:
        yield from _approval_round(state, run, servers[0])
        return
    functions = [t["function"] for t in run.get("tools") or [] if t.get("type") == "function"]
    if functions and script["round"] < int(_meta(run, "rounds", "1")):
        script["round"] += 1
        yield from _tool_round(state, run, functions)
        return
    yield from _reply(state, run)


def _tool_round(state: State, run: JSON, functions: List[JSON]) -> Iterator[Event]:
    prompt = state.last_user_text(run["thread_id"])
    fixed = json.loads(_meta(run, "args", "{}"))
    step = new_step(run, {"type": "tool_calls", "tool_calls": []})
    state.steps.setdefault(run["id"], []).append(step)
    yield "thread.run.step.created", json.loads(json.dumps(step))
    yield "thread.run.step.in_progress", json.loads(json.dumps(step))
    calls = []
    for index, function in enumerate(functions):
        name = function["name"]
        value = fixed[name] if name in fixed else _example(function.get("parameters") or {"type": "object"}, prompt)
        arguments = value if isinstance(value, str) else json.dumps(value)  # a str is sent raw
        call = {"id": _id("call"), "type": "function", "function": {"name": name, "arguments": arguments, "output": None}}
        calls.append(call)
        first = {"index": index, "id": call["id"], "type": "function", "function": {"name": name, "arguments": "", "output": None}}
        yield "thread.run.step.delta", _step_delta(step, first)
        for piece in _pieces(arguments, 8):
            yield "thread.run.step.delta", _step_delta(step, {"index": index, "type": "function", "function": {"arguments": piece}})
    step["step_details"]["tool_calls"] = calls
    state.scripts[run["id"]]["tool_step"] = step
    run.update(
        status="requires_action",
        required_action={
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["function"]["name"], "arguments": c["function"]["arguments"]},
                    }
                    for c in calls
                ]
            },
        },
    )
    yield "thread.run.requires_action", dict(run)


def _approval_round(state: State, run: JSON, server: JSON) -> Iterator[Event]:
    """Azure's MCP round: the server's tools listed (an ``activities`` step),
    one call to them, and the run waits for its approval."""
    label = server.get("server_label", "mcp")
    listing = new_step(run, {"type": "activities", "activities": []})
    yield "thread.run.step.created", json.loads(json.dumps(listing))
    yield "thread.run.step.in_progress", json.loads(json.dumps(listing))
    tools = {
        MCP_TOOL: {
            "description": "Search the documentation.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        }
    }
    activity = {"id": _id("activity"), "type": "mcp_list_tools", "server_label": label, "tools": tools}
    listing.update(status="completed", completed_at=_now(), step_details={"type": "activities", "activities": [activity]})
    yield "thread.run.step.completed", listing
    step = new_step(run, {"type": "tool_calls", "tool_calls": []})
    state.steps.setdefault(run["id"], []).extend([listing, step])
    for _ in range(2 if _meta(run, "quirks") == "1" else 1):  # Azure may say it twice
        yield "thread.run.step.created", json.loads(json.dumps(step))
    yield "thread.run.step.in_progress", json.loads(json.dumps(step))
    prompt = state.last_user_text(run["thread_id"])
    call = {"id": _id("call"), "type": "mcp", "arguments": json.dumps({"query": prompt}), "name": MCP_TOOL, "server_label": label}
    yield "thread.run.step.delta", _step_delta(step, dict(call, index=0, output=None))
    step["step_details"]["tool_calls"] = [dict(call, output=None)]
    state.scripts[run["id"]].update(mcp_call=call, approval_step=step)
    run.update(status="requires_action", required_action={"type": "submit_tool_approval", "submit_tool_approval": {"tool_calls": [call]}})
    yield "thread.run.requires_action", dict(run)


MCP_TOOL = "search_docs"


def mcp_output(arguments: str, approved: bool) -> str:
    """What the emulated MCP server answers a call with (or the model hears of a refusal)."""
    query = json.loads(arguments or "{}").get("query", "")
    return "docs about %s" % query if approved else "the call to %s was not approved" % MCP_TOOL


def _approved(state: State, run: JSON, approvals: List[JSON]) -> Iterator[Event]:
    """The step of the MCP call completes (with Azure's quirk: the output
    after the step completed), and the run goes on."""
    script = state.scripts[run["id"]]
    step, call = script.pop("approval_step"), script["mcp_call"]
    approved = next(a for a in approvals if a.get("tool_call_id") == call["id"]).get("approve") is True
    output = mcp_output(call["arguments"], approved)
    script["outputs"].append(output)
    step.update(status="completed", completed_at=_now())
    if _meta(run, "quirks") == "1":
        yield "thread.run.step.completed", json.loads(json.dumps(step))  # output still null
        yield "thread.run.step.delta", _step_delta(step, {"index": 0, "type": "mcp", "output": output if approved else None})
    step["step_details"]["tool_calls"][0]["output"] = output if approved else None
    if _meta(run, "quirks") != "1":
        yield "thread.run.step.completed", step
    run.update(status="queued", required_action=None)
    yield "thread.run.queued", dict(run)


def _step_delta(step: JSON, call: JSON) -> JSON:
    return {"id": step["id"], "object": "thread.run.step.delta", "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}}}


def reply_text(state: State, run: JSON) -> str:
    fixed = _meta(run, "reply")
    if fixed is not None:
        return str(fixed)
    outputs = state.scripts[run["id"]]["outputs"]
    if outputs:
        return "The tools said: %s." % "; ".join(outputs)
    prompt = state.last_user_text(run["thread_id"])
    if prompt:
        return "Hello from the emulator! You said: %s" % prompt
    return "Hello from the emulator!"


def _reply(state: State, run: JSON) -> Iterator[Event]:
    text = reply_text(state, run)
    message = new_message(run["thread_id"], "assistant", [], run_id=run["id"], assistant_id=run["assistant_id"])
    message.update(status="in_progress", completed_at=None)
    step = new_step(run, {"type": "message_creation", "message_creation": {"message_id": message["id"]}})
    state.steps.setdefault(run["id"], []).append(step)
    yield "thread.run.step.created", dict(step)
    yield "thread.run.step.in_progress", dict(step)
    yield "thread.message.created", json.loads(json.dumps(message))
    yield "thread.message.in_progress", json.loads(json.dumps(message))
    for word in _words(text):
        yield (
            "thread.message.delta",
            {
                "id": message["id"],
                "object": "thread.message.delta",
                "delta": {"content": [{"index": 0, "type": "text", "text": {"value": word, "annotations": []}}]},
            },
        )
    message.update(status="completed", completed_at=_now(), content=text_content(text))
    with state.lock:
        if run["thread_id"] in state.messages:  # unless the thread was deleted meanwhile
            state.messages[run["thread_id"]].append(message)
    if _meta(run, "quirks") == "1":  # Azure's: completed, says the event; in_progress, says its data
        yield "thread.message.completed", dict(message, status="in_progress", completed_at=None)
    else:
        yield "thread.message.completed", message
    step.update(status="completed", completed_at=_now())
    yield "thread.run.step.completed", step
    status = _meta(run, "status", "completed")
    ends = {
        "completed": {"completed_at": _now()},
        "failed": {"failed_at": _now(), "last_error": {"code": "server_error", "message": "The run failed (emulated)."}},
        "cancelled": {"cancelled_at": _now()},
        "expired": {"expires_at": _now()},
        "incomplete": {"incomplete_details": {"reason": "max_completion_tokens"}},
    }
    run.update(status=status, **ends[status])
    yield "thread.run." + status, dict(run)


# ---------------------------------------------------------------------------
# The Responses API, as event sequences
# ---------------------------------------------------------------------------


def new_response(body: JSON, previous: Optional[JSON]) -> JSON:
    return {
        "id": _id("resp"),
        "object": "response",
        "created_at": _now(),
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "model": body.get("model") or "emulator-agent",
        "agent": body.get("agent"),
        "output": [],
        "parallel_tool_calls": True,
        "previous_response_id": previous["id"] if previous else None,
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": body.get("tools") or [],
        "top_p": 1.0,
        "usage": None,
        "metadata": body.get("metadata") or (previous or {}).get("metadata") or {},
    }


def input_text(value: Any) -> str:
    """The last user text of a Responses input: a string, or a list of items."""
    if isinstance(value, str):
        return value
    for item in reversed(value if isinstance(value, list) else []):
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return "".join(part.get("text") or "" for part in content if isinstance(part, dict)) if isinstance(content, list) else ""
    return ""


def response_events(state: State, response: JSON, body: JSON) -> Iterator[Event]:
    """The events of a response, from created to its final status."""
    script = state.scripts[response["id"]]
    counter = iter(range(10**9))

    def event(name: str, **fields: Any) -> Event:
        return name, dict(fields, type=name, sequence_number=next(counter))

    yield event("response.created", response=json.loads(json.dumps(response)))
    yield event("response.in_progress", response=json.loads(json.dumps(response)))
    functions = [t for t in response["tools"] if t.get("type") == "function"]
    servers = [t for t in response["tools"] if t.get("type") == "mcp" and t.get("require_approval") != "never"]
    if script["approved"] is not None:  # the MCP call, approved or not
        asked, approved = script["approved"]
        output = mcp_output(asked["arguments"], approved)
        script["outputs"].append(output)
        if approved:
            item = {"id": _id("mcp"), "type": "mcp_call", "status": "in_progress", "server_label": asked["server_label"]}
            item.update(name=asked["name"], arguments="", output=None, error=None, approval_request_id=asked["id"])
            yield event("response.output_item.added", output_index=0, item=dict(item))
            yield event("response.mcp_call.in_progress", item_id=item["id"], output_index=0)
            yield event("response.mcp_call_arguments.delta", item_id=item["id"], output_index=0, delta=asked["arguments"])
            yield event("response.mcp_call_arguments.done", item_id=item["id"], output_index=0, arguments=asked["arguments"])
            yield event("response.mcp_call.completed", item_id=item["id"], output_index=0)
            item.update(status="completed", arguments=asked["arguments"], output=output)
            response["output"].append(item)
            yield event("response.output_item.done", output_index=0, item=dict(item))
    if servers and not script["mcp_asked"]:
        script["mcp_asked"] = True
        label = servers[0].get("server_label", "mcp")
        listing = {"id": _id("mcpl"), "type": "mcp_list_tools", "server_label": label, "tools": [{"name": MCP_TOOL, "input_schema": {}}]}
        request = {"id": _id("mcpr"), "type": "mcp_approval_request", "server_label": label, "name": MCP_TOOL}
        request["arguments"] = json.dumps({"query": script["prompt"]})
        for index, item in enumerate((listing, request)):
            yield event("response.output_item.added", output_index=index, item=dict(item))
            response["output"].append(item)
            yield event("response.output_item.done", output_index=index, item=dict(item))
        script["approval_request"] = request
    elif functions and script["round"] < int(_meta(response, "rounds", "1")):
        script["round"] += 1
        fixed = json.loads(_meta(response, "args", "{}"))
        for index, function in enumerate(functions):
            name = function["name"]
            value = fixed[name] if name in fixed else _example(function.get("parameters") or {"type": "object"}, script["prompt"])
            arguments = value if isinstance(value, str) else json.dumps(value)
            item = {
                "id": _id("fc"),
                "type": "function_call",
                "status": "in_progress",
                "arguments": "",
                "call_id": _id("call"),
                "name": name,
            }
            yield event("response.output_item.added", output_index=index, item=dict(item))
            for piece in _pieces(arguments, 8):
                yield event("response.function_call_arguments.delta", item_id=item["id"], output_index=index, delta=piece)
            yield event("response.function_call_arguments.done", item_id=item["id"], output_index=index, arguments=arguments)
            item.update(status="completed", arguments=arguments)
            response["output"].append(item)
            yield event("response.output_item.done", output_index=index, item=dict(item))
    else:
        outputs = script["outputs"]  # every round's, as the model sees the whole chain
        fixed = _meta(response, "reply")
        text = (
            str(fixed)
            if fixed is not None
            else ("The tools said: %s." % "; ".join(outputs) if outputs else "Hello from the emulator! You said: %s" % script["prompt"])
        )
        item = {"id": _id("msg"), "type": "message", "status": "in_progress", "role": "assistant", "content": []}
        at = len(response["output"])
        yield event("response.output_item.added", output_index=at, item=json.loads(json.dumps(item)))
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield event("response.content_part.added", item_id=item["id"], output_index=at, content_index=0, part=dict(part))
        for word in _words(text):
            yield event("response.output_text.delta", item_id=item["id"], output_index=at, content_index=0, delta=word, logprobs=[])
        yield event("response.output_text.done", item_id=item["id"], output_index=at, content_index=0, text=text, logprobs=[])
        part["text"] = text
        yield event("response.content_part.done", item_id=item["id"], output_index=at, content_index=0, part=dict(part))
        item.update(status="completed", content=[part])
        response["output"].append(item)
        yield event("response.output_item.done", output_index=at, item=json.loads(json.dumps(item)))
    status = _meta(response, "status", "completed")
    ends = {
        "completed": {},
        "failed": {"error": {"code": "server_error", "message": "The response failed (emulated)."}},
        "incomplete": {"incomplete_details": {"reason": "max_output_tokens"}},
        "cancelled": {},
    }
    response.update(status=status, usage={"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}, **ends[status])
    if status != "cancelled":  # there is no event for that
        yield event("response." + status, response=json.loads(json.dumps(response)))


# ---------------------------------------------------------------------------
# Chat Completions, as data-only chunks
# ---------------------------------------------------------------------------


def chat_events(body: JSON) -> Iterator[Event]:
    """The chunks of a chat completion, then [DONE]: tool calls for every
    function tool (all at once, their arguments in pieces) until ``rounds``
    assistant messages with tool calls are in the conversation, else the
    reply, in each of ``n`` choices; a usage chunk if asked for.  The
    conversation carries all the state there is, as with the real API."""
    metadata = body.get("metadata") or {}
    switches = {"metadata": metadata}
    messages = [m for m in body["messages"] if isinstance(m, dict)]
    done_rounds = sum(1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
    functions = [t["function"] for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type") == "function"]
    prompt = next((m.get("content") for m in reversed(messages) if m.get("role") == "user" and isinstance(m.get("content"), str)), "")
    filters = _meta(switches, "filters") == "1"
    base = {"id": _id("chatcmpl"), "object": "chat.completion.chunk", "created": _now(), "model": body["model"]}
    base["system_fingerprint"] = "fp_emulator"

    def chunk(index: int, delta: JSON, finish: Optional[str] = None) -> Event:
        choice: JSON = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        if filters:
            choice["content_filter_results"] = {} if finish else {"hate": {"filtered": False, "severity": "safe"}}
        return None, dict(base, choices=[choice])

    if filters:
        yield None, {"id": "", "object": "", "created": 0, "model": "", "choices": [], "prompt_filter_results": [{"prompt_index": 0}]}
    if functions and done_rounds < int(_meta(switches, "rounds", "1")):
        fixed = json.loads(_meta(switches, "args", "{}"))
        yield chunk(0, {"role": "assistant", "content": None, "refusal": None})
        for index, function in enumerate(functions):
            name = function["name"]
            value = fixed[name] if name in fixed else _example(function.get("parameters") or {"type": "object"}, prompt)
            arguments = value if isinstance(value, str) else json.dumps(value)
            call = {"index": index, "id": _id("call"), "type": "function", "function": {"name": name, "arguments": ""}}
            yield chunk(0, {"tool_calls": [call]})
            for piece in _pieces(arguments, 8):
                yield chunk(0, {"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        yield chunk(0, {}, "tool_calls")
    else:
        outputs = [str(m.get("content")) for m in messages if m.get("role") == "tool"]
        fixed = _meta(switches, "reply")
        text = (
            str(fixed)
            if fixed is not None
            else "The tools said: %s." % "; ".join(outputs)
            if outputs
            else "Hello from the emulator! You said: %s" % prompt
        )
        choices = range(int(body.get("n") or 1))
        for index in choices:
            yield chunk(index, {"role": "assistant", "content": "", "refusal": None})
        for word in _words(text):
            for index in choices:
                yield chunk(index, {"content": word})
        for index in choices:
            yield chunk(index, {}, "length" if _meta(switches, "status") == "incomplete" else "stop")
    if (body.get("stream_options") or {}).get("include_usage"):
        yield None, dict(base, choices=[], usage={"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21})
    if _meta(switches, "no_done") != "1":
        yield None, "[DONE]"


# ---------------------------------------------------------------------------
# Requests, checked as the API checks them
# ---------------------------------------------------------------------------


class Refused(Exception):
    """A request the API would refuse: answered with its error body."""

    def __init__(self, status: int, message: str, param: Optional[str] = None, code: Optional[str] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


def not_found(kind: str, object_id: str) -> Refused:
    return Refused(404, "No %s found with id '%s'." % (kind, object_id))


_KINDS = {"null": "null", "boolean": "a boolean", "integer": "an integer", "number": "a number"}
_KINDS.update(string="a string", array="an array", object="an object")
MAX_DEPTH = 64  # of a request body's nesting
MAX_BODY = 32 * 1024 * 1024  # bytes


def json_kind(value: Any) -> str:
    """The JSON type of a parsed value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def field(body: JSON, name: str, *kinds: str, required: bool = False, where: str = "") -> Any:
    """``body[name]`` if it is of one of the JSON ``kinds``; None if absent
    (or null); else Refused, as the API says it."""
    param = where + name
    value = body.get(name)
    if value is None:
        if required:
            raise Refused(400, "Missing required parameter: '%s'." % param, param, "missing_required_parameter")
        return None
    kind = json_kind(value)
    if kind not in kinds and not (kind == "integer" and "number" in kinds):
        expected = " or ".join(_KINDS[k] for k in kinds)
        raise Refused(
            400, "Invalid type for '%s': expected %s, but got %s instead." % (param, expected, _KINDS[kind]), param, "invalid_type"
        )
    return value


def known(body: JSON, names: Tuple[str, ...], where: str = "") -> None:
    """Refuse a field the API does not know, as it does: a 400 naming it
    (a misspelt field is an error, never silently ignored)."""
    for name in body:
        if name not in names:
            param = where + name
            raise Refused(400, "Unknown parameter: '%s'." % param, param, "unknown_parameter")


def choice(body: JSON, name: str, allowed: Tuple[str, ...], where: str = "", required: bool = False) -> Optional[str]:
    value: Optional[str] = field(body, name, "string", where=where, required=required)
    if value is not None and value not in allowed:
        param = where + name
        raise Refused(
            400, "Invalid value for '%s': %r. Supported values are: %s." % (param, value, ", ".join(allowed)), param, "invalid_value"
        )
    return value


def objects(body: JSON, name: str, where: str = "", required: bool = False) -> List[JSON]:
    """An array of objects (each checked to be one), or []."""
    items = field(body, name, "array", where=where, required=required) or []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            param = "%s%s[%d]" % (where, name, index)
            raise Refused(
                400,
                "Invalid type for '%s': expected an object, but got %s instead." % (param, _KINDS[json_kind(item)]),
                param,
                "invalid_type",
            )
    return list(items)


def check_depth(value: Any) -> None:
    """Refuse a body nested deeper than MAX_DEPTH (counted without recursion)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise Refused(400, "The request body is nested more than %d levels deep." % MAX_DEPTH)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def switch_takes(name: str, text: str) -> bool:
    """Whether a switch's value, as metadata carries it, is one it takes."""
    takes = SWITCHES[name][1]

    def seconds(value: str) -> bool:
        number = float(value)
        return 0 <= number < 86400

    if name == "inject" and text == "noise":
        return True
    try:
        if isinstance(takes, tuple):
            return text in takes
        if takes is int:
            int(text)
            return True
        if takes is float:
            return seconds(text)
        if name == "stall":
            after, colon, wait = text.partition(":")
            int(after)
            return bool(colon) and seconds(wait)
        if name == "inject":
            kind, _, after = text.partition(":")
            int(after)
            return kind in INJECTIONS
        if takes is list:
            return all(400 <= int(status) <= 599 for status in text.split(","))
        if takes is dict:
            return isinstance(json.loads(text), dict)
        return True  # a bool ("1" or not) or a str
    except (ValueError, OverflowError, RecursionError):
        return False


def metadata(body: JSON, where: str = "") -> Optional[Dict[str, str]]:
    """The ``metadata`` of a body: an object of strings, as the API wants
    it, whose emulator switches take the values given (else Refused)."""
    found = field(body, "metadata", "object", where=where)
    if found is None:
        return None
    param = where + "metadata"
    if len(found) > 16:
        raise Refused(400, "Invalid '%s': too many properties (%d > 16)." % (param, len(found)), param, "invalid_value")
    for key, value in found.items():
        if not isinstance(value, str):
            raise Refused(
                400,
                "Invalid type for '%s.%s': expected a string, but got %s instead." % (param, key, _KINDS[json_kind(value)]),
                param,
                "invalid_type",
            )
        name = key[len("emulator_") :]
        if key.startswith("emulator_") and name in SWITCHES and not switch_takes(name, value):
            raise Refused(
                400,
                "The emulator switch %s does not take %r (it takes %s)." % (key, value, SWITCHES[name][0]),
                "%s.%s" % (param, key),
                "invalid_value",
            )
    return dict(found)


def tools(body: JSON, nested: bool, where: str = "") -> Optional[List[JSON]]:
    """The ``tools`` of a body, checked as far as the emulator reads them:
    a function's name (under ``function`` for runs and chats: ``nested``)."""
    if body.get("tools") is None:
        return None
    found = objects(body, "tools", where=where)
    for index, tool in enumerate(found):
        at = "%stools[%d]." % (where, index)
        kind = field(tool, "type", "string", required=True, where=at)
        if kind == "function":
            function = field(tool, "function", "object", required=True, where=at) if nested else tool
            inner = at + "function." if nested else at
            field(function, "name", "string", required=True, where=inner)
            field(function, "parameters", "object", where=inner)
        elif kind == "mcp":
            field(tool, "server_label", "string", where=at)
            field(tool, "require_approval", "string", "object", where=at)
    return found


def stream_flag(body: JSON) -> bool:
    return bool(field(body, "stream", "boolean"))


def message_content(body: JSON, where: str = "") -> List[JSON]:
    """A message's content as the API stores it: a string, or an array of
    parts (text, image_file, image_url), given as a request gives them."""
    content = field(body, "content", "string", "array", required=True, where=where)
    if isinstance(content, str):
        return text_content(content)
    stored = []
    for index, part in enumerate(objects(body, "content", where=where)):
        at = "%scontent[%d]." % (where, index)
        kind = choice(part, "type", ("text", "image_file", "image_url"), where=at, required=True)
        if kind == "text":
            stored.extend(text_content(field(part, "text", "string", required=True, where=at)))
        else:
            field(part, str(kind), "object", required=True, where=at)
            stored.append(part)
    return stored


MESSAGE_FIELDS = ("role", "content", "attachments", "metadata")


def message_request(body: JSON, where: str = "") -> JSON:
    """A message to create, checked: its role, content, metadata."""
    known(body, MESSAGE_FIELDS, where)
    return {
        "role": choice(body, "role", ("user", "assistant"), where=where, required=True),
        "content": message_content(body, where),
        "attachments": objects(body, "attachments", where=where),
        "metadata": metadata(body, where) or {},
    }


THREAD_FIELDS = ("messages", "tool_resources", "metadata")


def thread_request(body: JSON, where: str = "") -> JSON:
    """A thread to create, checked: its messages and metadata."""
    known(body, THREAD_FIELDS, where)
    messages = [message_request(m, "%smessages[%d]." % (where, i)) for i, m in enumerate(objects(body, "messages", where=where))]
    field(body, "tool_resources", "object", where=where)
    return {"messages": messages, "metadata": metadata(body, where) or {}}


ASSISTANT_FIELDS = ("model", "name", "description", "instructions", "tools", "metadata")
ASSISTANT_KNOWN = ASSISTANT_FIELDS + ("reasoning_effort", "response_format", "temperature", "tool_resources", "top_p")


def assistant_request(body: JSON, create: bool) -> JSON:
    """An assistant's fields to create (a model is required) or modify."""
    known(body, ASSISTANT_KNOWN)
    field(body, "model", "string", required=create)
    for name in ("name", "description", "instructions"):
        field(body, name, "string")
    tools(body, nested=True)
    metadata(body)
    return {name: body[name] for name in ASSISTANT_FIELDS if body.get(name) is not None}


RUN_FIELDS = ("assistant_id", "model", "instructions", "tools", "metadata", "temperature", "top_p", "stream")
RUN_FIELDS += ("max_prompt_tokens", "max_completion_tokens", "truncation_strategy", "tool_choice", "parallel_tool_calls")
RUN_FIELDS += ("response_format",)
RUN_ON_THREAD = RUN_FIELDS + ("additional_instructions", "additional_messages", "reasoning_effort")  # POST /threads/{id}/runs
THREAD_AND_RUN = RUN_FIELDS + ("thread", "tool_resources")  # POST /threads/runs


def run_request(body: JSON, new_thread: bool = False) -> None:
    """The fields of a new run that the emulator reads, checked."""
    known(body, THREAD_AND_RUN if new_thread else RUN_ON_THREAD)
    field(body, "assistant_id", "string", required=True)
    for name in ("model", "instructions", "additional_instructions"):
        field(body, name, "string")
    for name in ("temperature", "top_p"):
        field(body, name, "number")
    tools(body, nested=True)
    metadata(body)
    stream_flag(body)
    for index, message in enumerate(objects(body, "additional_messages")):
        message_request(message, "additional_messages[%d]." % index)


def submit_request(body: JSON) -> None:
    known(body, ("tool_outputs", "tool_approvals", "stream"))  # tool_approvals: Azure's MCP approvals
    for index, output in enumerate(objects(body, "tool_outputs")):
        known(output, ("tool_call_id", "output"), "tool_outputs[%d]." % index)
        field(output, "tool_call_id", "string", required=True, where="tool_outputs[%d]." % index)
        field(output, "output", "string", where="tool_outputs[%d]." % index)
    for index, approval in enumerate(objects(body, "tool_approvals")):
        known(approval, ("tool_call_id", "approve", "headers"), "tool_approvals[%d]." % index)
        field(approval, "tool_call_id", "string", required=True, where="tool_approvals[%d]." % index)
        field(approval, "approve", "boolean", required=True, where="tool_approvals[%d]." % index)
    stream_flag(body)


RESPONSE_ENDS = ("completed", "failed", "incomplete", "cancelled")


RESPONSE_FIELDS = ("model", "input", "instructions", "previous_response_id", "conversation", "include", "stream")
RESPONSE_FIELDS += ("stream_options", "background", "max_output_tokens", "max_tool_calls", "metadata", "parallel_tool_calls")
RESPONSE_FIELDS += ("prompt", "prompt_cache_key", "prompt_cache_retention", "reasoning", "safety_identifier", "service_tier")
RESPONSE_FIELDS += ("store", "temperature", "text", "tool_choice", "tools", "top_logprobs", "top_p", "truncation", "user")
RESPONSE_FIELDS += ("access_programs", "background_options", "context_management", "image", "moderation", "prompt_cache_options")
RESPONSE_FIELDS += ("agent",)  # Azure AI Foundry's agent reference


def response_request(body: JSON) -> None:
    """The fields of a new response that the emulator reads, checked."""
    known(body, RESPONSE_FIELDS)
    field(body, "model", "string")
    agent = field(body, "agent", "object")
    if agent is not None:
        field(agent, "name", "string", where="agent.")
        field(agent, "type", "string", where="agent.")
    for name in ("instructions", "previous_response_id"):
        field(body, name, "string")
    tools(body, nested=False)
    found = metadata(body) or {}
    if found.get("emulator_status", "completed") not in RESPONSE_ENDS:
        raise Refused(
            400,
            "A response ends %s, not %s." % (", ".join(RESPONSE_ENDS), found["emulator_status"]),
            "metadata.emulator_status",
            "invalid_value",
        )
    stream_flag(body)
    field(body, "background", "boolean")
    if isinstance(field(body, "input", "string", "array"), str):
        return
    for index, item in enumerate(objects(body, "input")):
        at = "input[%d]." % index
        for name in ("type", "role", "call_id", "approval_request_id"):
            field(item, name, "string", where=at)
        if item.get("type") == "message" or (item.get("type") is None and set(item) != {"id"}):  # {"id"} alone: a reference
            choice(item, "role", ("user", "assistant", "system", "developer"), where=at, required=True)
        if item.get("type") == "mcp_approval_response":
            field(item, "approval_request_id", "string", required=True, where=at)
            field(item, "approve", "boolean", required=True, where=at)
        if item.get("type") == "function_call_output":
            field(item, "output", "string", "array", required=True, where=at)
        if isinstance(field(item, "content", "string", "array", where=at), list):
            for number, part in enumerate(objects(item, "content", where=at)):
                field(part, "text", "string", where="%scontent[%d]." % (at, number))


CHAT_FIELDS = ("model", "messages", "stream", "stream_options", "n", "tools", "tool_choice", "parallel_tool_calls")
CHAT_FIELDS += ("temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed", "user", "metadata", "store")
CHAT_FIELDS += ("frequency_penalty", "presence_penalty", "logit_bias", "logprobs", "top_logprobs", "response_format")
CHAT_FIELDS += ("reasoning_effort", "service_tier", "modalities", "audio", "prediction", "verbosity", "web_search_options")
CHAT_FIELDS += ("functions", "function_call", "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention")
CHAT_FIELDS += ("safety_identifier", "moderation")
CHAT_FIELDS += ("data_sources", "user_security_context")  # Azure OpenAI's


def chat_request(body: JSON) -> None:
    """The fields of a chat completion that the emulator reads, checked."""
    known(body, CHAT_FIELDS)
    field(body, "model", "string", required=True)
    messages = objects(body, "messages", required=True)
    if not messages:
        raise Refused(400, "Invalid 'messages': empty array. Expected an array with minimum length 1.", "messages", "empty_array")
    for index, message in enumerate(messages):
        field(message, "role", "string", required=True, where="messages[%d]." % index)
        field(message, "content", "string", "array", where="messages[%d]." % index)
    tools(body, nested=True)
    metadata(body)
    stream_flag(body)
    n = field(body, "n", "integer")
    if n is not None and not 1 <= n <= 128:
        raise Refused(400, "Invalid 'n': %d is not between 1 and 128." % n, "n", "invalid_value")
    options = field(body, "stream_options", "object")
    if options is not None:
        known(options, ("include_usage", "include_obfuscation"), "stream_options.")
        field(options, "include_usage", "boolean", where="stream_options.")


def page(items: List[JSON], query: Dict[str, List[str]]) -> JSON:
    """A page of a list endpoint, as the API pages them: ``limit`` (1 to
    100, 20), ``order`` (asc, desc: the default) by creation, and the
    cursors ``after`` and ``before`` (object ids)."""

    def one(name: str, default: str) -> str:
        return (query.get(name) or [default])[0]

    try:
        limit = int(one("limit", "20"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise Refused(400, "Invalid 'limit': expected an integer between 1 and 100, got %r." % one("limit", ""), "limit", "invalid_value")
    order = one("order", "desc")
    if order not in ("asc", "desc"):
        raise Refused(400, "Invalid 'order': expected 'asc' or 'desc', got %r." % order, "order", "invalid_value")
    ordered = list(items) if order == "asc" else list(reversed(items))
    ids = [item["id"] for item in ordered]
    after, before = one("after", ""), one("before", "")
    if after:
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    if before:
        kept = [item["id"] for item in ordered]
        ordered = ordered[: kept.index(before)] if before in kept else []
    data = ordered[:limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(ordered) > limit,
    }


def deleted(object_id: str, kind: str) -> JSON:
    return {"id": object_id, "object": kind, "deleted": True}


def _no_constant(name: str) -> Any:
    raise ValueError("%s is not JSON" % name)


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------


class Call:
    """What the emulator saw of one request (for tests)."""

    def __init__(self, method: str, path: str, headers: Dict[str, str], query: Dict[str, List[str]], body: Any):
        self.method = method
        self.path = path
        self.headers = headers
        self.query = query
        self.body = body
        self.client_port = 0  # tells which requests shared a connection
        self.status = 0
        self.events_sent = 0
        self.bytes_sent = 0  # of an oversized event
        self.client_closed = False  # the client closed the connection mid-stream
        self.ended = threading.Event()  # the server is done with this request
        self.ended_at = 0.0
        self.connection_closed = threading.Event()  # the TCP connection that carried it is gone

    def __repr__(self) -> str:
        return "<Call %s %s %d events%s>" % (self.method, self.path, self.events_sent, " closed by client" if self.client_closed else "")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK wait between them
    server: "_Server"

    def setup(self) -> None:
        super().setup()
        self.calls_here: List[Call] = []
        self._gzip: Any = None

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            for call in self.calls_here:
                call.connection_closed.set()

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.emulator.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PUT(self) -> None:  # no such endpoint: answered as the API answers
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    # -- plumbing ----------------------------------------------------------

    def _handle(self, method: str) -> None:
        emulator = self.server.emulator
        parts = urlsplit(self.path)
        body, unreadable = self._read_body()
        call = Call(method, parts.path, dict(self.headers.items()), parse_qs(parts.query), body)
        call.client_port = self.client_address[1]
        self.calls_here.append(call)
        with emulator.lock:
            emulator.calls.append(call)
        try:
            try:
                if unreadable is not None:
                    raise unreadable
                refusal = emulator.check(self, call)
                if refusal is not None:
                    return self._error(call, *refusal)
                route = parts.path[len("/v1") :] if parts.path.startswith("/v1/") else None
                if route is None:
                    return self._error(call, 404, "invalid_request_error", "Unknown URL %s" % parts.path)
                self._route(call, method, route.strip("/").split("/"), body)
            except Refused as refused:
                self._error(call, refused.status, "invalid_request_error", refused.message, param=refused.param, code=refused.code)
        except (BrokenPipeError, ConnectionResetError):
            call.client_closed = True
        except Exception:  # a bug of the emulator's: the API's answer to one, and the traceback on stderr
            traceback.print_exc()
            self.close_connection = True
            if not call.status:
                self._error(call, 500, "server_error", "The server had an error while processing your request.")
        finally:
            call.ended_at = time.monotonic()
            call.ended.set()

    def _read_body(self) -> Tuple[Any, Optional[Refused]]:
        """The request's JSON body ({} if none), or why it is refused."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            return None, Refused(411, "A request body needs a Content-Length.")
        text = (self.headers.get("Content-Length") or "0").strip()
        if not text.isdigit():
            self.close_connection = True  # where this body ends is unknown
            return None, Refused(400, "Invalid Content-Length: %r." % text)
        length = int(text)
        if length > MAX_BODY:
            self.close_connection = True
            return None, Refused(413, "The request body is larger than %d bytes." % MAX_BODY)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}, None
        try:
            body = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            return None, Refused(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return body, Refused(400, "The body is not a JSON object.")
        try:
            check_depth(body)
        except Refused as refused:
            return body, refused
        return body, None

    def _route(self, call: Call, method: str, segments: List[str], body: JSON) -> None:
        state = self.server.emulator.state
        head, n = segments[0], len(segments)
        if head == "assistants" and n <= 2:
            return self._assistants(call, method, segments[1:], body)
        if method == "POST" and segments == ["chat", "completions"]:
            return self._chat(call, body)
        if head == "responses":
            return self._responses(call, method, segments[1:], body)
        if method == "POST" and segments == ["threads"]:
            return self._json(call, 200, state.new_thread(thread_request(body)))
        if method == "POST" and segments == ["threads", "runs"]:
            checked = thread_request(field(body, "thread", "object") or {}, "thread.")
            run_request(body, new_thread=True)  # before the thread is made
            made = state.new_thread(checked)
            return self._start_run(call, made["id"], body, made)
        if head != "threads" or n < 2:
            raise Refused(404, "Unknown endpoint %s %s" % (method, call.path))
        thread_id = segments[1]
        with state.lock:
            thread = state.threads.get(thread_id)
        if thread is None:
            raise not_found("thread", thread_id)
        if n == 2:
            return self._thread(call, method, thread, body)
        if segments[2] == "messages" and n <= 4:
            return self._messages(call, method, thread_id, segments[3:], body)
        if segments[2] == "runs":
            return self._runs(call, method, thread_id, segments[3:], body)
        raise Refused(404, "Unknown endpoint %s %s" % (method, call.path))

    def _assistants(self, call: Call, method: str, rest: List[str], body: JSON) -> None:
        state = self.server.emulator.state
        if not rest and method == "POST":
            fields = assistant_request(body, create=True)
            made = new_assistant(_id("asst"))
            made["name"] = None  # unless given
            made.update(fields)
            with state.lock:
                state.assistants[made["id"]] = made
            return self._json(call, 200, made)
        if not rest and method == "GET":
            with state.lock:
                listed = page(list(state.assistants.values()), call.query)
            return self._json(call, 200, listed)
        if not rest:
            raise Refused(404, "Unknown endpoint %s %s" % (method, call.path))
        with state.lock:
            assistant = state.assistants.get(rest[0])
            if assistant is None:
                raise not_found("assistant", rest[0])
            if method == "GET":
                return self._json(call, 200, assistant)
            if method == "POST":
                assistant.update(assistant_request(body, create=False))
                return self._json(call, 200, assistant)
            if method == "DELETE":
                del state.assistants[rest[0]]
                return self._json(call, 200, deleted(rest[0], "assistant.deleted"))
        raise Refused(404, "Unknown endpoint %s %s" % (method, call.path))

    def _thread(self, call: Call, method: str, thread: JSON, body: JSON) -> None:
        state = self.server.emulator.state
        if method == "GET":
            return self._json(call, 200, thread)
        if method == "POST":
            known(body, ("tool_resources", "metadata"))
            found = metadata(body)
            field(body, "tool_resources", "object")
            with state.lock:
                if found is not None:
                    thread["metadata"] = found
                if body.get("tool_resources") is not None:
                    thread["tool_resources"] = body["tool_resources"]
            return self._json(call, 200, thread)
        if method == "DELETE":
            with state.lock:
                state.threads.pop(thread["id"], None)
                state.messages.pop(thread["id"], None)
                for run_id in [r for r, run in state.runs.items() if run["thread_id"] == thread["id"]]:
                    del state.runs[run_id]
            return self._json(call, 200, deleted(thread["id"], "thread.deleted"))
        raise Refused(404, "Unknown endpoint %s %s" % (method, call.path))

    def _messages(self, call: Call, method: str, thread_id: str, rest: List[str], body: JSON) -> None:
        state = self.server.emulator.state
        if not rest and method == "POST":
            return self._json(call, 200, state.add_message(thread_id, message_request(body)))
        if not rest and method == "GET":
            return self._json(call, 200, self._list_messages(thread_id, call.query))
        if not rest:
            raise Refused(404, "Unknown endpoint %s %s" % (method, call.path))
        with state.lock:
            messages = state.messages.get(thread_id, [])
            message = next((m for m in messages if m["id"] == rest[0]), None)
            if message is None:
                raise not_found("message", rest[0])
            if method == "GET":
                return self._json(call, 200, message)
            if method == "POST":
                known(body, ("metadata",))
                found = metadata(body)
                if found is not None:
                    message["metadata"] = found
                return self._json(call, 200, message)
            if method == "DELETE":
                messages.remove(message)
                return self._json(call, 200, deleted(message["id"], "thread.message.deleted"))
        raise Refused(404, "Unknown endpoint %s %s" % (method, call.path))

    def _runs(self, call: Call, method: str, thread_id: str, rest: List[str], body: JSON) -> None:
        state = self.server.emulator.state
        if not rest and method == "POST":
            return self._start_run(call, thread_id, body, None)
        if not rest and method == "GET":
            with state.lock:
                listed = page([run for run in state.runs.values() if run["thread_id"] == thread_id], call.query)
            return self._json(call, 200, listed)
        if not rest:
            raise Refused(404, "Unknown endpoint %s %s" % (method, call.path))
        with state.lock:
            run = state.runs.get(rest[0])
        if run is None or run["thread_id"] != thread_id:
            raise not_found("run", rest[0])
        action = rest[1:]
        if method == "GET" and not action:
            return self._json(call, 200, run)
        if method == "POST" and not action:
            known(body, ("metadata",))
            found = metadata(body)
            with state.lock:
                if found is not None:
                    run["metadata"] = found
            return self._json(call, 200, run)
        if method == "POST" and action == ["cancel"]:
            return self._cancel(call, run)
        if method == "POST" and action == ["submit_tool_outputs"]:
            return self._submit(call, run, body)
        if method == "GET" and action[:1] == ["steps"] and len(action) <= 2:
            with state.lock:
                steps = list(state.steps.get(run["id"], []))
            if len(action) == 1:
                return self._json(call, 200, page(steps, call.query))
            step = next((s for s in steps if s["id"] == action[1]), None)
            if step is None:
                raise not_found("run step", action[1])
            return self._json(call, 200, step)
        raise Refused(404, "Unknown endpoint %s %s" % (method, call.path))

    def _responses(self, call: Call, method: str, segments: List[str], body: JSON) -> None:
        state = self.server.emulator.state
        if method == "POST" and not segments:
            response_request(body)
            if self._scripted_failure(call, body):
                return None
            agent = body.get("agent")
            if not body.get("model") and not (isinstance(agent, dict) and agent.get("type") == "agent_reference" and agent.get("name")):
                return self._error(call, 400, "invalid_request_error", "Missing required parameter: 'model' (or an agent reference).")
            previous = state.responses.get(body.get("previous_response_id") or "")
            if body.get("previous_response_id") and previous is None:
                return self._error(call, 404, "invalid_request_error", "Previous response not found.")
            response = new_response(body, previous)
            prompt = input_text(body.get("input")) or (state.scripts[previous["id"]]["prompt"] if previous else "")
            with state.lock:
                before = state.scripts[previous["id"]] if previous else {"round": 0, "outputs": []}
                given = [
                    str(i.get("output", ""))
                    for i in body.get("input") or []
                    if isinstance(i, dict) and i.get("type") == "function_call_output"
                ]
                decisions = {
                    i.get("approval_request_id"): i.get("approve") is True
                    for i in body.get("input") or []
                    if isinstance(i, dict) and i.get("type") == "mcp_approval_response"
                }
                asked = before.get("approval_request")
                if asked is not None and asked["id"] not in decisions:
                    return self._error(call, 400, "invalid_request_error", "No approval for %s." % asked["id"])
                state.responses[response["id"]] = response
                state.scripts[response["id"]] = {
                    "round": before["round"],
                    "outputs": before["outputs"] + given,
                    "cancelled": False,
                    "prompt": prompt,
                    "mcp_asked": before.get("mcp_asked", False),
                    "approved": (asked, decisions[asked["id"]]) if asked is not None else None,
                }
            events = response_events(state, response, body)
            if body.get("stream"):
                return self._stream(call, response, events, done=False)
            for _ in events:
                pass
            return self._json(call, 200, response)
        found = state.responses.get(segments[0]) if segments else None
        if found is None:
            if segments and len(segments) <= 2:
                raise Refused(404, "Response with id '%s' not found." % segments[0], "response_id")
            raise Refused(404, "Unknown endpoint %s %s" % (method, call.path))
        if method == "GET" and len(segments) == 1:
            return self._json(call, 200, found)
        if method == "DELETE" and len(segments) == 1:
            with state.lock:
                state.responses.pop(found["id"], None)
            return self._json(call, 200, deleted(found["id"], "response"))
        if method == "POST" and segments[1:] == ["cancel"]:
            with state.lock:
                if found["status"] not in ("queued", "in_progress"):
                    return self._error(call, 400, "invalid_request_error", "Cannot cancel a response with status '%s'." % found["status"])
                state.scripts[found["id"]]["cancelled"] = True
                found["status"] = "cancelled"
            return self._json(call, 200, found)
        return self._error(call, 404, "invalid_request_error", "Unknown endpoint %s %s" % (method, call.path))

    def _chat(self, call: Call, body: JSON) -> None:
        chat_request(body)
        if self._scripted_failure(call, body):
            return None
        answering = {"metadata": body.get("metadata") or {}}  # what the switches are read from
        if not body.get("stream"):
            completion = {"id": _id("chatcmpl"), "object": "chat.completion", "created": _now(), "model": body["model"], "choices": []}
            for _, chunk in chat_events(body):
                for choice in chunk.get("choices") or [] if isinstance(chunk, dict) else []:
                    while len(completion["choices"]) <= choice["index"]:
                        completion["choices"].append({"index": len(completion["choices"]), "message": {"role": "assistant", "content": ""}})
                    completion["choices"][choice["index"]]["message"]["content"] += choice["delta"].get("content") or ""
            return self._json(call, 200, completion)
        return self._stream(call, answering, chat_events(body), done=False)

    def _list_messages(self, thread_id: str, query: Dict[str, List[str]]) -> JSON:
        state = self.server.emulator.state
        with state.lock:
            messages = list(state.messages.get(thread_id, []))
        run_id = (query.get("run_id") or [None])[0]
        if run_id:
            messages = [m for m in messages if m["run_id"] == run_id]
        return page(messages, query)

    def _scripted_failure(self, call: Call, body: JSON) -> bool:
        """Answer with the next status of ``emulator_fail``, if any is left."""
        spec = _meta(body, "fail")
        if not spec:
            return False
        state = self.server.emulator.state
        statuses = [int(code) for code in spec.split(",")]
        with state.lock:
            served = state.failures.get((call.path, spec), 0)
            if served >= len(statuses):
                return False
            state.failures[(call.path, spec)] = served + 1
        retry_after = _meta(body, "retry_after", "0")
        self._error(call, statuses[served], "server_error", "Scripted failure %d." % (served + 1), {"Retry-After": retry_after})
        return True

    def _start_run(self, call: Call, thread_id: str, body: JSON, thread: Optional[JSON]) -> None:
        state = self.server.emulator.state
        run_request(body, new_thread=thread is not None)
        if self._scripted_failure(call, body):
            return
        for message in body.get("additional_messages") or []:
            state.add_message(thread_id, message_request(message))
        run = new_run(thread_id, state.assistant(body["assistant_id"]), body)
        with state.lock:
            state.runs[run["id"]] = run
            state.scripts[run["id"]] = {"round": 0, "outputs": [], "cancelled": False}
        events = run_events(state, run)
        if thread is not None:
            events = _prepend(("thread.created", thread), events)
        self._answer_run(call, run, body, events)

    def _submit(self, call: Call, run: JSON, body: JSON) -> None:
        state = self.server.emulator.state
        submit_request(body)
        if run["status"] != "requires_action":
            return self._error(call, 400, "invalid_request_error", 'Runs in status "%s" do not accept tool outputs.' % run["status"])
        if run["required_action"]["type"] == "submit_tool_approval":
            asked = {c["id"] for c in run["required_action"]["submit_tool_approval"]["tool_calls"]}
            approvals = body.get("tool_approvals") or []
            answered = {a.get("tool_call_id") for a in approvals if isinstance(a, dict) and isinstance(a.get("approve"), bool)}
            if answered != asked or body.get("tool_outputs"):
                return self._error(call, 400, "invalid_request_error", "Expected tool_approvals for %s." % sorted(asked))
            return self._answer_run(call, run, body, run_events(state, run, approvals=approvals))
        expected = {c["id"] for c in run["required_action"]["submit_tool_outputs"]["tool_calls"]}
        given = {o.get("tool_call_id") for o in body.get("tool_outputs") or []}
        if given != expected:
            return self._error(
                call, 400, "invalid_request_error", "Expected tool outputs for call_ids %s, got %s." % (sorted(expected), sorted(given))
            )
        self._answer_run(call, run, body, run_events(state, run, body["tool_outputs"]))

    def _cancel(self, call: Call, run: JSON) -> None:
        state = self.server.emulator.state
        with state.lock:
            if run["status"] in ("completed", "failed", "cancelled", "expired", "incomplete"):
                return self._error(call, 400, "invalid_request_error", "Cannot cancel run with status '%s'." % run["status"])
            state.scripts[run["id"]]["cancelled"] = True
            run.update(status="cancelled", cancelled_at=_now(), required_action=None)
        self._json(call, 200, run)

    def _answer_run(self, call: Call, run: JSON, body: JSON, events: Iterator[Event]) -> None:
        answer = _meta(run, "answer")
        if body.get("stream") and answer == "html":
            return self._page(call, b"<!doctype html><html><body><h1>Welcome to the proxy</h1></body></html>")
        if body.get("stream") and answer == "json":
            return self._json(call, 200, run)
        if body.get("stream"):
            return self._stream(call, run, events)
        for _ in events:  # run it to where it stops
            pass
        self._json(call, 200, run)

    # -- responses ---------------------------------------------------------

    def _json(self, call: Call, status: int, payload: Any, headers: Optional[Dict[str, str]] = None) -> None:
        data = json.dumps(payload).encode()
        call.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", "req_" + uuid.uuid4().hex[:16])
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _page(self, call: Call, page: bytes) -> None:
        call.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def _error(
        self,
        call: Call,
        status: int,
        kind: str,
        message: str,
        headers: Optional[Dict[str, str]] = None,
        *,
        param: Optional[str] = None,
        code: Optional[str] = None,
    ) -> None:
        self._json(call, status, {"error": {"message": message, "type": kind, "param": param, "code": code}}, headers)

    def _stream(self, call: Call, run: JSON, events: Iterator[Event], done: bool = True) -> None:
        delay = float(_meta(run, "delay", self.server.emulator.delay))
        hold = int(_meta(run, "hold", "-1"))
        drop = int(_meta(run, "drop", "-1"))
        close_after = int(_meta(run, "close_after", "-1"))
        error_after = int(_meta(run, "error_after", "-1"))
        stall_at, _, stall = _meta(run, "stall", "-1:0").partition(":")
        inject, _, inject_at = _meta(run, "inject", ":-1").partition(":")
        inject_at = inject_at or "-1"
        framing = _meta(run, "framing", "chunked")
        chunked = framing == "chunked"
        self._gzip = zlib.compressobj(6, zlib.DEFLATED, 31) if _meta(run, "gzip") == "1" else None
        call.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("x-request-id", "req_" + uuid.uuid4().hex[:16])
        if self._gzip is not None:
            self.send_header("Content-Encoding", "gzip")
        pending = events if _meta(run, "no_done") == "1" or not done else _prepend_done(events)
        if framing == "length":
            body = b"".join(_encode(name, data) for name, data in pending)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            call.events_sent = body.count(b"\n\n")
            return
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.flush()
        try:
            for name, data in pending:
                sent = call.events_sent
                if sent == hold:
                    self._hold(call)
                    break
                if sent == drop:
                    data = _encode(name, data)
                    self._write(data[: len(data) // 2], chunked)
                    self.close_connection = True
                    break
                if sent == close_after:
                    self.close_connection = True
                    break
                if sent == int(stall_at):
                    time.sleep(float(stall))
                if sent and delay and self._client_gone(delay):
                    call.client_closed = True
                    break
                if sent == error_after:
                    self._write(
                        _encode(
                            "error",
                            {"code": "server_error", "message": "Sorry, something went wrong.", "param": None, "type": "server_error"},
                        ),
                        chunked,
                    )
                if sent == int(inject_at) and inject == "bad_utf8":
                    bad = b'{"id": "msg_x", "object": "thread.message.delta", "delta": {"content": [{"index": 0, "type": "text", "text": {"value": "caf\xe9"}}]}}'
                    self._write(b"event: thread.message.delta\ndata: " + bad + b"\n\n", chunked)  # Latin-1, not UTF-8
                if sent == int(inject_at) and inject == "bad_json":
                    self._write(b'event: thread.message.delta\ndata: {"id": "msg_x", "delta": \n\n', chunked)
                if sent == int(inject_at) and inject == "huge":
                    self._huge(call, int(_meta(run, "huge_bytes", str(64 * 1024 * 1024))), chunked)
                    break
                if inject == "noise":
                    self._write(b": keep-alive\n\n", chunked)
                self._write(_encode(name, data), chunked)
                call.events_sent += 1
                if inject == "noise":
                    self._write(_encode("vendor.ping", {"n": sent}), chunked)
            else:
                if _meta(run, "linger"):
                    self._hold(call)
                    return
                self._write(b"", chunked, last=True)
                return
        except (BrokenPipeError, ConnectionResetError):
            call.client_closed = True
        self.close_connection = True
        self._finish_later(run, pending)

    def _huge(self, call: Call, size: int, chunked: bool) -> None:
        """An event that is never finished: ``size`` bytes of one data line."""
        self._write(b'event: thread.message.delta\ndata: {"id": "msg_x", "pad": "', chunked)
        piece = b"a" * 65536
        for _ in range(size // len(piece)):
            self._write(piece, chunked)
            call.bytes_sent += len(piece)

    def _finish_later(self, run: JSON, pending: Iterator[Event]) -> None:
        """The stream ended early; the run goes on without it, as on the API
        (a chat completion, which is kept nowhere, just ends)."""
        if "id" not in run:
            return
        state = self.server.emulator.state
        wait = float(_meta(run, "finish_after", "0.2"))

        def finish() -> None:
            time.sleep(wait)
            with state.lock:
                for _ in pending:
                    if state.scripts[run["id"]]["cancelled"]:
                        break

        threading.Thread(target=finish, daemon=True).start()

    def _write(self, data: bytes, chunked: bool, last: bool = False) -> None:
        """Send one piece of the body (one HTTP chunk), gzipped if asked;
        ``last`` ends the body."""
        if self._gzip is not None:
            data = self._gzip.compress(data) + (self._gzip.flush() if last else self._gzip.flush(zlib.Z_SYNC_FLUSH))
        if chunked:
            data = (b"%x\r\n%s\r\n" % (len(data), data) if data else b"") + (b"0\r\n\r\n" if last else b"")
        self.wfile.write(data)
        self.wfile.flush()

    def _client_gone(self, wait: float) -> bool:
        """Wait up to ``wait`` seconds; True if the client closed meanwhile."""
        readable, _, _ = select.select([self.connection], [], [], wait)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _hold(self, call: Call) -> None:
        deadline = time.monotonic() + self.server.emulator.hold_limit
        while time.monotonic() < deadline:
            if self._client_gone(0.05):
                call.client_closed = True
                break
        self.close_connection = True


def _encode(name: Optional[str], data: Any) -> bytes:
    """One event; without a name, a data-only one (as chat chunks are)."""
    payload = data if isinstance(data, str) else json.dumps(data)
    if name is None:
        return ("data: %s\n\n" % payload).encode()
    return ("event: %s\ndata: %s\n\n" % (name, payload)).encode()


def _prepend(first: Event, rest: Iterator[Event]) -> Iterator[Event]:
    yield first
    yield from rest


def _prepend_done(events: Iterator[Event]) -> Iterator[Event]:
    yield from events
    yield "done", "[DONE]"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: "Emulator"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client closing its end between requests is normal, not an error.
        if self.emulator.verbose:
            super().handle_error(request, client_address)


class Emulator:
    """The emulated API on a local port, in a background thread.

    ``api_key``: when set, requests must carry ``Authorization: Bearer <key>``
    (a callable: a predicate the bearer token must satisfy).
    ``required_headers`` / ``required_query``: more a request must carry (an
    Azure-like deployment: ``{"api-key": ...}``, ``{"api-version": ...}``).
    ``calls`` records every request the emulator saw.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: Union[None, str, Callable[[Optional[str]], bool]] = None,
        delay: float = 0.0,
        required_headers: Optional[Dict[str, str]] = None,
        required_query: Optional[Dict[str, str]] = None,
        verbose: bool = False,
    ):
        self.state = State()
        self.api_key = api_key
        self.delay = delay
        self.required_headers = required_headers or {}
        self.required_query = required_query or {}
        self.verbose = verbose
        self.hold_limit = 10.0
        self.calls: List[Call] = []
        self.lock = threading.Lock()
        self._server = _Server((host, port), Handler)
        self._server.emulator = self
        self._thread: Optional[threading.Thread] = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return "http://%s:%d/v1" % (host, port)

    def check(self, handler: Handler, call: Call) -> Optional[Tuple[int, str, str]]:
        """Why a request is refused, as (status, type, message), or None."""
        authorization = call.headers.get("Authorization") or ""
        if self.api_key is not None:
            token = authorization[len("Bearer ") :] if authorization.startswith("Bearer ") else None
            valid = self.api_key(token) if callable(self.api_key) else token == self.api_key
            if not valid:
                return 401, "invalid_request_error", "Incorrect API key provided."
        for key, value in self.required_headers.items():
            if handler.headers.get(key) != value:
                return 401, "invalid_request_error", "Missing or wrong %s header." % key
        for key, value in self.required_query.items():
            if call.query.get(key) != [value]:
                return 400, "invalid_request_error", "Missing or wrong %s query parameter." % key
        assistants = call.path.startswith(("/v1/threads", "/v1/assistants"))
        if assistants and handler.headers.get("OpenAI-Beta") != "assistants=v2" and not self.required_headers:
            return 400, "invalid_request_error", "You must provide the 'OpenAI-Beta: assistants=v2' header."
        return None

    def start(self) -> "Emulator":
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def serve_forever(self) -> None:
        self._server.serve_forever()


def use_emulator_unless_configured(assistant: bool = True) -> str:
    """For the examples: unless $OPENAI_API_KEY is set, start this emulator
    in-process and point $OPENAI_BASE_URL and $OPENAI_API_KEY at it, so that
    ``assistant_stream.Client()`` finds it.  Returns an assistant id: the
    emulator's, or $ASSISTANT_ID (yours: left as it is), or a new assistant
    on $ASSISTANT_MODEL, deleted when the script ends, however it ends (with
    ``assistant=False``, none: "").

    The examples are flat scripts, so the ``finally`` that deletes it is an
    exit handler: it runs after the last line, after an uncaught exception
    and after Ctrl-C, though not if the process is killed."""
    import atexit
    import os

    if not os.environ.get("OPENAI_API_KEY"):
        emulator = Emulator(delay=0.02).start()
        os.environ.update(OPENAI_BASE_URL=emulator.base_url, OPENAI_API_KEY="emulator")
        print("No OPENAI_API_KEY set: using the local emulator at %s" % emulator.base_url)
        return "asst_emulated"
    if not assistant:
        return ""
    if os.environ.get("ASSISTANT_ID"):
        return os.environ["ASSISTANT_ID"]
    import assistant_stream

    body = {"model": os.environ.get("ASSISTANT_MODEL", "gpt-4o-mini"), "name": "assistant_stream examples"}
    client = assistant_stream.Client()
    assistant_id: str = client.request("POST", "/assistants", json=body)["id"]
    print("Created assistant %s, deleted at exit (set ASSISTANT_ID to use one of yours instead)" % assistant_id)

    def delete() -> None:
        try:
            client.request("DELETE", "/assistants/%s" % assistant_id)
        except assistant_stream.AssistantStreamError as error:
            print("Could not delete assistant %s: %s" % (assistant_id, error), file=sys.stderr)
        else:
            print("Deleted assistant %s" % assistant_id)
        finally:
            client.close()

    atexit.register(delete)
    return assistant_id


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="A local Assistants API v2 server that streams.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--delay", type=float, default=0.03, help="seconds between streamed events")
    parser.add_argument("--api-key", help="require this bearer key")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    emulator = Emulator(args.host, args.port, api_key=args.api_key, delay=args.delay, verbose=args.verbose)
    print("emulator listening on %s" % emulator.base_url, flush=True)
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
