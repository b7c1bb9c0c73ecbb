"""The Responses API through the same Stream, callbacks and guarantees."""

import json

import pytest

import assistant_stream
from conftest import CHUNKINGS, FIXTURES, Recorder, new_thread, reference_events, trace

RECORDED = (FIXTURES / "responses" / "openllmetry_responses_text_stream.sse").read_bytes()
WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
TIME = {
    "type": "function",
    "name": "get_time",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string", "enum": ["CET"]}}},
}


def event(name, **fields):
    """One Responses API event, as the API writes it."""
    return ("event: %s\ndata: %s\n\n" % (name, json.dumps(dict(fields, type=name)))).encode()


def response(status="in_progress", output=(), **fields):
    return dict({"id": "resp_1", "object": "response", "status": status, "output": list(output)}, **fields)


def play(*events, handlers=None):
    handlers = handlers or assistant_stream.Handlers()
    seen = handlers.on("*", Recorder())
    stream = assistant_stream.replay(b"".join(events), handlers)
    final = stream.until_done()
    return stream, seen, final


def derived(seen):
    return [(e.name, e.text) for e in seen.events if not e.name.startswith("response.") and e.name != "end"]


# -- a real recording ------------------------------------------------------------------


@pytest.mark.parametrize("chunking", sorted(CHUNKINGS))
def test_the_recorded_stream_in_any_chunking(chunking):
    expected = trace(assistant_stream.replay(RECORDED))
    assert trace(assistant_stream.replay(CHUNKINGS[chunking](RECORDED))) == expected


def test_the_recorded_stream_joins_to_its_text_and_returns_the_response():
    recorded = dict(reference_events(RECORDED))
    final_text = json.loads(recorded["response.output_text.done"])["text"]
    completed = json.loads(recorded["response.completed"])["response"]
    handlers = assistant_stream.Handlers()
    deltas = handlers.on("text.delta", Recorder())
    stream, seen, final = play(RECORDED, handlers=handlers)
    assert "".join(e.text for e in deltas.events) == stream.text == final_text
    assert len(deltas.events) == 78 and "Luna\u2019s" in stream.text
    assert final == completed == stream.final_response()
    assert stream.status == "completed" and stream.finished and stream.current_run is None
    assert seen.names.count("text.created") == seen.names.count("text.done") == 1
    assert seen.names[-1] == "end" and seen.events[-1].data == completed
    assert "done" not in seen.names  # the Responses API sends none


def test_events_named_only_in_their_json_and_a_done_line():
    # Some compatible servers send data lines only, and a final data: [DONE].
    body = b"\n".join(line for line in RECORDED.split(b"\n") if not line.startswith(b"event:")) + b"data: [DONE]\n\n"
    assert b"event:" not in body
    stream, seen, final = play(body)
    assert stream.text == assistant_stream.replay(RECORDED).final_response()["output"][0]["content"][0]["text"]
    assert seen.names[0] == "response.created" and seen.names[-2:] == ["done", "end"]


# -- shapes from the API reference ------------------------------------------------------------


def function_call_round(call_id="call_1", item_id="fc_1", arguments='{"city": "Paris"}', index=0, name="get_weather"):
    item = {"id": item_id, "type": "function_call", "status": "in_progress", "arguments": "", "call_id": call_id, "name": name}
    pieces = [arguments[i : i + 5] for i in range(0, len(arguments), 5)]
    return [
        event("response.output_item.added", output_index=index, item=item, sequence_number=1),
        *[event("response.function_call_arguments.delta", item_id=item_id, output_index=index, delta=p, sequence_number=2) for p in pieces],
        event("response.function_call_arguments.done", item_id=item_id, output_index=index, arguments=arguments, sequence_number=3),
        event("response.output_item.done", output_index=index, item=dict(item, status="completed", arguments=arguments), sequence_number=4),
    ]


def test_a_function_call_is_created_delta_and_done_once():
    call = dict(id="fc_1", type="function_call", status="completed", arguments='{"city": "Paris"}', call_id="call_1", name="get_weather")
    stream, seen, final = play(
        event("response.created", response=response()),
        *function_call_round(),
        event("response.completed", response=response("completed", [call])),
    )
    names = [n for n in seen.names if n.startswith("tool_call.")]
    assert names == ["tool_call.created"] + ["tool_call.delta"] * 4 + ["tool_call.done"]
    deltas = [e for e in seen.events if e.name == "tool_call.delta"]
    assert [e.data["delta"] for e in deltas] == ['{"cit', 'y": "', "Paris", '"}']
    assert deltas[-1].snapshot["arguments"] == '{"city": "Paris"}'
    assert final["output"] == [call] and stream.text == ""


def test_the_parts_of_a_cut_response_stay_readable():
    message = {"id": "msg_1", "type": "message", "role": "assistant", "status": "in_progress", "content": []}
    citation = {"type": "url_citation", "start_index": 0, "end_index": 5, "url": "https://example.test", "title": "t"}
    body = b"".join(
        [
            event("response.created", response=response()),
            event("response.output_item.added", output_index=0, item={"id": "rs_1", "type": "reasoning", "summary": []}),
            event(
                "response.reasoning_summary_part.added",
                item_id="rs_1",
                output_index=0,
                summary_index=0,
                part={"type": "summary_text", "text": ""},
            ),
            event("response.reasoning_summary_text.delta", item_id="rs_1", output_index=0, summary_index=0, delta="Think"),
            event("response.reasoning_summary_text.delta", item_id="rs_1", output_index=0, summary_index=0, delta="ing."),
            event("response.output_item.added", output_index=1, item=message),
            event(
                "response.content_part.added",
                item_id="msg_1",
                output_index=1,
                content_index=0,
                part={"type": "output_text", "text": "", "annotations": []},
            ),
            event("response.output_text.delta", item_id="msg_1", output_index=1, content_index=0, delta="Hello"),
            event(
                "response.output_text.annotation.added",
                item_id="msg_1",
                output_index=1,
                content_index=0,
                annotation_index=0,
                annotation=citation,
            ),
            event("response.output_text.delta", item_id="msg_1", output_index=1, content_index=0, delta=" world"),
            event("response.content_part.added", item_id="msg_1", output_index=1, content_index=1, part={"type": "refusal", "refusal": ""}),
            event("response.refusal.delta", item_id="msg_1", output_index=1, content_index=1, delta="I can"),
            event("response.refusal.delta", item_id="msg_1", output_index=1, content_index=1, delta="not."),
        ]
    )
    stream = assistant_stream.replay(body)
    with pytest.raises(assistant_stream.IncompleteStreamError, match="in status 'in_progress'"):
        stream.until_done()
    output = stream.current_response["output"]
    assert output[0]["summary"] == [{"type": "summary_text", "text": "Thinking."}]
    assert output[1]["content"] == [
        {"type": "output_text", "text": "Hello world", "annotations": [citation]},
        {"type": "refusal", "refusal": "I cannot."},
    ]
    assert stream.text == "Hello world"


@pytest.mark.parametrize(
    "kind, field, item_type",
    [
        ("custom_tool_call_input", "input", "custom_tool_call"),
        ("code_interpreter_call_code", "code", "code_interpreter_call"),
        ("mcp_call_arguments", "arguments", "mcp_call"),
    ],
)
def test_other_tool_calls_stream_their_text(kind, field, item_type):
    item = {"id": "tc_1", "type": item_type, "status": "in_progress"}
    stream, seen, final = play(
        event("response.created", response=response()),
        event("response.output_item.added", output_index=0, item=item),
        event("response.%s.delta" % kind, item_id="tc_1", output_index=0, delta="print("),
        event("response.%s.delta" % kind, item_id="tc_1", output_index=0, delta="1)"),
        event("response.%s.done" % kind, item_id="tc_1", output_index=0, **{field: "print(1)"}),
        event("response.output_item.done", output_index=0, item=dict(item, status="completed", **{field: "print(1)"})),
        event("response.completed", response=response("completed", [dict(item, status="completed", **{field: "print(1)"})])),
    )
    assert [n for n in seen.names if n.startswith("tool_call.")] == [
        "tool_call.created",
        "tool_call.delta",
        "tool_call.delta",
        "tool_call.done",
    ]
    snapshots = [e.snapshot[field] for e in seen.events if e.name == "tool_call.delta"]
    assert snapshots[-1] == "print(1)"


def test_a_message_that_arrives_whole_still_yields_its_text_events():
    item = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "All at once", "annotations": []}],
    }
    stream, seen, final = play(
        event("response.output_item.done", output_index=0, item=item), event("response.completed", response=response("completed", [item]))
    )
    assert derived(seen) == [("text.created", "All at once"), ("text.delta", "All at once"), ("text.done", "All at once")]


@pytest.mark.parametrize("status, field", [("failed", "error"), ("incomplete", "incomplete_details")])
def test_responses_that_end_otherwise_are_returned(status, field):
    detail = {"code": "server_error", "message": "boom"} if status == "failed" else {"reason": "max_output_tokens"}
    stream, seen, final = play(
        event("response.created", response=response()), event("response." + status, response=response(status, **{field: detail}))
    )
    assert final["status"] == status and final[field] == detail


@pytest.mark.parametrize(
    "bad",
    [
        event("response.output_text.delta", item_id="m", output_index=10**9, content_index=0, delta="x"),
        event("response.output_text.delta", item_id="m", output_index=0, content_index=0, delta=42),
        event("response.completed", response={"id": "r"}),
        event("response.output_item.added", output_index=0, item="not an object"),
        event("response.output_item.added", output_index=1, item={"type": "message"}),  # items come in order
        event("response.output_text.done", item_id="m", output_index=0, content_index=0, text=None),
        event("response.function_call_arguments.done", item_id="f", output_index=0, arguments=42),
        event("response.reasoning_summary_text.done", item_id="r", output_index=0, summary_index=0, text=7),
    ],
    ids=["huge index", "delta not text", "no status", "item not an object", "a gap", "null text", "number arguments", "number text"],
)
def test_malformed_responses_events(bad):
    with pytest.raises(assistant_stream.ProtocolError, match="malformed"):
        assistant_stream.replay(event("response.created", response=response()) + bad).until_done()


def test_registration_knows_the_responses_events():
    handlers = assistant_stream.Handlers()
    handlers.on("response.output_text.delta", print)
    handlers.on("response.*", print)
    with pytest.raises(ValueError, match="did you mean 'response.output_text.delta'"):
        handlers.on("response.output_txt.delta", print)


# -- over HTTP, against the emulator -------------------------------------------------------------


def calls_to(emulator, suffix):
    return [call for call in emulator.calls if call.path.endswith(suffix)]


def test_a_response_streams_and_is_stored(client, emulator):
    handlers = assistant_stream.Handlers()
    deltas = handlers.on("text.delta", Recorder())
    stream = client.stream_response(model="emulator-1", input="Hi there", handlers=handlers)
    final = stream.until_done()
    assert [e.text for e in deltas.events] == ["Hello", " from", " the", " emulator!", " You", " said:", " Hi", " there"]
    assert stream.text == "Hello from the emulator! You said: Hi there"
    assert final == client.request("GET", "/responses/%s" % final["id"])
    assert calls_to(emulator, "/responses")[0].body == {"model": "emulator-1", "input": "Hi there", "stream": True}


def test_one_table_serves_a_run_and_a_response(client, emulator):
    handlers = assistant_stream.Handlers()
    said, calls, ends = Recorder(), Recorder(), Recorder()
    handlers.on("text.delta", said)
    handlers.on("tool_call.done", calls)
    handlers.on("end", ends)
    handlers.tool(lambda city: "sunny in %s" % city, name="get_weather")

    thread_id = new_thread(client, "Oslo")
    run = client.stream_run(thread_id, assistant_id="asst_1", handlers=handlers, tools=[{"type": "function", "function": WEATHER}])
    response = client.stream_response(model="emulator-1", input="Oslo", handlers=handlers, tools=[WEATHER])
    assert run.until_done()["status"] == response.until_done()["status"] == "completed"
    assert run.text == response.text == "The tools said: sunny in Oslo."
    assert "".join(e.text for e in said.events if e.stream is run) == run.text
    assert "".join(e.text for e in said.events if e.stream is response) == response.text
    assert [e.stream for e in calls.events] == [run, response] and [e.stream for e in ends.events] == [run, response]


def test_tools_run_and_the_response_goes_on_in_one_stream(client, emulator):
    handlers = assistant_stream.Handlers()
    handlers.tool(lambda city: {"city": city, "sky": "clear"}, name="get_weather")
    handlers.tool(lambda zone: "12:00 %s" % zone, name="get_time")
    seen = handlers.on("*", Recorder())
    stream = client.stream_response(
        model="emulator-1",
        input="Rome",
        handlers=handlers,
        tools=[WEATHER, TIME],
        instructions="Be brief.",
        metadata={"emulator_rounds": "2"},
    )
    final = stream.until_done()
    assert final["status"] == "completed"
    assert stream.text == 'The tools said: {"city": "Rome", "sky": "clear"}; 12:00 CET; {"city": "Rome", "sky": "clear"}; 12:00 CET.'
    first, second, third = calls_to(emulator, "/responses")
    ids = [e.data["response"]["id"] for e in seen.events if e.name == "response.created"]
    for follow_up, previous_id in ((second, ids[0]), (third, ids[1])):
        assert follow_up.body["previous_response_id"] == previous_id
        assert [item["type"] for item in follow_up.body["input"]] == ["function_call_output", "function_call_output"]
        assert (
            follow_up.body["tools"] == [WEATHER, TIME]
            and follow_up.body["instructions"] == "Be brief."
            and follow_up.body["model"] == "emulator-1"
        )
    assert seen.names.count("tool_call.done") == 4 and seen.names.count("end") == 1
    assert final["previous_response_id"] == third.body["previous_response_id"]  # the last one continued the second


def test_a_call_without_a_tool_ends_the_stream_with_the_calls(client, emulator):
    stream = client.stream_response(model="emulator-1", input="Lima", tools=[WEATHER])
    final = stream.until_done()
    assert final["status"] == "completed" and [item["type"] for item in final["output"]] == ["function_call"]
    assert json.loads(final["output"][0]["arguments"]) == {"city": "Lima"}
    assert len(calls_to(emulator, "/responses")) == 1


def test_a_tool_error_can_go_to_the_model(client, emulator):
    handlers = assistant_stream.Handlers()

    @handlers.tool(report_errors=True)
    def get_weather(city):
        raise LookupError("no weather in %s" % city)

    stream = client.stream_response(model="emulator-1", input="Atlantis", handlers=handlers, tools=[WEATHER])
    assert stream.until_done()["status"] == "completed"
    assert stream.text == "The tools said: error: LookupError: no weather in Atlantis."


def test_an_error_event_and_http_errors(client, emulator):
    stream = client.stream_response(model="emulator-1", input="x", metadata={"emulator_error_after": "4", "emulator_hold": "6"})
    with pytest.raises(assistant_stream.StreamError, match="server_error"):
        stream.until_done()
    assert stream.closed
    with pytest.raises(assistant_stream.NotFoundError, match="Previous response not found"):
        client.stream_response(model="emulator-1", input="x", previous_response_id="resp_missing")


def test_retries_before_the_first_event(client, emulator, monkeypatch):
    monkeypatch.setattr(assistant_stream.time, "sleep", lambda seconds: None)
    stream = client.stream_response(model="emulator-1", input="again", metadata={"emulator_fail": "429,503"})
    assert stream.until_done()["status"] == "completed"
    assert [call.status for call in calls_to(emulator, "/responses")] == [429, 503, 200]


def test_a_dropped_response_is_recovered(client, emulator):
    handlers = assistant_stream.Handlers()
    seen = handlers.on("*", Recorder())
    stream = client.stream_response(
        model="emulator-1", input="keep going", handlers=handlers, recover=True, metadata={"emulator_drop": "7"}
    )
    final = stream.until_done()
    assert final["status"] == "completed" and stream.recovered
    assert stream.text == "Hello from the emulator! You said: keep going"
    assert "".join(e.text for e in seen.events if e.name == "text.delta") == stream.text
    for once in ("text.done", "response.output_item.done", "response.completed", "end"):
        assert seen.names.count(once) == 1, once
    assert len([c for c in emulator.calls if c.method == "GET" and "/responses/" in c.path]) >= 1


def test_leaving_early_cancels_the_response(client, emulator):
    stream = client.stream_response(model="emulator-1", input="x", cancel_on_interrupt=True, metadata={"emulator_hold": "6"})
    for event_ in stream:
        if event_.name == "text.delta":
            break
    (cancel,) = calls_to(emulator, "/cancel")
    assert cancel.path == "/v1/responses/%s/cancel" % stream.current_response["id"]
    assert client.request("GET", "/responses/%s" % stream.current_response["id"])["status"] == "cancelled"


def test_a_recording_of_a_tool_round_replays_whole(client, tmp_path):
    handlers = assistant_stream.Handlers()
    handlers.tool(lambda city: "sunny", name="get_weather")
    path = tmp_path / "response.sse"
    live = client.stream_response(model="emulator-1", input="Kyiv", handlers=handlers, tools=[WEATHER], record=str(path))
    live_names = [e.name for e in live]
    replayed = assistant_stream.replay(path)
    assert [e.name for e in replayed] == live_names
    assert replayed.text == live.text == "The tools said: sunny."


# -- follow-ups, keys and orders the API does not promise ---------------------------------------

BASE = "https://api.example.test/v1"
CALL = {
    "id": "fc_1",
    "type": "function_call",
    "status": "completed",
    "arguments": '{"city": "Oslo"}',
    "call_id": "call_1",
    "name": "get_weather",
}


def calling(response_id="resp_1", call=CALL):
    """A whole stream of a response that calls get_weather."""
    return b"".join(
        [
            event("response.created", response=response(id=response_id)),
            event("response.output_item.added", output_index=0, item=dict(call, status="in_progress", arguments="")),
            event("response.output_item.done", output_index=0, item=call),
            event("response.completed", response=response("completed", [call], id=response_id)),
        ]
    )


def follow_ups(*bodies, first=None, **options):
    """stream_response over a mock whose POST /responses answers the first
    request with ``first`` (``calling()``) and the follow-ups with ``bodies``."""
    import responses

    api = responses.RequestsMock(assert_all_requests_are_fired=False)
    api.start()
    for body in (first or calling(),) + bodies:
        api.add(responses.POST, BASE + "/responses", body=body, content_type="text/event-stream")
    handlers = assistant_stream.Handlers()
    handlers.calls = []

    @handlers.tool
    def get_weather(city):
        handlers.calls.append(city)
        if len(handlers.calls) > 3:
            raise RuntimeError("the tool ran %d times" % len(handlers.calls))  # fail, not loop for ever
        return "sunny"

    client = assistant_stream.Client(api_key="sk-test-0123456789abcdef", base_url=BASE, max_retries=0)
    return client.stream_response(model="m", input="Oslo", handlers=handlers, **options), api, handlers


def run_follow_ups(*bodies, **options):
    stream, api, handlers = follow_ups(*bodies, **options)
    try:
        final = stream.until_done()
    finally:
        api.stop()
    return stream, final, [json.loads(call.request.body) for call in api.calls], handlers


ANSWER = b"".join(
    [event("response.created", response=response(id="resp_2")), event("response.completed", response=response("completed", id="resp_2"))]
)


@pytest.mark.parametrize("recover", [False, True])
@pytest.mark.parametrize(
    "body", [b"", b'event: response.created\ndata: {"type": "resp', b"data: [DONE]\n\n"], ids=["empty", "cut", "done only"]
)
def test_a_follow_up_that_ends_before_its_response_starts_raises(body, recover):
    # The first response is still 'completed' as last received: that must not
    # count as the follow-up's end, or the tools would run again and again.
    stream, api, handlers = follow_ups(body, body, body, recover=recover)
    try:
        with pytest.raises(assistant_stream.IncompleteStreamError, match="after the tool outputs were sent, before the next response"):
            stream.until_done()
    finally:
        api.stop()
    assert handlers.calls == ["Oslo"] and len(api.calls) == 2
    assert stream.closed and stream.current_response["id"] == "resp_1"


def test_a_follow_up_that_calls_a_submitted_call_again_is_a_protocol_error():
    stream, api, handlers = follow_ups(calling("resp_2"))
    try:
        with pytest.raises(assistant_stream.ProtocolError, match="call_1.*already submitted"):
            stream.until_done()
    finally:
        api.stop()
    assert handlers.calls == ["Oslo"] and len(api.calls) == 2


def test_follow_ups_reset_tool_choice_and_keep_a_conversation():
    # A forced tool_choice would force a call in every round, for ever; and the
    # API takes a conversation or a previous_response_id, not both.
    stream, final, (first, second), handlers = run_follow_ups(ANSWER, tool_choice="required", conversation="conv_1", metadata={"k": "v"})
    assert final["id"] == "resp_2"
    assert first == {
        "model": "m",
        "input": "Oslo",
        "tool_choice": "required",
        "conversation": "conv_1",
        "metadata": {"k": "v"},
        "stream": True,
    }
    assert second == {
        "model": "m",
        "conversation": "conv_1",
        "metadata": {"k": "v"},
        "input": [{"type": "function_call_output", "call_id": "call_1", "output": "sunny"}],
        "stream": True,
    }


def test_the_connection_closes_at_the_final_response_event():
    from servers import ScriptedServer

    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hi", "annotations": []}]}
    script = [event("response.created", response=response()), event("response.completed", response=response("completed", [message]))]
    with ScriptedServer(script, end="hold") as server:
        client = assistant_stream.Client(api_key="sk-test-0123456789abcdef", base_url=server.url, max_retries=0)
        stream = client.stream_response(model="m", input="x")
        assert stream.until_done()["status"] == "completed"
        assert server.wait_closed().client_closed  # not the server, when it gave up waiting
    assert stream.finished and stream.text == "Hi"


def test_deltas_that_come_before_their_item_are_kept_and_sent_once():
    message = {"id": "msg_1", "type": "message", "role": "assistant", "status": "in_progress", "content": []}
    done = dict(message, status="completed", content=[{"type": "output_text", "text": "Hello", "annotations": []}])
    call = dict(CALL, status="in_progress", arguments="")
    handlers = assistant_stream.Handlers()
    added = []
    handlers.on("response.output_item.added", lambda e: added.append(e.snapshot))
    stream, seen, final = play(
        event("response.created", response=response()),
        event("response.output_text.delta", item_id="msg_1", output_index=0, content_index=0, delta="Hel"),
        event("response.function_call_arguments.delta", item_id="fc_1", output_index=1, delta='{"city": '),
        event("response.output_item.added", output_index=0, item=message),
        event("response.output_item.added", output_index=1, item=call),
        event("response.output_text.delta", item_id="msg_1", output_index=0, content_index=0, delta="lo"),
        event("response.function_call_arguments.delta", item_id="fc_1", output_index=1, delta='"Oslo"}'),
        event("response.output_text.done", item_id="msg_1", output_index=0, content_index=0, text="Hello"),
        event("response.output_item.done", output_index=0, item=done),
        event("response.output_item.done", output_index=1, item=CALL),
        event("response.completed", response=response("completed", [done, CALL])),
        handlers=handlers,
    )
    assert derived(seen) == [
        ("text.created", "Hel"),
        ("text.delta", "Hel"),
        ("tool_call.created", None),
        ("tool_call.delta", None),
        ("text.delta", "lo"),
        ("tool_call.delta", None),
        ("text.done", "Hello"),
        ("tool_call.done", None),
    ]
    assert added[0]["content"][0]["text"] == "Hel" and added[1]["arguments"] == '{"city": '
    assert stream.text == "Hello" and final["output"] == [done, CALL]


def test_items_without_ids_are_keyed_by_their_place_in_each_response():
    part = {"type": "output_text", "text": "", "annotations": []}

    def answer(response_id, text):
        item = {"type": "message", "role": "assistant", "status": "in_progress", "content": []}
        done = dict(item, status="completed", content=[dict(part, text=text)])
        return [
            event("response.created", response=response(id=response_id)),
            event("response.output_item.added", output_index=0, item=item),
            event("response.content_part.added", item_id="msg_x", output_index=0, content_index=0, part=part),
            event("response.output_text.delta", item_id="msg_x", output_index=0, content_index=0, delta=text),
            event("response.output_text.done", output_index=0, content_index=0, text=text),
            event("response.output_item.done", output_index=0, item=done),
            event("response.completed", response=response("completed", [done], id=response_id)),
        ]

    stream, seen, final = play(*answer("resp_1", "Checking. "), *answer("resp_2", "Sunny."))
    assert derived(seen) == [("text.created", ""), ("text.delta", "Checking. "), ("text.done", "Checking. ")] + [
        ("text.created", ""),
        ("text.delta", "Sunny."),
        ("text.done", "Sunny."),
    ]
    assert stream.text == "Checking. Sunny."


def test_a_final_response_without_the_streamed_output_keeps_and_closes_it():
    call = dict(CALL, status="in_progress", arguments="")
    stream, seen, final = play(
        event("response.created", response=response()),
        event("response.output_item.added", output_index=0, item={"id": "msg_1", "type": "message", "role": "assistant", "content": []}),
        event("response.output_text.delta", item_id="msg_1", output_index=0, content_index=0, delta="Hi there"),
        event("response.output_item.added", output_index=1, item=call),
        event("response.function_call_arguments.delta", item_id="fc_1", output_index=1, delta="{}"),
        event("response.completed", response=response("completed", [])),
    )
    assert derived(seen)[-2:] == [("text.done", "Hi there"), ("tool_call.done", None)]
    assert stream.text == "Hi there" and [item["id"] for item in final["output"]] == ["msg_1", "fc_1"]
    assert final["status"] == "completed" and final["output"][1]["arguments"] == "{}"


@pytest.mark.parametrize(
    "choice, then",
    [
        ("auto", "auto"),
        ("required", None),
        ({"type": "function", "name": "get_weather"}, None),
        (
            {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "get_weather"}]},
            {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "get_weather"}]},
        ),
    ],
    ids=["auto", "required", "a function", "allowed tools"],
)
def test_follow_ups_stop_forcing_a_call_but_keep_a_restriction(choice, then):
    stream, final, (first, second), handlers = run_follow_ups(ANSWER, tool_choice=choice)
    assert first["tool_choice"] == choice and second.get("tool_choice") == then
    assert second["previous_response_id"] == "resp_1"


def test_a_conversation_of_none_is_no_conversation():
    stream, final, (first, second), handlers = run_follow_ups(ANSWER, conversation=None)
    assert second["previous_response_id"] == "resp_1" and "conversation" not in second


def test_a_follow_up_whose_events_come_before_its_response_created():
    message = {"id": "msg_2", "type": "message", "role": "assistant", "content": []}
    done = dict(message, status="completed", content=[{"type": "output_text", "text": "Sunny.", "annotations": []}])
    early = b"".join(
        [
            event("response.output_item.added", output_index=0, item=message),
            event("response.output_text.delta", item_id="msg_2", output_index=0, content_index=0, delta="Sunny."),
            event("response.created", response=response(id="resp_2")),
            event("response.completed", response=response("completed", [done], id="resp_2")),
        ]
    )
    stream, api, handlers = follow_ups(early)
    seen = handlers.on("*", Recorder())
    try:
        final = stream.until_done()
    finally:
        api.stop()
    assert final["id"] == "resp_2" and final["output"] == [done] and stream.text == "Sunny."
    assert derived(seen)[-3:] == [("text.created", "Sunny."), ("text.delta", "Sunny."), ("text.done", "Sunny.")]
    assert seen.names.count("text.created") == 1
    assert [e.snapshot for e in seen.events if e.name == "tool_call.done"] == [CALL]  # read now: round 1's call untouched


def test_a_final_output_in_another_order_is_matched_by_id():
    reasoning = {"id": "rs_1", "type": "reasoning", "summary": []}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": []}
    done = dict(message, status="completed", content=[{"type": "output_text", "text": "Hello", "annotations": []}])
    stream, seen, final = play(
        event("response.created", response=response()),
        event("response.output_item.added", output_index=0, item=reasoning),
        event("response.output_item.added", output_index=1, item=message),
        event("response.output_text.delta", item_id="msg_1", output_index=1, content_index=0, delta="Hello"),
        event("response.completed", response=response("completed", [done])),  # no reasoning item
    )
    assert derived(seen) == [("text.created", "Hello"), ("text.delta", "Hello"), ("text.done", "Hello")]
    assert stream.text == "Hello" and final["output"] == [done, reasoning]  # kept, after the final response's own


def test_a_call_the_final_response_leaves_out_is_kept_whole_and_runs():
    call = dict(CALL, status="in_progress", arguments="")
    streamed = b"".join(
        [
            event("response.created", response=response()),
            event("response.output_item.added", output_index=0, item=call),
            event("response.function_call_arguments.delta", item_id="fc_1", output_index=0, delta='{"city": '),
            event("response.function_call_arguments.delta", item_id="fc_1", output_index=0, delta='"Oslo"}'),
            event("response.completed", response=response("completed", [])),
        ]
    )
    stream, final, bodies, handlers = run_follow_ups(ANSWER, first=streamed)
    assert handlers.calls == ["Oslo"] and bodies[1]["input"][0]["call_id"] == "call_1"
    replayed = assistant_stream.replay(streamed)
    done = [event_ for event_ in replayed if event_.name == "tool_call.done"]
    assert done[0].snapshot["arguments"] == '{"city": "Oslo"}' and type(replayed.final_response()["output"][0]["arguments"]) is str


def test_arguments_sent_as_an_object_are_taken_as_they_are():
    call = dict(CALL, status="in_progress", arguments="")
    streamed = b"".join(
        [
            event("response.created", response=response()),
            event("response.output_item.added", output_index=0, item=call),
            event("response.function_call_arguments.done", item_id="fc_1", output_index=0, arguments={"city": "Oslo"}),
            event("response.completed", response=response("completed", [])),
        ]
    )
    stream, final, bodies, handlers = run_follow_ups(ANSWER, first=streamed)
    assert handlers.calls == ["Oslo"]
