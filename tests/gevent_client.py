"""Run in a subprocess by test_gevent.py: streams under monkey.patch_all()."""

from gevent import monkey

monkey.patch_all()  # before anything else imports socket or ssl

import json  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402

import assistant_stream  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
from emulator import steer  # noqa: E402


def main() -> None:
    base_url, api_key, thread_id = sys.argv[1:4]
    client = assistant_stream.Client(api_key=api_key, base_url=base_url)
    held = steer(hold=8)  # eight events, then the server waits
    results = {}

    stream = client.stream_run(thread_id, assistant_id="asst_1", metadata=held)
    try:
        with gevent.Timeout(0.5):
            stream.until_done()
    except gevent.Timeout:
        results["timeout"] = {"closed": stream.closed, "text": stream.text}

    stream = client.stream_run(thread_id, assistant_id="asst_1", metadata=held)
    reader = gevent.spawn(stream.until_done)
    gevent.sleep(0.5)
    reader.kill()
    results["killed"] = {"closed": stream.closed, "text": stream.text, "dead": reader.dead}

    stream = client.stream_run(thread_id, assistant_id="asst_1", metadata=held)
    reader = gevent.spawn(stream.until_done)
    gevent.sleep(0.5)
    stream.close()  # from another greenlet, while the reader is blocked
    reader.join(5)
    results["closed_elsewhere"] = {"closed": stream.closed, "text": stream.text, "dead": reader.dead, "value": reader.value}

    stream = client.stream_run(thread_id, assistant_id="asst_1")
    results["normal"] = {"status": stream.until_done()["status"], "text": stream.text}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
