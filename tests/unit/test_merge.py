"""The pure merge: deltas into plain dicts, text kept as fragments."""

import copy

import pytest

from assistant_stream import _Fragments, _slot
from assistant_stream import _merge as merge
from assistant_stream import _merge_entry as merge_entry
from assistant_stream import _snapshot as snapshot


def text(index, value, annotations=None):
    part = {"index": index, "type": "text", "text": {"value": value}}
    if annotations is not None:
        part["text"]["annotations"] = annotations
    return part


def test_merge_appends_text_and_replaces_scalars():
    acc = {}
    merge(acc, {"content": [text(0, "Hel", [])]})
    merge(acc, {"content": [text(0, "lo", [])], "role": "assistant"})
    assert snapshot(acc) == {"content": [{"index": 0, "type": "text", "text": {"value": "Hello", "annotations": []}}], "role": "assistant"}


def test_merge_keeps_annotations_by_index_and_empty_lists_never_erase():
    citation = {
        "index": 0,
        "type": "file_citation",
        "text": "[1]",
        "start_index": 5,
        "end_index": 8,
        "file_citation": {"file_id": "file-1"},
    }
    acc = {}
    merge(acc, {"content": [text(0, "Look ", [])]})
    merge(acc, {"content": [text(0, "[1]", [citation])]})
    merge(acc, {"content": [text(0, ".", [])]})
    merge(acc, {"content": [text(0, "", [{"index": 0, "file_citation": {"quote": "q"}}])]})
    got = snapshot(acc)["content"][0]["text"]
    assert got["value"] == "Look [1]."
    assert got["annotations"] == [dict(citation, file_citation={"file_id": "file-1", "quote": "q"})]


def test_merge_joins_function_arguments_and_code_interpreter_logs():
    acc = {}
    merge(
        acc, {"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "", "output": None}}]}
    )
    merge(acc, {"tool_calls": [{"index": 0, "type": "function", "function": {"arguments": '{"a":'}}]})
    merge(acc, {"tool_calls": [{"index": 0, "type": "function", "function": {"arguments": " 1}"}}]})
    merge(
        acc,
        {"tool_calls": [{"index": 1, "id": "call_2", "type": "code_interpreter", "code_interpreter": {"input": "print(", "outputs": []}}]},
    )
    merge(
        acc,
        {
            "tool_calls": [
                {
                    "index": 1,
                    "type": "code_interpreter",
                    "code_interpreter": {"input": "1)", "outputs": [{"index": 0, "type": "logs", "logs": "1"}]},
                }
            ]
        },
    )
    merge(
        acc,
        {
            "tool_calls": [
                {"index": 1, "type": "code_interpreter", "code_interpreter": {"outputs": [{"index": 0, "type": "logs", "logs": "\n"}]}}
            ]
        },
    )
    merge(
        acc,
        {
            "tool_calls": [
                {
                    "index": 1,
                    "type": "code_interpreter",
                    "code_interpreter": {"outputs": [{"index": 1, "type": "image", "image": {"file_id": "file-png"}}]},
                }
            ]
        },
    )
    got = snapshot(acc)["tool_calls"]
    assert got[0]["function"] == {"name": "f", "arguments": '{"a": 1}', "output": None}
    assert got[1]["code_interpreter"]["input"] == "print(1)"
    assert got[1]["code_interpreter"]["outputs"] == [
        {"index": 0, "type": "logs", "logs": "1\n"},
        {"index": 1, "type": "image", "image": {"file_id": "file-png"}},
    ]


def test_merge_joins_refusals_and_keeps_image_parts():
    acc = {}
    merge(acc, {"content": [{"index": 0, "type": "refusal", "refusal": "I can't"}]})
    merge(acc, {"content": [{"index": 0, "type": "refusal", "refusal": " help."}]})
    merge(acc, {"content": [{"index": 1, "type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "auto"}}]})
    merge(acc, {"content": [{"index": 2, "type": "image_file", "image_file": {"file_id": "file-1"}}]})
    got = snapshot(acc)["content"]
    assert got[0]["refusal"] == "I can't help."
    assert got[1]["image_url"]["url"] == "https://x/y.png"
    assert got[2]["image_file"] == {"file_id": "file-1"}


def test_merge_does_not_touch_the_delta():
    item = text(0, "Hi", [])
    frozen = copy.deepcopy(item)
    acc = {}
    merge(acc, {"content": [item]})
    merge(acc, {"content": [text(0, " there", [])]})
    assert item == frozen


def test_a_snapshot_is_a_copy():
    acc = merge({}, {"content": [text(0, "Hi", [])]})
    snap = snapshot(acc)
    snap["content"][0]["text"]["value"] = "changed"
    assert snapshot(acc)["content"][0]["text"]["value"] == "Hi"


def test_a_negative_or_non_integer_index_is_malformed():
    with pytest.raises(ValueError):
        merge({"content": []}, {"content": [{"index": -1, "type": "text"}]})
    with pytest.raises(ValueError):
        merge_entry([], {"index": "0", "type": "text"})


def test_fragments_fold_every_256_and_join_to_the_text():
    acc = {}
    for n in range(600):
        merge(acc, {"value": "%d," % n})
    assert type(acc["value"]) is _Fragments and len(acc["value"]) < 256 and len(acc["value"].pieces) == 2
    assert snapshot(acc) == {"value": "".join("%d," % n for n in range(600))}


def test_a_slot_is_an_existing_entry_or_the_next_one():
    entries = [{"a": 1}]
    assert _slot(entries, 0) is entries[0]
    assert _slot(entries, 1) == {} and len(entries) == 2
    for bad in (3, -1, "0", None):
        with pytest.raises(ValueError):
            _slot(entries, bad)
    with pytest.raises(TypeError):
        _slot(["text"], 0)
