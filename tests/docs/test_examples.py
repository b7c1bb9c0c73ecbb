"""The module copied alone works, and the examples run as documented."""

import importlib
import os
import pathlib
import shutil
import subprocess
import sys

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
