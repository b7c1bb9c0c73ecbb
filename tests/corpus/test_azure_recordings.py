"""Azure AI Foundry Agents (classic threads and runs): eight recorded
streams, each with what it must give, and the two tool rounds they record,
answered in one Stream.  Azure's quirks are pinned here: a message
``.completed`` whose data says in_progress, a step's output after the step
completed, a step created twice, tool calls of Azure's own types."""

import itertools
import json

import pytest

import assistant_stream
from conftest import AZURE, CHUNKINGS, FIXTURES, FakeTransport, Recorder, reference_events, trace

AZ = FIXTURES / "azure"


def derived_order(events):
    """The derived events in order, each run of one name counted: [("text.delta", 27), ...]."""
    names = [event.name for event in events if event.name in assistant_stream._DERIVED_EVENTS]
    return [(name, len(list(run))) for name, run in itertools.groupby(names)]


def calls_of(stream):
    """(step type, call type, call) of every tool call the steps hold."""
    return [
        (step["type"], call["type"], call)
        for step in stream.final_run_steps()
        for call in (step.get("step_details") or {}).get("tool_calls") or []
    ]


# file: (status, text length, text start, text end, derived events in order, step types and statuses, call types)
EXPECTED = {
    "plain_text_run": (
        "completed", 109, "Of course! Here's a joke for you:", "they don\u2019t have the guts! \U0001f604",
        [("text.created", 1), ("text.delta", 27), ("text.done", 1), ("end", 1)],
        [("message_creation", "completed")], [],
    ),
    "function_requires_action": (
        "requires_action", 0, "", "",
        [("tool_call.created", 1), ("tool_call.delta", 2), ("tool_call.done", 1), ("end", 1)],
        [("tool_calls", "in_progress")], ["function"],
    ),
    "submit_tool_outputs_stream": (
        "completed", 76, "It's currently 12:30 PM on October 10th", "How can I assist you further?",
        [("tool_call.created", 1), ("tool_call.done", 1), ("text.created", 1), ("text.delta", 24), ("text.done", 1), ("end", 1)],
        [("tool_calls", "completed"), ("message_creation", "completed")], ["function"],
    ),
    "mcp_requires_submit_tool_approval": (
        "requires_action", 0, "", "",
        [("tool_call.created", 1), ("tool_call.delta", 1), ("tool_call.done", 1), ("end", 1)],
        [("activities", "completed"), ("tool_calls", "in_progress")], ["mcp"],
    ),
    "mcp_after_tool_approval": (
        "completed", 740, "The Azure REST API specifications Readme", "REST APIs and associated resources.",
        # no tool_call.delta: the call's output came after its step completed, and is only folded into it
        [("tool_call.created", 1), ("tool_call.done", 1), ("text.created", 1), ("text.delta", 131), ("text.done", 1), ("end", 1)],
        [("tool_calls", "completed"), ("message_creation", "completed")], ["mcp"],
    ),
    "bing_grounding_url_citation": (
        "completed", 647, "Euler's Identity on Wikipedia is describ", "mathematical beauty\u30103:0\u2020source\u3011.",
        [("tool_call.created", 1), ("tool_call.delta", 3), ("tool_call.done", 1), ("text.created", 1), ("text.delta", 126), ("text.done", 1), ("end", 1)],
        [("tool_calls", "completed"), ("message_creation", "completed")], ["bing_grounding"],
    ),
    "azure_ai_search_url_citation": (
        "completed", 133, "The CozyNights Sleeping Bag has a temper", "(-6\u00b0C to 15\u00b0C)\u30103:0\u2020source\u3011.",
        [("tool_call.created", 1), ("tool_call.delta", 3), ("tool_call.done", 1), ("text.created", 1), ("text.delta", 36), ("text.done", 1), ("end", 1)],
        [("tool_calls", "completed"), ("message_creation", "completed")], ["azure_ai_search"],
    ),
    "connected_agent_tool": (
        "completed", 46, "The current stock price of Microsoft is ", "price of Microsoft is $350 .",
        [("tool_call.created", 1), ("tool_call.delta", 11), ("tool_call.done", 1), ("text.created", 1), ("text.delta", 11), ("text.done", 1), ("end", 1)],
        [("tool_calls", "completed"), ("message_creation", "completed")], ["connected_agent"],
    ),
}  # fmt: skip


def test_every_azure_recording_has_its_expectations():
    assert sorted(path.stem for path in AZURE) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_azure_recording_replays_as_expected(name):
    status, length, start, end, order, steps, call_types = EXPECTED[name]
    handlers = assistant_stream.Handlers()
    seen = handlers.on("*", Recorder())
    stream = assistant_stream.replay(AZ / (name + ".sse"), handlers)
    assert stream.until_done()["status"] == status
    assert len(stream.text) == length and stream.text.startswith(start) and stream.text.endswith(end)
    assert derived_order(seen.events) == order
    assert [(step["type"], step["status"]) for step in stream.final_run_steps()] == steps
    assert [call_type for _, call_type, _ in calls_of(stream)] == call_types
    assert all(message["status"] == "completed" for message in stream.final_messages())


@pytest.mark.parametrize("path", AZURE, ids=[path.stem for path in AZURE])
@pytest.mark.parametrize("chunking", sorted(CHUNKINGS))
def test_chunking_and_line_endings_change_nothing(path, chunking):
    body = path.read_bytes()
    assert trace(assistant_stream.replay(CHUNKINGS[chunking](body))) == trace(assistant_stream.replay(body))


# -- the quirks --------------------------------------------------------------------------


def test_a_message_completed_whose_data_says_in_progress_is_completed():
    body = (AZ / "mcp_after_tool_approval.sse").read_bytes()
    assert (
        b'"object":"thread.message","created_at":1756313945' in body
        and b'"status":"in_progress","incomplete_details":null,"incomplete_at":null,"completed_at":null,"role":"assistant","content":[{'
        in body
    )
    handlers = assistant_stream.Handlers()
    done = handlers.on("text.done", Recorder())
    completed = handlers.on("thread.message.completed", Recorder())
    stream = assistant_stream.replay(body, handlers)
    stream.until_done()
    assert [event.text for event in done.events] == [stream.text] and len(stream.text) == 740
    (message,) = stream.final_messages()
    assert message["status"] == "completed"  # the event's name is final
    assert message["completed_at"] is None and message["role"] == "assistant"  # the payload's other fields are kept
    assert completed.events[0].data["status"] == "in_progress"  # the event's data is as received


def test_an_output_after_its_step_completed_is_folded_in_without_a_late_delta():
    handlers = assistant_stream.Handlers()
    seen = handlers.on("*", Recorder())
    outputs = []
    handlers.on("tool_call.done", lambda event: outputs.append(event.snapshot["output"]))  # read at the time
    stream = assistant_stream.replay(AZ / "mcp_after_tool_approval.sse", handlers)
    stream.until_done()
    names = [event.name for event in seen.events]
    assert names.index("thread.run.step.delta") > names.index("tool_call.done")  # the late delta reaches its raw callbacks...
    assert "tool_call.delta" not in names  # ...but no tool_call.delta after tool_call.done
    assert outputs == [None]  # done said what the step said then
    (_, _, call) = calls_of(stream)[0]
    late = [
        json.loads(data)
        for name, data in reference_events((AZ / "mcp_after_tool_approval.sse").read_bytes())
        if name == "thread.run.step.delta"
    ]
    assert call["output"] == late[0]["delta"]["step_details"]["tool_calls"][0]["output"] and len(call["output"]) == 82188


def test_a_step_created_twice_fires_its_events_once():
    body = (AZ / "mcp_requires_submit_tool_approval.sse").read_bytes()
    assert body.count(b'event: thread.run.step.created\ndata: {"id":"step_7jfuPl8FrQS3e4WxkFofjyJW"') == 2
    handlers = assistant_stream.Handlers()
    seen = handlers.on("tool_call.*", Recorder())
    stream = assistant_stream.replay(body, handlers)
    stream.until_done()
    assert [event.name for event in seen.events] == ["tool_call.created", "tool_call.delta", "tool_call.done"]
    assert [step["id"] for step in stream.final_run_steps()] == ["step_d74voeMG7EWHpTHmI6O9EbnP", "step_7jfuPl8FrQS3e4WxkFofjyJW"]


def test_an_activities_step_lists_the_mcp_servers_tools():
    stream = assistant_stream.replay(AZ / "mcp_requires_submit_tool_approval.sse")
    stream.until_done()
    activities = stream.final_run_steps()[0]
    assert activities["type"] == "activities" and activities["status"] == "completed"
    (activity,) = activities["step_details"]["activities"]
    assert activity["type"] == "mcp_list_tools" and activity["server_label"] == "github"
    assert sorted(activity["tools"]) == [
        "fetch_azure_rest_api_docs", "fetch_generic_url_content", "search_azure_rest_api_code", "search_azure_rest_api_docs",
    ]  # fmt: skip


def test_azures_tool_types_accumulate_whole():
    def call(name):
        stream = assistant_stream.replay(AZ / (name + ".sse"))
        stream.until_done()
        return calls_of(stream)[0][2]

    bing = call("bing_grounding_url_citation")["bing_grounding"]
    assert (
        bing["requesturl"].startswith("https://api.bing.microsoft.com/v7.0/search?q=Euler")
        and "num_docs_retrieved" in bing["response_metadata"]
    )
    search = call("azure_ai_search_url_citation")["azure_ai_search"]
    assert search["input"] == "temperature rating cozynights sleeping bag" and search["output"].startswith(
        "{'summary': 'Retrieved 5 documents.'"
    )
    agent = call("connected_agent_tool")["connected_agent"]
    assert agent["name"] == "stock_bot" and agent["arguments"] == '{"query":"current stock price of Microsoft"}'  # 9 fragments joined
    assert agent["output"] == "The current stock price of Microsoft is $350." and agent["run_id"].startswith("run_")


@pytest.mark.parametrize("name, url", [
    ("bing_grounding_url_citation", "https://en.wikipedia.org/wiki/Euler%27s_identity"),
    ("azure_ai_search_url_citation", "www.microsoft.com"),
])  # fmt: skip
def test_url_citations_are_kept(name, url):
    stream = assistant_stream.replay(AZ / (name + ".sse"))
    stream.until_done()
    (annotation,) = stream.final_messages()[0]["content"][0]["text"]["annotations"]
    assert annotation["type"] == "url_citation" and annotation["url_citation"]["url"] == url
    assert stream.text[annotation["start_index"] : annotation["end_index"]] == annotation["text"] == "\u30103:0\u2020source\u3011"


# -- the recorded rounds, answered in one Stream -------------------------------------------

RUN_PATH = "/threads/thread_szzpez9eLwOgtHAjvdOcSUGf/runs/run_0fDXYlzg8O7MxLrtymqVM1vA/submit_tool_outputs"


def test_the_recorded_approval_is_asked_for_and_answered_in_one_stream():
    asked = []
    handlers = assistant_stream.Handlers()

    @handlers.approval
    def allow(call):
        asked.append(call)
        return call["server_label"] == "github"

    fake = FakeTransport()
    fake.stream("/threads/thread_1/runs", (AZ / "mcp_requires_submit_tool_approval.sse").read_bytes())
    fake.stream(RUN_PATH, (AZ / "mcp_after_tool_approval.sse").read_bytes())
    stream = fake.stream_run("thread_1", assistant_id="asst_1", handlers=handlers)
    assert stream.until_done()["status"] == "completed" and len(stream.text) == 740
    assert [call["name"] for call in asked] == ["fetch_azure_rest_api_docs"] and asked[0]["type"] == "mcp"
    assert fake.requests[1] == (
        "POST", RUN_PATH, {"tool_approvals": [{"tool_call_id": "call_7xWS61tAxJO9euluKVIX5aJH", "approve": True}], "stream": True},
    )  # fmt: skip


def test_without_an_approval_callback_the_stream_ends_waiting_for_it():
    fake = FakeTransport().stream("/threads/thread_1/runs", (AZ / "mcp_requires_submit_tool_approval.sse").read_bytes())
    handlers = assistant_stream.Handlers()
    handlers.tool(lambda: "not asked", name="fetch_azure_rest_api_docs")  # a function tool does not answer an approval
    stream = fake.stream_run("thread_1", assistant_id="asst_1", handlers=handlers)
    run = stream.until_done()
    assert run["status"] == "requires_action" and run["required_action"]["type"] == "submit_tool_approval"
    assert len(fake.requests) == 1


def test_the_recorded_function_round_runs_its_tool_in_one_stream():
    handlers = assistant_stream.Handlers()
    handlers.tool(lambda: {"current_time": "2024-10-10 12:30:19"}, name="fetch_current_datetime_recordings")
    fake = FakeTransport()
    fake.stream("/threads/thread_1/runs", (AZ / "function_requires_action.sse").read_bytes())
    run_id = assistant_stream.replay(AZ / "function_requires_action.sse").until_done()
    path = "/threads/%s/runs/%s/submit_tool_outputs" % (run_id["thread_id"], run_id["id"])
    fake.stream(path, (AZ / "submit_tool_outputs_stream.sse").read_bytes())
    stream = fake.stream_run("thread_1", assistant_id="asst_1", handlers=handlers)
    assert stream.until_done()["status"] == "completed" and stream.text.startswith("It's currently 12:30 PM")
    (_, _, body) = fake.requests[1]
    assert body == {
        "tool_outputs": [{"tool_call_id": "call_Rksj1imNgadFAccoRamVgTZ5", "output": '{"current_time": "2024-10-10 12:30:19"}'}],
        "stream": True,
    }
