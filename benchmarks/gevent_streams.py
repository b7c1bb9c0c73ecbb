"""Many concurrent streams in one monkey-patched process: prints JSON.

    python benchmarks/gevent_streams.py BASE_URL STREAMS DELTAS [--raw | --floor]

Against `server.py --pause-ms 10`: the wall time of one stream alone, then of
STREAMS streams at once (one greenlet each, one shared client and handler
table), and whether every stream ended with the right text.  With --raw the
streams only read their bytes with requests: the cost of the load itself;
with --floor they parse them with sseclient-py and json, nothing more.
"""

from gevent import monkey

monkey.patch_all()  # before anything imports socket, ssl or requests

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import requests  # noqa: E402

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from server import text_of  # noqa: E402

import assistant_stream  # noqa: E402


def main() -> None:
    url, streams, deltas = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=streams))
    client = assistant_stream.Client(api_key="bench", base_url=url, session=session, timeout=(30, 60))
    handlers = assistant_stream.Handlers()
    handlers.on("text.delta", lambda event: None)

    def one() -> str:
        with client.stream_run("thread_bench", assistant_id="asst_bench", handlers=handlers) as stream:
            stream.until_done()
            return stream.text

    if "--raw" in sys.argv:

        def one() -> str:  # noqa: F811
            response = session.post(url + "/threads/thread_bench/runs", json={"stream": True}, stream=True)
            for _ in response.iter_content(None):
                pass
            response.close()
            return text_of(deltas)

    if "--floor" in sys.argv:
        import json as json_

        import sseclient

        def one() -> str:  # noqa: F811
            response = session.post(url + "/threads/thread_bench/runs", json={"stream": True}, stream=True)
            parts = []
            for event in sseclient.SSEClient(response.iter_content(None)).events():
                if event.event == "thread.message.delta":
                    parts.append(json_.loads(event.data)["delta"]["content"][0]["text"]["value"])
                elif event.event != "done":
                    json_.loads(event.data)
            response.close()
            return "".join(parts)

    start = time.perf_counter()
    alone = one()
    single = time.perf_counter() - start

    start = time.perf_counter()
    greenlets = [gevent.spawn(one) for _ in range(streams)]
    gevent.joinall(greenlets)
    together = time.perf_counter() - start

    expected = text_of(deltas)
    right = sum(1 for g in greenlets if g.successful() and g.value == expected)
    print(
        json.dumps(
            {
                "streams": streams,
                "deltas": deltas,
                "single_seconds": single,
                "concurrent_seconds": together,
                "ratio": together / single,
                "right_text": right,
                "ok": alone == expected and right == streams,
            }
        )
    )


if __name__ == "__main__":
    main()
