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


def _function(name, properties, flat=False):
    spec = {"name": name, "parameters": {"type": "object", "properties": {p: {"type": "string"} for p in properties}}}
    return dict(spec, type="function") if flat else {"type": "function", "function": spec}


@pytest.mark.parametrize(
    "tool, properties, problem",
    [
        (lambda city: city, ["town"], "it has no parameter for 'town'; it needs 'city', which the schema does not give by name"),
        (lambda city, unit="c": city, ["city", "units"], "it has no parameter for 'units'"),
        (lambda city, *, unit: city, ["city"], "it needs 'unit', which the schema does not give by name"),
        (lambda city, /: city, ["city"], "it has no parameter for 'city'; it needs 'city', which the schema does not give by name"),
    ],
)
def test_a_tool_that_does_not_match_its_schema_is_refused_before_anything_is_sent(tool, properties, problem):
    import responses

    handlers = assistant_stream.Handlers()
    handlers.tool(tool, name="get_weather")
    client = assistant_stream.Client(api_key="sk-test", base_url="http://127.0.0.1:9/v1", max_retries=0)
    calls = [
        lambda tools: client.stream_run("thread_1", assistant_id="asst_1", handlers=handlers, tools=tools),
        lambda tools: client.stream_chat(model="m", messages=[], handlers=handlers, tools=tools),
        lambda tools: client.stream_response(model="m", input="hi", handlers=handlers, tools=tools),
    ]
    with responses.RequestsMock() as mock:  # any request would fail the test
        for flat, call in zip([False, False, True], calls):
            with pytest.raises(ValueError) as info:
                call([{"type": "code_interpreter"}, _function("get_weather", properties, flat)])
            assert str(info.value) == "the tool 'get_weather' does not match its schema in tools: " + problem
        assert len(mock.calls) == 0


def test_tools_that_match_their_schema_or_have_none_are_not_refused():
    import responses

    handlers = assistant_stream.Handlers()
    handlers.tool(lambda city, unit="c": city, name="get_weather")
    handlers.tool(lambda **arguments: "", name="anything")
    handlers.tool(lambda *args: "", name="no_arguments")
    tools = [
        _function("get_weather", ["city", "unit"]),
        _function("anything", ["x", "y"]),
        _function("no_arguments", []),
        _function("not_registered", ["x"]),
        {"type": "function", "function": {"name": "no_schema"}},
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},  # any fields
        "not even a dict",
    ]
    client = assistant_stream.Client(api_key="sk-test", base_url="http://127.0.0.1:9/v1", max_retries=0)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "http://127.0.0.1:9/v1/threads/thread_1/runs", status=400, json={"error": {"message": "sent"}})
        with pytest.raises(assistant_stream.BadRequestError, match="sent"):  # the check passed: the request went out
            client.stream_run("thread_1", assistant_id="asst_1", handlers=handlers, tools=tools)


def test_an_event_shows_its_name_and_the_start_of_its_text():
    event = assistant_stream.Event("text.delta", {}, None, "x" * 50, None)
    assert repr(event) == "<Event text.delta %r>" % ("x" * 40)
    assert repr(assistant_stream.Event("thread.run.created", {}, None, None, None)) == "<Event thread.run.created>"
