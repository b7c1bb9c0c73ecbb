"""End to end in a real browser: Deep Chat, the gevent WSGI relay, the emulator.

Needs Debian's chromium, Playwright from PyPI (no browser download) and the
deep-chat package (npm install in examples/deep_chat).  Without them the test
is skipped, saying which is missing; with ASSISTANT_STREAM_REQUIRE_BROWSER=1
(as CI sets it) a missing piece is a failure instead.
"""

import os
import select
import shutil
import subprocess
import sys
import time

import pytest

from conftest import API_KEY, ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BUNDLE = ROOT / "examples" / "deep_chat" / "node_modules" / "deep-chat" / "dist" / "deepChat.bundle.js"


def missing():
    if CHROMIUM is None:
        return "Chromium is not installed (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright)"
    if not BUNDLE.exists():
        return "deep-chat is not installed (cd examples/deep_chat && npm install)"
    return None


def require():
    reason = missing()
    if reason and os.environ.get("ASSISTANT_STREAM_REQUIRE_BROWSER") == "1":
        pytest.fail("the browser test must run here, but " + reason)
    if reason:
        pytest.skip(reason)


def start(command, env=None):
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    for _ in range(50):
        line = process.stdout.readline()
        if "http://" in line:
            return process, line.split("http://")[1].split()[0].rstrip("/")
    process.kill()
    raise RuntimeError("did not start: " + command[1])


@pytest.fixture(params=["runs", "chat"])
def chat_page(request):
    require()
    from playwright.sync_api import sync_playwright

    emulator, upstream = start(
        [sys.executable, str(ROOT / "examples" / "emulator.py"), "--port", "0", "--delay", "0.05", "--api-key", API_KEY]
    )
    env = dict(os.environ, OPENAI_API_KEY=API_KEY, PYTHONPATH=str(ROOT))
    chat = ["--chat", "emulator-1"] if request.param == "chat" else []
    relay, address = start(
        [sys.executable, str(ROOT / "examples" / "deep_chat" / "app.py"), "--port", "0", "--base-url", "http://%s" % upstream, *chat], env
    )
    flags = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
            page = browser.new_page()
            page.goto("http://%s/" % address)
            page.wait_for_selector("deep-chat #text-input")
            yield page, emulator, relay
            browser.close()
    finally:
        for process in (relay, emulator):
            process.kill()
            process.wait()


def wait_for_line(process, text, timeout=20.0):
    """Read the process's output until a line holds ``text``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([process.stdout], [], [], 0.1)[0] and text in process.stdout.readline():
            return
    raise AssertionError("%r never came" % text)


def send(page, text):
    page.click("deep-chat #text-input")
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def test_a_message_streams_its_answer_and_a_failing_upstream_shows_an_error(chat_page):
    page, emulator, relay = chat_page
    answer = "Hello from the emulator! You said: Is this streamed?"
    send(page, "Is this streamed?")
    seen = []  # the answer as the page showed it, while it grew
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        bubbles = page.locator("deep-chat .ai-message-text")
        text = bubbles.last.inner_text() if bubbles.count() > 1 else ""  # the first is the intro
        if text and (not seen or text != seen[-1]):
            seen.append(text)
        if text == answer:
            break
        time.sleep(0.02)
    assert seen[-1] == answer
    assert len(seen) >= 3, "the answer appeared all at once: %r" % seen
    assert all(answer.startswith(part) for part in seen)  # it grew word by word

    wait_for_line(relay, "finished")  # the first answer is over
    emulator.kill()  # then the upstream fails
    emulator.wait()
    send(page, "Anyone there?")
    error = page.locator("deep-chat .error-message-text")
    error.wait_for(timeout=20000)
    assert "The assistant is unavailable (APIConnectionError)." in error.inner_text()
