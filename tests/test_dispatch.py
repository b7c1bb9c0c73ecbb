"""The dispatch table: names, patterns, order, strictness, caching."""

import pytest

import assistant_stream
from conftest import RECORDINGS, Recorder

PLAIN = next(p for p in RECORDINGS if p.name == "dotnet_v2_plain_text_run.sse").read_bytes()
CODE = next(p for p in RECORDINGS if p.name == "openllmetry_v2_code_interpreter_run.sse").read_bytes()


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


def test_on_returns_the_function_unchanged_with_or_without_the_decorator():
    handlers = assistant_stream.Handlers()

    def f(event):
        pass

    assert handlers.on("end", f) is f
    assert handlers.on("end")(f) is f

    @handlers.on("text.delta")
    def g(event):
        pass

    assert g.__name__ == "g"
    assert handlers.callbacks("end") == (f, f)


@pytest.mark.parametrize(
    "name, suggestion",
    [
        ("mesage.delta", "message.delta"),
        ("thread.message.deltas", "thread.message.delta"),
        ("text_delta", "text.delta"),
        ("thread.run.complete", "thread.run.completed"),
        ("tool_call.finished", "tool_call."),
    ],
)
def test_unknown_names_are_refused_with_the_closest_match(name, suggestion):
    with pytest.raises(ValueError) as info:
        assistant_stream.Handlers().on(name, print)
    assert repr(name) in str(info.value)
    assert "did you mean '%s" % suggestion in str(info.value)


def test_a_pattern_that_matches_nothing_is_refused():
    with pytest.raises(ValueError, match="matches no event"):
        assistant_stream.Handlers().on("thread.rn.*", print)


def test_misuse_is_a_type_error():
    handlers = assistant_stream.Handlers()
    with pytest.raises(TypeError):
        handlers.on("end", "not callable")
    with pytest.raises(TypeError):
        handlers.on(42, print)


def test_resolution_is_cached_until_the_table_changes():
    handlers = assistant_stream.Handlers()
    first = handlers.on("run.*", Recorder())
    resolved = handlers.callbacks("thread.run.created")
    assert resolved == (first,)
    assert handlers.callbacks("thread.run.created") is resolved  # a dict lookup, no pattern scan
    second = handlers.on("*", Recorder())
    assert handlers.callbacks("thread.run.created") == (first, second)


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
    for event in assistant_stream.replay(PLAIN, handlers):
        assert seen.events[-1] is event
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
    for event in stream:
        if event.name == "text.delta":
            break
    assert closed == [True] and stream.closed
    assert stream.text == "Hello"


def test_text_deltas_yields_the_fragments():
    stream = assistant_stream.replay(PLAIN)
    fragments = list(stream.text_deltas())
    assert len(fragments) == 33
    assert "".join(fragments) == stream.text == stream.final_messages()[0]["content"][0]["text"]["value"]
