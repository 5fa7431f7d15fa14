"""HTTP benchmark: stitched media playlists per second from one server process, against a baseline server
returning the same bytes without any work, then latency at half the stitched maximum.

The server (`ssai-proxy demo`, one process) runs on core 0 and the load generators on core 1 (taskset), so
neither steals the other's CPU. The baseline (bench/baseline_server.py) is a process of its own on core 0 too,
on the same uvicorn and Starlette stack with the same CORS, answering the bytes of a stitched playlist that the
benchmark fetched from the proxy: the proxy itself has no benchmark route. Maximum rates come from wrk (closed
loop, 32 connections) in short rounds that alternate the two sides (bench/rounds.py): each side's median and
spread, the ratio of the medians with the spread of the per-round ratios, the machine's load, steal and other
processes' CPU share, and a warning (and `"trustworthy": false` in the JSON) when the machine was too busy for
the figure to mean anything. The latency figure comes from an open-loop generator that sends at a fixed rate
and measures from each request's scheduled time, so a slow server cannot hide its queueing delay (coordinated
omission).

Run: `python -m bench.http_ratio [--rounds N] [--seconds S] [--out PATH]` (needs wrk: `apt-get install wrk`).
The figures go to bench/results/latest/ unless `--out` names a file (`--out bench/results/http_ratio.json`
updates the recorded one). The server listens on a free port.

`--cors` measures instead what CORS costs the hot path: two servers of this build, one answering
every origin (`SSAI_CORS_ORIGINS=*`, the default) and one without CORS (`SSAI_CORS_ORIGINS=`), both on core 0,
asked for the same stitched playlist with an `Origin` header as a player on another page sends it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.output import write_result
from bench.rounds import MachineWatch, compare, interleaved, process_cpu_seconds
from proxy.demo.testing import free_port

PORT = free_port()
BASE = f"http://127.0.0.1:{PORT}"
ORIGIN = "http://player.example"  # the Origin header of a player on another page


def _pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def start_server(data_dir: str, port: int = PORT, environ: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SSAI_LOG_LEVEL": "warning", **(environ or {})}
    command = [sys.executable, "-m", "proxy", "demo", "--port", str(port), "--data-dir", data_dir]
    command += ["--target-duration", "6", "--ad-interval", "30", "--ad-duration", "12"]
    return _started(subprocess.Popen([*_pin(0), *command], env=env, stdout=subprocess.DEVNULL), port, "/healthz")


def start_baseline(body: Path, port: int, path: str) -> subprocess.Popen[bytes]:
    """bench/baseline_server.py answering `body` at `path`, on the proxy's core."""
    command = [sys.executable, "-m", "bench.baseline_server", "--port", str(port), "--body", str(body)]
    return _started(subprocess.Popen([*_pin(0), *command], stdout=subprocess.DEVNULL), port, path)


def _started(server: subprocess.Popen[bytes], port: int, path: str) -> subprocess.Popen[bytes]:
    """`server` once `path` answers, or killed and the run stopped after 120 s."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1).read()
            return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit(f"the server on port {port} did not start")


def session_with_ads(base: str = BASE) -> str:
    """A session whose v0 playlist has an ad break in its window, so the stitched path does its full work."""
    request = urllib.request.Request(f"{base}/v1/ssai/session/demo/main.m3u8", method="POST")
    manifest: str = json.loads(urllib.request.urlopen(request).read())["manifestUrl"]
    session = manifest.rsplit("=", 1)[1]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = urllib.request.urlopen(f"{base}/v1/ssai/media/demo/{session}/v0.m3u8").read()
        if b"/demo/ads/creatives/" in body or b"\nseg/" in body:  # seg/: through the beacon redirect
            return session
        time.sleep(2)
    raise SystemExit("no ad break reached the session's window in 120 s")


def wrk(url: str, seconds: int = 8, headers: tuple[str, ...] = ()) -> float:
    return wrk_run(url, seconds, headers)[0]


def wrk_run(url: str, seconds: int, headers: tuple[str, ...] = ()) -> tuple[float, int]:
    """wrk's requests per second and number of requests."""
    command = ["wrk", "-t1", "-c32", f"-d{seconds}s", *(f"-H{header}" for header in headers), url]
    out = subprocess.run([*_pin(1), *command], capture_output=True, text=True)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    count = re.search(r"(\d+) requests in", out.stdout)
    if rate is None or count is None:
        raise SystemExit(f"wrk failed: {out.stdout}{out.stderr}")
    return float(rate.group(1)), int(count.group(1))


async def open_loop(path: str, rate: float, seconds: float, connections: int = 16, port: int = PORT) -> list[float]:
    """Send `rate` requests per second spread over keep-alive connections; latency from the scheduled time."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    latencies: list[float] = []
    start = time.perf_counter() + 0.2
    total = int(rate * seconds)

    async def connection(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for n in range(index, total, connections):
            scheduled = start + n / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - scheduled)
        writer.close()

    await asyncio.gather(*(connection(i) for i in range(connections)))
    return sorted(latencies)


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def stitched_vs_baseline(data_dir: str, port: int, rounds: int, seconds: int) -> dict[str, object]:
    base = f"http://127.0.0.1:{port}"
    server = start_server(data_dir, port)
    try:
        session = session_with_ads(base)
        stitched = f"/v1/ssai/media/demo/{session}/v0.m3u8"
        with baseline_server(urllib.request.urlopen(base + stitched).read(), stitched) as (baseline, url):
            urls = {"stitched": base + stitched, "baseline": url}
            for each in urls.values():  # warm-up, not counted
                wrk(each, 1)
            watch = MachineWatch([server.pid, baseline.pid])
            runs = interleaved({name: _rate(each, seconds) for name, each in urls.items()}, rounds)
            result = compare(runs, "stitched", "baseline", watch.report())
        half = statistics.median(runs["stitched"]) / 2
        latencies = asyncio.run(open_loop(stitched, half, 10, port=port))
        return result | {
            "open_loop_rate": round(half),
            "p50_ms": round(percentile(latencies, 50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 99) * 1000, 2),
            "requests": len(latencies),
        }
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextlib.contextmanager
def baseline_server(body: bytes, path: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """bench/baseline_server.py answering `body` (recorded from the proxy) at `path`, and the URL to ask."""
    with tempfile.TemporaryDirectory(prefix="ssai-baseline-") as folder:
        recorded = Path(folder) / "playlist.m3u8"
        recorded.write_bytes(body)
        port = free_port()
        server = start_baseline(recorded, port, path)
        try:
            yield server, f"http://127.0.0.1:{port}{path}"
        finally:
            server.terminate()
            server.wait(timeout=10)


def _rate(url: str, seconds: int, headers: tuple[str, ...] = ()) -> Callable[[], float]:
    return lambda: wrk_run(url, seconds, headers)[0]


def cors_on_vs_off(data_dir: str, rounds: int, seconds: int) -> dict[str, object]:
    """The same stitched playlist from a server with CORS for every origin and one without CORS, in interleaved
    rounds; besides the rates, each server's CPU time per request (/proc), which other processes disturb less."""
    ports = {"cors": free_port(), "no_cors": free_port()}
    servers: dict[str, subprocess.Popen[bytes]] = {}
    try:
        urls = {}
        for name, origins in (("cors", "*"), ("no_cors", "")):
            servers[name] = start_server(f"{data_dir}/{name}", ports[name], {"SSAI_CORS_ORIGINS": origins})
            base = f"http://127.0.0.1:{ports[name]}"
            urls[name] = f"{base}/v1/ssai/media/demo/{session_with_ads(base)}/v0.m3u8"
        granted = urllib.request.urlopen(urllib.request.Request(urls["cors"], headers={"Origin": ORIGIN}))
        assert granted.headers["Access-Control-Allow-Origin"] == "*", "the CORS server does not answer CORS"
        cpu: dict[str, list[float]] = {"cors": [], "no_cors": []}

        def side(name: str) -> Callable[[], float]:
            def measure() -> float:
                before = process_cpu_seconds(servers[name].pid)
                rate, count = wrk_run(urls[name], seconds, (f"Origin: {ORIGIN}",))
                cpu[name].append((process_cpu_seconds(servers[name].pid) - before) / count * 1e6)
                return rate

            return measure

        watch = MachineWatch([server.pid for server in servers.values()])
        runs = interleaved({name: side(name) for name in ("cors", "no_cors")}, rounds)
        result = compare(runs, "cors", "no_cors", watch.report())
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(timeout=10)
    median_cpu = {name: statistics.median(values) for name, values in cpu.items()}
    return result | {
        "cors_cpu_us_per_request": round(median_cpu["cors"], 1),
        "no_cors_cpu_us_per_request": round(median_cpu["no_cors"], 1),
        "cpu_ratio": round(median_cpu["no_cors"] / median_cpu["cors"], 3),  # as a rate ratio: below 1 is CORS's cost
    }


def summary(result: dict[str, Any]) -> str:
    """One line per side and the ratio with its spread; the warnings, loud, when the figure is not to be trusted."""
    lines = [
        f"{name}: median {side['median']} req/s (rounds {side['min']}–{side['max']}, IQR {side['q1']}–{side['q3']})"
        for name, side in result["sides"].items()
    ]
    spread = result["ratio_per_round"]
    per_round = f"per round {spread['min']}–{spread['max']}, IQR {spread['q1']}–{spread['q3']}"
    lines.append(f"ratio of medians {result['ratio']} ({per_round})")
    machine = result["machine"]
    lines.append(
        f"machine: {machine['cores']} cores, load {machine['load_average_before']} → {machine['load_average_after']}, "
        f"steal {machine['steal_share']:.1%}, other processes {machine['other_cpu_share']:.1%} of the CPU"
    )
    for warning in result["warnings"]:
        lines.append(f"WARNING: not a measurement: {warning}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.http_ratio", description=__doc__.split("\n")[0])
    parser.add_argument("--cors", action="store_true", help="CORS on vs off instead of stitched vs baseline")
    parser.add_argument("--port", type=int, default=0, help="the server's port (default: a free one)")
    parser.add_argument("--data-dir", help="the demo's data (default: a temporary folder, removed after)")
    parser.add_argument("--out", type=Path, help="the result file (default: bench/results/latest/, untracked)")
    parser.add_argument("--rounds", type=int, default=8, help="rounds per side, interleaved (default: 8)")
    parser.add_argument("--seconds", type=int, default=3, help="length of one round in seconds (default: 3)")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="ssai-bench-") as scratch:
        data_dir = args.data_dir or scratch
        if args.cors:
            result = cors_on_vs_off(data_dir, args.rounds, args.seconds)
        else:
            result = stitched_vs_baseline(data_dir, args.port or free_port(), args.rounds, args.seconds)
    print(json.dumps(result, indent=2))
    print(summary(result))
    print(f"written to {write_result(result, 'http_ratio_cors' if args.cors else 'http_ratio', args.out)}")


if __name__ == "__main__":
    main()
