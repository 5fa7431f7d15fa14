"""HTTP benchmark: stitched media playlists per second from one server process, against a baseline endpoint
of the same app returning the same bytes without any work, then latency at half the stitched maximum.

The server (`ssai-proxy demo`, one process) runs on core 0 and the load generators on core 1 (taskset),
so neither steals the other's CPU (reference/perf-reliability.md §4.3). Maximum rates come from wrk
(closed loop, 32 connections); the latency figure from an open-loop generator that sends at a fixed rate
and measures from each request's scheduled time, so a slow server cannot hide its queueing delay
(coordinated omission). Run: `python -m bench.http_ratio [--out PATH]` (needs wrk: `apt-get install wrk`); the
figures go to bench/results/latest/ unless `--out` names a file (`--out bench/results/http_ratio.json` updates
the recorded one). The server listens on a free port.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

from bench.output import data_dir, split_out, write_result
from proxy.testing import free_port

PORT = free_port()
BASE = f"http://127.0.0.1:{PORT}"


def _pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def start_server(data_dir: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SSAI_BASELINE_ENDPOINT": "1", "SSAI_LOG_LEVEL": "warning"}
    command = [sys.executable, "-m", "proxy", "demo", "--port", str(PORT), "--data-dir", data_dir]
    command += ["--target-duration", "6", "--ad-interval", "30", "--ad-duration", "12"]
    server = subprocess.Popen([*_pin(0), *command], env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{BASE}/healthz", timeout=1).read()
            return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the demo server did not start")


def session_with_ads() -> str:
    """A session whose v0 playlist has an ad break in its window, so the stitched path does its full work."""
    request = urllib.request.Request(f"{BASE}/v1/ssai/session/demo/main.m3u8", method="POST")
    manifest: str = json.loads(urllib.request.urlopen(request).read())["manifestUrl"]
    session = manifest.rsplit("=", 1)[1]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = urllib.request.urlopen(f"{BASE}/v1/ssai/media/demo/{session}/v0.m3u8").read()
        if b"/demo/ads/creatives/" in body or b"\nseg/" in body:  # seg/: through the beacon redirect
            return session
        time.sleep(2)
    raise SystemExit("no ad break reached the session's window in 120 s")


def wrk(url: str, seconds: int = 8) -> float:
    out = subprocess.run([*_pin(1), "wrk", "-t1", "-c32", f"-d{seconds}s", url], capture_output=True, text=True)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    if match is None:
        raise SystemExit(f"wrk failed: {out.stdout}{out.stderr}")
    return float(match.group(1))


async def open_loop(path: str, rate: float, seconds: float, connections: int = 16) -> list[float]:
    """Send `rate` requests per second spread over keep-alive connections; latency from the scheduled time."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    latencies: list[float] = []
    start = time.perf_counter() + 0.2
    total = int(rate * seconds)

    async def connection(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
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


def main() -> None:
    _, out = split_out(sys.argv[1:])
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    with data_dir() as folder:
        result = measure(start_server(folder))
    print(f"written to {write_result(result, 'http_ratio', out)}")
    print(json.dumps(result, indent=2))


def measure(server: subprocess.Popen[bytes]) -> dict[str, float]:
    try:
        session = session_with_ads()
        stitched = f"/v1/ssai/media/demo/{session}/v0.m3u8"
        baseline = f"/v1/ssai/_baseline/demo/{session}/v0.m3u8"
        urllib.request.urlopen(BASE + stitched).read()
        rates = {"stitched": 0.0, "baseline": 0.0}
        for _ in range(2):  # alternate, keep the best of each, so drift does not favour one side
            for name, path in (("stitched", stitched), ("baseline", baseline)):
                rates[name] = max(rates[name], wrk(BASE + path))
        half = rates["stitched"] / 2
        latencies = asyncio.run(open_loop(stitched, half, 10))
        result = {
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
    return result


if __name__ == "__main__":
    main()
