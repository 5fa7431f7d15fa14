"""Server-side beacons: ad segment redirects per second against plain playlist requests of the same
session in the same run, and how many beacons one process delivers per second to a local endpoint.

The demo proxy runs on core 0 and wrk on core 1 (as bench/http_ratio.py). The redirect measured is a real ad
segment of a session's playlist: each request looks the item up, checks the beacon guard and answers 302 (the
guard lets each event fire once, so a repeated request is the steady-state cost of a player's segment fetch).
Beacon throughput: a `BeaconQueue` of this process, with its default workers, sends N beacons to the fake
origin's beacon endpoint running in a process of its own, timed until the queue has drained.

Run: `python -m bench.beacons [N] [--out PATH]` (needs wrk: `apt-get install wrk`; N defaults to 20,000; figures
to bench/results/latest/ unless `--out` names a file).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
import urllib.request

from bench.http_ratio import BASE, session_with_ads, start_server, wrk
from bench.output import data_dir, split_out, write_result
from proxy.demo.testing import FakeOrigin, free_port
from proxy.hls.playlist import parse_media
from proxy.net.adserver import AdServerClient
from proxy.net.egress import EgressPolicy
from proxy.net.origin import HttpClient, new_session
from proxy.playback.beacons import BeaconQueue


def redirect_path(session: str) -> str:
    body = urllib.request.urlopen(f"{BASE}/v1/ssai/media/demo/{session}/v0.m3u8").read()
    uri = next(s.uri for s in parse_media(body).segments if s.uri.startswith("seg/"))
    return f"/v1/ssai/media/demo/{session}/{uri}"


async def beacon_throughput(count: int) -> float:
    port = free_port()
    origin = FakeOrigin()
    command = [sys.executable, "-m", "proxy.demo.testing", str(port), "2", "10", "3", str(origin.epoch)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        policy = EgressPolicy(allow_loopback=True)  # the beacon endpoint is a local process
        async with new_session(policy) as http:
            client = AdServerClient(HttpClient(http, max_bytes=1024), policy, concurrency=256)
            queue = BeaconQueue(client, workers=8, maxsize=count)
            for _ in range(100):  # until the endpoint answers
                queue.fire(f"http://127.0.0.1:{port}/beacon/warmup", {}, "warmup")
                await queue.drain()
                if queue.counts["fired"]:
                    break
                await asyncio.sleep(0.1)
            started = time.monotonic()
            for n in range(count):
                queue.fire(f"http://127.0.0.1:{port}/beacon/impression?n={n}", {"X-Device-IP": "203.0.113.7"}, "x")
            await queue.drain()
            elapsed = time.monotonic() - started
            await queue.close()
            if queue.events["x"] != count:
                raise SystemExit(f"only {queue.events['x']} of {count} beacons fired: {dict(queue.counts)}")
            return count / elapsed
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    args, out = split_out(sys.argv[1:])
    count = int(args[0]) if args else 20_000
    with data_dir() as folder:
        result = measure(start_server(folder), count)
    print(f"written to {write_result(result, 'beacons', out)}")
    print(json.dumps(result, indent=2))


def measure(server: subprocess.Popen[bytes], count: int) -> dict[str, float]:
    try:
        session = session_with_ads()
        playlist = f"/v1/ssai/media/demo/{session}/v0.m3u8"
        redirect = redirect_path(session)
        rates = {"playlist": 0.0, "redirect": 0.0}
        for _ in range(2):  # alternate, keep the best of each
            for name, path in (("playlist", playlist), ("redirect", redirect)):
                rates[name] = max(rates[name], wrk(BASE + path))
    finally:
        server.terminate()
        server.wait(timeout=10)
    result = {
        "playlist_rps": round(rates["playlist"]),
        "redirect_rps": round(rates["redirect"]),
        "redirect_to_playlist": round(rates["redirect"] / rates["playlist"], 3),
        "beacons_per_second": round(asyncio.run(beacon_throughput(count))),
        "beacons": count,
    }
    return result


if __name__ == "__main__":
    main()
