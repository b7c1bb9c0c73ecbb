"""Tool rounds, through the fake transport: the stream runs the tools a stop
requires, sends their outputs and reads on, for runs, responses and chat
completions alike; no call is answered twice, a malformed call is refused
before any tool runs."""

import pytest

import assistant_stream
from conftest import CHAT_DONE, FUNCTION_CALL, RUN, FakeTransport, choice, chunk, derived, early_follow_up, event, response, sse

# -- one round of each API: get_weather, asked for as call_1 -------------------------------


def required_run(run_changes=None, **call_changes):
    """run_1, requiring get_weather(city="Rome") as call_1."""
    call = dict({"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}, **call_changes)
    run = dict(RUN, status="requires_action", **(run_changes or {}))
    run["required_action"] = {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [call]}}
    return run


CALL = FUNCTION_CALL


def calling(response_id="resp_1", call=CALL):
    """A whole stream of a response that calls get_weather(city="Oslo")."""
    return b"".join(
        [
            event("response.created", response=response(id=response_id)),
            event("response.output_item.added", output_index=0, item=dict(call, status="in_progress", arguments="")),
            event("response.output_item.done", output_index=0, item=call),
            event("response.completed", response=response("completed", [call], id=response_id)),
        ]
    )


class Runs:
    city = "Rome"
    first = "/threads/thread_1/runs"
    follow = "/threads/thread_1/runs/run_1/submit_tool_outputs"
    answered = sse("thread.run.completed", dict(RUN, status="completed")) + sse("done", "[DONE]")
    went_on = "before the run went on"

    @staticmethod
    def calling(**call_changes):
        return sse("thread.run.requires_action", required_run(**call_changes)) + sse("done", "[DONE]")

    @staticmethod
    def start(fake, handlers, **options):
        return fake.stream_run("thread_1", assistant_id="asst_1", handlers=handlers, **options)

    @staticmethod
    def outputs(body):
        return [(output["tool_call_id"], output["output"]) for output in body["tool_outputs"]]


class Responses:
    city = "Oslo"
    first = "/responses"
    follow = "/responses"
    answered = event("response.created", response=response(id="resp_2")) + event(
        "response.completed", response=response("completed", id="resp_2")
    )
    went_on = "before the next response started"

    @staticmethod
    def calling(**call_changes):
        changes = {"call_id" if key == "id" else key: value for key, value in call_changes.items()}
        return calling(call=dict(CALL, **changes))

    @staticmethod
    def start(fake, handlers, **options):
        return fake.stream_response(model="m", input="Oslo", handlers=handlers, **options)

    @staticmethod
    def outputs(body):
        return [(item["call_id"], item["output"]) for item in body["input"]]


class Chats:
    city = "Lima"
    first = "/chat/completions"
    follow = "/chat/completions"
    answered = (
        chunk(choice({"role": "assistant", "content": "Sunny."}), id="chatcmpl-2") + chunk(choice({}, "stop"), id="chatcmpl-2") + CHAT_DONE
    )
    went_on = "before the next completion started"

    @staticmethod
    def calling(**call_changes):
        call = dict(
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Lima"}'}},
            **call_changes,
        )
        return chunk(choice({"role": "assistant", "content": None, "tool_calls": [call]})) + chunk(choice({}, "tool_calls")) + CHAT_DONE

    @staticmethod
    def start(fake, handlers, **options):
        return fake.stream_chat(model="m", messages=[{"role": "user", "content": "Lima?"}], handlers=handlers, **options)

    @staticmethod
    def outputs(body):
        return [(message["tool_call_id"], message["content"]) for message in body["messages"] if message["role"] == "tool"]


APIS = {"run": Runs, "response": Responses, "chat": Chats}
STOPPED = {Runs: "requires_action", Responses: "completed", Chats: "completed"}  # the status where tool calls wait


def weather():
    """A table whose get_weather records its calls, and fails rather than loop for ever."""
    handlers = assistant_stream.Handlers()
    handlers.calls = []

    @handlers.tool
    def get_weather(city):
        handlers.calls.append(city)
        if len(handlers.calls) > 3:
            raise RuntimeError("the tool ran %d times" % len(handlers.calls))
        return "sunny in %s" % city

    return handlers


def rounds(api, *follow_ups, first=None):
    """A fake whose first request streams ``first`` (the API's call), and whose
    follow-ups stream ``follow_ups`` in turn."""
    fake = FakeTransport().stream(api.first, first if first is not None else api.calling())
    return fake.stream(api.follow, *follow_ups)


# -- the same for both APIs ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(APIS))
def test_tools_run_and_the_stream_goes_on(name):
    api = APIS[name]
    fake, handlers = rounds(api, api.answered), weather()
    seen = []
    handlers.on("*", seen.append)
    stream = api.start(fake, handlers)
    stream.until_done()
    assert stream.status == "completed"
    assert handlers.calls == [api.city]
    assert fake.paths == [api.first, api.follow]
    assert api.outputs(fake.requests[1][2]) == [("call_1", "sunny in %s" % api.city)] and fake.requests[1][2]["stream"] is True
    names = [e.name for e in seen]
    assert names.count("tool_call.done") == 1 and names.count("end") == 1 and names[-1] == "end"
    assert all(body.response is None for body in fake.opened)  # every body closed


@pytest.mark.parametrize("name", sorted(APIS))
def test_a_call_without_a_tool_ends_the_stream_where_it_stopped(name):
    api = APIS[name]
    fake, handlers = rounds(api), assistant_stream.Handlers()
    handlers.tool(lambda flight: "booked", name="book_flight")
    stream = api.start(fake, handlers)
    stream.until_done()
    assert stream.finished and fake.paths == [api.first]
    assert stream.status == STOPPED[api]


ENDS_EARLY = (
    [
        ("run", b"", False),
        ("run", b'event: thread.run.queued\ndata: {"id": "run_1", "thread', False),
        ("run", b"event: done\ndata: [DONE]\n\n", False),
        (
            "run",
            sse("thread.run.step.completed", {"id": "step_1", "object": "thread.run.step", "status": "completed"}) + sse("done", "[DONE]"),
            False,
        ),
    ]
    + [  # a follow-up's response cannot be polled before its id is known: recover changes nothing
        ("response", body, recover)
        for body in (b"", b'event: response.created\ndata: {"type": "resp', b"data: [DONE]\n\n")
        for recover in (False, True)
    ]
    + [("chat", body, False) for body in (b"", b'data: {"id": "chatcmpl-2", "choi', CHAT_DONE)]
)  # nothing to poll


@pytest.mark.parametrize("name, body, recover", ENDS_EARLY, ids=["%s-%d" % (n, i) for i, (n, _, _) in enumerate(ENDS_EARLY)])
def test_a_continuation_that_ends_before_it_goes_on_raises(name, body, recover):
    # What was last received (the run in requires_action, the first response
    # completed) must not count as the continuation's end, or the tools
    # would run again and again.  Real continuations start with an old step.
    api = APIS[name]
    fake, handlers = rounds(api, body, body, body), weather()
    stream = api.start(fake, handlers, recover=recover)
    with pytest.raises(assistant_stream.IncompleteStreamError, match="after the tool outputs were sent, " + api.went_on):
        stream.until_done()
    assert handlers.calls == [api.city] and fake.paths == [api.first, api.follow]
    assert stream.closed and stream.status == STOPPED[api]
    if api is Responses:
        assert stream.current_response["id"] == "resp_1"


@pytest.mark.parametrize("name", sorted(APIS))
def test_a_call_asked_for_again_is_a_protocol_error(name):
    api = APIS[name]
    fake, handlers = rounds(api, calling("resp_2") if api is Responses else api.calling()), weather()
    with pytest.raises(assistant_stream.ProtocolError, match="call_1.*already submitted"):
        api.start(fake, handlers).until_done()
    assert handlers.calls == [api.city] and fake.paths == [api.first, api.follow]


@pytest.mark.parametrize("registered", [True, False], ids=["with the tool", "without tools"])
@pytest.mark.parametrize("name", sorted(APIS))
def test_a_call_without_an_id_is_a_protocol_error_before_any_tool_runs(name, registered):
    # One rule for both APIs: the calls a stop requires are checked first.
    # (A response's call_id of null used to end the stream 'completed' when
    # no tool was registered, while a run's id of null raised.)
    api = APIS[name]
    fake = rounds(api, api.answered, first=api.calling(id=None))
    handlers = weather() if registered else assistant_stream.Handlers()
    stream = api.start(fake, handlers)
    with pytest.raises(assistant_stream.ProtocolError, match="malformed (required_action|function_call|tool_calls).*string id and name"):
        stream.until_done()
    assert getattr(handlers, "calls", []) == [] and fake.paths == [api.first]
    assert stream.closed and not stream.finished


@pytest.mark.parametrize("name", sorted(APIS))
def test_a_replay_never_calls_tools(name):
    api = APIS[name]
    handlers = weather()
    stream = assistant_stream.replay(api.calling(), handlers)
    stream.until_done()
    assert stream.status == STOPPED[api]
    assert handlers.calls == [] and stream.finished


# -- runs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call_changes, run_changes, outcome",
    [
        ({"function": {"name": "get_weather", "arguments": {"city": "Rome"}}}, None, "submitted"),  # an object, as some servers send
        ({"function": "get_weather"}, None, "malformed required_action"),
        ({"function": {"name": {"not": "a name"}, "arguments": "{}"}}, None, "malformed required_action"),
        ({}, {"thread_id": None}, "no valid thread_id"),
        ({"id": None}, {}, "malformed required_action"),
    ],
)
def test_tool_calls_the_server_got_wrong(call_changes, run_changes, outcome):
    calling_ = sse("thread.run.requires_action", required_run(run_changes, **call_changes)) + sse("done", "[DONE]")
    fake, handlers = rounds(Runs, Runs.answered, first=calling_), weather()
    stream = Runs.start(fake, handlers)
    if outcome == "submitted":
        assert stream.until_done()["status"] == "completed"
        assert handlers.calls == ["Rome"]
        assert fake.requests[-1][2]["tool_outputs"] == [{"tool_call_id": call_changes.get("id", "call_1"), "output": "sunny in Rome"}]
    else:
        with pytest.raises(assistant_stream.ProtocolError, match=outcome):
            stream.until_done()
        assert handlers.calls == []  # found out before any tool ran
        assert fake.paths == [Runs.first]


def test_tool_outputs_submitted_by_hand_stream_the_rest():
    fake = FakeTransport().stream(Runs.follow, Runs.answered)
    stream = fake.submit_tool_outputs("thread_1", "run_1", [{"tool_call_id": "call_1", "output": "x"}])
    assert stream.until_done()["status"] == "completed"
    assert fake.requests == [("POST", Runs.follow, {"tool_outputs": [{"tool_call_id": "call_1", "output": "x"}], "stream": True})]


# -- responses: the follow-up request ---------------------------------------------------------


def follow_up(**options):
    """The bodies of the first request and its follow-up."""
    fake = rounds(Responses, Responses.answered)
    final = Responses.start(fake, weather(), **options).until_done()
    assert final["id"] == "resp_2"
    return [body for method, path, body in fake.requests]


def test_follow_ups_reset_tool_choice_and_keep_a_conversation():
    # A forced tool_choice would force a call in every round, for ever; and the
    # API takes a conversation or a previous_response_id, not both.
    first, second = follow_up(tool_choice="required", conversation="conv_1", metadata={"k": "v"})
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
        "input": [{"type": "function_call_output", "call_id": "call_1", "output": "sunny in Oslo"}],
        "stream": True,
    }


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
    first, second = follow_up(tool_choice=choice)
    assert first["tool_choice"] == choice and second.get("tool_choice") == then
    assert second["previous_response_id"] == "resp_1"


def test_a_conversation_of_none_is_no_conversation():
    first, second = follow_up(conversation=None)
    assert second["previous_response_id"] == "resp_1" and "conversation" not in second


def test_a_follow_up_whose_events_come_before_its_response_created():
    early, done = early_follow_up()
    handlers = weather()
    seen = []
    handlers.on("*", lambda e: seen.append((e, e.snapshot)))  # each snapshot read at once
    final = Responses.start(rounds(Responses, early), handlers).until_done()
    events = [e for e, _ in seen]
    assert final["id"] == "resp_2" and final["output"] == [done]
    assert derived(events)[-3:] == [("text.created", "Sunny."), ("text.delta", "Sunny."), ("text.done", "Sunny.")]
    assert [e.name for e in events].count("text.created") == 1
    assert [snapshot for e, snapshot in seen if e.name == "tool_call.done"] == [CALL]  # round 1's call untouched


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
    fake, handlers = rounds(Responses, Responses.answered, first=streamed), weather()
    Responses.start(fake, handlers).until_done()
    assert handlers.calls == ["Oslo"] and fake.requests[1][2]["input"][0]["call_id"] == "call_1"
    replayed = assistant_stream.replay(streamed)
    done = [e for e in replayed if e.name == "tool_call.done"]
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
    fake, handlers = rounds(Responses, Responses.answered, first=streamed), weather()
    Responses.start(fake, handlers).until_done()
    assert handlers.calls == ["Oslo"] and fake.requests[1][2]["input"][0]["output"] == "sunny in Oslo"


@pytest.mark.parametrize("name", sorted(APIS))
def test_a_stream_closed_while_its_tools_run_sends_nothing(name):
    api = APIS[name]
    fake, handlers = rounds(api, api.answered), assistant_stream.Handlers()
    streams = []

    @handlers.tool
    def get_weather(city):
        streams[0].close()  # as another greenlet or thread would, while the tool runs
        return "sunny"

    streams.append(api.start(fake, handlers))
    streams[0].until_done()
    assert streams[0].status == STOPPED[api]
    assert fake.paths == [api.first] and streams[0].closed and not streams[0].finished


@pytest.mark.parametrize("arguments, outcome", [('{"city": "Oslo"}', "once"), ('{"city": "Rome"}', "refused")])
def test_two_function_call_items_with_one_call_id(arguments, outcome):
    second = dict(CALL, id="fc_2", arguments=arguments)
    body = b"".join(
        [
            event("response.created", response=response()),
            event("response.completed", response=response("completed", [CALL, second])),
        ]
    )
    handlers = weather()
    fake = FakeTransport().stream("/responses", body, Responses.answered)
    stream = Responses.start(fake, handlers)
    if outcome == "once":
        assert stream.until_done()["id"] == "resp_2"
        assert handlers.calls == ["Oslo"] and Responses.outputs(fake.requests[1][2]) == [("call_1", "sunny in Oslo")]
    else:
        with pytest.raises(assistant_stream.ProtocolError, match="call_1 is listed twice, differently"):
            stream.until_done()
        assert handlers.calls == [] and len(fake.requests) == 1


# -- approvals: Azure's MCP calls, the Responses API's approval requests ---------------------

REQUEST = {"id": "mcpr_1", "type": "mcp_approval_request", "server_label": "docs", "name": "search_docs", "arguments": '{"query": "x"}'}


def asking(*items):
    """A response that completes asking for approvals (and perhaps calling functions)."""
    return b"".join(
        [
            event("response.created", response=response()),
            *(event("response.output_item.done", output_index=index, item=item) for index, item in enumerate(items)),
            event("response.completed", response=response("completed", list(items))),
        ]
    )


def approving(decide):
    handlers = weather()
    asked = []

    @handlers.approval
    def allow(call):
        asked.append(call)
        return decide(call)

    handlers.asked = asked
    return handlers


@pytest.mark.parametrize(
    "decision, answer",
    [
        (True, {"approve": True}),
        (False, {"approve": False}),
        ((True, {"reason": "docs are fine"}), {"approve": True, "reason": "docs are fine"}),
    ],
    ids=["yes", "no", "yes, with fields"],
)
def test_a_response_asking_for_approval_is_answered_in_one_stream(decision, answer):
    handlers = approving(lambda call: decision)
    fake = FakeTransport().stream("/responses", asking(REQUEST), Responses.answered)
    stream = Responses.start(fake, handlers, tools=[{"type": "mcp", "server_label": "docs", "server_url": "https://docs.example/mcp"}])
    assert stream.until_done()["id"] == "resp_2"
    assert handlers.asked == [REQUEST]
    (_, path, body) = fake.requests[1]
    assert path == "/responses" and body["previous_response_id"] == "resp_1" and body["stream"] is True
    assert body["input"] == [dict(answer, type="mcp_approval_response", approval_request_id="mcpr_1")]
    assert body["tools"] == fake.requests[0][2]["tools"]


def test_approvals_and_function_calls_in_one_response_are_answered_together():
    handlers = approving(lambda call: True)
    fake = FakeTransport().stream("/responses", asking(CALL, REQUEST), Responses.answered)
    Responses.start(fake, handlers).until_done()
    assert fake.requests[1][2]["input"] == [
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny in Oslo"},
        {"type": "mcp_approval_response", "approval_request_id": "mcpr_1", "approve": True},
    ]


def test_the_approval_callback_sees_a_copy():
    handlers = approving(lambda call: call.update(name="rm_rf") or True)
    fake = FakeTransport().stream("/responses", asking(REQUEST), Responses.answered)
    stream = Responses.start(fake, handlers)
    stream.until_done()
    assert stream._acc.responses[0]["output"] == [REQUEST]


@pytest.mark.parametrize("decision", ["yes", 1, None, (True,), (True, "headers"), [True, {}]], ids=repr)
def test_an_approval_callback_that_returns_something_else_is_a_type_error(decision):
    fake = FakeTransport().stream("/responses", asking(REQUEST))
    stream = Responses.start(fake, approving(lambda call: decision))
    with pytest.raises(TypeError, match="the approval callback returned .* for call mcpr_1: return True, False or"):
        stream.until_done()
    assert len(fake.requests) == 1 and stream.closed


def test_an_approval_callback_that_raises_closes_the_stream_and_sends_nothing():
    def refuse(call):
        raise RuntimeError("no network access today")

    fake = FakeTransport().stream("/responses", asking(REQUEST))
    stream = Responses.start(fake, approving(refuse))
    with pytest.raises(RuntimeError, match="no network access today"):
        stream.until_done()
    assert len(fake.requests) == 1 and stream.closed and stream.status == "completed"


def test_without_an_approval_callback_a_response_ends_with_its_requests():
    fake = FakeTransport().stream("/responses", asking(CALL, REQUEST))
    stream = Responses.start(fake, weather())  # a tool for the function, nobody to approve
    final = stream.until_done()
    assert final["status"] == "completed" and [item["type"] for item in final["output"]] == ["function_call", "mcp_approval_request"]
    assert len(fake.requests) == 1


def test_an_approval_asked_for_again_is_a_protocol_error():
    fake = FakeTransport().stream("/responses", asking(REQUEST), asking(REQUEST))
    stream = Responses.start(fake, approving(lambda call: True))
    with pytest.raises(assistant_stream.ProtocolError, match="asks again for tool call mcpr_1"):
        stream.until_done()
    assert len(fake.requests) == 2


def test_a_run_asking_for_approval_gets_tool_approvals_with_their_fields():
    approval = {"id": "call_9", "type": "mcp", "name": "search_docs", "arguments": "{}", "server_label": "docs"}
    run = required_run()
    run["required_action"] = {"type": "submit_tool_approval", "submit_tool_approval": {"tool_calls": [approval]}}
    handlers = approving(lambda call: (True, {"headers": {"Authorization": "Bearer mcp-token"}}))
    fake = (
        FakeTransport()
        .stream(Runs.first, sse("thread.run.requires_action", run) + sse("done", "[DONE]"))
        .stream(Runs.follow, Runs.answered)
    )
    assert Runs.start(fake, handlers).until_done()["status"] == "completed"
    assert handlers.asked == [approval] and handlers.calls == []
    assert fake.requests[1] == (
        "POST",
        Runs.follow,
        {"tool_approvals": [{"tool_call_id": "call_9", "approve": True, "headers": {"Authorization": "Bearer mcp-token"}}], "stream": True},
    )


# -- chat completions: the conversation goes back --------------------------------------------


def test_a_chat_follow_up_carries_the_conversation_and_drops_a_forced_choice():
    weather_tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    second = Chats.calling(id="call_2", function={"name": "get_weather", "arguments": '{"city": "Quito"}'})
    fake = FakeTransport().stream("/chat/completions", Chats.calling(), second, Chats.answered)
    handlers = weather()
    stream = fake.stream_chat(
        model="m",
        messages=[{"role": "user", "content": "Lima? Quito?"}],
        tools=[weather_tool],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        temperature=0,
        handlers=handlers,
    )
    assert stream.until_done()["choices"][0]["message"]["content"] == "Sunny." and stream.text == "Sunny."
    first, follow, last = (body for _, _, body in fake.requests)
    assert first["stream_options"] == {"include_usage": True} and first["tool_choice"]["type"] == "function"
    assert follow == {
        "model": "m",
        "tools": [weather_tool],
        "temperature": 0,
        "stream_options": {"include_usage": True},
        "stream": True,
        "messages": [
            {"role": "user", "content": "Lima? Quito?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Lima"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny in Lima"},
        ],
    }  # fmt: skip
    assert last["messages"][3:] == [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Quito"}'}}]},
        {"role": "tool", "tool_call_id": "call_2", "content": "sunny in Quito"},
    ]  # fmt: skip
    assert handlers.calls == ["Lima", "Quito"] and len(stream._acc.completions) == 3


def test_the_callers_stream_options_are_kept():
    fake = FakeTransport().stream("/chat/completions", Chats.answered)
    fake.stream_chat(model="m", messages=[{"role": "user", "content": "hi"}], stream_options={"include_usage": False}).until_done()
    assert fake.requests[0][2]["stream_options"] == {"include_usage": False}


def test_chat_text_before_the_calls_goes_back_with_them():
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Lima"}'}}
    body = chunk(choice({"role": "assistant", "content": "Let me look."})) + chunk(choice({"tool_calls": [call]}, "tool_calls")) + CHAT_DONE
    fake = FakeTransport().stream("/chat/completions", body, Chats.answered)
    stream = Chats.start(fake, weather())
    stream.until_done()
    assert fake.requests[1][2]["messages"][1]["content"] == "Let me look." and stream.text == "Let me look.Sunny."


def test_with_n_choices_the_calls_are_the_callers_to_answer():
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    body = chunk(choice({"tool_calls": [call]}, "tool_calls", index=0), choice({"content": "No."}, "stop", index=1)) + CHAT_DONE
    fake = FakeTransport().stream("/chat/completions", body)
    stream = Chats.start(fake, weather())
    final = stream.until_done()
    assert [c["finish_reason"] for c in final["choices"]] == ["tool_calls", "stop"] and len(fake.requests) == 1


@pytest.mark.parametrize("reason", ["length", "content_filter"])
def test_calls_cut_short_are_not_run(reason):
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"ci'}}
    fake = FakeTransport().stream("/chat/completions", chunk(choice({"tool_calls": [call]}, reason)) + CHAT_DONE)
    stream = Chats.start(fake, weather())
    stream.until_done()
    assert stream.status == "incomplete" and len(fake.requests) == 1


def test_recover_is_refused_for_chat_before_anything_is_sent():
    fake = FakeTransport()
    with pytest.raises(ValueError, match="recover= is not possible for chat completions"):
        Chats.start(fake, weather(), recover=True)
    assert fake.requests == []


def test_cancel_on_interrupt_only_closes_a_chat_stream():
    fake = FakeTransport().stream("/chat/completions", chunk(choice({"content": "Hi"})) + chunk(choice({"content": " there"})))
    stream = Chats.start(fake, weather(), cancel_on_interrupt=True)
    for seen in stream:
        if seen.name == "text.delta":
            break
    assert stream.closed and fake.paths == ["/chat/completions"] and stream.text == "Hi"
