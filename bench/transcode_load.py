"""The hot path while creatives are transcoded: media playlist latency with and without two transcodes running.

The proxy (`ssai-proxy demo`, one process) runs on core 0 and the open-loop load generator on core 1, as in
bench/http_ratio.py; the two transcodes (bench/transcode.py's 30 s 1080p creative into a 1080p/720p/360p
ladder, in processes of their own at the media pipeline's default priority, nice 10) may use any core, as
the pipeline's ffmpeg does. Latency is measured at a fixed rate, first idle, then while both transcodes run,
in the same run. Run: `python -m bench.transcode_load [RATE] [NICE] [--out PATH]` (defaults 2000 requests/s, nice 10).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.http_ratio import BASE, open_loop, percentile, session_with_ads, start_server
from bench.output import data_dir, split_out, write_result
from bench.transcode import make_source, profile
from proxy.media.transcode import transcode

SECONDS = 10.0


def measure(path: str, rate: float) -> dict[str, float]:
    latencies = asyncio.run(open_loop(path, rate, SECONDS))
    return {
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
    }


def start_transcodes(source: Path, out: Path, nice: int) -> list[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "bench.transcode_load", "--worker", str(source)]
    return [subprocess.Popen([*command, str(out / f"job{n}"), str(nice)]) for n in range(2)]


def worker(source: str, out: str, nice: int) -> None:
    result = transcode(Path(source), profile(), Path(out), preset="veryfast", timeout=1800, nice=nice)
    print(json.dumps({"wall_seconds": round(result.seconds, 2)}), flush=True)


def main() -> None:
    args, out = split_out(sys.argv[1:])
    rate = float(args[0]) if args else 2000.0
    nice = int(args[1]) if len(args) > 1 else 10
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})  # the load generator; the transcode processes get every core back below
    with tempfile.TemporaryDirectory() as tmp, data_dir() as folder:
        source = Path(tmp) / "source.mp4"
        make_source(source, 30)
        server = start_server(folder)
        try:
            stitched = f"/v1/ssai/media/demo/{session_with_ads()}/v0.m3u8"
            idle = measure(stitched, rate)
            jobs = start_transcodes(source, Path(tmp), nice)
            started = time.monotonic()
            time.sleep(3)  # past ffmpeg's start-up: measure while both encode
            during = measure(stitched, rate)
            still_running = all(job.poll() is None for job in jobs)
            for job in jobs:
                job.wait()
            both_done = time.monotonic() - started
        finally:
            server.terminate()
            server.wait(timeout=10)
    result = {
        "rate": rate,
        "nice": nice,
        "idle": idle,
        "during_two_transcodes": during,
        "p99_ratio": round(during["p99_ms"] / idle["p99_ms"], 2),
        "transcodes_ran_throughout": still_running,
        "two_transcodes_wall_seconds": round(both_done, 1),
        "server": BASE,
    }
    print(f"written to {write_result(result, 'transcode_load', out)}")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
