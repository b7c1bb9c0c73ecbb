"""The module copied alone works, and the examples run as documented."""

import importlib
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys

import pytest
import requests
from test_docs import EXPECTED

import assistant_stream
from conftest import FIXTURES, ROOT


def _package_dir(module):
    path = pathlib.Path(module.__file__)
    return path.parent if path.name == "__init__.py" else path


def test_the_module_copied_alone_imports_and_replays(tmp_path):
    # An empty directory with the module, and a site holding only requests,
    # sseclient-py and what requests itself needs; -S keeps everything else out.
    project, site = tmp_path / "project", tmp_path / "site"
    project.mkdir()
    site.mkdir()
    shutil.copy(ROOT / "assistant_stream.py", project)
    # requests' own dependencies differ by version (chardet or charset_normalizer)
    for name in ("requests", "sseclient", "urllib3", "idna", "certifi", "charset_normalizer", "chardet"):
        try:
            source = _package_dir(importlib.import_module(name))
        except ImportError:
            continue
        (site / source.name).symlink_to(source)
    shutil.copy(FIXTURES / "dotnet_v2_plain_text_run.sse", project / "run.sse")
    (project / "script.py").write_text(
        "import sys\n"
        "sys.path.append(%r)\n"
        "import assistant_stream\n"
        "stream = assistant_stream.replay('run.sse')\n"
        "run = stream.until_done()\n"
        "print(assistant_stream.__file__, run['status'], stream.text[:5])\n"
        "print(sorted(m.split('.')[0] for m in sys.modules if not m.startswith('_')))\n" % str(site)
    )
    env = {"PATH": os.environ.get("PATH", "")}
    done = subprocess.run([sys.executable, "-S", "-E", "script.py"], cwd=project, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    first, modules = done.stdout.splitlines()
    assert first == "%s completed Hello" % (project / "assistant_stream.py")
    assert "site" not in modules and "pytest" not in modules


def test_the_quickstart_streams_from_the_embedded_emulator():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("OPENAI_API_KEY", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py"), "Is", "this", "real?"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("No OPENAI_API_KEY set: streaming from the local emulator at http://127.0.0.1:")
    assert lines[1] == "Hello from the emulator! You said: Is this real?"
    assert lines[2].startswith("run run_") and lines[2].endswith(": completed")


def test_the_version_is_in_the_file():
    text = (ROOT / "assistant_stream.py").read_text()
    assert '__version__ = "%s"' % assistant_stream.__version__ in text
    assert "Permission is hereby granted" in text


def test_the_emulator_runs_standalone():
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "emulator.py"), "--port", "0", "--delay", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = server.stdout.readline()
        assert line.startswith("emulator listening on http://127.0.0.1:")
        client = assistant_stream.Client(api_key="any", base_url=line.split()[-1])
        stream = client.stream_thread_and_run(assistant_id="asst_1", thread={"messages": [{"role": "user", "content": "standalone"}]})
        assert stream.until_done()["status"] == "completed"
        assert stream.text == "Hello from the emulator! You said: standalone"
    finally:
        server.terminate()
        server.wait(10)


# -- every example against the standalone emulator, as the README's Development section says --------

HERE = {"quickstart.py", "tools.py", "stream_a_run.py", "record_and_replay.py", "resilience.py", "migrate.py", "endpoints.py"}
HERE |= {"azure.py", "responses_api.py", "chat.py"}
MAKE_ASSISTANTS = HERE - {"azure.py", "chat.py"}  # azure.py talks to Azure or its own emulator; chat.py needs none
STANDALONE_OUTPUT = {  # what each prints between the lines about its assistant: as against the embedded emulator, and
    **{name: EXPECTED[name] for name in ("tools.py", "stream_a_run.py", "resilience.py", "migrate.py", "endpoints.py", "chat.py")},
    "quickstart.py": ["Hello from the emulator! You said: What can you do?", "run run_*: completed"],
    "record_and_replay.py": ["thread.run.created queued", "thread.run.queued queued", "thread.run.in_progress in_progress"]
    + ["thread.run.step.created in_progress", "thread.run.step.in_progress in_progress", "thread.run.step.completed completed"]
    + ["thread.run.completed completed", "same text: True"],
    "azure.py": ["No AZURE_AI_PROJECT_ENDPOINT set: using the local emulator at http://127.0.0.1:*/v1"] + EXPECTED["azure.py"],
    "responses_api.py": EXPECTED["responses_api.py"] + ["response: resp_* output: ['message']"],
}
BETA = {"OpenAI-Beta": "assistants=v2", "Authorization": "Bearer sk-dummy"}


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def standalone():
    """`python examples/emulator.py --port <a free port>`, from the top of the
    repository, as the README says; its base URL."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "examples/emulator.py", "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline() == "emulator listening on http://127.0.0.1:%d/v1\n" % port
        yield "http://127.0.0.1:%d/v1" % port
    finally:
        server.terminate()
        server.wait(10)


def _assistants(base_url):
    answer = requests.get(base_url + "/assistants", headers=BETA, params={"limit": 100}, timeout=10)
    assert answer.status_code == 200, answer.text
    return [assistant["id"] for assistant in answer.json()["data"]]


def _run_against(base_url, name, **env):
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "ASSISTANT_", "AZURE_"))}
    environ.update(env, PYTHONPATH=str(ROOT), OPENAI_BASE_URL=base_url, OPENAI_API_KEY="sk-dummy")
    done = subprocess.run([sys.executable, "examples/" + name], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def _matches(lines, patterns):
    """Each line as its pattern says: literally, but for each * (anything)."""
    wild = [".*".join(re.escape(part) for part in pattern.split("*")) for pattern in patterns]
    return len(lines) == len(patterns) and all(re.fullmatch(each, line) for each, line in zip(wild, lines))


def test_every_example_is_run_against_the_standalone_emulator():
    assert {path.name for path in (ROOT / "examples").glob("*.py")} - {"emulator.py"} == set(STANDALONE_OUTPUT) == HERE


@pytest.mark.parametrize("name", sorted(STANDALONE_OUTPUT))
def test_each_example_runs_against_the_standalone_emulator_and_leaves_no_assistant(standalone, name):
    before = _assistants(standalone)
    lines = _run_against(standalone, name)
    if name in MAKE_ASSISTANTS and name != "quickstart.py":  # the examples' helper says what it made and deleted
        made = re.fullmatch(r"Created assistant (asst_\w+), deleted at exit \(set ASSISTANT_ID to use one of yours instead\)", lines[0])
        assert made and lines[-1] == "Deleted assistant %s" % made.group(1), lines
        lines = lines[1:-1]
    assert _matches(lines, STANDALONE_OUTPUT[name]), lines
    assert _assistants(standalone) == before == []


@pytest.mark.parametrize("name", ["quickstart.py", "stream_a_run.py"])  # the quickstart's own code, and the other examples' helper
def test_an_assistant_given_by_assistant_id_is_used_and_kept(standalone, name):
    mine = requests.post(standalone + "/assistants", headers=BETA, json={"model": "gpt-4o-mini", "name": "mine"}, timeout=10).json()["id"]
    try:
        lines = _run_against(standalone, name, ASSISTANT_ID=mine)
        assert _matches(lines, STANDALONE_OUTPUT[name]), lines
        assert _assistants(standalone) == [mine]
    finally:
        requests.delete(standalone + "/assistants/" + mine, headers=BETA, timeout=10)


def test_the_examples_assistant_is_deleted_even_when_the_script_fails(standalone, tmp_path):
    script = tmp_path / "failing.py"
    script.write_text(
        "import sys\n"
        "sys.path.insert(0, %r)\n"
        "from emulator import use_emulator_unless_configured\n"
        "assistant_id = use_emulator_unless_configured()\n"
        "raise RuntimeError('the example broke')\n" % str(ROOT / "examples")
    )
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "ASSISTANT_", "AZURE_"))}
    environ.update(PYTHONPATH=str(ROOT), OPENAI_BASE_URL=standalone, OPENAI_API_KEY="sk-dummy")
    done = subprocess.run([sys.executable, str(script)], env=environ, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "RuntimeError: the example broke" in done.stderr
    assert done.stdout.splitlines()[-1].startswith("Deleted assistant asst_")
    assert _assistants(standalone) == []
