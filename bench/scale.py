"""Scale-out figures: what Redis costs a process, what a second worker brings, and what Redis holds per session.

1. Memory store vs Redis store, one process each pinned to core 0, wrk on core 1: stitched playlist requests per
   second over a pool of sessions, interleaved rounds, the ratio of the medians with its spread (bench/rounds.py).
2. One process vs `serve --workers 2` (both on Redis), neither pinned: on a 2-core machine wrk shares the cores with
   the servers, so each round also reports the CPU split (server and wrk CPU seconds per request).
3. Redis per session: the sessions polled as players poll (every target duration) for a while; Redis commands per
   session per second (INFO commandstats, before and after) and bytes per session (MEMORY USAGE of its hash, plus
   the shared creatives and ad lists divided among the sessions), projected to 1M concurrent sessions.

Run: `python -m bench.scale [--rounds N] [--seconds S] [--sessions K] [--out PATH]` (needs wrk and Redis at
SSAI_BENCH_REDIS or redis://127.0.0.1:6379/15).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from redis import Redis

from bench.output import split_out, write_result
from bench.rounds import MachineWatch, compare, interleaved, process_cpu_seconds
from proxy.demo.testing import FakeOrigin, free_port

REDIS = os.environ.get("SSAI_BENCH_REDIS", "redis://127.0.0.1:6379/15")
TD = 2
LUA = """paths = {%s}
i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def _pin(core: int | None) -> list[str]:
    if core is None or shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return []
    return ["taskset", "-c", str(core)]


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    prefix: str
    paths: list[str]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        """The server and its workers (children started by multiprocessing)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [self.process.pid, *map(int, children)]

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.pids():
            try:
                total += process_cpu_seconds(pid)
            except FileNotFoundError:
                pass  # a worker's resource tracker that has gone
        return total


def _start(name: str, folder: Path, channels: Path, *, redis: bool, workers: int, core: int | None) -> Server:
    port, prefix = free_port(), f"bench-scale-{uuid.uuid4().hex[:8]}"
    (folder / name).mkdir()
    env = {**os.environ, "SSAI_EGRESS_ALLOW_LOOPBACK": "1", "SSAI_LOG_LEVEL": "warning"}
    if redis:
        env |= {"SSAI_REDIS_URL": REDIS, "SSAI_REDIS_PREFIX": prefix}
    command = [sys.executable, "-m", "proxy", "serve", "--channels", str(channels), "--port", str(port)]
    command += ["--data-dir", str(folder / name / "data"), "--workers", str(workers)]
    process = subprocess.Popen([*_pin(core), *command], env=env, stdout=subprocess.DEVNULL)
    return Server(name, process, port, prefix, [])


async def _sessions(server: Server, count: int) -> None:
    """`count` sessions, each with a first playlist fetched (so the edge polls its channel)."""
    async with aiohttp.ClientSession() as http:
        deadline = time.monotonic() + 120
        while True:
            try:
                async with http.get(f"{server.base}/healthz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline or server.process.poll() is not None:
                raise SystemExit(f"{server.name} did not start")
            await asyncio.sleep(0.2)
        for _ in range(count):
            async with http.post(f"{server.base}/v1/ssai/session/scale/main.m3u8") as response:
                sid = str((await response.json())["manifestUrl"]).rsplit("=", 1)[1]
            path = f"/v1/ssai/media/scale/{sid}/v0.m3u8"
            async with http.get(server.base + path) as response:
                assert response.status == 200, await response.text()
            server.paths.append(path)


def _wrk(server: Server, seconds: int, core: int | None, script: Path) -> tuple[float, float]:
    """Requests per second, and the server's CPU seconds per request."""
    script.write_text(LUA % ", ".join(f'"{path}"' for path in server.paths))
    before = server.cpu_seconds()
    command = [*_pin(core), "wrk", "-t1", "-c32", f"-d{seconds}s", "-s", str(script), server.base]
    out = subprocess.run(command, capture_output=True, text=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    if rate is None or count is None:
        raise SystemExit(f"wrk failed: {out}")
    return float(rate.group(1)), (server.cpu_seconds() - before) / max(1, int(count.group(1)))


def _side(
    server: Server, seconds: int, core: int | None, script: Path, split: list[dict[str, float]]
) -> Callable[[], float]:
    """One round of `server` under wrk, its CPU split recorded: the server's and wrk's CPU time per request."""

    def measure() -> float:
        before = os.times()
        rate, server_cpu = _wrk(server, seconds, core, script)
        after = os.times()
        wrk_cpu = (after.children_user + after.children_system) - (before.children_user + before.children_system)
        requests = max(1.0, rate * seconds)
        split.append(
            {"server_cpu_us_per_request": server_cpu * 1e6, "wrk_cpu_us_per_request": wrk_cpu / requests * 1e6}
        )
        return rate

    return measure


def _redis_figures(redis: Redis, prefix: str, sessions: int) -> dict[str, float]:
    """Bytes per session: its hash, plus the creatives and ad lists its decisions share, divided among sessions."""
    own = [redis.memory_usage(key) or 0 for key in redis.scan_iter(match=f"{prefix}:s:*", count=1000)]
    shared = [
        redis.memory_usage(key) or 0
        for pattern in (f"{prefix}:c:*", f"{prefix}:a:*")
        for key in redis.scan_iter(match=pattern, count=1000)
    ]
    return {
        "session_hashes": len(own),
        "bytes_per_session_hash": sum(own) / max(1, len(own)),
        "shared_bytes_per_session": sum(shared) / max(1, sessions),
    }


def _commands(redis: Redis) -> Counter[str]:
    """Calls so far by command (INFO commandstats: cmdstat_get -> get)."""
    stats = redis.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()})


async def _players(server: Server, seconds: float) -> int:
    """Every session polled as a player polls, every target duration, for `seconds`; the requests made."""
    made = 0
    async with aiohttp.ClientSession() as http:

        async def player(path: str, offset: float) -> None:
            nonlocal made
            await asyncio.sleep(offset)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                async with http.get(server.base + path) as response:
                    await response.read()
                made += 1
                await asyncio.sleep(TD)

        count = len(server.paths)
        await asyncio.gather(*(player(path, TD * i / count) for i, path in enumerate(server.paths)))
    return made


def footprint(server: Server, seconds: float) -> dict[str, Any]:
    redis = Redis.from_url(REDIS)
    try:
        before, started = _commands(redis), time.monotonic()
        requests = asyncio.run(_players(server, seconds))
        elapsed = time.monotonic() - started
        by_command = _commands(redis) - before
        commands = by_command.total()
        sessions = len(server.paths)
        per_session = commands / elapsed / sessions
        memory = _redis_figures(redis, server.prefix, sessions)
    finally:
        redis.close()
    total_bytes = memory["bytes_per_session_hash"] + memory["shared_bytes_per_session"]
    return {
        "sessions": sessions,
        "player_requests": requests,
        "seconds": round(elapsed, 1),
        "redis_commands_per_session_second": round(per_session, 3),
        "redis_commands_per_playlist_request": round(commands / max(1, requests), 3),
        "redis_commands_by_name": dict(by_command.most_common()),
        **{key: round(value, 1) for key, value in memory.items()},
        "projection_1m_sessions": {
            "redis_memory_gb": round(total_bytes * 1_000_000 / 1e9, 2),
            "redis_commands_per_second": round(per_session * 1_000_000),
        },
    }


@contextmanager
def _cluster(folder: Path, sessions: int) -> Iterator[dict[str, Server]]:
    origin, origin_port = FakeOrigin(td=TD, window=8, every=8, break_segments=3), free_port()
    settings = [str(v) for v in (origin_port, origin.td, origin.every, origin.break_segments, origin.epoch)]
    fake = subprocess.Popen([sys.executable, "-m", "proxy.demo.testing", *settings], stdout=subprocess.DEVNULL)
    channels = folder / "channels.toml"
    base = f"http://127.0.0.1:{origin_port}"
    channels.write_text(f'[channels.scale]\norigin = "{base}/master.m3u8"\nad_tag = "{base}/vast?s=[session.id]"\n')
    servers = {
        "memory": _start("memory", folder, channels, redis=False, workers=1, core=0),
        "redis": _start("redis", folder, channels, redis=True, workers=1, core=0),
        "one_unpinned": _start("one_unpinned", folder, channels, redis=True, workers=1, core=None),
        "workers_2": _start("workers_2", folder, channels, redis=True, workers=2, core=None),
    }
    try:
        for server in servers.values():
            asyncio.run(_sessions(server, sessions))
        yield servers
    finally:
        for server in servers.values():
            server.process.terminate()
            server.process.wait(timeout=60)
        fake.terminate()
        fake.wait(timeout=10)
        redis = Redis.from_url(REDIS)
        for server in servers.values():
            keys = list(redis.scan_iter(match=f"{server.prefix}:*", count=1000))
            if keys:
                redis.delete(*keys)
        redis.close()


def run(rounds: int, seconds: int, sessions: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as folder, _cluster(Path(folder), sessions) as servers:
        script = Path(folder) / "paths.lua"
        splits: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
        for server in servers.values():  # warm-up, not counted
            _wrk(server, 1, None, script)
        watch = MachineWatch([p for s in servers.values() for p in s.pids()])
        pinned = interleaved(
            {name: _side(servers[name], seconds, 1, script, splits[name]) for name in ("memory", "redis")}, rounds
        )
        shared = interleaved(
            {name: _side(servers[name], seconds, None, script, splits[name]) for name in ("one_unpinned", "workers_2")},
            rounds,
        )
        machine = watch.report()
        return {
            "sessions": sessions,
            "redis_vs_memory": compare(pinned, "redis", "memory", machine),
            "workers_2_vs_1": compare(shared, "workers_2", "one_unpinned", machine),
            "cpu_split": {name: _mean_split(split) for name, split in splits.items()},
            "redis_footprint": footprint(_alone(servers, "redis"), 30),
        }


def _alone(servers: dict[str, Server], name: str) -> Server:
    """`name`'s server, the others stopped: Redis's command counts are the whole server's, so only one may run."""
    for other, server in servers.items():
        if other != name:
            server.process.terminate()
            server.process.wait(timeout=60)
    return servers[name]


def _mean_split(split: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(sum(row[key] for row in split) / len(split), 1) for key in split[0]} if split else {}


def main(argv: list[str] | None = None) -> None:
    args, out = split_out(list(sys.argv[1:] if argv is None else argv))
    options = dict(zip(args[::2], args[1::2], strict=False))
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    result = run(int(options.get("--rounds", 5)), int(options.get("--seconds", 5)), int(options.get("--sessions", 100)))
    path = write_result(result, "scale", out)
    print(f"{path}:\n{result}")


if __name__ == "__main__":
    main()
