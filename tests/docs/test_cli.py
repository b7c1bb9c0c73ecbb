"""The command line: assistant-stream run / replay."""

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import assistant_stream
from assistant_stream import main
from conftest import API_KEY, FIXTURES, ROOT, new_thread, sse
from emulator import steer

PLAIN = str(FIXTURES / "dotnet_v2_plain_text_run.sse")
PLAIN_TEXT = "Hello! I'm just a program, so I don't have feelings, but I'm here and ready to help you with whatever you need. How can I assist you today?"


@pytest.fixture
def cli_env(monkeypatch, emulator):
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.base_url)
    return emulator


def test_replay_prints_the_text(capsys):
    assert main(["replay", PLAIN]) == 0
    out, err = capsys.readouterr()
    assert out == PLAIN_TEXT + "\n"
    assert err == "run run_Uy45lNz2P7BpJcqWzQkXl1Bu: completed\n"


def test_replay_events_prints_one_line_per_event(capsys):
    assert main(["replay", "--events", PLAIN]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(list(assistant_stream.replay(PLAIN)))
    first = next(iter(assistant_stream.replay(PLAIN)))
    assert lines[0].split() == ["thread.run.created", "run_Uy45lNz2P7BpJcqWzQkXl1Bu", str(len(json.dumps(first.data))), "B"]
    first_delta = next(line for line in lines if line.startswith("text.delta"))
    assert first_delta.endswith("'Hello'")
    assert lines[-1].startswith("end ")


def test_replay_of_a_response_recording(capsys):
    recording = FIXTURES / "responses" / "openllmetry_responses_text_stream.sse"
    final = assistant_stream.replay(recording).final_response()
    assert main(["replay", str(recording)]) == 0
    out, err = capsys.readouterr()
    assert out == final["output"][0]["content"][0]["text"] + "\n"
    assert err == "response %s: completed\n" % final["id"]


def test_event_lines_name_what_a_response_delta_is_about(capsys):
    recording = FIXTURES / "responses" / "openllmetry_responses_text_stream.sse"
    item_id = assistant_stream.replay(recording).final_response()["output"][0]["id"]
    assert main(["replay", "--events", str(recording)]) == 0
    deltas = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("response.output_text.delta")]
    assert len(deltas) == 78 and all(fields[1] == item_id for fields in deltas)


def test_an_event_line_copies_nothing():
    # --events ran in time quadratic in the text: each line took a snapshot.
    source = {"id": "msg_1", "content": [{"type": "output_text", "text": "x" * 100000}]}
    event = assistant_stream.Event("text.delta", {"type": "output_text"}, None, "x", source)
    assert assistant_stream._event_line(event).split()[:2] == ["text.delta", "msg_1"]
    assert event._snapshot is assistant_stream._UNREAD


def test_replay_without_a_speed_never_sleeps(capsys, monkeypatch):
    sleeps = []
    monkeypatch.setattr(assistant_stream.time, "sleep", sleeps.append)
    assert main(["replay", PLAIN]) == 0 and sleeps == []


def test_replay_paces_the_events_as_received(capsys, monkeypatch):
    sleeps = []
    monkeypatch.setattr(assistant_stream.time, "sleep", sleeps.append)
    assert main(["replay", "--speed", "20", PLAIN]) == 0
    received = open(PLAIN).read().count("\ndata:")  # one data line per event in this recording
    everything = len(list(assistant_stream.replay(PLAIN)))  # and the events derived from them
    assert len(sleeps) == received < everything and set(sleeps) == {0.05}


def test_run_streams_from_the_server(cli_env, capsys):
    assert main(["run", "--assistant", "asst_1", "--message", "from the command line"]) == 0
    out, err = capsys.readouterr()
    assert out == "Hello from the emulator! You said: from the command line\n"
    assert err.startswith("run run_") and err.endswith(": completed\n")


USER_SAYS = [{"role": "user", "content": "exactly this"}]


@pytest.mark.parametrize(
    "arguments, path, body",
    [
        ([], "/v1/threads/runs", {"assistant_id": "asst_1", "thread": {"messages": USER_SAYS}, "stream": True}),
        (
            ["--thread", "{thread}"],
            "/v1/threads/{thread}/runs",
            {"assistant_id": "asst_1", "additional_messages": USER_SAYS, "stream": True},
        ),
        (
            ["--chat", "--model", "emulator-1"],
            "/v1/chat/completions",
            {"model": "emulator-1", "messages": USER_SAYS, "stream": True, "stream_options": {"include_usage": True}},
        ),
        (["--responses", "--model", "emulator-1"], "/v1/responses", {"model": "emulator-1", "input": "exactly this", "stream": True}),
    ],
    ids=["thread and run", "on a thread", "chat", "responses"],
)
def test_run_sends_exactly_the_request_the_api_takes(cli_env, capsys, client, arguments, path, body):
    thread_id = new_thread(client)
    arguments = [a.format(thread=thread_id) for a in arguments]
    if "--model" not in arguments:
        arguments += ["--assistant", "asst_1"]
    before = len(cli_env.calls)
    assert main(["run", *arguments, "--message", "exactly this"]) == 0
    assert capsys.readouterr().out == "Hello from the emulator! You said: exactly this\n"
    (call,) = cli_env.calls[before:]
    assert (call.method, call.path, call.body) == ("POST", path.format(thread=thread_id), body)
    assert call.headers["Content-Type"] == "application/json" and call.headers["Accept"] == "text/event-stream"


def test_run_chat_streams_a_chat_completion_and_replays_it(cli_env, capsys, tmp_path):
    record = str(tmp_path / "chat.sse")
    assert main(["run", "--chat", "--model", "emulator-1", "--message", "chatting", "--record", record]) == 0
    out, err = capsys.readouterr()
    assert out == "Hello from the emulator! You said: chatting\n"
    assert err.startswith("completion chatcmpl_") and err.endswith(": completed\n")
    assert main(["replay", record]) == 0
    assert capsys.readouterr() == (out, err)
    assert main(["run", "--chat", "--model", "emulator-1", "--message", "x", "--recover"]) == 2
    assert "recover= is not possible for chat completions" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, status, code", [("openaipy_text_include_usage", "completed", 0), ("openaipy_finish_length_max_tokens_1", "incomplete", 1)]
)
def test_replay_of_a_chat_recording(capsys, name, status, code):
    recording = FIXTURES / "chat" / (name + ".sse")
    final = assistant_stream.replay(recording).final_chat_completion()
    assert main(["replay", str(recording)]) == code
    out, err = capsys.readouterr()
    assert out == final["choices"][0]["message"]["content"] + "\n" and err == "completion %s: %s\n" % (final["id"], status)


def test_run_on_a_thread_with_a_recording(cli_env, capsys, tmp_path, client):
    thread_id = new_thread(client, "first")
    record = str(tmp_path / "run.sse")
    assert main(["run", "--assistant", "asst_1", "--thread", thread_id, "--message", "second", "--record", record]) == 0
    assert capsys.readouterr().out == "Hello from the emulator! You said: second\n"
    assert main(["replay", record]) == 0
    assert capsys.readouterr().out == "Hello from the emulator! You said: second\n"


@pytest.fixture
def run_metadata(monkeypatch):
    """Run metadata for the emulator, which the command line has no option for."""

    def use(metadata):
        original = assistant_stream.Client.stream_run
        monkeypatch.setattr(assistant_stream.Client, "stream_run", lambda self, *a, **k: original(self, *a, metadata=metadata, **k))

    return use


@pytest.mark.parametrize(
    "arguments, metadata, code, shown",
    [
        (["--thread", "thread_missing"], None, 5, "NotFoundError: 404"),
        (["--thread", "a/b"], None, 2, "invalid thread id"),
        (["--timeout", "0.3"], steer(stall=(9, 1.5)), 4, "APITimeoutError"),
        ([], steer(status="expired"), 1, ": expired"),
    ],
)
def test_run_outcomes_have_their_exit_codes(cli_env, capsys, client, run_metadata, arguments, metadata, code, shown):
    if metadata:
        run_metadata(metadata)
        arguments = ["--thread", new_thread(client), *arguments]
    assert main(["run", "--assistant", "asst_1", *arguments]) == code
    assert shown in capsys.readouterr().err


def test_a_server_that_is_not_there_is_one_readable_line(monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    assert main(["run", "--assistant", "asst_1", "--base-url", "http://127.0.0.1:9/v1"]) == 3
    assert (
        capsys.readouterr().err
        == "assistant-stream: APIConnectionError: POST http://127.0.0.1:9/v1/threads/runs failed: Connection refused\n"
    )
    assert main(["run", "--assistant", "asst_1", "--base-url", "http://nonexistent.invalid/v1"]) == 3
    err = capsys.readouterr().err
    assert err.startswith(
        "assistant-stream: APIConnectionError: POST http://nonexistent.invalid/v1/threads/runs failed: the host name could not be resolved ("
    )
    assert err.count("\n") == 1 and "Pool" not in err and "Error(" not in err


def test_a_base_url_without_a_scheme_is_misuse_with_the_fix(monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    assert main(["run", "--assistant", "asst_1", "--base-url", "localhost:8000/v1"]) == 2
    assert capsys.readouterr().err == (
        "assistant-stream: the base URL 'localhost:8000/v1' is not an http:// or https:// URL (write it as http://localhost:8000/v1)\n"
    )


def test_a_404_on_a_base_url_without_v1_gets_a_hint(cli_env, capsys):
    root = cli_env.base_url[: -len("/v1")]
    assert main(["run", "--assistant", "asst_1", "--base-url", root]) == 5
    assert capsys.readouterr().err.endswith(" (the base URL has no path: most servers want /v1 at its end)\n")
    assert main(["run", "--assistant", "asst_1", "--base-url", root + "/v2"]) == 5  # a path of its own: no guess
    assert "most servers want /v1" not in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out == "assistant-stream %s\n" % assistant_stream.__version__


def test_run_responses_streams_a_response(cli_env, capsys):
    assert main(["run", "--responses", "--model", "emulator-1", "--message", "responding"]) == 0
    out, err = capsys.readouterr()
    assert out == "Hello from the emulator! You said: responding\n"
    assert err.startswith("response resp_") and err.endswith(": completed\n")
    assert cli_env.calls[-1].body["input"] == "responding" and cli_env.calls[-1].body["model"] == "emulator-1"


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "it is empty"),
        (b"\n \n", "it is empty"),
        (__import__("gzip").compress(open(PLAIN, "rb").read()), "it is gzip-compressed (gunzip it first)"),
        (b"# A README\n\nSome prose.\n\nMore prose.\n", "no event in it (an event stream is lines like"),
    ],
    ids=["empty", "blank", "gzip", "prose"],
)
def test_a_file_that_is_not_an_event_stream_says_so(tmp_path, capsys, content, reason):
    path = tmp_path / "not.sse"
    path.write_bytes(content)
    assert main(["replay", str(path)]) == 2
    assert capsys.readouterr().err.startswith("assistant-stream: %s is not an event stream: %s" % (path, reason))


def test_no_key_is_misuse(monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["run", "--assistant", "asst_1"]) == 2
    assert "OPENAI_API_KEY" in capsys.readouterr().err


@pytest.mark.parametrize(
    "body, code, shown",
    [
        (sse("thread.run.in_progress", {"id": "r", "status": "in_progress"}), 7, "IncompleteStreamError"),
        (sse("error", {"code": "server_error", "message": "boom"}), 6, "StreamError: the server sent an error event (server_error): boom"),
        (b"event: thread.run.created\ndata: {nope\n\n", 8, "ProtocolError"),
        (sse("thread.run.failed", {"id": "r", "status": "failed"}) + sse("done", "[DONE]"), 1, "run r: failed"),
    ],
)
def test_replay_exit_codes(tmp_path, capsys, body, code, shown):
    path = tmp_path / "bad.sse"
    path.write_bytes(body)
    assert main(["replay", str(path)]) == code
    assert shown in capsys.readouterr().err


def test_a_missing_file_is_misuse(capsys):
    assert main(["replay", "/nonexistent/run.sse"]) == 2
    assert "No such file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "arguments, shown",
    [
        (["run"], "--assistant"),
        (["run", "--chat", "--message", "hi"], "--chat takes --model and --message"),
        (["run", "--chat", "--model", "m"], "--chat takes --model and --message"),
        (["run", "--chat", "--model", "m", "--message", "hi", "--thread", "thread_1"], "no --assistant or --thread"),
        (["run", "--responses", "--message", "hi"], "--responses takes --model and --message"),
        (["run", "--responses", "--model", "m", "--message", "hi", "--assistant", "asst_1"], "no --assistant or --thread"),
        (["run", "--responses", "--chat", "--model", "m", "--message", "hi"], "not allowed with argument"),
        (["replay", "--speed", "-5", PLAIN], "--speed"),
        (["replay", "--speed", "0", PLAIN], "--speed"),
    ],
)
def test_usage_errors_exit_2_before_anything_streams(capsys, arguments, shown):
    with pytest.raises(SystemExit) as info:
        main(arguments)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert shown in err and out == ""


def test_a_pipe_closed_before_the_last_newline_ends_quietly(monkeypatch):
    class Reader(io.StringIO):
        def write(self, text):  # the reader left after the text: the closing newline fails
            if text == "\n":
                raise BrokenPipeError(32, "Broken pipe")
            return super().write(text)

    monkeypatch.setattr(sys, "stdout", Reader())
    assert main(["replay", PLAIN]) == 141
    assert sys.stdout.getvalue() == PLAIN_TEXT


def test_a_closed_pipe_ends_quietly(tmp_path):
    # assistant-stream replay --events big.sse | head -1
    deltas = b"".join(
        sse("thread.message.delta", {"id": "msg_1", "delta": {"content": [{"index": 0, "type": "text", "text": {"value": "w "}}]}})
        for _ in range(20000)
    )
    path = tmp_path / "big.sse"
    path.write_bytes(deltas)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "assistant_stream", "replay", "--events", str(path)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline().startswith(b"thread.message.delta")
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=30) == 141 and err == b""


@pytest.mark.parametrize("cancel", [False, True], ids=["plain", "cancel-on-interrupt"])
def test_ctrl_c_closes_the_stream(emulator, client, cancel):
    thread_id = new_thread(client)
    env = dict(os.environ, OPENAI_API_KEY=API_KEY, OPENAI_BASE_URL=emulator.base_url, PYTHONPATH=str(ROOT))
    script = (  # the command line, with the emulator told to hold the run after its first word
        "import assistant_stream, sys\n"
        "original = assistant_stream.Client.stream_run\n"
        "assistant_stream.Client.stream_run = lambda self, *a, **k: original(self, *a, metadata=%r, **k)\n"
        "sys.exit(assistant_stream.main(sys.argv[1:]))\n"
    ) % steer(hold=8)
    command = [sys.executable, "-c", script, "run", "--assistant", "asst_1", "--thread", thread_id] + (
        ["--cancel-on-interrupt"] if cancel else []
    )
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.read(5) == "Hello"  # streaming, then held by the server
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130 and "interrupted" in err
    call = [c for c in emulator.calls if c.path.endswith("/runs")][-1]
    assert call.ended.wait(5) and call.client_closed
    assert len([c for c in emulator.calls if c.path.endswith("/cancel")]) == (1 if cancel else 0)


def test_python_dash_m_and_the_console_script(emulator, client):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "assistant_stream", "replay", PLAIN], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout == PLAIN_TEXT + "\n"
    from importlib.metadata import entry_points

    scripts = entry_points()
    found = scripts.select(group="console_scripts") if hasattr(scripts, "select") else scripts.get("console_scripts", [])
    # (an old pip's develop install also leaves an .egg-info in the tree: the same entry, twice)
    assert {script.value for script in found if script.name == "assistant-stream"} == {"assistant_stream:main"}


def test_the_replay_speed_paces_in_real_time(tmp_path):
    start = time.monotonic()
    assert main(["replay", "--speed", "200", PLAIN]) == 0
    assert time.monotonic() - start >= open(PLAIN).read().count("\ndata:") / 200 * 0.9  # the events received


@pytest.mark.parametrize("events", [False, True], ids=["text", "events"])
def test_every_fragment_reaches_a_pipe_as_it_arrives(events):
    # Not left in a block buffer until the end: stdout to a pipe is buffered unless
    # flushed, and PYTHONUNBUFFERED (which a CI may set) would hide a missing flush.
    from emulator import Emulator

    with Emulator(api_key=API_KEY, delay=0.15) as slow:
        env = {key: value for key, value in os.environ.items() if key not in ("PYTHONUNBUFFERED", "OPENAI_BASE_URL")}
        env.update(PYTHONPATH=str(ROOT), OPENAI_API_KEY=API_KEY)
        command = [sys.executable, "-m", "assistant_stream", "run", "--chat", "--model", "m", "--message", "one two three four"]
        command += ["--base-url", slow.base_url] + (["--events"] if events else [])
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        started = time.monotonic()
        first = process.stdout.read(1)  # blocks until the first byte reaches the pipe
        first_at = time.monotonic() - started
        rest = process.stdout.read()
        process.wait(timeout=30)
        ended_at = time.monotonic() - started
    assert process.returncode == 0 and first
    # the body takes 10 events x 0.15 s: the first byte comes out well before the end
    assert ended_at - first_at > 0.8, (first_at, ended_at)
    text = (first + rest).decode()
    assert ("chat.completion.chunk" in text) if events else text == "Hello from the emulator! You said: one two three four\n"


@pytest.mark.parametrize(
    "arguments, timeout", [([], (10.0, 600.0)), (["--timeout", "30"], (10.0, 30.0)), (["--timeout", "0.3"], (0.3, 0.3))]
)
def test_the_timeouts_are_the_ones_the_readme_gives(monkeypatch, arguments, timeout):
    # Connecting takes at most 10 s (or --timeout if shorter); --timeout is the longest silence, 600 s unless given.
    made = []

    def refused(self, **options):
        made.append(self.timeout)
        raise assistant_stream.APIConnectionError("refused")

    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setattr(assistant_stream.Client, "stream_thread_and_run", refused)
    assert main(["run", "--assistant", "asst_1", *arguments]) == 3
    assert made == [timeout]
