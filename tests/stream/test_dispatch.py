"""The stream's dispatch: names, order, iteration, callbacks that raise,
malformed events; replayed, so no socket is involved."""

import pytest

import assistant_stream
from conftest import FINISHED, RECORDINGS, RUN, Recorder, event, play, response, sse

PLAIN = next(p for p in RECORDINGS if p.name == "dotnet_v2_plain_text_run.sse").read_bytes()
CODE = next(p for p in RECORDINGS if p.name == "openllmetry_v2_code_interpreter_run.sse").read_bytes()


def delta(value, index=0):
    part = {"index": index, "type": "text", "text": {"value": value}}
    return sse("thread.message.delta", {"id": "msg_1", "object": "thread.message.delta", "delta": {"content": [part]}})


def run_with(body, **registrations):
    handlers = assistant_stream.Handlers()
    recorders = {}
    for key, name in registrations.items():
        recorders[key] = handlers.on(name, Recorder())
    assistant_stream.replay(body, handlers).until_done()
    return recorders


def test_exact_and_short_names_are_the_same_event():
    got = run_with(PLAIN, full="thread.message.delta", short="message.delta")
    assert len(got["full"].events) == 33
    assert got["full"].names == got["short"].names == ["thread.message.delta"] * 33
    got = run_with(CODE, step="step.delta", run_step="run.step.delta", created="run.created")
    assert got["step"].names == got["run_step"].names
    assert set(got["step"].names) == {"thread.run.step.delta"}
    assert got["created"].names == ["thread.run.created"]


def test_patterns_match_full_names_and_star_matches_everything():
    got = run_with(CODE, runs="thread.run.*", short_runs="run.*", steps="step.*", star="*", text="text.*")
    everything = got["star"].names
    assert everything[-1] == "end"
    assert got["runs"].names == got["short_runs"].names == [n for n in everything if n.startswith("thread.run.")]
    assert got["steps"].names == [n for n in everything if n.startswith("thread.run.step.")]
    assert got["text"].names == [n for n in everything if n.startswith("text.")]
    assert {"done", "thread.message.delta", "tool_call.delta", "text.delta"} <= set(everything)


def test_derived_events_come_after_the_api_event_that_causes_them():
    got = run_with(PLAIN, star="*")
    names = got["star"].names
    first_delta = names.index("thread.message.delta")
    assert names[first_delta : first_delta + 3] == ["thread.message.delta", "text.created", "text.delta"]
    completed = names.index("thread.message.completed")
    assert names[completed + 1] == "text.done"
    assert names.count("text.created") == names.count("text.done") == 1
    assert names.count("text.delta") == 33
    assert names[-2:] == ["done", "end"]


def test_callbacks_run_in_registration_order_across_exact_and_pattern_names():
    calls = []
    handlers = assistant_stream.Handlers()
    handlers.on("*", lambda e: calls.append(("star", e.name)))
    handlers.on("thread.run.completed", lambda e: calls.append(("exact", e.name)))
    handlers.on("run.*", lambda e: calls.append(("pattern", e.name)))
    handlers.on("run.completed", lambda e: calls.append(("short", e.name)))
    assistant_stream.replay(PLAIN, handlers).until_done()
    assert [who for who, name in calls if name == "thread.run.completed"] == ["star", "exact", "pattern", "short"]


def test_a_callback_registered_during_dispatch_applies_from_the_next_event():
    handlers = assistant_stream.Handlers()
    late = Recorder()

    @handlers.on("run.queued")
    def register(event):
        handlers.on("run.*", late)

    assistant_stream.replay(PLAIN, handlers).until_done()
    assert late.names[0] == "thread.run.in_progress"
    assert late.names[-1] == "thread.run.completed"
    assert "thread.run.queued" not in late.names


def test_one_table_serves_interleaved_streams():
    handlers = assistant_stream.Handlers()
    by_stream = {}
    handlers.on("text.delta", lambda e: by_stream.setdefault(id(e.stream), []).append(e.text))
    first, second = assistant_stream.replay(PLAIN, handlers), assistant_stream.replay(CODE, handlers)
    pending = [iter(first), iter(second)]
    while pending:  # one event from each in turn
        for events in list(pending):
            if next(events, None) is None:
                pending.remove(events)
    assert "".join(by_stream[id(first)]) == first.text
    assert "".join(by_stream[id(second)]) == second.text
    assert first.text != second.text


def test_stream_callbacks_run_after_the_shared_tables():
    calls = []
    handlers = assistant_stream.Handlers()
    handlers.on("end", lambda e: calls.append("shared"))
    stream = assistant_stream.replay(PLAIN, handlers)
    assert stream.on("end", lambda e: calls.append("own")) is not None
    stream.until_done()
    assert calls == ["shared", "own"]
    assert handlers.callbacks("end")  # the stream's callback did not leak into the table
    assert len(handlers.callbacks("end")) == 1


def test_iteration_yields_each_event_after_its_callbacks_ran():
    handlers = assistant_stream.Handlers()
    seen = handlers.on("*", Recorder())
    for got in assistant_stream.replay(PLAIN, handlers):
        assert seen.events[-1] is got
    assert seen.names[-1] == "end"


def test_a_callback_that_raises_propagates_closes_and_keeps_the_state():
    closed = []

    def chunks():
        try:
            for i in range(0, len(PLAIN), 500):
                yield PLAIN[i : i + 500]
        finally:
            closed.append(True)

    handlers = assistant_stream.Handlers()
    count = []

    @handlers.on("text.delta")
    def boom(event):
        count.append(event.text)
        if len(count) == 5:
            raise RuntimeError("callback failed")

    stream = assistant_stream.replay(chunks(), handlers)
    with pytest.raises(RuntimeError, match="callback failed"):
        stream.until_done()
    assert closed == [True]
    assert stream.closed and not stream.finished
    assert stream.text == "".join(count)
    assert stream.current_message["content"][0]["text"]["value"] == stream.text
    assert stream.until_done()["status"] == "in_progress"  # a closed stream returns what it has


def test_breaking_out_of_iteration_closes_the_stream():
    closed = []

    def chunks():
        try:
            yield PLAIN
        finally:
            closed.append(True)

    stream = assistant_stream.replay(chunks())
    for got in stream:
        if got.name == "text.delta":
            break
    assert closed == [True] and stream.closed
    assert stream.text == "Hello"


def test_text_deltas_yields_the_fragments():
    stream = assistant_stream.replay(PLAIN)
    fragments = list(stream.text_deltas())
    assert len(fragments) == 33
    assert "".join(fragments) == stream.text == stream.final_messages()[0]["content"][0]["text"]["value"]


# -- events and their payloads ------------------------------------------------------


def test_event_data_is_the_payload_and_snapshot_the_accumulation():
    stream, seen, final = play(delta("Hel"), delta("lo"), FINISHED)
    deltas = [e for e in seen.events if e.name == "text.delta"]
    assert [e.data for e in deltas] == [{"index": 0, "type": "text", "text": {"value": v}} for v in ("Hel", "lo")]
    assert deltas[-1].snapshot == {"value": "Hello"}
    message_delta = next(e for e in seen.events if e.name == "thread.message.delta")
    assert message_delta.data["delta"]["content"][0]["text"]["value"] == "Hel"


def test_a_stream_callback_registered_in_a_callback_sees_the_derived_events_that_follow():
    handlers = assistant_stream.Handlers()
    stream = assistant_stream.replay(delta("Hi") + delta("!") + delta("?") + FINISHED, handlers)
    seen = Recorder()

    @handlers.on("message.delta")
    def register_late(event):  # by the second delta, "text.delta" is already resolved and cached
        if event.data["delta"]["content"][0]["text"]["value"] == "!":
            stream.on("text.delta", seen)

    stream.until_done()
    assert [e.text for e in seen.events] == ["!", "?"]


# -- malformed events ---------------------------------------------------------------


def test_a_run_payload_without_a_status_is_malformed():
    with pytest.raises(assistant_stream.ProtocolError, match="malformed 'thread.run.created'"):
        assistant_stream.replay(sse("thread.run.created", {"id": "run_1"})).until_done()


def test_a_non_integer_index_is_malformed():
    body = delta("x", index="0")
    with pytest.raises(assistant_stream.ProtocolError, match="malformed"):
        assistant_stream.replay(body).until_done()


@pytest.mark.parametrize(
    "bad",
    [
        event("response.output_text.delta", item_id="m", output_index=10**9, content_index=0, delta="x"),
        event("response.output_text.delta", item_id="m", output_index=0, content_index=0, delta=42),
        event("response.in_progress", response={"id": "r"}),  # (a final event's name gives the status it leaves out)
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


@pytest.mark.parametrize(
    "spoof", [b"event: end\ndata: {}\n\n", b'data: {"type": "end"}\n\n', b'event: text.delta\ndata: {"text": "x"}\n\n']
)
def test_the_server_cannot_send_an_event_the_library_derives(spoof):
    # end, text.delta, ... are the library's promises (end: finished normally);
    # a server that sends one is not speaking the protocol.
    handlers = assistant_stream.Handlers()
    ends, texts = handlers.on("end", Recorder()), handlers.on("text.delta", Recorder())
    stream = assistant_stream.replay(sse("thread.run.in_progress", RUN) + spoof + FINISHED, handlers)
    with pytest.raises(assistant_stream.ProtocolError, match="an event named '(end|text.delta)'"):
        stream.until_done()
    assert ends.events == texts.events == [] and stream.status == "in_progress" and stream.closed


@pytest.mark.parametrize(
    "names, warned",
    [
        (["response.output_text.delta", "text.delta"], ["response.output_text.delta"]),  # written for Responses
        (["response.*", "chat.completion.chunk"], ["response.*", "chat.completion.chunk"]),
        (["response.completed", "thread.run.completed"], []),  # written for both: the run's callbacks run
        (["response.completed", "run.*"], []),
        (["text.delta", "end", "error"], []),  # derived and shared names belong to every API
        (["*"], []),
    ],
)
def test_a_table_written_for_another_api_is_named_in_one_warning_per_stream(caplog, names, warned):
    handlers = assistant_stream.Handlers()
    for name in names:
        handlers.on(name, Recorder())
    body = sse("thread.run.created", RUN) + FINISHED
    with caplog.at_level("WARNING", logger="assistant_stream"):
        for _ in range(2):
            assistant_stream.replay(body, handlers=handlers).until_done()
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    if warned:
        assert len(warnings) == 2  # once per stream, not per event
        assert warnings[0] == "callbacks for %s will not run: this stream is a run, whose API sends no such event" % ", ".join(
            repr(name) for name in warned
        )
    else:
        assert warnings == []
