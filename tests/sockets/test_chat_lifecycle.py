"""Chat Completions end to end, against the emulator over real sockets: the
same Stream, callbacks and guarantees as a run or a response; and one table
serving all three APIs."""

import pytest

import assistant_stream
from conftest import Recorder, calls_to, new_thread
from emulator import steer

PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}}}
CHAT_WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": PARAMETERS}}
CHAT_TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string", "enum": ["CET"]}}}},
}
HI = [{"role": "user", "content": "Hi there"}]


def test_a_chat_completion_streams_word_by_word(client, emulator):
    handlers = assistant_stream.Handlers()
    deltas = handlers.on("text.delta", Recorder())
    stream = client.stream_chat(model="emulator-1", messages=HI, handlers=handlers)
    final = stream.until_done()
    assert [e.text for e in deltas.events] == ["Hello", " from", " the", " emulator!", " You", " said:", " Hi", " there"]
    assert stream.text == final["choices"][0]["message"]["content"] == "Hello from the emulator! You said: Hi there"
    assert final["object"] == "chat.completion" and final["usage"]["total_tokens"] == 21 and stream.final_chat_completion() == final
    (call,) = calls_to(emulator, "/chat/completions")
    assert call.body == {"model": "emulator-1", "messages": HI, "stream": True, "stream_options": {"include_usage": True}}
    assert "OpenAI-Beta" not in call.headers


def test_tools_run_over_two_rounds_in_one_stream(client, emulator):
    handlers = assistant_stream.Handlers()
    handlers.tool(lambda city: {"city": city, "sky": "clear"}, name="get_weather")
    handlers.tool(lambda zone: "12:00 %s" % zone, name="get_time")
    seen = handlers.on("*", Recorder())
    stream = client.stream_chat(
        model="emulator-1",
        messages=[{"role": "user", "content": "Rome"}],
        tools=[CHAT_WEATHER, CHAT_TIME],
        handlers=handlers,
        metadata=steer(rounds=2),
    )
    final = stream.until_done()
    said = '{"city": "Rome", "sky": "clear"}; 12:00 CET'
    assert stream.text == final["choices"][0]["message"]["content"] == "The tools said: %s; %s." % (said, said)
    sent = calls_to(emulator, "/chat/completions")
    assert len(sent) == 3 and [len(call.body["messages"]) for call in sent] == [1, 4, 7]
    assert [m["role"] for m in sent[2].body["messages"]] == ["user", "assistant", "tool", "tool", "assistant", "tool", "tool"]
    assert seen.names.count("tool_call.done") == 4 and seen.names.count("end") == 1 and seen.names[-1] == "end"
    assert seen.names.count("tool_call.delta") > 8  # the arguments came in pieces


def test_azures_filter_chunks_and_n_choices(client, emulator):
    stream = client.stream_chat(model="emulator-1", messages=HI, n=2, metadata=steer(filters=True))
    final = stream.until_done()
    assert [choice["message"]["content"] for choice in final["choices"]] == ["Hello from the emulator! You said: Hi there"] * 2
    assert final["prompt_filter_results"] == [{"prompt_index": 0}] and final["id"].startswith("chatcmpl_")
    assert all("content_filter_results" in choice for choice in final["choices"])
    assert stream.text == "Hello from the emulator! You said: Hi there"  # the first choice


@pytest.mark.parametrize(
    "switches, error, where",
    [
        (dict(drop=4), assistant_stream.IncompleteStreamError, "with the completion in status 'in_progress'"),
        (dict(error_after=3), assistant_stream.StreamError, "server_error"),
        (dict(close_after=5), assistant_stream.IncompleteStreamError, r"before \[DONE\]"),
    ],
    ids=["dropped", "error event", "closed"],
)
def test_faults_mid_stream_keep_what_came(client, emulator, switches, error, where):
    stream = client.stream_chat(model="emulator-1", messages=HI, metadata=steer(**switches))
    with pytest.raises(error, match=where):
        stream.until_done()
    assert stream.closed and stream.text.startswith("Hello")


def test_a_server_that_leaves_done_out_is_accepted(client, emulator):
    stream = client.stream_chat(model="emulator-1", messages=HI, metadata=steer(no_done=True))
    assert stream.until_done()["choices"][0]["finish_reason"] == "stop" and stream.status == "completed"


def test_retries_and_http_errors(client, emulator, monkeypatch):
    monkeypatch.setattr(assistant_stream.time, "sleep", lambda seconds: None)
    stream = client.stream_chat(model="emulator-1", messages=HI, metadata=steer(fail=[429, 503]))
    assert stream.until_done()["choices"][0]["finish_reason"] == "stop"
    assert [call.status for call in calls_to(emulator, "/chat/completions")] == [429, 503, 200]
    with pytest.raises(assistant_stream.BadRequestError, match="messages"):
        client.stream_chat(model="emulator-1", messages=[])


def test_a_recording_of_chat_rounds_replays_as_it_ran(client, tmp_path):
    from conftest import trace

    handlers = assistant_stream.Handlers()
    handlers.tool(lambda city: "sunny in %s" % city, name="get_weather")
    path = tmp_path / "chat.sse"
    stream = client.stream_chat(
        model="m", messages=[{"role": "user", "content": "Oslo"}], tools=[CHAT_WEATHER], handlers=handlers, record=str(path)
    )
    live = trace(stream)
    assert live["text"] == "The tools said: sunny in Oslo."
    assert trace(assistant_stream.replay(path)) == live


def test_one_table_serves_all_three_apis(client, emulator):
    handlers = assistant_stream.Handlers()
    said, calls, ends = Recorder(), Recorder(), Recorder()
    handlers.on("text.delta", said)
    handlers.on("tool_call.done", calls)
    handlers.on("end", ends)
    handlers.tool(lambda city: "sunny in %s" % city, name="get_weather")

    run = client.stream_run(new_thread(client, "Oslo"), assistant_id="asst_1", handlers=handlers, tools=[CHAT_WEATHER])
    response_tool = {"type": "function", "name": "get_weather", "parameters": PARAMETERS}
    response = client.stream_response(model="emulator-1", input="Oslo", handlers=handlers, tools=[response_tool])
    chat = client.stream_chat(model="emulator-1", messages=[{"role": "user", "content": "Oslo"}], handlers=handlers, tools=[CHAT_WEATHER])
    streams = [run, response, chat]
    for stream in streams:
        stream.until_done()
        assert stream.status == "completed" and stream.text == "The tools said: sunny in Oslo."
        assert "".join(e.text for e in said.events if e.stream is stream) == stream.text
    assert [e.stream for e in calls.events] == streams and [e.stream for e in ends.events] == streams
    assert run.final_run()["status"] == "completed" and run.final_response() is None and run.final_chat_completion() is None
    assert response.final_response()["status"] == "completed" and response.final_run() is None
    assert chat.final_chat_completion()["choices"][0]["finish_reason"] == "stop" and chat.final_run() is None
    assert [type(e.snapshot) for e in calls.events] == [dict, dict, dict]
    assert [e.snapshot.get("function", e.snapshot).get("name") for e in calls.events] == ["get_weather"] * 3
