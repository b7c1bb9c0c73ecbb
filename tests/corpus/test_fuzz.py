"""Property tests: any chunking changes nothing; damaged input raises only
documented errors, and never hangs."""

import functools

import pytest

import assistant_stream
from conftest import AZURE, CHAT, FIXTURES, RECORDINGS, trace

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

BODIES = {path.name: path.read_bytes() for path in RECORDINGS + AZURE + CHAT + sorted((FIXTURES / "responses").glob("*.sse"))}
BODIES = {name: body for name, body in BODIES.items() if "error" not in name}  # they end in a StreamError: trace() raises
NAMES = sorted(BODIES)


@functools.lru_cache(maxsize=None)
def expected(name):
    return trace(assistant_stream.replay(BODIES[name]))


def split(body, cuts):
    points = sorted({min(cut, len(body)) for cut in cuts})
    return [body[a:b] for a, b in zip([0, *points], [*points, len(body)])]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(NAMES), cuts=st.lists(st.integers(min_value=0, max_value=30000), max_size=60), crlf=st.booleans())
def test_any_chunking_gives_the_same_events_and_state(name, cuts, crlf):
    body = BODIES[name].replace(b"\n", b"\r\n") if crlf else BODIES[name]
    assert trace(assistant_stream.replay(split(body, cuts))) == expected(name)


MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from(["flip", "delete", "insert", "truncate", "duplicate"]),
        st.integers(min_value=0, max_value=30000),
        st.binary(min_size=1, max_size=12),
    ),
    min_size=1,
    max_size=6,
)
INSERTS = [
    b"\n",
    b"\r",
    b"\n\n",
    b"\xff",
    b"\xef\xbb\xbf",
    b"data: ",
    b"event: error\n",
    b'{"',
    b"]",
    b":",
    b"\x00",
    b"event: done\ndata: [DONE]\n\n",
    b"data: [DONE]\n\n",
    b'data: {"error": {"message": "x"}}\n\n',
    b'"choices": [{"index": -1}]',
]


def mutate(body, mutations, extra):
    data = bytearray(body)
    for kind, where, blob in mutations:
        at = where % (len(data) + 1)
        if kind == "flip" and data:
            data[at % len(data)] ^= blob[0] or 1
        elif kind == "delete":
            del data[at : at + len(blob)]
        elif kind == "insert":
            data[at:at] = blob + extra
        elif kind == "truncate":
            del data[at:]
        elif kind == "duplicate":
            data[at:at] = data[at : at + 64]
    return bytes(data)


@settings(max_examples=400, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(NAMES), mutations=MUTATIONS, extra=st.sampled_from(INSERTS), cuts=st.lists(st.integers(0, 30000), max_size=8))
def test_damaged_streams_raise_only_documented_errors(name, mutations, extra, cuts):
    stream = assistant_stream.replay(split(mutate(BODIES[name], mutations, extra), cuts))
    try:
        observed = trace(stream)  # every event, its snapshot, the final state
    except assistant_stream.AssistantStreamError as error:
        assert error.stream is stream and stream.closed
        # what was received stays readable
        assert isinstance(stream.final_messages(), list) and isinstance(stream.final_run_steps(), list)
        assert isinstance(stream.text, str)
    else:
        assert stream.closed and observed["events"][-1][0] == "end"


@settings(max_examples=200, deadline=2000)
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=10))
def test_arbitrary_bytes_raise_only_documented_errors(data, cuts):
    stream = assistant_stream.replay(split(data, cuts))
    try:
        for event in stream:
            assert event.snapshot is None or isinstance(event.snapshot, (dict, list))
    except assistant_stream.AssistantStreamError:
        assert stream.closed
