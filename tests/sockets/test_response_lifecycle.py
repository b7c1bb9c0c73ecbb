"""The Responses API end to end, against the emulator and a scripted server:
the same Stream, callbacks and guarantees as a run."""

import json

import pytest

import assistant_stream
from conftest import FIXTURES, Recorder, calls_to, event, new_thread, response
from emulator import steer

RECORDED = (FIXTURES / "responses" / "openllmetry_responses_text_stream.sse").read_bytes()
WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
TIME = {
    "type": "function",
    "name": "get_time",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string", "enum": ["CET"]}}},
}


# -- over HTTP, against the emulator -------------------------------------------------------------


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
        metadata=steer(rounds=2),
    )
    final = stream.until_done()
    assert final["status"] == "completed"
    assert stream.text == 'The tools said: {"city": "Rome", "sky": "clear"}; 12:00 CET; {"city": "Rome", "sky": "clear"}; 12:00 CET.'
    first, second, third = calls_to(emulator, "/responses")
    ids = [e.data["response"]["id"] for e in seen.events if e.name == "response.created"]
    call_ids = [e.snapshot["call_id"] for e in seen.events if e.name == "tool_call.done"]
    outputs = ['{"city": "Rome", "sky": "clear"}', "12:00 CET"] * 2
    answers = [{"type": "function_call_output", "call_id": c, "output": o} for c, o in zip(call_ids, outputs)]
    for follow_up, previous_id, given in ((second, ids[0], answers[:2]), (third, ids[1], answers[2:])):
        assert follow_up.body == {  # exactly: the request again, continuing the last response with the outputs
            "model": "emulator-1",
            "input": given,
            "tools": [WEATHER, TIME],
            "instructions": "Be brief.",
            "metadata": steer(rounds=2),
            "previous_response_id": previous_id,
            "stream": True,
        }
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
    stream = client.stream_response(model="emulator-1", input="x", metadata=steer(error_after=4, hold=6))
    with pytest.raises(assistant_stream.StreamError, match="server_error"):
        stream.until_done()
    assert stream.closed
    with pytest.raises(assistant_stream.NotFoundError, match="Previous response not found"):
        client.stream_response(model="emulator-1", input="x", previous_response_id="resp_missing")


def test_retries_before_the_first_event(client, emulator, monkeypatch):
    monkeypatch.setattr(assistant_stream.time, "sleep", lambda seconds: None)
    stream = client.stream_response(model="emulator-1", input="again", metadata=steer(fail=[429, 503]))
    assert stream.until_done()["status"] == "completed"
    assert [call.status for call in calls_to(emulator, "/responses")] == [429, 503, 200]


def test_a_dropped_response_is_recovered(client, emulator):
    handlers = assistant_stream.Handlers()
    seen = handlers.on("*", Recorder())
    stream = client.stream_response(model="emulator-1", input="keep going", handlers=handlers, recover=True, metadata=steer(drop=7))
    final = stream.until_done()
    assert final["status"] == "completed" and stream.recovered
    assert stream.text == "Hello from the emulator! You said: keep going"
    assert "".join(e.text for e in seen.events if e.name == "text.delta") == stream.text
    for once in ("recovering", "text.done", "response.output_item.done", "response.completed", "end"):
        assert seen.names.count(once) == 1, once
    assert len([c for c in emulator.calls if c.method == "GET" and "/responses/" in c.path]) >= 1


def test_leaving_early_cancels_the_response(client, emulator):
    stream = client.stream_response(model="emulator-1", input="x", cancel_on_interrupt=True, metadata=steer(hold=6))
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
