"""End to end in a real browser: Deep Chat (2.4.2, and 1.4.11 on the page for
1.x), the gevent WSGI relay (run as a script, and under gunicorn -k gevent)
relaying runs, responses and chat completions, the emulator (dropping the
connection mid-answer when the relay's metadata says so).

Needs Debian's chromium, Playwright from PyPI (no browser download) and the
deep-chat package (npm ci in examples/deep_chat); the gunicorn test needs
gunicorn too.  Without them the tests are skipped, saying which is missing;
with ASSISTANT_STREAM_REQUIRE_BROWSER=1 (as CI sets it) a missing piece is a
failure instead.

The page may load nothing from anywhere but the relay: every request
elsewhere is blocked, recorded, and fails the test.  Screenshots go to
$ASSISTANT_STREAM_SCREENSHOTS if set, else to the test's temporary directory.
"""

import contextlib
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any, List, NamedTuple
from urllib.parse import urlsplit

import pytest

from conftest import API_KEY, ROOT
from emulator import Emulator, steer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
APP = ROOT / "examples" / "deep_chat"
BUNDLE = APP / "node_modules" / "deep-chat" / "dist" / "deepChat.bundle.js"
BUNDLE_V1 = APP / "node_modules" / "deep-chat-v1" / "dist" / "deepChat.bundle.js"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# What the user reads when the upstream fails (the relay's words).
UNAVAILABLE = "The assistant is unavailable right now. Please try again."
UNFINISHED = "The assistant could not finish this answer. Please try again."
RECONNECTING = "Reconnecting…"
BUSY = "The assistant is busy right now. Please try again in a minute."
WAIT = "Please wait until the answer to your previous message is complete."
CLASS_NAME = re.compile(r"[A-Z][A-Za-z]*(Error|Exception)\b|Traceback")
REQUIRED = os.environ.get("ASSISTANT_STREAM_REQUIRE_BROWSER") == "1"


def missing():
    if CHROMIUM is None:
        return "Chromium is not installed (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright)"
    if not BUNDLE.exists() or not BUNDLE_V1.exists():
        return "deep-chat is not installed (cd examples/deep_chat && npm ci)"
    return None


def require(reason):
    if reason and REQUIRED:
        pytest.fail("the browser test must run here, but " + reason)
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    require(missing())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def shots(tmp_path):
    """Where the screenshots go."""
    where = pathlib.Path(os.environ.get("ASSISTANT_STREAM_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def local(url):
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname == "127.0.0.1"


def open_page(browser, address, outside, version="2"):
    """The chat page (for Deep Chat ``version``: "2" or "1") in a new browser
    session (its own cookies): any request not to 127.0.0.1 is blocked and
    goes into ``outside``."""
    context = browser.new_context(viewport={"width": 1000, "height": 640})

    def block(route):
        outside.append(route.request.url)
        route.abort()

    context.route(lambda url: not local(url), block)
    context.on("request", lambda request: None if local(request.url) else outside.append(request.url))
    page = context.new_page()
    page.on("websocket", lambda ws: None if local(ws.url) else outside.append(ws.url))
    page.goto("http://%s/%s" % (address, "?deep-chat=1" if version == "1" else ""))
    page.wait_for_selector("deep-chat #text-input")
    return page


def idle(page):
    """Wait until the last answer is over: Deep Chat takes the next message (its submit
    button is back, disabled while the input is empty; not loading, not stop): inside-end
    in Deep Chat 2.x, inside-right in 1.x."""
    button = "deep-chat #input .inside-end.disabled-button, deep-chat #input .inside-right.disabled-button"
    page.locator(button).wait_for(state="attached", timeout=20000)


def send(page, text):
    idle(page)
    page.click("deep-chat #text-input")
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def answers(page):
    """The assistant's bubbles, the intro first."""
    return page.locator("deep-chat .ai-message-text").all_inner_texts()


def ask(page, text, answer, timeout=20.0):
    """Send ``text``; wait until ``answer`` is the last bubble; the answer as it grew."""
    before = len(answers(page))
    send(page, text)
    seen: List[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = answers(page)
        current = shown[-1] if len(shown) > before else ""
        if current and (not seen or current != seen[-1]):
            seen.append(current)
        if current == answer:
            return seen
        time.sleep(0.02)
    raise AssertionError("the answer never came whole: %r" % seen)


def error_after(page, text, count):
    """Send ``text``; the text of the error bubble that comes (the ``count``-th)."""
    send(page, text)
    errors = page.locator("deep-chat .error-message-text")
    errors.nth(count - 1).wait_for(timeout=30000)
    return errors.nth(count - 1).inner_text()


class Output:
    """A process's output, read line by line by a thread, to wait for lines in."""

    def __init__(self, stream):
        self.lines: List[str] = []
        self.thread = threading.Thread(target=lambda: self.lines.extend(iter(stream.readline, "")), daemon=True)
        self.thread.start()

    def wait_for(self, text, timeout=20.0):
        """Wait until a line so far holds ``text``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            time.sleep(0.05)
        raise AssertionError("%r never came; the output: %s" % (text, "".join(self.lines)))


def message_texts(emulator, thread_id):
    return [(m["role"], "".join(p["text"]["value"] for p in m["content"])) for m in emulator.state.messages[thread_id]]


def session_cookie(page):
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "deep_chat_session"]
    return cookie


class Relay(NamedTuple):
    mode: str  # runs, responses or chat
    emulator: Any  # in this process: what it was asked
    process: Any
    output: Output  # stdout and stderr
    address: str


class Served(NamedTuple):
    mode: str
    emulator: Any  # None: the one the worker started
    log: pathlib.Path
    address: str


API = {  # how the relay is told to relay each API (chat: the short form)
    "runs": ["--assistant", "asst_deep_chat"],
    "responses": ["--api", "responses", "--model", "emulator-1"],
    "agent": ["--api", "responses", "--agent", "deep-chat-agent"],
    "chat": ["--chat", "emulator-1"],
}


@contextlib.contextmanager
def running_relay(mode, metadata=None, **settings):
    """The relay, run as a script, from the emulator (in this process, to see
    what it was asked); ``metadata``: the emulator's switches for every
    request (steer(...)); ``settings``: more environment variables."""
    emulator = Emulator(api_key=API_KEY, delay=0.05).start()
    env = dict(os.environ, OPENAI_API_KEY=API_KEY, PYTHONPATH=str(ROOT), **settings)
    steered = ["--metadata", json.dumps(metadata)] if metadata else []
    command = [sys.executable, str(APP / "app.py"), "--port", "0", "--base-url", emulator.base_url, *API[mode], *steered]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    output = Output(process.stdout)
    try:
        output.wait_for("http://")
        (line,) = [line for line in output.lines if "http://" in line]
        yield Relay(mode, emulator, process, output, line.split("http://")[1].split()[0].rstrip("/"))
    finally:
        process.kill()
        process.wait()
        output.thread.join(5)
        process.stdout.close()
        emulator.stop()


@pytest.fixture(params=["runs", "responses", "chat"])
def relay(request):
    require(missing())
    with running_relay(request.param) as relay:
        yield relay


def test_two_turns_stream_and_remember_each_other(browser, relay, shots):
    outside: List[str] = []
    page = open_page(browser, relay.address, outside)
    first = "Hello from the emulator! You said: Is this streamed?"
    seen = ask(page, "Is this streamed?", first)
    assert len(seen) >= 3, "the answer appeared all at once: %r" % seen
    assert all(first.startswith(part) for part in seen)  # it grew word by word
    relay.output.wait_for("finished")  # the first answer is over

    second = "Hello from the emulator! You said: What did I ask first?"
    ask(page, "What did I ask first?", second)
    assert answers(page)[1:] == [first, second]
    idle(page)
    page.screenshot(path=str(shots / ("deep_chat_%s_two_turns.png" % relay.mode)))

    # Deep Chat sent one message each time; the relay sent the conversation.
    posts = [call for call in relay.emulator.calls if call.method == "POST"]
    if relay.mode == "runs":
        (thread_id,) = relay.emulator.state.threads
        assert [call.path for call in posts] == ["/v1/threads/runs", "/v1/threads/%s/runs" % thread_id]
        assert message_texts(relay.emulator, thread_id) == [
            ("user", "Is this streamed?"),
            ("assistant", first),
            ("user", "What did I ask first?"),
            ("assistant", second),
        ]
    elif relay.mode == "responses":  # the second continues the first
        assert [call.path for call in posts] == ["/v1/responses"] * 2
        assert [call.body["model"] for call in posts] == ["emulator-1"] * 2
        assert "previous_response_id" not in posts[0].body
        assert posts[1].body["previous_response_id"] in relay.emulator.state.responses
        assert posts[1].body["input"] == [{"role": "user", "content": "What did I ask first?"}]
    else:
        assert [call.path for call in posts] == ["/v1/chat/completions"] * 2
        assert posts[1].body["messages"] == [
            {"role": "user", "content": "Is this streamed?"},
            {"role": "assistant", "content": first},
            {"role": "user", "content": "What did I ask first?"},
        ]
    cookie = session_cookie(page)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and len(cookie["value"]) >= 32

    # Another browser session has a conversation of its own.
    other = open_page(browser, relay.address, outside)
    ask(other, "Who are you?", "Hello from the emulator! You said: Who are you?")
    assert session_cookie(other)["value"] != cookie["value"]
    third = [call for call in relay.emulator.calls if call.method == "POST"][2]
    if relay.mode == "runs":
        assert third.path == "/v1/threads/runs" and len(relay.emulator.state.threads) == 2
    elif relay.mode == "responses":
        assert "previous_response_id" not in third.body
    else:
        assert third.body["messages"] == [{"role": "user", "content": "Who are you?"}]
    assert outside == [], "the page loaded things from elsewhere"


def test_a_failing_upstream_shows_the_user_a_sentence_and_logs_the_error(browser, relay, shots):
    outside: List[str] = []
    page = open_page(browser, relay.address, outside)
    ask(page, "Hello?", "Hello from the emulator! You said: Hello?")

    relay.emulator.check = lambda *request: (500, "server_error", "The engine room is on fire.")
    assert error_after(page, "Anyone there?", 1) == UNAVAILABLE
    relay.output.wait_for("InternalServerError")  # the log has what happened

    relay.emulator.check = lambda *request: (429, "rate_limit_exceeded", "Rate limit reached for requests.")
    assert error_after(page, "And now?", 2) == BUSY
    relay.output.wait_for("RateLimitError")

    relay.emulator.stop()  # unreachable
    assert error_after(page, "Still there?", 3) == UNAVAILABLE
    relay.output.wait_for("APIConnectionError")
    idle(page)
    page.screenshot(path=str(shots / ("deep_chat_%s_errors.png" % relay.mode)))

    shown = page.locator("deep-chat #container").inner_text()
    assert not CLASS_NAME.search(shown), shown
    assert "fire" not in shown and "Rate limit" not in shown  # nor the upstream's words
    assert outside == []


QUESTION = "Does the answer survive a dropped connection?"
ANSWER = "Hello from the emulator! You said: " + QUESTION
CUT = steer(drop=12, finish_after=1.5)  # the stream cut mid-answer; the run (or response) finishes 1.5 s later


def watch(page, before, until, shoot=None, timeout=30.0):
    """What the page showed, tick by tick, until ``until(answer, status,
    errors)``: the last answer as it grew, the status line as it changed;
    ``shoot(status)`` is called at each new status (to take a screenshot)."""
    seen: List[str] = []
    statuses: List[str] = [""]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = page.locator("#status").inner_text()
        shown = answers(page)
        current = shown[-1] if len(shown) > before else ""
        errors = page.locator("deep-chat .error-message-text").all_inner_texts()
        if current and (not seen or current != seen[-1]):
            seen.append(current)
        if status != statuses[-1]:
            statuses.append(status)
            if shoot:
                shoot(status)
        if until(current, status, errors):
            return seen, statuses, errors
        time.sleep(0.02)
    raise AssertionError("the page never got there: %r %r" % (seen, statuses))


@pytest.mark.parametrize("mode, version", [("runs", "2"), ("responses", "2"), ("runs", "1"), ("agent", "1")])
def test_an_answer_cut_off_mid_way_is_recovered_each_word_once(browser, mode, version, shots):
    require(missing())
    with running_relay(mode, CUT) as relay:
        outside: List[str] = []
        page = open_page(browser, relay.address, outside, version)
        before = len(answers(page))
        name = "deep_chat_v%s_%s_recover" % (version, mode)
        shoot = lambda status: status and page.screenshot(path=str(shots / (name + "_reconnecting.png")))  # noqa: E731
        send(page, QUESTION)
        seen, statuses, errors = watch(page, before, lambda answer, status, errors: answer == ANSWER and not status, shoot)
        assert statuses == ["", RECONNECTING, ""], statuses  # shown while recovering, then cleared
        assert (shots / (name + "_reconnecting.png")).exists()
        assert len(seen) >= 3 and all(ANSWER.startswith(part) for part in seen), seen  # it grew, no word twice
        relay.output.wait_for("connection lost: recovering")
        idle(page)
        page.screenshot(path=str(shots / (name + "_recovered.png")))
        assert answers(page)[before:] == [ANSWER] and errors == []

        # The answer was asked for once, and fetched by polling: nothing was started twice.
        posts = [call.path for call in relay.emulator.calls if call.method == "POST"]
        assert posts == (["/v1/threads/runs"] if mode == "runs" else ["/v1/responses"])
        assert any(call.method == "GET" for call in relay.emulator.calls)
        if mode == "agent":
            (call,) = [call for call in relay.emulator.calls if call.method == "POST"]
            assert call.body["agent"] == {"type": "agent_reference", "name": "deep-chat-agent"} and "model" not in call.body

        # The conversation goes on from the recovered answer.
        second = "Hello from the emulator! You said: And then?"
        ask(page, "And then?", second)
        if mode == "runs":
            (thread_id,) = relay.emulator.state.threads
            assert message_texts(relay.emulator, thread_id)[:2] == [("user", QUESTION), ("assistant", ANSWER)]
        else:
            first, then = [call for call in relay.emulator.calls if call.method == "POST"]
            assert then.body["previous_response_id"] in relay.emulator.state.responses
        assert outside == []


@pytest.mark.parametrize("mode, version", [("runs", "2"), ("chat", "2"), ("chat", "1")])
def test_an_answer_that_cannot_be_recovered_keeps_its_text_and_says_so(browser, mode, version, shots):
    """Runs: the stream is cut and the polling fails (500s); chat completions
    keep nothing to poll: the text so far stays, and a sentence follows."""
    require(missing())
    with running_relay(mode, CUT) as relay:
        if mode == "runs":
            relay.emulator.check = lambda handler, call: (
                (500, "server_error", "The engine room is on fire.") if call.method == "GET" else None
            )
        outside: List[str] = []
        page = open_page(browser, relay.address, outside, version)
        before = len(answers(page))
        send(page, QUESTION)
        seen, statuses, errors = watch(page, before, lambda answer, status, errors: bool(errors) and not status)
        assert errors == [UNAVAILABLE if mode == "runs" else UNFINISHED]
        assert statuses == (["", RECONNECTING, ""] if mode == "runs" else [""]), statuses
        idle(page)
        page.screenshot(path=str(shots / ("deep_chat_v%s_%s_unrecoverable.png" % (version, mode))))
        shown = [text for text in answers(page)[before:] if text not in errors]  # the text so far (then the error)
        assert len(shown) == 1 and shown[0] != ANSWER and ANSWER.startswith(shown[0]) and len(shown[0]) > 10, shown
        relay.output.wait_for("InternalServerError" if mode == "runs" else "IncompleteStreamError")
        shown = page.locator("deep-chat #container").inner_text()
        assert not CLASS_NAME.search(shown) and "fire" not in shown
        assert outside == []


def post(relay, text, cookie=None):
    """POST /chat as Deep Chat does: the Set-Cookie header it answers with (or None), and the body."""
    headers = {"Content-Type": "application/json"}
    if cookie:
        headers["Cookie"] = cookie
    body = json.dumps({"messages": [{"role": "user", "text": text}]}).encode()
    request = urllib.request.Request("http://%s/chat" % relay.address, data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=20) as answer:
        return answer.headers.get("Set-Cookie"), answer.read().decode()


def test_sessions_are_the_relays_own_and_the_least_recently_used_are_forgotten():
    pytest.importorskip("gevent")  # the relay runs under it; no browser needed
    with running_relay("runs", DEEP_CHAT_SESSIONS="2") as relay:
        issued, body = post(relay, "one")
        assert "Hello from the emulator! You said: one" in "".join(
            json.loads(line[6:]).get("text", "") for line in body.split("\n\n") if line
        )
        assert issued.endswith("; Path=/; HttpOnly; SameSite=Lax")
        a = issued.split(";")[0]
        assert post(relay, "two", a)[0] is None  # a session the relay knows goes on
        b = post(relay, "three")[0].split(";")[0]
        c = post(relay, "four")[0].split(";")[0]  # a third: the least recently used, a, is forgotten
        renewed = post(relay, "five", a)[0]
        assert renewed and renewed.split(";")[0] not in (a, b, c)  # a new conversation (and b forgotten)
        assert post(relay, "six", c)[0] is None
        chosen = post(relay, "seven", "deep_chat_session=chosen-by-someone-else")[0]
        assert chosen and "chosen-by-someone-else" not in chosen  # only ids the relay issued are taken
        runs = [call.path for call in relay.emulator.calls if call.method == "POST"]
        first_thread = runs[1].split("/")[3]
        assert runs[0] == "/v1/threads/runs" and runs[1] == "/v1/threads/%s/runs" % first_thread
        assert runs[2:5] == ["/v1/threads/runs"] * 3 and runs[5] != runs[1] and runs[6] == "/v1/threads/runs"

        # While an answer streams, the same session's next message waits its turn.
        cookie = post(relay, "eight")[0].split(";")[0]
        slow = threading.Thread(target=post, args=(relay, "nine " * 30, cookie))
        slow.start()
        deadline = time.monotonic() + 10
        while len([call for call in relay.emulator.calls if call.method == "POST"]) < 9:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert post(relay, "ten", cookie)[1] == 'data: {"error": "%s"}\n\n' % WAIT
        slow.join(20)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["emulated", "configured"])
def gunicorn(request, tmp_path):
    """``gunicorn -k gevent -w 1 --chdir examples/deep_chat app:app``: from the
    emulator it starts itself (no OPENAI_API_KEY), or configured by the
    environment to relay chat completions from this process's emulator."""
    reason = missing()
    try:
        import gevent  # noqa: F401
        import gunicorn  # noqa: F401
    except ImportError as error:
        reason = reason or "%s is not installed (pip install '.[deepchat]')" % error.name
    require(reason)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "ASSISTANT_", "DEEP_CHAT_"))}
    env["PYTHONPATH"] = str(ROOT)
    emulator = None
    if request.param == "configured":
        emulator = Emulator(api_key=API_KEY, delay=0.05).start()
        env.update(OPENAI_API_KEY=API_KEY, OPENAI_BASE_URL=emulator.base_url, DEEP_CHAT_MODEL="emulator-1")
    address = "127.0.0.1:%d" % free_port()
    command = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "-b", address, "--chdir", str(APP), "app:app"]
    usage = subprocess.run([sys.executable, "-m", "gunicorn", "--help"], capture_output=True, text=True).stdout
    if "--no-control-socket" in usage:  # gunicorn 25+: no control socket shared with other servers
        command.append("--no-control-socket")
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "gunicorn exited: " + log_path.read_text()
            try:
                with urllib.request.urlopen("http://%s/" % address, timeout=2) as page:
                    if page.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn never answered: " + log_path.read_text()
                time.sleep(0.1)
        yield Served(request.param, emulator, log_path, address)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if emulator is not None:
            emulator.stop()


def test_gunicorn_serves_the_relay_with_gevent(browser, gunicorn, shots):
    outside: List[str] = []
    page = open_page(browser, gunicorn.address, outside)
    first = "Hello from the emulator! You said: Served by gunicorn?"
    seen = ask(page, "Served by gunicorn?", first)
    assert len(seen) >= 3, "the answer appeared all at once: %r" % seen  # streamed through the gevent worker
    second = "Hello from the emulator! You said: And remembered?"
    ask(page, "And remembered?", second)
    idle(page)
    page.screenshot(path=str(shots / ("deep_chat_gunicorn_%s.png" % gunicorn.mode)))
    if gunicorn.emulator is not None:  # configured: chat completions of DEEP_CHAT_MODEL, the conversation kept
        posts = [call for call in gunicorn.emulator.calls if call.method == "POST"]
        assert [call.body["model"] for call in posts] == ["emulator-1", "emulator-1"]
        assert posts[1].body["messages"] == [
            {"role": "user", "content": "Served by gunicorn?"},
            {"role": "assistant", "content": first},
            {"role": "user", "content": "And remembered?"},
        ]
    else:
        assert "local emulator" in gunicorn.log.read_text()
    assert "Traceback" not in gunicorn.log.read_text()
    assert outside == []
