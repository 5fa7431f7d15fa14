"""HTTP benchmark: stitched media playlists per second from one server process, against a baseline endpoint
of the same app returning the same bytes without any work, then latency at half the stitched maximum.

The server (`ssai-proxy demo`, one process) runs on core 0 and the load generators on core 1 (taskset),
so neither steals the other's CPU (reference/perf-reliability.md §4.3). Maximum rates come from wrk
(closed loop, 32 connections); the latency figure from an open-loop generator that sends at a fixed rate
and measures from each request's scheduled time, so a slow server cannot hide its queueing delay
(coordinated omission). Run: `python -m bench.http_ratio [--out PATH]` (needs wrk: `apt-get install wrk`); the
figures go to bench/results/latest/ unless `--out` names a file (`--out bench/results/http_ratio.json` updates
the recorded one). The server listens on a free port.

`--cors` measures instead what CORS costs the hot path: two servers of this build, one answering
every origin (`SSAI_CORS_ORIGINS=*`, the default) and one without CORS (`SSAI_CORS_ORIGINS=`), both on core 0,
asked for the same stitched playlist with an `Origin` header as a player on another page sends it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.output import write_result
from proxy.testing import free_port

PORT = free_port()
BASE = f"http://127.0.0.1:{PORT}"
ORIGIN = "http://player.example"  # the Origin header of a player on another page


def _pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def start_server(data_dir: str, port: int = PORT, environ: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SSAI_BASELINE_ENDPOINT": "1", "SSAI_LOG_LEVEL": "warning", **(environ or {})}
    command = [sys.executable, "-m", "proxy", "demo", "--port", str(port), "--data-dir", data_dir]
    command += ["--target-duration", "6", "--ad-interval", "30", "--ad-duration", "12"]
    server = subprocess.Popen([*_pin(0), *command], env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the demo server did not start")


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (proc(5): fields 14 and 15, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def stitched_vs_baseline(data_dir: str, port: int) -> dict[str, object]:
    base = f"http://127.0.0.1:{port}"
    server = start_server(data_dir, port)
    try:
        session = session_with_ads(base)
        stitched = f"/v1/ssai/media/demo/{session}/v0.m3u8"
        baseline = f"/v1/ssai/_baseline/demo/{session}/v0.m3u8"
        urllib.request.urlopen(base + stitched).read()
        rates = {"stitched": 0.0, "baseline": 0.0}
        for _ in range(2):  # alternate, keep the best of each, so drift does not favour one side
            for name, path in (("stitched", stitched), ("baseline", baseline)):
                rates[name] = max(rates[name], wrk(base + path))
        half = rates["stitched"] / 2
        latencies = asyncio.run(open_loop(stitched, half, 10, port=port))
        return {
            "stitched_rps": round(rates["stitched"]),
            "baseline_rps": round(rates["baseline"]),
            "ratio": round(rates["stitched"] / rates["baseline"], 3),
            "open_loop_rate": round(half),
            "p50_ms": round(percentile(latencies, 50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 99) * 1000, 2),
            "requests": len(latencies),
        }
    finally:
        server.terminate()
        server.wait(timeout=10)


def cors_on_vs_off(data_dir: str, rounds: int = 6, seconds: int = 5) -> dict[str, object]:
    """The same stitched playlist from a server with CORS for every origin and one without CORS. Runs alternate;
    besides the best rates, each server's CPU time per request is measured (/proc), which a loaded machine's
    other processes disturb far less than a rate."""
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
        runs: dict[str, list[tuple[float, float]]] = {"cors": [], "no_cors": []}
        for index in range(rounds):
            for name in ("cors", "no_cors") if index % 2 == 0 else ("no_cors", "cors"):
                before = cpu_seconds(servers[name].pid)
                rate, count = wrk_run(urls[name], seconds, (f"Origin: {ORIGIN}",))
                runs[name].append((rate, (cpu_seconds(servers[name].pid) - before) / count * 1e6))
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(timeout=10)
    best = {name: max(rate for rate, _ in found) for name, found in runs.items()}
    cpu = {name: sorted(us for _, us in found)[len(found) // 2] for name, found in runs.items()}
    return {
        "cors_rps": round(best["cors"]),
        "no_cors_rps": round(best["no_cors"]),
        "ratio": round(best["cors"] / best["no_cors"], 3),
        "cors_cpu_us_per_request": round(cpu["cors"], 1),
        "no_cors_cpu_us_per_request": round(cpu["no_cors"], 1),
        "cpu_ratio": round(cpu["no_cors"] / cpu["cors"], 3),  # as a rate ratio: below 1 is what CORS costs
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.http_ratio", description=__doc__.split("\n")[0])
    parser.add_argument("--cors", action="store_true", help="CORS on vs off instead of stitched vs baseline")
    parser.add_argument("--port", type=int, default=0, help="the server's port (default: a free one)")
    parser.add_argument("--data-dir", help="the demo's data (default: a temporary folder, removed after)")
    parser.add_argument("--out", type=Path, help="the result file (default: bench/results/latest/, untracked)")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="ssai-bench-") as scratch:
        data_dir = args.data_dir or scratch
        result = cors_on_vs_off(data_dir) if args.cors else stitched_vs_baseline(data_dir, args.port or free_port())
    print(f"written to {write_result(result, 'http_ratio_cors' if args.cors else 'http_ratio', args.out)}")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
