"""The dispatch table: registration, strictness, resolution and its cache."""

import pytest

import assistant_stream
from conftest import Recorder


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


def test_registration_knows_the_responses_events():
    handlers = assistant_stream.Handlers()
    handlers.on("response.output_text.delta", print)
    handlers.on("response.*", print)
    with pytest.raises(ValueError, match="did you mean 'response.output_text.delta'"):
        handlers.on("response.output_txt.delta", print)


def test_a_callback_that_cannot_take_one_event_is_refused_at_registration():
    handlers = assistant_stream.Handlers()

    def on_text_delta(delta, snapshot):  # the official SDK's style
        pass

    with pytest.raises(TypeError, match=r"on_text_delta\(delta, snapshot\) cannot be called with one argument.*def on_text_delta\(event\)"):
        handlers.on("text.delta", on_text_delta)
    with pytest.raises(TypeError, match="cannot be called with one argument"):
        handlers.on("text.delta")(lambda: None)
    with pytest.raises(TypeError, match="cannot be called with one argument"):
        handlers.on("end", lambda event, *, flag: None)  # a required keyword-only argument
    with pytest.raises(TypeError, match="an approval callback"):
        handlers.approval(lambda: True)
    assert handlers.callbacks("text.delta") == () and handlers.callbacks("end") == ()

    class Printer:
        def show(self, event):
            pass

        def __call__(self, event, extra=None):
            pass

    accepted = [lambda event: None, lambda *args: None, lambda event, snapshot=None: None, Printer().show, Printer(), print]
    for fn in accepted:  # one argument, however it is spelt
        assert handlers.on("end", fn) is fn
    assert handlers.callbacks("end") == tuple(accepted)
