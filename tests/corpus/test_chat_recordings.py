"""Chat Completions: every recorded stream (OpenAI, Azure OpenAI, Groq,
Mistral, DeepSeek, OpenRouter, vLLM, Together, Novita, Z.ai, Snowflake),
each with what it must give, whole and in pieces; and the quirks they show."""

import itertools
import json

import pytest

import assistant_stream
from conftest import CHAT, CHUNKINGS, FIXTURES, Recorder, trace

CH = FIXTURES / "chat"


def derived_order(events):
    names = [event.name for event in events if event.name in assistant_stream._DERIVED_EVENTS]
    return [(name, len(list(run))) for name, run in itertools.groupby(names)]


def chunks(name):
    """The recording's chunks, read without the module."""
    return [json.loads(data) for _, data in reference_events_data_only((CH / (name + ".sse")).read_bytes())]


def reference_events_data_only(body):
    """The data-only events (no ``event:`` line), [DONE] aside."""
    named = False
    for line in body.decode("utf-8").split("\n"):
        if line.startswith("event: "):
            named = True
        elif line.startswith("data: ") and line != "data: [DONE]" and not named:
            yield "message", line[6:]
        elif not line:
            named = False


TEXT = [("text.created", 1), ("text.delta", None), ("text.done", 1), ("end", 1)]  # None: the count in the row
# file: (status or error, text length, start, end, text deltas (or the derived order), finish reasons, usage total, tool calls)
EXPECTED = {
    "azuresdk_js_tool_call_prompt_filter": (
        "completed", 0, "", "", [("tool_call.created", 1), ("tool_call.delta", 12), ("tool_call.done", 1), ("end", 1)],
        ["tool_calls"], None, [("get_current_weather", '{\n  "location": "Boston, MA"\n}')],
    ),
    "openaipy_finish_length_max_tokens_1": ("incomplete", 2, '{"', '{"', 1, ["length"], 80, []),
    "openaipy_logprobs_content": ("completed", 4, "Foo!", "Foo!", 2, ["stop"], 11, []),
    "openaipy_logprobs_refusal": ("completed", 0, "", "", [("end", 1)], ["stop"], 91, []),  # a refusal is not text
    "openaipy_n3_choices_include_usage": (
        "completed", 53, '{"city":"San Francisco","', 'ure":65,"units":"f"}',
        [("text.created", 1), ("text.delta", 1), ("text.created", 1), ("text.delta", 1), ("text.created", 1), ("text.delta", 40), ("text.done", 3), ("end", 1)],
        ["stop", "stop", "stop"], 121, [],
    ),
    "openaipy_parallel_tool_calls": (
        "completed", 0, "", "",
        [("tool_call.created", 1), ("tool_call.delta", 12), ("tool_call.created", 1), ("tool_call.delta", 10), ("tool_call.done", 2), ("end", 1)],
        ["tool_calls"], 209,
        [("GetWeatherArgs", '{"city": "Edinburgh", "country": "GB", "units": "c"}'), ("get_stock_price", '{"ticker": "AAPL", "exchange": "NASDAQ"}')],
    ),
    "openaipy_refusal": ("completed", 0, "", "", [("end", 1)], ["stop"], 90, []),
    "openaipy_text_include_usage": ("completed", 159, "I'm unable to provide rea", "te or a weather app.", 30, ["stop"], 44, []),
    "openllmetry_azure_prompt_filter_results": ("completed", 109, "Why did the developer bri", "to trace every step!", 22, ["stop"], None, []),
    "openllmetry_groq_x_groq_usage": ("completed", 277, "A joke about OpenTelemetr", "smile on your face!)", 72, ["stop"], None, []),
    "openllmetry_mistral_usage_in_finish_chunk": ("completed", 297, "Here's a light-hearted jo", "smile to your face.)", 79, ["stop"], 91, []),
    "pydanticai_deepseek_reasoner_reasoning_content": ("completed", 40, "Hello there! \U0001f60a How can I ", "an I help you today?", 11, ["stop"], 218, []),
    "pydanticai_groq_error_event_midstream": (assistant_stream.StreamError, 5, "maybe", "maybe", [("text.created", 1), ("text.delta", 1)], [None], None, []),
    "pydanticai_mistral_magistral_content_parts": ("completed", 607, "To cross the street safel", "ure a safe crossing.", 97, ["stop"], 242, []),
    "pydanticai_novita_role_only_first_delta": ("completed", 5, "Paris", "Paris", 1, ["stop"], 42, []),
    "pydanticai_openai_moderation_after_usage": ("completed", 6, "Paris.", "Paris.", 2, ["stop"], 24, []),
    "pydanticai_openrouter_error_in_chunk": (assistant_stream.StreamError, 0, "", "", [], ["length"], 53, []),
    "pydanticai_openrouter_usage_chunk_after_finish": ("completed", 9, "2 + 2 = 4", "2 + 2 = 4", 2, ["stop"], 79, []),
    "pydanticai_snowflake_empty_id_no_finish_reason": ("completed", 1, "4", "4", 1, [None], 27, []),
    "pydanticai_together_role_every_chunk": ("completed", 4002, "<think>\nOkay, the user as", "ld save your life! \U0001f31f", 951, ["stop"], 965, []),
    "pydanticai_vllm_crusoe_usage_chunk": ("completed", 13, "1, 2, 3, 4, 5", "1, 2, 3, 4, 5", 13, ["stop"], 60, []),
    "pydanticai_zai_glm_no_finish_reason_key": ("completed", 1, "4", "4", 1, ["stop"], 577, []),
}  # fmt: skip


def test_every_chat_recording_has_its_expectations():
    assert sorted(path.stem for path in CHAT) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_chat_recording_replays_as_expected(name):
    status, length, start, end, order, reasons, usage, calls = EXPECTED[name]
    handlers = assistant_stream.Handlers()
    seen = handlers.on("*", Recorder())
    stream = assistant_stream.replay(CH / (name + ".sse"), handlers)
    if isinstance(status, str):
        assert stream.until_done()["object"] == "chat.completion" and stream.status == status
    else:
        with pytest.raises(status):
            stream.until_done()
    assert len(stream.text) == length and stream.text.startswith(start) and stream.text.endswith(end)
    expected_order = order if isinstance(order, list) else [(n, order if c is None else c) for n, c in TEXT]
    assert derived_order(seen.events) == expected_order
    final = stream._acc.final()
    assert [choice["finish_reason"] for choice in final["choices"]] == reasons
    assert (final["usage"] or {}).get("total_tokens") == usage
    got = [
        (c["function"]["name"], c["function"]["arguments"])
        for choice in final["choices"]
        for c in choice["message"].get("tool_calls") or ()
    ]
    assert got == calls
    assert seen.names.count("chat.completion.chunk") == len(chunks(name))  # every chunk reaches '*', under one name


@pytest.mark.parametrize("path", CHAT, ids=[path.stem for path in CHAT])
@pytest.mark.parametrize("chunking", sorted(CHUNKINGS))
def test_chunking_and_line_endings_change_nothing(path, chunking):
    body = path.read_bytes()

    def observed(source):
        stream = assistant_stream.replay(source)
        try:
            return trace(stream)
        except assistant_stream.StreamError as error:
            return ("error", str(error), stream.text, stream._acc.final())

    assert observed(CHUNKINGS[chunking](body)) == observed(body)


@pytest.mark.parametrize("name", sorted(name for name, row in EXPECTED.items() if isinstance(row[0], str)))
def test_joined_text_deltas_equal_the_final_content_of_each_choice(name):
    handlers = assistant_stream.Handlers()
    joined = {}
    handlers.on("text.delta", lambda event: joined.setdefault(event.data.get("index", 0), []).append(event.text))
    final = assistant_stream.replay(CH / (name + ".sse"), handlers).until_done()
    for choice in final["choices"]:
        assert "".join(joined.get(choice["index"], [])) == (choice["message"]["content"] or "")


# -- the quirks, each in the recording that shows it ------------------------------------------


def final_of(name):
    return assistant_stream.replay(CH / (name + ".sse")).until_done()


def test_the_final_object_is_shaped_as_the_api_returns_it():
    final = final_of("openaipy_text_include_usage")
    assert sorted(final) == ["choices", "created", "id", "model", "object", "system_fingerprint", "usage"]
    (choice,) = final["choices"]
    assert sorted(choice) == ["finish_reason", "index", "logprobs", "message"]
    assert choice["message"] == {"role": "assistant", "content": choice["message"]["content"], "refusal": None}
    assert final["usage"] == chunks("openaipy_text_include_usage")[-1]["usage"]


def test_azures_filter_chunk_and_filter_results_are_kept():
    stream = assistant_stream.replay(CH / "openllmetry_azure_prompt_filter_results.sse")
    final = stream.until_done()
    first = chunks("openllmetry_azure_prompt_filter_results")[0]
    assert first["object"] == "" and first["choices"] == [] and final["prompt_filter_results"] == first["prompt_filter_results"]
    assert final["id"].startswith("chatcmpl-") and final["model"] == "gpt-4.1-mini-2025-04-14"  # not the filter chunk's ""
    assert "content_filter_results" in final["choices"][0]


def test_the_first_finish_reason_stays():
    # OpenRouter: after the finish chunk, a usage chunk whose choice says finish_reason null.
    assert final_of("pydanticai_openrouter_usage_chunk_after_finish")["choices"][0]["finish_reason"] == "stop"


def test_an_error_inside_a_chunk_keeps_what_the_chunk_carried():
    handlers = assistant_stream.Handlers()
    errors = handlers.on("error", Recorder())
    stream = assistant_stream.replay(CH / "pydanticai_openrouter_error_in_chunk.sse", handlers)
    with pytest.raises(assistant_stream.StreamError, match=r"\(400\): Token limit reached") as info:
        stream.until_done()
    assert info.value.error["error"] == {"code": 400, "message": "Token limit reached"} and len(errors.events) == 1
    assert stream._acc.final()["usage"]["total_tokens"] == 53  # the failing chunk's usage is not lost


def test_logprobs_are_appended_chunk_by_chunk():
    final = final_of("openaipy_logprobs_content")
    tokens = [
        token["token"]
        for chunk in chunks("openaipy_logprobs_content")
        for choice in chunk["choices"]
        for token in (choice.get("logprobs") or {}).get("content") or ()
    ]
    assert [token["token"] for token in final["choices"][0]["logprobs"]["content"]] == tokens == ["Foo", "!"]
    refusal = final_of("openaipy_logprobs_refusal")["choices"][0]
    assert "".join(token["token"] for token in refusal["logprobs"]["refusal"]) == refusal["message"]["refusal"]


def test_a_refusal_is_joined_and_is_not_text():
    final = final_of("openaipy_refusal")
    message = final["choices"][0]["message"]
    assert message["content"] is None and message["refusal"].startswith("I'm sorry")


def test_reasoning_is_joined_apart_from_the_reply():
    message = final_of("pydanticai_deepseek_reasoner_reasoning_content")["choices"][0]["message"]
    expected = "".join(
        c["choices"][0]["delta"].get("reasoning_content") or ""
        for c in chunks("pydanticai_deepseek_reasoner_reasoning_content")
        if c["choices"]
    )
    assert message["reasoning_content"] == expected and len(expected) > 100
    assert message["content"] == "Hello there! \U0001f60a How can I help you today?"


def test_content_given_as_parts_keeps_its_text_parts_only():
    stream = assistant_stream.replay(CH / "pydanticai_mistral_magistral_content_parts.sse")
    content = stream.until_done()["choices"][0]["message"]["content"]
    strings = "".join(
        c["choices"][0]["delta"]["content"]
        for c in chunks("pydanticai_mistral_magistral_content_parts")
        if c["choices"] and type(c["choices"][0]["delta"].get("content")) is str
    )
    assert content == strings == stream.text  # the thinking parts are the raw chunks', not the reply's


@pytest.mark.parametrize("name", ["pydanticai_together_role_every_chunk", "pydanticai_novita_role_only_first_delta"])
def test_the_role_once_or_in_every_delta(name):
    assert final_of(name)["choices"][0]["message"]["role"] == "assistant"


def test_without_any_finish_reason_done_finishes_the_choice():
    handlers = assistant_stream.Handlers()
    seen = handlers.on("text.done", Recorder())
    stream = assistant_stream.replay(CH / "pydanticai_snowflake_empty_id_no_finish_reason.sse", handlers)
    final = stream.until_done()
    assert stream.status == "completed" and final["choices"][0]["finish_reason"] is None and [e.text for e in seen.events] == ["4"]
    assert final["id"] is None  # the server's id was ""
