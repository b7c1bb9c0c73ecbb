"""The README's examples are real: each Python block is taken verbatim from a
script in examples/, and each script runs against the emulator."""

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.DOTALL)


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize("block", BLOCKS, ids=[block.splitlines()[0][2:] + ":%d" % n for n, block in enumerate(BLOCKS)])
def test_each_python_block_is_an_excerpt_of_an_example(block):
    first, _, code = block.partition("\n")
    tag = re.fullmatch(r"# (examples/\S+\.py)", first)
    assert tag, "a README block must start with '# examples/<script>.py': %r" % first
    assert code.strip() and code in (ROOT / tag.group(1)).read_text(), "not (or no longer) in %s" % tag.group(1)


def run_example(name):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "ASSISTANT_", "AZURE_"))}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, str(ROOT / "examples" / name)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("No ") and "emulator at http://127.0.0.1:" in lines[0]
    return lines[1:]


EXPECTED = {
    "stream_a_run.py": [
        "Hello from the emulator! You said: What is a stream?",
        "status: completed",
        "messages: ['Hello from the emulator! You said: What is a stream?']",
        "a step completed: message_creation",
    ],
    "tools.py": ['The tools said: {"city": "Oslo", "sky": "sunny", "celsius": 22}.', "status: completed"],
    "endpoints.py": ["The tools said: booked: AB123.", "cancelled: cancelled", "['user', 'assistant']"],
    "resilience.py": ["Hello from the emulator! You said: Keep going.", "status: completed | recovered after a drop: True"],
    "migrate.py": ["Hello from the emulator! You said: Port me.", "status: completed"],
    "azure.py": [
        "approving search_docs on docs",
        "The tools said: docs about streaming runs.",
        "status: completed",
        "Hello from the emulator! You said: Hello, new agent",
        "status: completed",
    ],
    "chat.py": ['The tools said: {"city": "Oslo", "sky": "sunny", "celsius": 22}.', "finish reason: stop | tokens: 21"],
    "responses_api.py": ["The tools said: sunny in Oslo.  [completed]", "The tools said: sunny in Oslo.  [completed]"],
}


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - {"responses_api.py"}))
def test_each_example_runs_against_the_emulator(name):
    assert run_example(name) == EXPECTED[name]


def test_the_responses_example_serves_both_apis_with_one_table():
    lines = run_example("responses_api.py")
    assert lines[:2] == EXPECTED["responses_api.py"] and lines[2].startswith("response: resp_") and lines[2].endswith("output: ['message']")


def test_the_record_and_replay_example():
    lines = run_example("record_and_replay.py")
    assert lines[0] == "thread.run.created queued" and lines[-2] == "thread.run.completed completed"
    assert lines[-1] == "same text: True"


def test_every_example_is_tested():
    scripts = {path.name for path in (ROOT / "examples").glob("*.py")}
    assert scripts == set(EXPECTED) | {"record_and_replay.py", "quickstart.py", "emulator.py"}
