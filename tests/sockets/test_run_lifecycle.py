"""The run lifecycle end to end, against the emulator over real sockets:
tools, cancel, recovery, retries, Azure."""

import itertools
import logging

import pytest

import assistant_stream
from conftest import API_KEY, Recorder, calls_to, new_thread
from emulator import Emulator, steer

WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string", "enum": ["CET", "UTC"]}}}},
}


@pytest.fixture
def handlers():
    table = assistant_stream.Handlers()
    table.calls = []

    @table.tool
    def get_weather(city):
        table.calls.append(("get_weather", city))
        return "sunny in %s" % city

    @table.tool(name="get_time")
    def clock(zone):
        table.calls.append(("get_time", zone))
        return {"zone": zone, "time": "12:00"}

    return table


# -- function tools ---------------------------------------------------------------


def test_tools_run_and_the_stream_goes_on_in_one_stream(client, emulator, handlers):
    seen = handlers.on("*", Recorder())
    thread_id = new_thread(client, "Paris")
    stream = client.stream_run(thread_id, assistant_id="asst_1", tools=[WEATHER], handlers=handlers)
    run = stream.until_done()

    assert run["status"] == "completed"
    assert handlers.calls == [("get_weather", "Paris")]
    assert stream.text == "The tools said: sunny in Paris."
    (submit,) = calls_to(emulator, "/submit_tool_outputs")
    (call_id,) = [e.snapshot["id"] for e in seen.events if e.name == "tool_call.done"]
    assert submit.body == {"tool_outputs": [{"tool_call_id": call_id, "output": "sunny in Paris"}], "stream": True}  # exactly
    names = seen.names
    assert names.index("thread.run.requires_action") < names.index("thread.run.completed")
    assert names.count("tool_call.created") == names.count("tool_call.done") == 1
    assert names.count("end") == 1 and names[-1] == "end"
    assert names.count("done") == 2  # each response's own
    (tool_step,) = [step for step in stream.final_run_steps() if step["type"] == "tool_calls"]
    assert tool_step["status"] == "completed"
    assert tool_step["step_details"]["tool_calls"][0]["function"]["output"] == "sunny in Paris"


def test_parallel_calls_run_in_order_and_submit_together(client, emulator, handlers):
    stream = client.stream_run(new_thread(client, "Oslo"), assistant_id="asst_1", tools=[WEATHER, TIME], handlers=handlers)
    assert stream.until_done()["status"] == "completed"
    assert handlers.calls == [("get_weather", "Oslo"), ("get_time", "CET")]
    (submit,) = calls_to(emulator, "/submit_tool_outputs")
    assert [o["output"] for o in submit.body["tool_outputs"]] == ["sunny in Oslo", '{"zone": "CET", "time": "12:00"}']
    assert stream.text == 'The tools said: sunny in Oslo; {"zone": "CET", "time": "12:00"}.'


def test_several_rounds_in_one_stream(client, emulator, handlers):
    steps = handlers.on("tool_call.done", Recorder())
    stream = client.stream_run(
        new_thread(client, "Rome"), assistant_id="asst_1", tools=[WEATHER], handlers=handlers, metadata=steer(rounds=3)
    )
    assert stream.until_done()["status"] == "completed"
    assert len(calls_to(emulator, "/submit_tool_outputs")) == 3
    assert handlers.calls == [("get_weather", "Rome")] * 3
    assert len(steps.events) == 3
    assert stream.text == "The tools said: sunny in Rome; sunny in Rome; sunny in Rome."


@pytest.mark.parametrize(
    "value, output", [({"a": [1, 2]}, '{"a": [1, 2]}'), (42, "42"), (None, "null"), ([True], "[true]"), ("as is", "as is")]
)
def test_results_that_are_not_strings_are_sent_as_json(client, emulator, value, output):
    handlers = assistant_stream.Handlers()
    handlers.tool(lambda city: value, name="get_weather")
    client.stream_run(new_thread(client), assistant_id="asst_1", tools=[WEATHER], handlers=handlers).until_done()
    assert calls_to(emulator, "/submit_tool_outputs")[0].body["tool_outputs"][0]["output"] == output


def test_a_call_without_a_tool_stops_at_requires_action(client, emulator, handlers):
    other = {"type": "function", "function": {"name": "book_flight", "parameters": {"type": "object", "properties": {}}}}
    thread_id = new_thread(client, "Lima")
    stream = client.stream_run(thread_id, assistant_id="asst_1", tools=[WEATHER, other], handlers=handlers)
    run = stream.until_done()
    assert run["status"] == "requires_action"
    assert handlers.calls == []  # none of them: the outputs go together or not at all
    assert calls_to(emulator, "/submit_tool_outputs") == []
    assert stream.finished
    calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    rest = client.submit_tool_outputs(thread_id, run["id"], [{"tool_call_id": c["id"], "output": "ok"} for c in calls], handlers=handlers)
    assert rest.until_done()["status"] == "completed"


def test_a_tool_that_raises_closes_the_stream(client, emulator):
    handlers = assistant_stream.Handlers()

    @handlers.tool
    def get_weather(city):
        raise LookupError("no such city: %s" % city)

    stream = client.stream_run(new_thread(client, "Atlantis"), assistant_id="asst_1", tools=[WEATHER], handlers=handlers)
    with pytest.raises(LookupError, match="Atlantis"):
        stream.until_done()
    assert stream.closed and stream.status == "requires_action"
    assert calls_to(emulator, "/submit_tool_outputs") == []


def test_reported_errors_go_to_the_model(client, emulator):
    handlers = assistant_stream.Handlers()

    @handlers.tool(report_errors=True)
    def get_weather(city):
        raise LookupError("no such city: %s" % city)

    stream = client.stream_run(new_thread(client, "Atlantis"), assistant_id="asst_1", tools=[WEATHER], handlers=handlers)
    assert stream.until_done()["status"] == "completed"
    assert stream.text == "The tools said: error: LookupError: no such city: Atlantis."


@pytest.mark.parametrize("report", [False, True])
def test_arguments_that_are_not_a_json_object(client, emulator, report):
    handlers = assistant_stream.Handlers()
    handlers.tool(lambda **kwargs: "unreachable", name="get_weather", report_errors=report)
    metadata = steer(args={"get_weather": '{"city": "Par'})
    stream = client.stream_run(new_thread(client), assistant_id="asst_1", tools=[WEATHER], handlers=handlers, metadata=metadata)
    if report:
        assert stream.until_done()["status"] == "completed"
        assert stream.text.startswith("The tools said: error: ProtocolError: tool call call_")
        assert "the arguments are not a JSON object" in stream.text
    else:
        with pytest.raises(assistant_stream.ProtocolError, match="the arguments are not a JSON object"):
            stream.until_done()


def test_a_recording_of_several_rounds_replays_whole(client, handlers, tmp_path):
    path = tmp_path / "rounds.sse"
    live = client.stream_run(
        new_thread(client, "Kyiv"),
        assistant_id="asst_1",
        tools=[WEATHER],
        handlers=handlers,
        record=str(path),
        metadata=steer(rounds=2),
    )
    live_names = [event.name for event in live]
    assert path.read_bytes().count(b"event: done\n") == 3
    replayed = assistant_stream.replay(path)
    assert [event.name for event in replayed] == live_names
    assert replayed.text == live.text == "The tools said: sunny in Kyiv; sunny in Kyiv."
    assert replayed.final_run()["status"] == "completed"


# -- cancel on interrupt -------------------------------------------------------------


def interrupted(client, emulator, exception, **options):
    handlers = assistant_stream.Handlers()

    @handlers.on("text.delta")
    def stop(event):
        raise exception

    thread_id = new_thread(client)
    return thread_id, client.stream_run(thread_id, assistant_id="asst_1", handlers=handlers, metadata=steer(hold=8), **options)


@pytest.mark.parametrize("exception", [KeyboardInterrupt(), RuntimeError("boom")], ids=["KeyboardInterrupt", "RuntimeError"])
def test_an_interrupted_run_is_cancelled_once(client, emulator, exception):
    thread_id, stream = interrupted(client, emulator, exception, cancel_on_interrupt=True)
    with pytest.raises(type(exception)):
        stream.until_done()
    (cancel,) = calls_to(emulator, "/cancel")
    run = client.request("GET", "/threads/%s/runs/%s" % (thread_id, stream.current_run["id"]))
    assert run["status"] == "cancelled"
    stream.close()
    assert len(calls_to(emulator, "/cancel")) == 1


def test_leaving_early_cancels(client, emulator):
    thread_id = new_thread(client)
    with client.stream_run(thread_id, assistant_id="asst_1", metadata=steer(hold=8), cancel_on_interrupt=True) as stream:
        for event in stream:
            if event.name == "text.delta":
                break
    assert len(calls_to(emulator, "/cancel")) == 1


def test_a_run_that_finishes_is_not_cancelled(client, emulator, handlers):
    stream = client.stream_run(new_thread(client), assistant_id="asst_1", tools=[WEATHER], handlers=handlers, cancel_on_interrupt=True)
    stream.until_done()
    stream.close()
    assert calls_to(emulator, "/cancel") == []


def test_without_the_option_nothing_is_cancelled(client, emulator):
    _, stream = interrupted(client, emulator, KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        stream.until_done()
    assert calls_to(emulator, "/cancel") == []


def test_a_failing_cancel_never_masks_the_original_error(emulator, caplog):
    client = assistant_stream.Client(api_key=API_KEY, base_url=emulator.base_url, timeout=(5, 10))
    handlers = assistant_stream.Handlers()

    @handlers.on("text.delta")
    def fail(event):
        client.base_url = "http://127.0.0.1:9/v1"  # the cancel will not connect
        raise RuntimeError("original")

    caplog.set_level(logging.DEBUG, logger="assistant_stream")
    stream = client.stream_run(
        new_thread(client), assistant_id="asst_1", handlers=handlers, metadata=steer(hold=8), cancel_on_interrupt=True
    )
    with pytest.raises(RuntimeError, match="original"):
        stream.until_done()
    assert "cancelling run %s failed" % stream.current_run["id"] in caplog.text
    assert calls_to(emulator, "/cancel") == [] and stream.closed


# -- recovery --------------------------------------------------------------------------


def test_a_dropped_stream_is_recovered_by_polling(client, emulator):
    handlers = assistant_stream.Handlers()
    seen = handlers.on("*", Recorder())
    reply = "Recovered text, every word of it."
    metadata = steer(drop=9, reply=reply)
    stream = client.stream_run(new_thread(client), assistant_id="asst_1", handlers=handlers, metadata=metadata, recover=True)
    run = stream.until_done()
    assert run["status"] == "completed" and stream.recovered and stream.finished
    assert stream.text == reply
    assert "".join(e.text for e in seen.events if e.name == "text.delta") == reply
    names = seen.names
    for once in ("recovering", "thread.message.completed", "text.done", "thread.run.step.completed", "thread.run.completed", "end"):
        assert names.count(once) == 1, once
    assert names[-2:] == ["thread.run.completed", "end"]
    recovering = seen.events[names.index("recovering")]
    assert names[names.index("recovering") - 1] == "text.delta" and names[names.index("recovering") + 1] != "text.delta"  # between
    assert recovering.data["status"] == "in_progress" and recovering.text is None and recovering.snapshot == recovering.data
    assert stream.final_messages()[0]["content"][0]["text"]["value"] == reply
    assert len(calls_to(emulator, "/runs")) == 1  # polling, never a second run
    assert len([c for c in emulator.calls if c.method == "GET" and "/runs/" in c.path]) >= 1


@pytest.mark.parametrize("timeout", [None, 5.0, (None, 30.0), (5.0, None)])
def test_recovery_works_whatever_timeouts_the_client_has(emulator, timeout):
    # The polling's requests run under the recovery deadline, on sockets with or without a timeout of their own.
    client = assistant_stream.Client(api_key=API_KEY, base_url=emulator.base_url, timeout=timeout)
    stream = client.stream_run(new_thread(client), assistant_id="asst_1", metadata=steer(drop=9, reply="Back again."), recover=True)
    assert stream.until_done()["status"] == "completed" and stream.recovered and stream.text == "Back again."
    client.close()


def test_a_stall_past_the_read_timeout_is_recovered(emulator):
    client = assistant_stream.Client(api_key=API_KEY, base_url=emulator.base_url, timeout=(5, 0.3))
    stream = client.stream_run(new_thread(client, "slow"), assistant_id="asst_1", metadata=steer(stall=(9, 1.5)), recover=True)
    assert stream.until_done()["status"] == "completed"
    assert stream.recovered and stream.text == "Hello from the emulator! You said: slow"


def test_without_recovery_a_drop_raises_and_keeps_the_partial_state(client, emulator):
    handlers = assistant_stream.Handlers()
    recovering = handlers.on("recovering", Recorder())
    stream = client.stream_run(new_thread(client), assistant_id="asst_1", metadata=steer(drop=9), handlers=handlers)
    with pytest.raises(assistant_stream.IncompleteStreamError):
        stream.until_done()
    assert recovering.events == []
    assert stream.text == "Hello from" and not stream.recovered
    assert len(calls_to(emulator, "/runs")) == 1  # after the first event nothing is repeated


def test_recovery_gives_up_at_its_deadline(client, emulator):
    metadata = steer(drop=9, finish_after=30)
    stream = client.stream_run(new_thread(client), assistant_id="asst_1", metadata=metadata, recover=0.6)
    with pytest.raises(assistant_stream.IncompleteStreamError, match="still 'in_progress' after 0.6 s of polling") as info:
        stream.until_done()
    assert isinstance(info.value.__cause__, assistant_stream.IncompleteStreamError)
    assert stream.text == "Hello from" and stream.closed


def test_a_drop_before_the_run_is_known_cannot_be_recovered(client, emulator):
    stream = client.stream_run(new_thread(client), assistant_id="asst_1", metadata=steer(drop=0), recover=True)
    with pytest.raises(assistant_stream.IncompleteStreamError, match="connection was lost.*before the run started"):
        stream.until_done()


def test_a_recovered_run_that_requires_action_runs_its_tools(client, emulator, handlers):
    # The drop comes in the middle of the tool call's arguments.
    seen = handlers.on("tool_call.*", Recorder())
    seen_arguments = []
    handlers.on("tool_call.done", lambda event: seen_arguments.append(event.snapshot["function"]["arguments"]))
    metadata = steer(drop=8)
    stream = client.stream_run(
        new_thread(client, "Cairo"), assistant_id="asst_1", tools=[WEATHER], handlers=handlers, metadata=metadata, recover=True
    )
    assert stream.until_done()["status"] == "completed"
    assert stream.recovered
    assert handlers.calls == [("get_weather", "Cairo")]
    assert stream.text == "The tools said: sunny in Cairo."
    (done,) = [e for e in seen.events if e.name == "tool_call.done"]
    assert done.data["function"]["arguments"] == '{"city": "Cairo"}'
    assert seen_arguments == ['{"city": "Cairo"}']


# -- retries ------------------------------------------------------------------------------


def test_429_and_503_before_the_first_event_are_retried(client, emulator, monkeypatch):
    sleeps = []
    monkeypatch.setattr(assistant_stream.time, "sleep", sleeps.append)
    metadata = steer(fail=[429, 503], retry_after=0.5)
    stream = client.stream_run(new_thread(client), assistant_id="asst_1", metadata=metadata)
    assert stream.until_done()["status"] == "completed"
    assert [call.status for call in calls_to(emulator, "/runs")] == [429, 503, 200]
    assert sleeps == [0.5, 0.5]


def test_retries_run_out(emulator, monkeypatch):
    monkeypatch.setattr(assistant_stream.time, "sleep", lambda seconds: None)
    client = assistant_stream.Client(api_key=API_KEY, base_url=emulator.base_url, max_retries=1)
    with pytest.raises(assistant_stream.RateLimitError, match="Scripted failure 2"):
        client.stream_run(new_thread(client), assistant_id="asst_1", metadata=steer(fail=[429, 429, 429]))
    assert len(calls_to(emulator, "/runs")) == 2


# -- Azure-style deployments --------------------------------------------------------------


def test_azure_style_headers_query_and_fresh_tokens(handlers, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    tokens = ("entra-token-%d" % n for n in itertools.count())
    with Emulator(
        api_key=lambda token: bool(token and token.startswith("entra-token-")),
        required_headers={"api-key": "azure-key"},
        required_query={"api-version": "2025-05-01"},
    ) as azure:
        client = assistant_stream.Client(
            api_key=lambda: next(tokens),
            base_url=azure.base_url,
            default_headers={"api-key": "azure-key"},
            default_query={"api-version": "2025-05-01"},
        )
        thread_id = client.request("POST", "/threads", json={"messages": [{"role": "user", "content": "Nairobi"}]})["id"]
        stream = client.stream_run(thread_id, assistant_id="asst_1", tools=[WEATHER], handlers=handlers)
        assert stream.until_done()["status"] == "completed"
        assert stream.text == "The tools said: sunny in Nairobi."
        sent = [call.headers["Authorization"] for call in azure.calls]
        assert sent == ["Bearer entra-token-%d" % n for n in range(len(sent))]  # a fresh token for each request
        assert all(call.query["api-version"] == ["2025-05-01"] for call in azure.calls)

        bare = assistant_stream.Client(api_key="entra-token-x", base_url=azure.base_url, default_headers={"api-key": "azure-key"})
        with pytest.raises(assistant_stream.BadRequestError, match="api-version"):
            bare.request("POST", "/threads")


# -- review findings -----------------------------------------------------------------------


def test_a_run_left_at_requires_action_on_purpose_is_not_cancelled(client, emulator, handlers):
    other = {"type": "function", "function": {"name": "book_flight", "parameters": {"type": "object", "properties": {}}}}
    thread_id = new_thread(client)
    stream = client.stream_run(thread_id, assistant_id="asst_1", tools=[other], cancel_on_interrupt=True)
    for event in stream:
        if event.name == "thread.run.requires_action":
            break  # to submit the outputs ourselves
    assert calls_to(emulator, "/cancel") == []
    calls = stream.current_run["required_action"]["submit_tool_outputs"]["tool_calls"]
    rest = client.submit_tool_outputs(thread_id, stream.current_run["id"], [{"tool_call_id": c["id"], "output": "booked"} for c in calls])
    assert rest.until_done()["status"] == "completed"


def test_an_exception_at_requires_action_cancels(client, emulator):
    other = {"type": "function", "function": {"name": "book_flight", "parameters": {"type": "object", "properties": {}}}}
    handlers = assistant_stream.Handlers()
    handlers.on("run.requires_action", lambda event: (_ for _ in ()).throw(RuntimeError("giving up")))
    stream = client.stream_run(new_thread(client), assistant_id="asst_1", tools=[other], handlers=handlers, cancel_on_interrupt=True)
    with pytest.raises(RuntimeError, match="giving up"):
        stream.until_done()
    assert len(calls_to(emulator, "/cancel")) == 1


def test_iteration_and_until_done_dispatch_in_the_same_order(client):
    def dispatched(iterate):
        order = []
        table = assistant_stream.Handlers()
        table.tool(lambda city: order.append("the tool ran") or "fine", name="get_weather")
        table.on("*", lambda event: order.append(event.name))
        stream = client.stream_run(new_thread(client, "Lagos"), assistant_id="asst_1", tools=[WEATHER], handlers=table)
        if iterate:
            assert [event.name for event in stream] == [name for name in order if name != "the tool ran"]
        else:
            stream.until_done()
        return order

    order = dispatched(iterate=False)
    assert dispatched(iterate=True) == order
    assert order.index("done") < order.index("the tool ran")  # the first body's done comes first


def test_iteration_delivers_what_came_before_a_failing_tool(client):
    handlers = assistant_stream.Handlers()

    @handlers.tool
    def get_weather(city):
        raise LookupError("no weather")

    names = []
    stream = client.stream_run(new_thread(client), assistant_id="asst_1", tools=[WEATHER], handlers=handlers)
    with pytest.raises(LookupError):
        for event in stream:
            names.append(event.name)
    assert names[-3:] == ["thread.run.requires_action", "tool_call.done", "done"]


def test_the_first_response_is_read_to_its_end_and_given_back_before_the_tools_run(client, emulator):
    # No connection is held while the tools run: the first body was read to its
    # end, and its connection went back to the pool (a request made by the tool
    # reuses it); the follow-up reuses it too.
    handlers = assistant_stream.Handlers()

    @handlers.tool
    def get_weather(city):
        client.request("GET", "/assistants")
        return "fine"

    client.stream_run(new_thread(client), assistant_id="asst_1", tools=[WEATHER], handlers=handlers).until_done()
    first, by_the_tool, follow_up = [
        call for call in emulator.calls if call.path.endswith(("/runs", "/assistants", "/submit_tool_outputs"))
    ]
    assert first.path.endswith("/runs") and by_the_tool.path.endswith("/assistants") and follow_up.path.endswith("/submit_tool_outputs")
    assert first.client_port == by_the_tool.client_port == follow_up.client_port
    assert not first.connection_closed.is_set()
