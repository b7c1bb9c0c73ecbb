"""Measure the performance goals; print a Markdown table, write a plot.

    pip install -e ".[bench]" && python benchmarks/run.py [--quick] [--only NAME ...]

Every measurement runs in processes of its own, against a loopback server
(benchmarks/server.py) in another process, and reports medians:

  throughput  µs per event at 20k deltas: raw bytes, sseclient-py + json (the
              floor), this SDK, the official openai SDK (skipped if absent);
              then the same words as a chat completion
  linear      µs per event at 10k and 200k deltas; peak memory at 1M deltas
  latency     events 10 ms apart: time from an event's send to its callback,
              chunked and connection-close bodies
  gevent      500 concurrent streams of 200 deltas 10 ms apart, one process
  import      `python -c "import assistant_stream"` against
              `python -c "import requests, sseclient"`, whole processes
  plot        µs per event against message length -> benchmarks/throughput.png

Results also go to benchmarks/results.json.
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


def has_openai() -> bool:
    return importlib.util.find_spec("openai") is not None


def throughput(repeats: int) -> Dict[str, Any]:
    deltas = 20000
    found: Dict[str, Any] = {"deltas": deltas}
    with server("--deltas", str(deltas)) as url:
        for name in ["raw", "sse", "sdk"] + (["openai"] if has_openai() else []):
            found[name] = median_us(name, url, deltas, repeats)
        for name in ["sse_chat", "sdk_chat"] + (["openai_chat"] if has_openai() else []):
            found[name] = median_us(name, url, deltas, repeats)
    found["sdk_vs_floor"] = found["sdk"] / found["sse"]
    found["chat_vs_floor"] = found["sdk_chat"] / found["sse_chat"]
    if "openai" in found:
        found["openai_vs_sdk"] = found["openai"] / found["sdk"]
        found["openai_chat_vs_sdk"] = found["openai_chat"] / found["sdk_chat"]
    return found


def linear(repeats: int, quick: bool) -> Dict[str, Any]:
    found: Dict[str, Any] = {}
    for deltas in (10000, 200000):
        with server("--deltas", str(deltas)) as url:
            found["us_%d" % deltas] = median_us("sdk", url, deltas, repeats)
    found["ratio"] = found["us_200000"] / found["us_10000"]
    deltas = 200000 if quick else 1000000
    with server("--deltas", str(deltas)) as url:
        result = client("sdk", url, deltas)
    extra = (result["peak_kib_after"] - result["peak_kib_before"]) * 1024
    found.update(memory_deltas=deltas, text_bytes=result["text_bytes"], peak_extra_bytes=extra, memory_ratio=extra / result["text_bytes"])
    return found


def percentile(values: List[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def latency(quick: bool) -> Dict[str, Any]:
    deltas = 100 if quick else 300
    found: Dict[str, Any] = {}
    for framing in ("chunked", "close"):
        with server("--deltas", str(deltas), "--pause-ms", "10", "--timestamps", "--framing", framing) as url:
            for name in ("sdk", "sse"):
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


def import_time(repeats: int) -> Dict[str, Any]:
    def timed(code: str) -> float:
        subprocess.run([PY, "-c", code], env=ENV, check=True)  # warm the bytecode cache
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([PY, "-c", code], env=ENV, check=True)
            runs.append(time.perf_counter() - start)
        return statistics.median(runs)

    base = timed("import requests, sseclient")
    ours = timed("import assistant_stream")
    return {"requests_sseclient_ms": base * 1000, "assistant_stream_ms": ours * 1000, "ratio": ours / base}


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
    labels = {"sdk": "assistant_stream", "sse": "sseclient-py + json (floor)", "openai": "openai AssistantEventHandler"}
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
    axes.legend()
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
            "throughput, 20k deltas",
            "%.1f µs/event; floor %.1f; raw bytes %.1f → **%.2f×** the floor" % (t["sdk"], t["sse"], t["raw"], t["sdk_vs_floor"]),
            "≤ 1.25× the floor",
            t["sdk_vs_floor"] <= 1.25,
        )
        if "openai" in t:
            row(
                "vs the official SDK, 20k deltas",
                "openai %.0f µs/event → **%.1f×** faster" % (t["openai"], t["openai_vs_sdk"]),
                "≥ 20×",
                t["openai_vs_sdk"] >= 20,
            )
        if "sdk_chat" in t:
            openai = (
                "; openai's chat.completions.stream() %.1f µs/event → %.1f× faster" % (t["openai_chat"], t["openai_chat_vs_sdk"])
                if "openai_chat" in t
                else ""
            )
            row(
                "chat completions, 20k deltas",
                "%.1f µs/event; floor %.1f → **%.2f×** the floor%s" % (t["sdk_chat"], t["sse_chat"], t["chat_vs_floor"], openai),
                "≤ 1.25× the floor, as runs",
                t["chat_vs_floor"] <= 1.25,
            )
    lin = results.get("linear")
    if lin:
        row(
            "linear cost",
            "%.1f µs at 10k, %.1f µs at 200k → **%.2f×**" % (lin["us_10000"], lin["us_200000"], lin["ratio"]),
            "≤ 1.2×",
            lin["ratio"] <= 1.2,
        )
        row(
            "memory, %dk deltas" % (lin["memory_deltas"] // 1000),
            "%.1f MB above baseline for %.1f MB of text → **%.1f×**"
            % (lin["peak_extra_bytes"] / 1e6, lin["text_bytes"] / 1e6, lin["memory_ratio"]),
            "≤ 3×",
            lin["memory_ratio"] <= 3,
        )
    lat = results.get("latency")
    if lat:
        for framing in ("chunked", "close"):
            ours, naive = lat["sdk_" + framing], lat["sse_" + framing]
            row(
                "latency, %s body, 10 ms apart" % framing,
                "p50 %.2f ms, **p99 %.2f ms** (SSEClient(response): p50 %.1f, p99 %.1f ms)"
                % (ours["p50"], ours["p99"], naive["p50"], naive["p99"]),
                "p99 ≤ 2 ms",
                ours["p99"] <= 2,
            )
    g = results.get("gevent")
    if g:
        raw = " (reading bytes only: %.2f×; sseclient-py + json: %.2f×)" % (g["raw_ratio"], g["floor_ratio"]) if "floor_ratio" in g else ""
        row(
            "gevent, %d streams × 200 deltas" % g["streams"],
            "%d/%d right; %.2f s vs %.2f s alone → **%.2f×**%s"
            % (g["right_text"], g["streams"], g["concurrent_seconds"], g["single_seconds"], g["ratio"], raw),
            "≤ 1.5×",
            g["ok"] and g["ratio"] <= 1.5,
        )
    imp = results.get("import")
    if imp:
        row(
            "import",
            "%.0f ms vs %.0f ms for requests + sseclient → **%.2f×**"
            % (imp["assistant_stream_ms"], imp["requests_sseclient_ms"], imp["ratio"]),
            "≤ 1.15×",
            imp["ratio"] <= 1.15,
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes")
    parser.add_argument("--only", nargs="*", choices=["throughput", "linear", "latency", "gevent", "import", "plot"])
    args = parser.parse_args()
    repeats = 3 if args.quick else 5
    wanted = set(args.only or ["throughput", "linear", "latency", "gevent", "import", "plot"])
    results: Dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    if "throughput" in wanted:
        results["throughput"] = throughput(repeats)
    if "linear" in wanted:
        results["linear"] = linear(repeats, args.quick)
    if "latency" in wanted:
        results["latency"] = latency(args.quick)
    if "gevent" in wanted:
        results["gevent"] = gevent_load(args.quick)
    if "import" in wanted:
        results["import"] = import_time(10 if args.quick else 30)
    if "plot" in wanted:
        results["curve"] = curve(max(1, repeats - 2), args.quick)
        plot(results["curve"], os.path.join(HERE, "throughput.png"))
    with open(os.path.join(HERE, "results.json"), "w") as file:
        json.dump(results, file, indent=1)
    print(report(results))


if __name__ == "__main__":
    main()
