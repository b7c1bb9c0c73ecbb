"""Measure the performance goals; print a Markdown table, write a plot.

    pip install -e ".[bench]" && python benchmarks/run.py [--quick] [--only NAME ...] [--output DIR]

Every measurement runs in processes of its own, against a loopback server
(benchmarks/server.py) in another process, and reports medians:

  throughput  µs per event at 20k deltas: raw bytes, the honest floor
              (sseclient-py over iter_content(None) + json + a join), this
              SDK, the official openai SDK (skipped if absent); the same at
              200k deltas (openai: one run); then the same words as a chat
              completion, against its own floor and openai's
              chat.completions.stream()
  memory      peak RSS above the baseline before the request, 1M deltas whose
              words have CJK and emoji in them, against the UTF-8 size of the
              text and the size of the final str (sys.getsizeof)
  latency     events 10 ms apart: time from an event's send to its callback,
              chunked and connection-close bodies (SSEClient(response) beside)
  gevent      500 concurrent streams of 200 deltas 10 ms apart, one process
  sequential  5 streams one after the other on one Client: TCP connections
              the server accepted for them
  import      `python -c "import assistant_stream"` against
              `python -c "import requests, sseclient"`, whole processes, with
              every module's bytecode compiled and cached beforehand (checked)
  plot        µs per event against message length -> throughput.png

Results go to results.json (and the plot to throughput.png) in benchmarks/,
or in --output DIR.
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = sys.executable
# Bytecode cached, as an installed package has it (some machines set this off).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPATH"] = ROOT + os.pathsep + ENV.get("PYTHONPATH", "")


@contextmanager
def server(*args: str) -> Iterator[str]:
    process = subprocess.Popen([PY, os.path.join(HERE, "server.py"), *args], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()  # it prints its URL once it is ready
    finally:
        process.kill()
        process.wait()


def client(name: str, url: str, deltas: int, *flags: str) -> Dict[str, Any]:
    done = subprocess.run([PY, os.path.join(HERE, "clients.py"), name, url, str(deltas), *flags], capture_output=True, text=True, env=ENV)
    if done.returncode:
        raise RuntimeError("%s failed:\n%s" % (name, done.stderr))
    result: Dict[str, Any] = json.loads(done.stdout)
    if not result["ok"]:
        raise RuntimeError("%s ended with the wrong text" % name)
    return result


def median_us(name: str, url: str, deltas: int, repeats: int) -> float:
    return statistics.median(client(name, url, deltas)["us_per_event"] for _ in range(repeats))


SECTIONS = ["throughput", "memory", "latency", "gevent", "sequential", "import", "plot"]


def has_openai() -> bool:
    return importlib.util.find_spec("openai") is not None


def throughput(repeats: int) -> Dict[str, Any]:
    found: Dict[str, Any] = {"deltas": 20000}
    with server("--deltas", "20000") as url:
        for name in ["raw", "sse", "sdk"] + (["openai"] if has_openai() else []):
            found[name] = median_us(name, url, 20000, repeats)
        for name in ["sse_chat", "sdk_chat"] + (["openai_chat"] if has_openai() else []):
            found[name] = median_us(name, url, 20000, repeats)
    with server("--deltas", "200000") as url:
        for name in ("sse", "sdk"):
            found[name + "_200k"] = median_us(name, url, 200000, repeats)
        if has_openai():  # one run: it takes most of a minute
            found["openai_200k"] = median_us("openai", url, 200000, 1)
    found["sdk_vs_floor"] = found["sdk"] / found["sse"]
    found["chat_vs_floor"] = found["sdk_chat"] / found["sse_chat"]
    if "openai" in found:
        found["openai_vs_sdk"] = found["openai"] / found["sdk"]
        found["openai_vs_sdk_200k"] = found["openai_200k"] / found["sdk_200k"]
        found["openai_chat_vs_sdk"] = found["openai_chat"] / found["sdk_chat"]
    return found


def memory(repeats: int) -> Dict[str, Any]:
    """Peak RSS above the baseline before the request, 1M deltas with CJK and
    emoji: against the text's UTF-8 bytes and its final str."""
    deltas = 1000000
    found: Dict[str, Any] = {"deltas": deltas, "words": "unicode"}
    with server("--deltas", str(deltas), "--words", "unicode") as url:
        for name, runs in (("sdk", repeats), ("sse", 1)):
            results = [client(name, url, deltas, "--words", "unicode") for _ in range(runs)]
            extra = statistics.median((r["peak_kib_after"] - r["peak_kib_before"]) * 1024 for r in results)
            found[name] = {"peak_extra_bytes": extra, "us_per_event": statistics.median(r["us_per_event"] for r in results)}
    last = results[-1]
    found.update(text_chars=last["text_chars"], text_utf8_bytes=last["text_utf8_bytes"], text_str_bytes=last["text_str_bytes"])
    for name in ("sdk", "sse"):
        found[name]["vs_str"] = found[name]["peak_extra_bytes"] / found["text_str_bytes"]
        found[name]["vs_utf8"] = found[name]["peak_extra_bytes"] / found["text_utf8_bytes"]
    return found


def percentile(values: List[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def latency(quick: bool) -> Dict[str, Any]:
    deltas = 100 if quick else 300
    found: Dict[str, Any] = {}
    for framing in ("chunked", "close"):
        with server("--deltas", str(deltas), "--pause-ms", "10", "--timestamps", "--framing", framing) as url:
            for name in ("sdk", "sse_response"):
                values = client(name, url, deltas, "--latency")["latencies_ms"]
                found["%s_%s" % (name, framing)] = {
                    "p50": statistics.median(values),
                    "p99": percentile(values, 0.99),
                    "max": max(values),
                }
    return found


def gevent_load(quick: bool) -> Optional[Dict[str, Any]]:
    if importlib.util.find_spec("gevent") is None:
        return None
    streams = 100 if quick else 500
    with server("--deltas", "200", "--pause-ms", "10") as url:
        done = subprocess.run(
            [PY, os.path.join(HERE, "gevent_streams.py"), url, str(streams), "200"], capture_output=True, text=True, env=ENV
        )
        if done.returncode:
            raise RuntimeError("gevent_streams failed:\n" + done.stderr)
        found: Dict[str, Any] = json.loads(done.stdout)
        for mode in ("raw", "floor"):  # the load alone; and the parsing any client needs
            done = subprocess.run(
                [PY, os.path.join(HERE, "gevent_streams.py"), url, str(streams), "200", "--" + mode],
                capture_output=True,
                text=True,
                env=ENV,
            )
            if done.returncode == 0:
                found[mode + "_ratio"] = json.loads(done.stdout)["ratio"]
    return found


def sequential() -> Dict[str, Any]:
    with server("--deltas", "1000") as url:
        result = client("sdk_seq", url, 1000)
    return {"streams": result["streams"], "connections": result["connections"], "deltas": 1000}


# Run after one warm-up import: every module the code imported from source has
# its bytecode cached, and fresh (timestamp pycs: the source's mtime and size).
CHECK_PYC = """
import importlib.util, os, sys
sys.dont_write_bytecode = True
%s
checked, missing = 0, []
for module in list(sys.modules.values()):
    spec = getattr(module, "__spec__", None)
    origin, cached = getattr(spec, "origin", None), getattr(spec, "cached", None)
    if not (origin and cached and origin.endswith(".py")):
        continue
    checked += 1
    try:
        with open(cached, "rb") as file:
            header = file.read(16)
        stat = os.stat(origin)
        flags = int.from_bytes(header[4:8], "little")
        fresh = header[:4] == importlib.util.MAGIC_NUMBER and (
            flags != 0 or (int.from_bytes(header[8:12], "little") == int(stat.st_mtime) & 0xFFFFFFFF
                           and int.from_bytes(header[12:16], "little") == stat.st_size & 0xFFFFFFFF))
    except OSError:
        fresh = False
    if not fresh:
        missing.append(module.__name__)
print(checked, " ".join(missing))
"""


def import_time(repeats: int) -> Dict[str, Any]:
    """Whole processes, bytecode compiled: `python -m compileall` on the module,
    one warm-up import of each kind (which writes what is missing), a check
    that every imported module's .pyc is there and fresh; then the two kinds
    timed in turn, so that drift on the machine hits both alike."""
    codes = {"base": "import requests, sseclient", "ours": "import assistant_stream"}
    subprocess.run([PY, "-m", "compileall", "-q", os.path.join(ROOT, "assistant_stream.py")], env=ENV, check=True)
    found: Dict[str, Any] = {}
    for kind, code in codes.items():
        subprocess.run([PY, "-c", code], env=ENV, check=True)  # warm the bytecode cache
        done = subprocess.run([PY, "-c", CHECK_PYC % code], env=ENV, check=True, capture_output=True, text=True)
        checked, _, missing = done.stdout.strip().partition(" ")
        found[kind + "_modules"] = int(checked)
        found[kind + "_without_pyc"] = missing.split()
    runs: Dict[str, List[float]] = {"base": [], "ours": []}
    for i in range(repeats):
        for kind in ("base", "ours") if i % 2 == 0 else ("ours", "base"):
            start = time.perf_counter()
            subprocess.run([PY, "-c", codes[kind]], env=ENV, check=True)
            runs[kind].append(time.perf_counter() - start)
    base, ours = statistics.median(runs["base"]), statistics.median(runs["ours"])
    found.update(requests_sseclient_ms=base * 1000, assistant_stream_ms=ours * 1000, ratio=ours / base)
    return found


def curve(repeats: int, quick: bool) -> Dict[str, Dict[int, float]]:
    sizes = [1000, 5000, 20000, 50000] if quick else [1000, 5000, 10000, 20000, 50000, 100000, 200000]
    points: Dict[str, Dict[int, float]] = {"sse": {}, "sdk": {}, "openai": {}}
    for deltas in sizes:
        with server("--deltas", str(deltas)) as url:
            for name in ("sse", "sdk"):
                points[name][deltas] = median_us(name, url, deltas, repeats)
            if has_openai():  # one run beyond 20k deltas: each takes many seconds
                points["openai"][deltas] = median_us("openai", url, deltas, 1 if deltas > 20000 else repeats)
    return points


def plot(points: Dict[str, Dict[int, float]], path: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=110)
    labels = {
        "sdk": "assistant_stream",
        "sse": "sseclient-py over iter_content(None) + json (the honest floor)",
        "openai": "openai AssistantEventHandler",
    }
    for name in ("openai", "sse", "sdk"):
        if points[name]:
            sizes = sorted(points[name])
            axes.plot(sizes, [points[name][n] for n in sizes], marker="o", label=labels[name])
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("message length (text deltas)")
    axes.set_ylabel("µs per event (in-process)")
    axes.set_title("Cost per event as the message grows")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    return True


def report(results: Dict[str, Any]) -> str:
    rows = ["| goal | measured | target | met |", "|---|---|---|---|"]

    def row(goal: str, measured: str, target: str, met: bool) -> None:
        rows.append("| %s | %s | %s | %s |" % (goal, measured, target, "yes" if met else "**no**"))

    t = results.get("throughput")
    if t:
        row(
            "µs/event at 20k deltas vs the honest floor",
            "%.1f µs/event; floor (sseclient-py over iter_content(None) + json) %.1f; raw bytes %.1f → **%.2f×** the floor"
            % (t["sdk"], t["sse"], t["raw"], t["sdk_vs_floor"]),
            "≤ 0.9×",
            t["sdk_vs_floor"] <= 0.9,
        )
        if "openai" in t:
            row(
                "vs the official SDK at 20k / 200k deltas",
                "openai %.0f / %.0f µs/event, this SDK %.1f / %.1f → **%.1f× / %.1f×** faster"
                % (t["openai"], t["openai_200k"], t["sdk"], t["sdk_200k"], t["openai_vs_sdk"], t["openai_vs_sdk_200k"]),
                "≥ 20× / ≥ 30×",
                t["openai_vs_sdk"] >= 20 and t["openai_vs_sdk_200k"] >= 30,
            )
        if "sdk_chat" in t:
            openai = (
                "; openai's chat.completions.stream() %.0f µs/event → %.1f× faster" % (t["openai_chat"], t["openai_chat_vs_sdk"])
                if "openai_chat" in t
                else ""
            )
            row(
                "chat completions, µs/event at 20k deltas vs its honest floor",
                "%.1f µs/event (runs: %.1f); its floor %.1f → **%.2f×**%s"
                % (t["sdk_chat"], t["sdk"], t["sse_chat"], t["chat_vs_floor"], openai),
                "≤ 0.9×, as runs",
                t["chat_vs_floor"] <= 0.9,
            )
    m = results.get("memory")
    if m:
        row(
            "peak memory, %s deltas with emoji/CJK, vs the final text as a str"
            % ("%gM" % (m["deltas"] / 1e6) if m["deltas"] >= 1000000 else "%dk" % (m["deltas"] // 1000)),
            "%.1f MB above baseline; text %.1fM characters, %.1f MB as UTF-8, %.1f MB as a str → **%.2f×** the str, %.1f× the UTF-8 bytes"
            " (the floor: %.2f× / %.1f×)"
            % (
                m["sdk"]["peak_extra_bytes"] / 1e6,
                m["text_chars"] / 1e6,
                m["text_utf8_bytes"] / 1e6,
                m["text_str_bytes"] / 1e6,
                m["sdk"]["vs_str"],
                m["sdk"]["vs_utf8"],
                m["sse"]["vs_str"],
                m["sse"]["vs_utf8"],
            ),
            "≤ 4× (also shown vs UTF-8 bytes)",
            m["sdk"]["vs_str"] <= 4,
        )
    g = results.get("gevent")
    if g:
        raw = " (reading bytes only: %.2f×; sseclient-py + json: %.2f×)" % (g["raw_ratio"], g["floor_ratio"]) if "floor_ratio" in g else ""
        row(
            "%d gevent streams vs one stream (200 deltas 10 ms apart)" % g["streams"],
            "%d/%d right; %.2f s vs %.2f s alone → **%.2f×**%s"
            % (g["right_text"], g["streams"], g["concurrent_seconds"], g["single_seconds"], g["ratio"], raw),
            "≤ 1.45×",
            g["ok"] and g["ratio"] <= 1.45,
        )
    lat = results.get("latency")
    if lat:
        ours = [lat["sdk_" + framing] for framing in ("chunked", "close")]
        naive = [lat["sse_response_" + framing] for framing in ("chunked", "close")]
        row(
            "p99 latency, chunked and connection-close bodies (10 ms apart)",
            "chunked: p50 %.2f, **p99 %.2f ms**; connection-close: p50 %.2f, **p99 %.2f ms** (SSEClient(response): p99 %.1f and %.1f ms)"
            % (ours[0]["p50"], ours[0]["p99"], ours[1]["p50"], ours[1]["p99"], naive[0]["p99"], naive[1]["p99"]),
            "≤ 2 ms",
            max(o["p99"] for o in ours) <= 2,
        )
    seq = results.get("sequential")
    if seq:
        row(
            "sequential streams on one Client",
            "%d streams → **%d TCP connection%s** accepted" % (seq["streams"], seq["connections"], "" if seq["connections"] == 1 else "s"),
            "one keep-alive connection",
            seq["connections"] == 1,
        )
    imp = results.get("import")
    if imp:
        stale = imp["base_without_pyc"] + imp["ours_without_pyc"]
        row(
            "import, bytecode compiled",
            "%.0f ms vs %.0f ms for `import requests, sseclient` → **%.2f×** (%s)"
            % (
                imp["assistant_stream_ms"],
                imp["requests_sseclient_ms"],
                imp["ratio"],
                "every module's .pyc cached" if not stale else "no fresh .pyc for " + ", ".join(stale),
            ),
            "≤ 1.05×",
            imp["ratio"] <= 1.05 and not stale,
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes")
    parser.add_argument("--only", nargs="*", choices=SECTIONS)
    parser.add_argument("--output", default=HERE, help="where results.json and throughput.png go (default: benchmarks/)")
    args = parser.parse_args()
    os.makedirs(args.output, exist_ok=True)
    repeats = 3 if args.quick else 5
    wanted = set(args.only or SECTIONS)
    results: Dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    if "throughput" in wanted:
        results["throughput"] = throughput(repeats)
    if "memory" in wanted:
        results["memory"] = memory(1 if args.quick else 3)
    if "latency" in wanted:
        results["latency"] = latency(args.quick)
    if "gevent" in wanted:
        results["gevent"] = gevent_load(args.quick)
    if "sequential" in wanted:
        results["sequential"] = sequential()
    if "import" in wanted:
        results["import"] = import_time(10 if args.quick else 30)
    if "plot" in wanted:
        results["curve"] = curve(max(1, repeats - 2), args.quick)
        plot(results["curve"], os.path.join(args.output, "throughput.png"))
    with open(os.path.join(args.output, "results.json"), "w") as file:
        json.dump(results, file, indent=1)
    print(report(results))


if __name__ == "__main__":
    main()
