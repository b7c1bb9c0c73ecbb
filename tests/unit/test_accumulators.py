"""The accumulators, fed (name, data) pairs: what each API's events build,
and the derived events they cause, each exactly once.  No stream, no wire
lifecycle: ``feed`` parses the bodies into pairs and snapshots each emission
as a callback would see it."""

import pytest

from assistant_stream import _MALFORMED as MALFORMED
from assistant_stream import _ChatAccumulator, _ResponseAccumulator, _RunAccumulator
from conftest import FUNCTION_CALL, RUN, choice, chunk, derived, event, feed, pairs, response, sse

# -- the Assistants API: messages, steps, runs ------------------------------------


def message(status="in_progress", content=()):
    return {"id": "msg_1", "object": "thread.message", "role": "assistant", "status": status, "content": list(content)}


def delta(*content, message_id="msg_1"):
    return sse("thread.message.delta", {"id": message_id, "object": "thread.message.delta", "delta": {"content": list(content)}})


def text(index, value, annotations=None):
    part = {"index": index, "type": "text", "text": {"value": value}}
    if annotations is not None:
        part["text"]["annotations"] = annotations
    return part


def step_delta(*calls, step_id="step_1"):
    return sse(
        "thread.run.step.delta",
        {"id": step_id, "object": "thread.run.step.delta", "delta": {"step_details": {"type": "tool_calls", "tool_calls": list(calls)}}},
    )


def test_each_text_part_is_created_and_done_once():
    acc = _RunAccumulator()
    emissions = feed(
        acc,
        sse("thread.message.created", message()),
        delta(text(0, "Hello")),
        delta(text(0, " world")),
        delta({"index": 1, "type": "image_file", "image_file": {"file_id": "file-1"}}),
        delta(text(2, "Bye")),
        sse("thread.message.completed", message("completed", [
            {"type": "text", "text": {"value": "Hello world", "annotations": []}},
            {"type": "image_file", "image_file": {"file_id": "file-1"}},
            {"type": "text", "text": {"value": "Bye", "annotations": []}},
        ])),
    )  # fmt: skip
    assert derived(emissions) == [
        ("text.created", "Hello"),
        ("text.delta", "Hello"),
        ("text.delta", " world"),
        ("image_file.done", None),
        ("text.created", "Bye"),
        ("text.delta", "Bye"),
        ("text.done", "Hello world"),
        ("text.done", "Bye"),
    ]
    assert acc.text() == "Hello worldBye"
    image = next(e for e in emissions if e[0] == "image_file.done")
    assert image[3]["image_file"]["file_id"] == "file-1"


def test_deltas_for_a_message_from_an_earlier_stream_are_accepted():
    acc = _RunAccumulator()
    feed(acc, delta(text(0, "continued"), message_id="msg_old"))
    assert acc.messages() == [
        {"id": "msg_old", "object": "thread.message", "content": [{"index": 0, "type": "text", "text": {"value": "continued"}}]}
    ]
    assert acc.text() == "continued"


def test_tool_calls_are_created_delta_and_done_once_each():
    created = {
        "id": "step_1",
        "object": "thread.run.step",
        "type": "tool_calls",
        "status": "in_progress",
        "step_details": {"type": "tool_calls", "tool_calls": []},
    }
    calls = [
        {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}', "output": "out"}},
        {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}", "output": "out"}},
    ]
    acc = _RunAccumulator()
    emissions = feed(
        acc,
        sse("thread.run.step.created", created),
        step_delta({"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}),
        step_delta({"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}"}}),
        step_delta({"index": 0, "type": "function", "function": {"arguments": '{"x": 1}'}}),
        sse("thread.run.step.completed", dict(created, status="completed", step_details={"type": "tool_calls", "tool_calls": calls})),
    )
    names = [e[0] for e in emissions if e[0].startswith("tool_call.")]
    assert names == [
        "tool_call.created",
        "tool_call.delta",
        "tool_call.created",
        "tool_call.delta",
        "tool_call.delta",
        "tool_call.done",
        "tool_call.done",
    ]
    done = [e for e in emissions if e[0] == "tool_call.done"]
    assert [e[1]["id"] for e in done] == ["call_a", "call_b"]
    assert [e[3] for e in done] == calls
    assert acc.steps()[0]["step_details"]["tool_calls"] == calls


def test_parallel_calls_keep_their_own_name_and_arguments():
    acc = _RunAccumulator()
    emissions = feed(
        acc,
        step_delta({"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}}),
        step_delta({"index": 1, "id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": ""}}),
        step_delta({"index": 1, "type": "function", "function": {"arguments": '{"zone": "CET"}'}}),
        step_delta({"index": 0, "type": "function", "function": {"arguments": '{"city": "Oslo"}'}}),
    )
    last = {}
    for name, _data, _text, snapshot in emissions:
        if name == "tool_call.delta":
            last[snapshot["id"]] = snapshot["function"]
    assert last == {
        "call_a": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
        "call_b": {"name": "get_time", "arguments": '{"zone": "CET"}'},
    }


def test_function_calls_are_done_when_the_run_requires_action_and_not_again():
    required = dict(RUN, status="requires_action", required_action={"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [
        {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
    ]}})  # fmt: skip
    completed_step = {"id": "step_1", "status": "completed", "step_details": {"type": "tool_calls", "tool_calls": [
        {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}", "output": "42"}},
    ]}}  # fmt: skip
    emissions = feed(
        _RunAccumulator(),
        step_delta({"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}}),
        sse("thread.run.requires_action", required),
        sse("thread.run.step.completed", completed_step),
    )
    names = [e[0] for e in emissions]
    assert names.count("tool_call.done") == 1
    assert names.index("tool_call.done") == names.index("thread.run.requires_action") + 1


def test_a_call_first_seen_at_requires_action_is_announced_once():
    created = {"id": "step_1", "status": "in_progress", "step_details": {"type": "tool_calls", "tool_calls": []}}
    call = {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    required = dict(
        RUN, status="requires_action", required_action={"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [call]}}
    )
    completed = dict(
        created,
        status="completed",
        step_details={"type": "tool_calls", "tool_calls": [dict(call, function=dict(call["function"], output="1"))]},
    )
    emissions = feed(
        _RunAccumulator(),
        sse("thread.run.step.created", created),
        sse("thread.run.requires_action", required),
        sse("thread.run.step.completed", completed),
    )
    calls = [e for e in emissions if e[0].startswith("tool_call.")]
    assert [e[0] for e in calls] == ["tool_call.created", "tool_call.done"]
    assert calls[0][3] == calls[1][3] == call  # the call as the run lists it: no step ever streamed it


def test_a_step_delta_for_a_step_from_an_earlier_stream_is_accepted():
    acc = _RunAccumulator()
    feed(
        acc, step_delta({"index": 0, "id": "call_z", "type": "code_interpreter", "code_interpreter": {"input": "1+1"}}, step_id="step_old")
    )
    assert acc.steps()[0]["id"] == "step_old"
    assert acc.steps()[0]["step_details"]["tool_calls"][0]["code_interpreter"]["input"] == "1+1"


def test_the_accumulator_waits_for_the_run_after_tool_outputs():
    acc = _RunAccumulator()
    feed(acc, sse("thread.run.requires_action", dict(RUN, status="requires_action")))
    acc.waiting = True  # the stream sent the outputs
    feed(acc, sse("thread.run.step.completed", {"id": "step_1", "status": "completed"}))
    assert acc.waiting and acc.status == "requires_action"  # an old step is not the run going on
    feed(acc, sse("thread.run.queued", dict(RUN, status="queued")))
    assert not acc.waiting and acc.status == "queued"


# -- the Responses API: output items, parts, calls -----------------------------------

CALL = FUNCTION_CALL


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
    acc = _ResponseAccumulator()
    emissions = feed(
        acc,
        event("response.created", response=response()),
        *function_call_round(),
        event("response.completed", response=response("completed", [call])),
    )
    names = [e[0] for e in emissions if e[0].startswith("tool_call.")]
    assert names == ["tool_call.created"] + ["tool_call.delta"] * 4 + ["tool_call.done"]
    deltas = [e for e in emissions if e[0] == "tool_call.delta"]
    assert [e[1]["delta"] for e in deltas] == ['{"cit', 'y": "', "Paris", '"}']
    assert deltas[-1][3]["arguments"] == '{"city": "Paris"}'
    assert acc.final()["output"] == [call] and acc.text() == ""


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
    emissions = feed(
        _ResponseAccumulator(),
        event("response.created", response=response()),
        event("response.output_item.added", output_index=0, item=item),
        event("response.%s.delta" % kind, item_id="tc_1", output_index=0, delta="print("),
        event("response.%s.delta" % kind, item_id="tc_1", output_index=0, delta="1)"),
        event("response.%s.done" % kind, item_id="tc_1", output_index=0, **{field: "print(1)"}),
        event("response.output_item.done", output_index=0, item=dict(item, status="completed", **{field: "print(1)"})),
        event("response.completed", response=response("completed", [dict(item, status="completed", **{field: "print(1)"})])),
    )
    assert [e[0] for e in emissions if e[0].startswith("tool_call.")] == [
        "tool_call.created",
        "tool_call.delta",
        "tool_call.delta",
        "tool_call.done",
    ]
    snapshots = [e[3][field] for e in emissions if e[0] == "tool_call.delta"]
    assert snapshots[-1] == "print(1)"


def test_deltas_that_come_before_their_item_are_kept_and_sent_once():
    message = {"id": "msg_1", "type": "message", "role": "assistant", "status": "in_progress", "content": []}
    done = dict(message, status="completed", content=[{"type": "output_text", "text": "Hello", "annotations": []}])
    call = dict(CALL, status="in_progress", arguments="")
    acc = _ResponseAccumulator()
    emissions = feed(
        acc,
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
    )
    assert derived(emissions) == [
        ("text.created", "Hel"),
        ("text.delta", "Hel"),
        ("tool_call.created", None),
        ("tool_call.delta", None),
        ("text.delta", "lo"),
        ("tool_call.delta", None),
        ("text.done", "Hello"),
        ("tool_call.done", None),
    ]
    added = [e[3] for e in emissions if e[0] == "response.output_item.added"]
    assert added[0]["content"][0]["text"] == "Hel" and added[1]["arguments"] == '{"city": '
    assert acc.text() == "Hello" and acc.final()["output"] == [done, CALL]


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

    acc = _ResponseAccumulator()
    emissions = feed(acc, *answer("resp_1", "Checking. "), *answer("resp_2", "Sunny."))
    assert derived(emissions) == [("text.created", ""), ("text.delta", "Checking. "), ("text.done", "Checking. ")] + [
        ("text.created", ""),
        ("text.delta", "Sunny."),
        ("text.done", "Sunny."),
    ]
    assert acc.text() == "Checking. Sunny."


def test_a_final_response_without_the_streamed_output_keeps_and_closes_it():
    call = dict(CALL, status="in_progress", arguments="")
    acc = _ResponseAccumulator()
    emissions = feed(
        acc,
        event("response.created", response=response()),
        event("response.output_item.added", output_index=0, item={"id": "msg_1", "type": "message", "role": "assistant", "content": []}),
        event("response.output_text.delta", item_id="msg_1", output_index=0, content_index=0, delta="Hi there"),
        event("response.output_item.added", output_index=1, item=call),
        event("response.function_call_arguments.delta", item_id="fc_1", output_index=1, delta="{}"),
        event("response.completed", response=response("completed", [])),
    )
    final = acc.final()
    assert derived(emissions)[-2:] == [("text.done", "Hi there"), ("tool_call.done", None)]
    assert acc.text() == "Hi there" and [item["id"] for item in final["output"]] == ["msg_1", "fc_1"]
    assert final["status"] == "completed" and final["output"][1]["arguments"] == "{}"


def test_a_final_output_in_another_order_is_matched_by_id():
    reasoning = {"id": "rs_1", "type": "reasoning", "summary": []}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": []}
    done = dict(message, status="completed", content=[{"type": "output_text", "text": "Hello", "annotations": []}])
    acc = _ResponseAccumulator()
    emissions = feed(
        acc,
        event("response.created", response=response()),
        event("response.output_item.added", output_index=0, item=reasoning),
        event("response.output_item.added", output_index=1, item=message),
        event("response.output_text.delta", item_id="msg_1", output_index=1, content_index=0, delta="Hello"),
        event("response.completed", response=response("completed", [done])),  # no reasoning item
    )
    assert derived(emissions) == [("text.created", "Hello"), ("text.delta", "Hello"), ("text.done", "Hello")]
    assert acc.text() == "Hello" and acc.final()["output"] == [done, reasoning]  # kept, after the final response's own


def test_the_accumulator_starts_a_new_response_after_tool_outputs():
    acc = _ResponseAccumulator()
    feed(acc, event("response.completed", response=response("completed", [CALL])))
    acc.waiting = True  # the stream sent the outputs
    feed(acc, event("response.output_text.delta", item_id="m", output_index=0, content_index=0, delta="Sunny."))
    assert not acc.waiting and len(acc.responses) == 2
    assert acc.responses[0]["output"] == [CALL] and acc.final()["output"][0]["content"][0]["text"] == "Sunny."


# -- shared: the same rules for both APIs -----------------------------------------------


def run_message_done(text):
    return sse("thread.message.completed", message("completed", [{"type": "text", "text": {"value": text, "annotations": []}}]))


def output_message_done(text):
    item = {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed"}
    item["content"] = [{"type": "output_text", "text": text, "annotations": []}]
    return event("response.output_item.done", output_index=0, item=item)


WHOLE = {
    "run": (_RunAccumulator, [run_message_done("All at once")]),
    "response": (_ResponseAccumulator, [output_message_done("All at once")]),
}


@pytest.mark.parametrize("api", sorted(WHOLE))
def test_a_message_that_arrives_whole_still_yields_its_text_events(api):
    accumulator, bodies = WHOLE[api]
    acc = accumulator()
    emissions = feed(acc, *bodies)
    assert derived(emissions) == [("text.created", "All at once"), ("text.delta", "All at once"), ("text.done", "All at once")]
    assert acc.text() == "All at once"
    done = next(e for e in emissions if e[0] == "text.done")
    assert _text_value(done[3]) == "All at once" and done[3]["annotations"] == []  # the whole part


GROWN = {
    "run": (_RunAccumulator, [delta(text(0, "Hello")), run_message_done("Hello world!")]),
    "response": (
        _ResponseAccumulator,
        [
            event("response.output_text.delta", item_id="msg_1", output_index=0, content_index=0, delta="Hello"),
            output_message_done("Hello world!"),
        ],
    ),
}


@pytest.mark.parametrize("api", sorted(GROWN))
def test_text_the_finished_message_adds_arrives_as_a_delta(api):
    accumulator, bodies = GROWN[api]
    acc = accumulator()
    emissions = feed(acc, *bodies)
    assert derived(emissions) == [
        ("text.created", "Hello"),
        ("text.delta", "Hello"),
        ("text.delta", " world!"),
        ("text.done", "Hello world!"),
    ]
    assert acc.text() == "Hello world!"


ENDINGS = [
    ("run", status, sse("thread.run.completed", dict(RUN, status=status)))  # the event name says completed; the payload decides
    for status in ("failed", "cancelled", "expired", "incomplete")
] + [
    ("response", "failed", event("response.failed", response=response("failed", error={"code": "server_error", "message": "boom"}))),
    (
        "response",
        "incomplete",
        event("response.incomplete", response=response("incomplete", incomplete_details={"reason": "max_output_tokens"})),
    ),
]


@pytest.mark.parametrize("api, status, body", ENDINGS, ids=["%s-%s" % (api, status) for api, status, _ in ENDINGS])
def test_what_ends_otherwise_keeps_its_status_and_details(api, status, body):
    acc = _RunAccumulator() if api == "run" else _ResponseAccumulator()
    feed(acc, body)
    assert acc.status == status and acc.final()["status"] == status
    if api == "response":
        detail = "error" if status == "failed" else "incomplete_details"
        assert acc.final()[detail] == pairs(body)[0][1]["response"][detail]


def _text_value(source):
    """A text event's snapshot: an Assistants {value, annotations}, or a Responses part."""
    return source["value"] if "value" in source else source["text"]


# -- a final event name is final; nothing derived comes after done -------------------------


def step(status="in_progress", calls=()):
    return {
        "id": "step_1",
        "object": "thread.run.step",
        "type": "tool_calls",
        "status": status,
        "step_details": {"type": "tool_calls", "tool_calls": list(calls)},
    }


CODE_CALL = {"index": 0, "id": "call_1", "type": "code_interpreter", "code_interpreter": {"input": "1+1", "outputs": []}}


@pytest.mark.parametrize(
    "body, final, expected",
    [
        (
            sse("thread.message.completed", message("in_progress", [text(0, "Hi")])),
            lambda acc: acc.messages()[0],
            ["text.created", "text.delta", "text.done"],
        ),
        (
            sse("thread.run.step.completed", step("in_progress", [CODE_CALL])),
            lambda acc: acc.steps()[0],
            ["tool_call.created", "tool_call.done"],
        ),
        (sse("thread.run.completed", dict(RUN, status="in_progress")), lambda acc: acc.run, []),
        (sse("thread.run.completed", {key: value for key, value in RUN.items() if key != "status"}), lambda acc: acc.run, []),
    ],
    ids=["message", "step", "run", "run without a status"],
)
def test_a_final_event_name_is_final_whatever_its_data_says(body, final, expected):
    acc = _RunAccumulator()
    emissions = feed(acc, body)
    assert final(acc)["status"] == "completed"
    assert [name for name, _ in derived(emissions)] == expected
    assert emissions[0][1] == pairs(body)[0][1]  # the API event's data stays as received


def test_a_final_status_in_the_data_wins_over_the_event_name():
    acc = _RunAccumulator()
    feed(acc, sse("thread.run.completed", dict(RUN, status="incomplete")))  # ruby-openai's recording does this
    assert acc.status == "incomplete"


def test_deltas_after_done_are_folded_in_and_derive_nothing():
    acc = _RunAccumulator()
    emissions = feed(
        acc,
        sse("thread.message.created", message()),
        delta(text(0, "Hel")),
        sse("thread.message.completed", message("completed", [text(0, "Hel")])),
        delta(text(0, "lo")),  # late
        sse("thread.run.step.created", step()),
        step_delta(dict(CODE_CALL, code_interpreter={"input": "1+"})),
        sse("thread.run.step.completed", step("completed", [dict(CODE_CALL, code_interpreter={"input": "1+", "outputs": []})])),
        step_delta({"index": 0, "type": "code_interpreter", "code_interpreter": {"outputs": [{"type": "logs", "logs": "2"}]}}),  # late
    )
    assert [name for name, _ in derived(emissions)] == [
        "text.created", "text.delta", "text.done", "tool_call.created", "tool_call.delta", "tool_call.done",
    ]  # fmt: skip
    assert [name for name, *_ in emissions][-1] == "thread.run.step.delta"  # the raw event still comes
    assert acc.messages()[0]["content"][0]["text"]["value"] == "Hello"  # folded in
    assert acc.steps()[0]["step_details"]["tool_calls"][0]["code_interpreter"]["outputs"] == [{"type": "logs", "logs": "2"}]


def test_a_call_awaiting_approval_is_created_and_done_at_requires_action():
    approval = {"id": "call_1", "type": "mcp", "name": "search_docs", "arguments": "{}", "server_label": "docs"}
    run = dict(
        RUN, status="requires_action", required_action={"type": "submit_tool_approval", "submit_tool_approval": {"tool_calls": [approval]}}
    )
    emissions = feed(_RunAccumulator(), sse("thread.run.requires_action", run))
    assert [(name, source) for name, _, _, source in emissions[1:]] == [("tool_call.created", approval), ("tool_call.done", approval)]


def test_a_final_response_without_an_id_is_the_current_one():
    acc = _ResponseAccumulator()
    failed = {key: value for key, value in response("failed", error={"code": "server_error"}).items() if key != "id"}
    feed(acc, event("response.created", response=response()), event("response.failed", response=failed))
    assert len(acc.responses) == 1 and acc.final()["id"] == "resp_1" and acc.status == "failed"
    assert acc.final()["error"] == {"code": "server_error"}


def test_an_approval_request_item_is_a_call():
    request = {"id": "mcpr_1", "type": "mcp_approval_request", "server_label": "docs", "name": "search_docs", "arguments": "{}"}
    emissions = feed(_ResponseAccumulator(), event("response.output_item.done", output_index=0, item=request))
    assert [name for name, *_ in emissions] == ["response.output_item.done", "tool_call.created", "tool_call.done"]


def test_a_final_response_event_is_final_whatever_its_response_says():
    acc = _ResponseAccumulator()
    emissions = feed(
        acc,
        event("response.created", response=response()),
        event("response.output_item.added", output_index=0, item={"id": "msg_1", "type": "message", "role": "assistant", "content": []}),
        event("response.output_text.delta", item_id="msg_1", output_index=0, content_index=0, delta="Hi"),
        event("response.completed", response=response("in_progress")),
    )
    assert acc.status == "completed" and acc.final()["status"] == "completed"
    assert [name for name, _ in derived(emissions)] == ["text.created", "text.delta", "text.done"]


# -- Chat Completions: choices, text and calls by index ------------------------------------


def call_delta(index=0, **fields):
    return {"tool_calls": [dict(fields, **({"index": index} if index is not None else {}))]}


def test_a_chat_choice_joins_its_text_and_is_done_at_its_finish_reason():
    acc = _ChatAccumulator()
    emissions = feed(
        acc,
        chunk(choice({"role": "assistant", "content": ""})),
        chunk(choice({"content": "Hel"})),
        chunk(choice({"content": None})),  # null: nothing
        chunk(choice({"content": "lo"})),
        chunk(choice({}, "stop")),
        chunk(usage={"total_tokens": 3}),  # the usage chunk: no choices
    )
    assert derived(emissions) == [("text.created", "Hel"), ("text.delta", "Hel"), ("text.delta", "lo"), ("text.done", "Hello")]
    assert [name for name, *_ in emissions].count("chat.completion.chunk") == 6
    final = acc.final()
    assert final["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "Hello", "refusal": None}, "finish_reason": "stop", "logprobs": None}
    ]
    assert final["usage"] == {"total_tokens": 3} and acc.status == "completed"
    assert emissions[-2][3] == {"role": "assistant", "content": "Hello", "refusal": None}  # text.done's snapshot: the choice's message


def test_chat_content_given_as_parts_joins_its_text_parts():
    thinking = {"type": "thinking", "thinking": [{"type": "text", "text": "Hmm."}]}
    acc = _ChatAccumulator()
    emissions = feed(
        acc,
        chunk(choice({"role": "assistant", "content": [thinking]})),
        chunk(choice({"content": [{"type": "text", "text": "Hel"}, {"type": "text", "text": None}]})),
        chunk(choice({"content": "lo"}, "stop")),
    )
    assert derived(emissions)[-1] == ("text.done", "Hello") and acc.text() == "Hello"


def test_a_step_event_that_is_not_final_updates_the_step_but_not_its_streamed_calls():
    acc = _RunAccumulator()
    feed(
        acc,
        sse("thread.run.step.created", dict(step("queued"), usage=None)),
        step_delta({"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}),
        sse("thread.run.step.in_progress", dict(step("in_progress"), usage={"total_tokens": 5})),  # tool_calls: []
    )
    (kept,) = acc.steps()
    assert kept["status"] == "in_progress" and kept["usage"] == {"total_tokens": 5}
    assert [call["id"] for call in kept["step_details"]["tool_calls"]] == ["call_1"]


@pytest.mark.parametrize(
    "deltas",
    [
        [
            call_delta(id="call_1", type="function", function={"name": "f", "arguments": ""}),
            call_delta(function={"arguments": '{"a":'}),
            call_delta(function={"arguments": " 1}"}),
        ],
        [call_delta(id="call_1", type="function", function={"name": "f", "arguments": '{"a": 1}'})],  # a whole call in one delta
        [
            call_delta(None, id="call_1", type="function", function={"name": "f", "arguments": '{"a":'}),
            call_delta(None, function={"arguments": " 1}"}),
        ],  # no index
        [
            call_delta(id="call_1", type="function", function={"name": "f", "arguments": '{"a":'}),
            call_delta(id="call_1", type="function", function={"name": "f", "arguments": " 1}"}),
        ],  # id and name in every delta
    ],
    ids=["pieces", "whole", "no index", "repeated id and name"],
)
def test_a_chat_tool_call_is_joined_by_index_however_it_comes(deltas):
    acc = _ChatAccumulator()
    emissions = feed(acc, *(chunk(choice(delta)) for delta in deltas), chunk(choice({}, "tool_calls")))
    names = [name for name, _ in derived(emissions)]
    assert names == ["tool_call.created"] + ["tool_call.delta"] * len(deltas) + ["tool_call.done"]
    assert acc.final()["choices"][0]["message"]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    ]


def test_a_chat_completion_s_fields_come_from_the_first_chunk_that_says_them():
    # Azure's filter chunk says "" (and 0); a field may come late, or never
    acc = _ChatAccumulator()
    feed(
        acc,
        chunk(id="", created=0, model="", system_fingerprint=None),
        chunk(choice({"content": "a"}), id="chatcmpl-1", created=5, model="m1", system_fingerprint=None),
        chunk(choice({"content": "b"}), id="chatcmpl-2", created=6, model="m2", system_fingerprint="fp_1"),
        chunk(choice({}, "stop"), id="chatcmpl-3", model="m3", system_fingerprint="fp_2", service_tier="default"),
        chunk(service_tier="flex", system_fingerprint=""),
    )
    final = acc.final()
    assert (final["id"], final["created"], final["model"]) == ("chatcmpl-1", 0, "m1")
    assert (final["system_fingerprint"], final["service_tier"]) == ("fp_1", "default")
    acc = _ChatAccumulator()
    feed(acc, chunk(choice({"content": "a"}), system_fingerprint=None), chunk(choice({}, "stop")))
    assert "system_fingerprint" not in acc.final() and "service_tier" not in acc.final()


def test_chat_calls_without_an_index_are_told_apart_by_their_ids():
    acc = _ChatAccumulator()
    feed(
        acc,
        chunk(choice(call_delta(None, id="call_1", type="function", function={"name": "f", "arguments": "{}"}))),
        chunk(choice(call_delta(None, id="call_2", type="function", function={"name": "g", "arguments": "{"}))),
        chunk(choice(call_delta(None, function={"arguments": "}"}))),  # no id: the last call
        chunk(choice({}, "tool_calls")),
    )
    calls = acc.final()["choices"][0]["message"]["tool_calls"]
    assert [(call["id"], call["function"]["arguments"]) for call in calls] == [("call_1", "{}"), ("call_2", "{}")]


def test_chat_choices_are_apart_and_the_completion_finishes_with_the_last():
    acc = _ChatAccumulator()
    emissions = feed(
        acc,
        chunk(choice({"content": "A"}, index=0), choice({"content": "B"}, index=1)),
        chunk(choice({}, "stop", index=0)),
    )
    assert acc.status == "in_progress"  # choice 1 goes on
    emissions += feed(acc, chunk(choice({"content": "b"}, "length", index=1)))
    assert acc.status == "incomplete"  # one was cut short
    assert [(name, text) for name, text in derived(emissions)] == [
        ("text.created", "A"), ("text.delta", "A"), ("text.created", "B"), ("text.delta", "B"), ("text.done", "A"),
        ("text.delta", "b"), ("text.done", "Bb"),
    ]  # fmt: skip
    assert acc.text() == "A"  # the first choice: the reply a conversation goes on with


@pytest.mark.parametrize(
    "bad",
    [
        chunk(choices="nope"),
        chunk(choice({"content": 42})),
        chunk(choice({"content": "x"}, index=-1)),
        chunk(choice({}, finish=["stop"])),
        chunk(choice({"tool_calls": ["nope"]})),
        chunk(choice({"tool_calls": [{"index": "0"}]})),
        chunk(choice({"content": "x"}, logprobs={"content": [1]}), "not a choice"),
    ],
    ids=[
        "choices not a list",
        "content a number",
        "negative index",
        "finish not a string",
        "call not an object",
        "index a string",
        "choice not an object",
    ],
)
def test_malformed_chat_chunks_are_malformed(bad):
    with pytest.raises(MALFORMED):
        feed(_ChatAccumulator(), bad)


# The usual text delta takes a shorter path (_text_fragment); it must do exactly
# what the general path does, for every delta: generated ones of many shapes.
_ITEM = {
    "text": lambda index, value: {"index": index, "type": "text", "text": {"value": value}},
    "annotated": lambda index, value: {"index": index, "type": "text", "text": {"value": value, "annotations": []}},
    "cited": lambda index, value: {"index": index, "type": "text", "text": {"value": value, "annotations": [{"type": "file_citation"}]}},
    "annotations_only": lambda index, value: {"index": index, "type": "text", "text": {"annotations": []}},
    "extra": lambda index, value: {"index": index, "type": "text", "text": {"value": value}, "x": 1},
    "image": lambda index, value: {"index": index, "type": "image_file", "image_file": {"file_id": "f"}},
    "refusal": lambda index, value: {"index": index, "type": "refusal", "refusal": value},
    "no_text": lambda index, value: {"index": index, "type": "text", "text": value},
}


def _message_events(draw_steps, created=()):
    bodies = [sse("thread.message.created", message(content=created))]
    for kind, index, value, more in draw_steps:
        if kind == "completed":
            bodies.append(sse("thread.message.completed", message("completed", [text(0, "whole")])))
        elif kind == "other_message":
            bodies.append(delta(text(0, value), message_id="msg_2"))
        else:
            item = _ITEM[kind](index, value)
            body = {"id": "msg_1", "object": "thread.message.delta", "delta": {"content": [item] * (2 if more == 2 else 1)}}
            if more == 3:  # a delta that says more than its content
                body["delta"]["metadata"] = {"k": "v"}
            bodies.append(sse("thread.message.delta", body))
    return bodies


def test_the_text_delta_shortcut_does_what_the_general_path_does(monkeypatch):
    pytest.importorskip("hypothesis")  # (the oldest stack's CI job has none)
    from hypothesis import example, given, settings
    from hypothesis import strategies as st

    import assistant_stream

    step = st.tuples(
        st.sampled_from(["text"] * 3 + ["annotated"] * 3 + sorted(_ITEM) + ["completed", "other_message"]),  # mostly the usual deltas
        st.sampled_from([0, 0, 0, 0, 1, 1, 2, -1, "0", None]),
        st.sampled_from(["a", "a", "", "😀", None, 3]),
        st.sampled_from([1, 1, 1, 2, 3]),
    )

    def outcome(bodies):
        accumulator = _RunAccumulator()
        try:
            emissions = feed(accumulator, *bodies)
        except MALFORMED as exc:
            emissions = [("raised", type(exc).__name__, None, None)]
        return emissions, accumulator.messages(), accumulator.text()

    general = assistant_stream._text_fragment
    taken = []

    whole = {"type": "text", "text": {"value": "Hi", "annotations": []}}  # a part that came whole: no index

    @settings(max_examples=500, deadline=None)
    @given(st.lists(step, max_size=12), st.sampled_from([(), (whole,), (whole, whole)]))
    @example([("text", 1, "a", 1), ("completed", 0, "a", 1), ("text", 1, "a", 1), ("text", 1, "a", 1)], ())  # a late delta
    @example([("text", 0, "a", 1), ("annotated", 0, "b", 1)], ())  # "annotations": [] first said by a later delta
    def check(steps, created):
        bodies = _message_events(steps, created)
        monkeypatch.setattr(assistant_stream, "_text_fragment", lambda *args: None)
        expected = outcome(bodies)
        monkeypatch.setattr(assistant_stream, "_text_fragment", lambda *args: taken.append(1) or general(*args))
        assert outcome(bodies) == expected

    check()
    assert len(taken) > 100  # the shortcut was tried (and taken where it applies: see below)
    accumulator = _RunAccumulator()
    feed(accumulator, sse("thread.message.created", message()), delta(text(0, "a")))
    assert general({"content": [text(0, "b")]}, accumulator.messages_by_id["msg_1"], accumulator.derived.parts, "msg_1") is not None


# -- issue #17: behaviours pinned one by one ---------------------------------------------

CITATION = {"type": "file_citation", "text": "[1]", "file_citation": {"file_id": "file-1"}, "start_index": 5, "end_index": 8}
URL_CITATION = {"type": "url_citation", "url": "https://x.test", "title": "X", "start_index": 0, "end_index": 5}
OUTPUT_ITEM = {"id": "msg_1", "type": "message", "role": "assistant", "status": "in_progress", "content": []}
CITED_PART = {"type": "output_text", "text": "Hello", "annotations": [URL_CITATION]}
CITED = {
    "run-streamed": (
        _RunAccumulator,
        [
            sse("thread.message.created", message()),
            delta(text(0, "Hello")),
            delta(text(0, "[1]", [dict(CITATION, index=0)])),
            sse(
                "thread.message.completed",
                message("completed", [{"type": "text", "text": {"value": "Hello[1]", "annotations": [CITATION]}}]),
            ),
        ],
        {"value": "Hello[1]", "annotations": [CITATION]},
    ),
    "run-whole": (
        _RunAccumulator,
        [
            sse(
                "thread.message.completed",
                message("completed", [{"type": "text", "text": {"value": "Hello[1]", "annotations": [CITATION]}}]),
            )
        ],
        {"value": "Hello[1]", "annotations": [CITATION]},
    ),
    "response-streamed": (
        _ResponseAccumulator,
        [
            event("response.output_item.added", output_index=0, item=OUTPUT_ITEM),
            event(
                "response.content_part.added",
                item_id="msg_1",
                output_index=0,
                content_index=0,
                part=dict(CITED_PART, text="", annotations=[]),
            ),
            event("response.output_text.delta", item_id="msg_1", output_index=0, content_index=0, delta="Hello"),
            event(
                "response.output_text.annotation.added",
                item_id="msg_1",
                output_index=0,
                content_index=0,
                annotation_index=0,
                annotation=URL_CITATION,
            ),
            event("response.output_text.done", item_id="msg_1", output_index=0, content_index=0, text="Hello"),
            event("response.output_item.done", output_index=0, item=dict(OUTPUT_ITEM, status="completed", content=[CITED_PART])),
        ],
        CITED_PART,
    ),
    "response-whole": (
        _ResponseAccumulator,
        [event("response.output_item.done", output_index=0, item=dict(OUTPUT_ITEM, status="completed", content=[CITED_PART]))],
        CITED_PART,
    ),
}


@pytest.mark.parametrize("case", sorted(CITED))
def test_text_done_shows_the_whole_part_with_its_annotations(case):
    accumulator, bodies, part = CITED[case]
    emissions = feed(accumulator(), *bodies)
    done = [e for e in emissions if e[0] == "text.done"]
    assert len(done) == 1 and done[0][3] == part


def test_parallel_calls_are_done_and_kept_each_with_its_own_name_and_arguments():
    weather = {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}', "output": None}}
    clock = {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": '{"zone": "CET"}', "output": None}}
    acc = _RunAccumulator()
    emissions = feed(
        acc,
        sse("thread.run.step.created", step()),
        step_delta({"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}}),
        step_delta({"index": 1, "id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": '{"zone"'}}),
        step_delta({"index": 0, "type": "function", "function": {"arguments": '{"city": "Oslo"}'}}),
        step_delta({"index": 1, "type": "function", "function": {"arguments": ': "CET"}'}}),
        sse("thread.run.step.completed", step("completed", [weather, clock])),
    )
    created = {e[3]["id"]: e[3]["function"]["name"] for e in emissions if e[0] == "tool_call.created"}
    assert created == {"call_a": "get_weather", "call_b": "get_time"}
    done = [e[3] for e in emissions if e[0] == "tool_call.done"]
    assert done == [weather, clock]
    assert acc.steps()[0]["step_details"]["tool_calls"] == [weather, clock]


def test_parallel_response_calls_are_done_each_with_its_own_name_and_arguments():
    weather = dict(FUNCTION_CALL, id="fc_a", call_id="call_a")
    clock = dict(FUNCTION_CALL, id="fc_b", call_id="call_b", name="get_time", arguments='{"zone": "CET"}')
    acc = _ResponseAccumulator()
    emissions = feed(
        acc,
        event("response.created", response=response()),
        event("response.output_item.added", output_index=0, item=dict(weather, status="in_progress", arguments="")),
        event("response.output_item.added", output_index=1, item=dict(clock, status="in_progress", arguments="")),
        event("response.function_call_arguments.delta", item_id="fc_b", output_index=1, delta='{"zone": "CET"}'),
        event("response.function_call_arguments.delta", item_id="fc_a", output_index=0, delta='{"city": "Oslo"}'),
        event("response.output_item.done", output_index=1, item=clock),
        event("response.output_item.done", output_index=0, item=weather),
        event("response.completed", response=response("completed", [weather, clock])),
    )
    done = {e[3]["call_id"]: (e[3]["name"], e[3]["arguments"]) for e in emissions if e[0] == "tool_call.done"}
    assert done == {"call_a": ("get_weather", '{"city": "Oslo"}'), "call_b": ("get_time", '{"zone": "CET"}')}
    assert [e[0] for e in emissions].count("tool_call.done") == 2 and acc.final()["output"] == [weather, clock]


@pytest.mark.parametrize("call_id", ["fc_1", None], ids=["a call with an id", "neither with an id"])
def test_a_final_output_swapped_around_items_without_ids_repeats_nothing(call_id):
    # The final output swaps a message without an id and a call: each goes with
    # its own streamed item (by id, else by type), never crosswise.
    item = {"type": "message", "role": "assistant", "status": "in_progress", "content": []}
    done = dict(item, status="completed", content=[{"type": "output_text", "text": "Hello", "annotations": []}])
    finished = {key: value for key, value in FUNCTION_CALL.items() if call_id or key != "id"}
    acc = _ResponseAccumulator()
    emissions = feed(
        acc,
        event("response.created", response=response()),
        event("response.output_item.added", output_index=0, item=item),
        event("response.output_text.delta", output_index=0, content_index=0, delta="Hello"),
        event("response.output_item.added", output_index=1, item=dict(finished, status="in_progress", arguments="")),
        event("response.function_call_arguments.delta", item_id=call_id, output_index=1, delta='{"city": "Oslo"}'),
        event("response.output_item.added", output_index=2, item=dict(item)),  # a second message, never finished
        event("response.completed", response=response("completed", [finished, done])),  # the two swapped
    )
    assert derived(emissions) == [
        ("text.created", "Hello"),
        ("text.delta", "Hello"),
        ("tool_call.created", None),
        ("tool_call.delta", None),
        ("tool_call.done", None),
        ("text.done", "Hello"),
    ]
    assert acc.text() == "Hello" and acc.final()["output"] == [finished, done, item]


@pytest.mark.parametrize("kind", ["message", "function_call"])
def test_a_final_item_whose_deltas_came_without_it_is_the_one_they_built(kind):
    # Deltas that come before (or without) their output_item.added build an item
    # of no type yet: the final item at its place is that item, not a new one.
    acc = _ResponseAccumulator()
    if kind == "message":
        final = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed"}
        final["content"] = [{"type": "output_text", "text": "Hello", "annotations": []}]
        delta = event("response.output_text.delta", item_id="msg_1", output_index=0, content_index=0, delta="Hello")
    else:
        final, delta = (
            FUNCTION_CALL,
            event("response.function_call_arguments.delta", item_id="fc_1", output_index=0, delta='{"city": "Oslo"}'),
        )
    emissions = feed(
        acc, event("response.created", response=response()), delta, event("response.completed", response=response("completed", [final]))
    )
    names = [name for name, _ in derived(emissions)]
    if kind == "message":
        assert names == ["text.created", "text.delta", "text.done"] and acc.text() == "Hello"
    else:
        assert names == ["tool_call.created", "tool_call.delta", "tool_call.done"]
    assert acc.final()["output"] == [final]


@pytest.mark.parametrize("there", ["msg_1", None], ids=["another id there", "no id there"])
def test_a_final_item_with_an_id_never_streamed_is_the_one_at_its_place_only_if_that_one_has_no_id(there):
    streamed = {"type": "message", "role": "assistant", "status": "in_progress", "content": []}
    if there:
        streamed["id"] = there
    final = dict(streamed, id="msg_9", status="completed", content=[{"type": "output_text", "text": "Hello", "annotations": []}])
    acc = _ResponseAccumulator()
    emissions = feed(
        acc,
        event("response.created", response=response()),
        event("response.output_item.added", output_index=0, item=streamed),
        event("response.output_text.delta", item_id=there, output_index=0, content_index=0, delta="Hello"),
        event("response.completed", response=response("completed", [final])),
    )
    names = [e[0] for e in emissions]
    if there:  # two items: the streamed one kept after the final one's, each with its text
        assert [item["id"] for item in acc.final()["output"]] == ["msg_9", "msg_1"]
        assert names.count("text.created") == names.count("text.done") == 2 and acc.text() == "HelloHello"
    else:  # the same item, which the final response names
        assert acc.final()["output"] == [final]
        assert names.count("text.created") == names.count("text.done") == 1 and acc.text() == "Hello"


def test_a_chat_stream_has_no_status_before_its_first_chunk():
    acc = _ChatAccumulator()
    assert acc.status is None and acc.final() is None and acc.text() == "" and acc.finish() == []


@pytest.mark.parametrize(
    "created", [(), ({"type": "image_file", "image_file": {"file_id": "file-1"}},)], ids=["in-completed", "in-created"]
)
def test_an_image_that_arrives_whole_is_done_and_a_refusal_never_is(created):
    image = {"type": "image_file", "image_file": {"file_id": "file-1"}}
    refusal = {"type": "refusal", "refusal": "I can't help with that."}
    emissions = feed(
        _RunAccumulator(),
        sse("thread.message.created", message(content=created)),
        delta({"index": 1, "type": "refusal", "refusal": "No"}),
        sse("thread.message.completed", message("completed", [image, refusal, refusal])),
    )
    images = [e for e in emissions if e[0] == "image_file.done"]
    assert len(images) == 1 and images[0][3] == image


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled", "expired"])
def test_a_step_that_ends_in_any_status_is_done_with_its_calls(status):
    call = {"id": "call_1", "type": "code_interpreter", "code_interpreter": {"input": "1+1", "outputs": []}}
    emissions = feed(
        _RunAccumulator(),
        sse("thread.run.step.created", step()),
        step_delta({"index": 0, "id": "call_1", "type": "code_interpreter", "code_interpreter": {"input": "1+1"}}),
        sse("thread.run.step." + status, step(status, [call])),
    )
    done = [e for e in emissions if e[0] == "tool_call.done"]
    assert len(done) == 1 and done[0][3] == call


@pytest.mark.parametrize("finished_calls", [[], None, "gone"], ids=["empty", "null", "not a list"])
def test_calls_a_finished_step_leaves_out_are_done_as_streamed(finished_calls):
    # Each tool_call.created has its tool_call.done, whatever the finished step
    # says; the finished step stays the final word on what the step holds (a
    # null, as ever, leaves the streamed calls as they were).
    first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city"'}}
    second = {"index": 1, "id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
    finished = dict(step("completed"), step_details={"type": "tool_calls", "tool_calls": finished_calls})
    accumulator = _RunAccumulator()
    emissions = feed(
        accumulator, sse("thread.run.step.created", step()), step_delta(first, second), sse("thread.run.step.completed", finished)
    )
    assert [e[0] for e in emissions if e[0].startswith("tool_call.")] == ["tool_call.created", "tool_call.delta"] * 2 + [
        "tool_call.done"
    ] * 2
    done = [e[3] for e in emissions if e[0] == "tool_call.done"]
    assert [(call["id"], call["function"]["name"], call["function"]["arguments"]) for call in done] == [
        ("call_1", "get_weather", '{"city"'),
        ("call_2", "get_time", "{}"),
    ]
    kept = accumulator.steps()[0]["step_details"]["tool_calls"]
    assert kept == (done if finished_calls is None else finished_calls)  # null leaves them out: what was streamed stays
    again = feed(accumulator, sse("thread.run.step.completed", finished))
    assert [e[0] for e in again] == ["thread.run.step.completed"]  # once


def test_a_call_without_an_id_that_the_finished_step_leaves_out_is_done_by_its_deltas_index():
    call = {"index": 1, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}  # no id; index 1, first in the list
    finished = dict(step("completed"), step_details={"type": "tool_calls", "tool_calls": []})
    emissions = feed(
        _RunAccumulator(), sse("thread.run.step.created", step()), step_delta(call), sse("thread.run.step.completed", finished)
    )
    assert [e[0] for e in emissions if e[0].startswith("tool_call.")] == ["tool_call.created", "tool_call.delta", "tool_call.done"]


def test_a_message_delta_that_says_more_than_its_content_merges_it_all():
    accumulator = _RunAccumulator()
    extra = {"id": "msg_1", "object": "thread.message.delta", "delta": {"content": [text(0, " there")], "metadata": {"k": "v"}}}
    feed(accumulator, sse("thread.message.created", message()), delta(text(0, "Hello")), sse("thread.message.delta", extra))
    (merged,) = accumulator.messages()
    assert merged["metadata"] == {"k": "v"} and merged["content"][0]["text"]["value"] == "Hello there"


@pytest.mark.parametrize("role", ["user", "system", "developer"])
def test_the_text_is_the_assistants_only(role):
    # A thread's other messages may come through a stream (a compatible server
    # echoing the run's additional messages): they are not what was said.
    said = dict(message("completed", [{"type": "text", "text": {"value": "asked", "annotations": []}}]), id="msg_0", role=role)
    answer = message("completed", [{"type": "text", "text": {"value": "answered", "annotations": []}}])
    nameless = dict(answer, id="msg_2", content=[{"type": "text", "text": {"value": ", still", "annotations": []}}])
    del nameless["role"]  # a message that says no role is the assistant's
    acc = _RunAccumulator()
    feed(acc, *(sse("thread.message.completed", m) for m in (said, answer, nameless)))
    assert acc.text() == "answered, still" and len(acc.messages()) == 3
    reply = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "answered", "annotations": []}]}
    said_item = {"type": "message", "role": role, "content": [{"type": "output_text", "text": "asked", "annotations": []}]}
    acc = _ResponseAccumulator()
    feed(acc, event("response.completed", response=response("completed", [said_item, reply])))
    assert acc.text() == "answered"
