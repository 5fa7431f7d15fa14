"""The ad break herd: N sessions of one channel reach the same break within one target duration.

A fake live origin and ad server (proxy.demo.testing.FakeOrigin, answering each ad request after `latency`
seconds) and the proxy (`ssai-proxy serve`, on core 0 when taskset exists) each run as a process of their
own, so neither shares a GIL with the players simulated here. Every session polls its media playlist once per
target duration, spread over the target duration as real players are, until its playlist shows the break (its
ads, or the content when its decision came too late) and for two target durations after the break is seen,
however long the load makes that take. Reported: how many sessions got the ads of the break and how many did
not (a decision the per-host cap could not finish in time: DECISION_LATE; a session the proxy judged gone:
SESSION_INACTIVE), ad server requests, decisions per second, and playlist latency during the herd against before.

With `--edges=N` (N > 1) N proxies share one Redis (SSAI_BENCH_REDIS, or redis://127.0.0.1:6379/15), none pinned:
sessions are created round-robin and each player's requests go to the edges in turn, as behind a round-robin
balancer; the counts are the edges' summed.

Run: `python -m bench.herd [SESSIONS] [--shared] [--latency=SECONDS] [--edges=N]` (personalised, 0.2 s, one edge).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from redis import Redis

from proxy.demo.testing import FakeOrigin, free_port

TD = 2
EVERY = 8  # segments from one break to the next
GIVE_UP = 120.0  # seconds after the break is seen: a session not through it by then is an error
REDIS = os.environ.get("SSAI_BENCH_REDIS", "redis://127.0.0.1:6379/15")


@dataclass
class HerdResult:
    sessions: int
    personal: bool
    edges: int
    with_ads: int
    without_ads: int
    decision_late: int
    inactive: int
    decided_without_ads: int  # decisions that came in time but failed (ADS_TIMEOUT, ADS_ERROR, ...)
    vast_requests: int
    decisions_per_second: float
    p50_before_ms: float
    p99_before_ms: float
    p50_herd_ms: float
    p99_herd_ms: float
    max_herd_ms: float
    errors: dict[int, int]  # playlist answers other than 200, by status
    cluster: dict[str, dict[str, int]]  # with several edges: their decision flights' and session stores' counts


def _channel_file(folder: Path, origin: str, personal: bool, latency: float) -> Path:
    tag = f"{origin}/vast?latency={latency}" + ("&sid=[session.uuid]" if personal else "")
    path = folder / "channels.toml"
    path.write_text(f'[channels.herd]\norigin = "{origin}/master.m3u8"\nad_tag = "{tag}"\n')
    return path


def _pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def _start_proxy(channels: Path, port: int, redis_prefix: str | None) -> subprocess.Popen[bytes]:
    """One edge; with a Redis prefix, one of several sharing it (each with its own data dir, none pinned)."""
    data = channels.parent / f"data-{port}"  # the run's own state and assets, never ./data (a demo may use that)
    env = {**os.environ, "SSAI_EGRESS_ALLOW_LOOPBACK": "1", "SSAI_LOG_LEVEL": "warning"}
    env["SSAI_METRICS_OPEN"] = "1"  # the run reads the counters; its proxy listens on loopback only
    if redis_prefix is not None:
        env |= {"SSAI_REDIS_URL": REDIS, "SSAI_REDIS_PREFIX": redis_prefix}
    command = [sys.executable, "-m", "proxy", "serve", "--channels", str(channels), "--port", str(port)]
    command += ["--data-dir", str(data)]
    pin = _pin(0) if redis_prefix is None else []
    return subprocess.Popen([*pin, *command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _start_origin(origin: FakeOrigin, port: int) -> subprocess.Popen[bytes]:
    settings = [str(v) for v in (port, origin.td, origin.every, origin.break_segments, origin.epoch)]
    command = [*_pin(1), sys.executable, "-m", "proxy.demo.testing", *settings]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _wait_ready(http: aiohttp.ClientSession, url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            async with http.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{process.args!r} did not start")


async def _session(http: aiohttp.ClientSession, base: str, limit: asyncio.Semaphore) -> str:
    async with limit, http.post(f"{base}/v1/ssai/session/herd/main.m3u8") as response:
        return str((await response.json())["manifestUrl"]).rsplit("=", 1)[1]


class Edges:
    """The proxies' base URLs, handed out in turn as a round-robin balancer would."""

    def __init__(self, bases: list[str]) -> None:
        self.bases, self.turn = bases, 0

    def next(self) -> str:
        self.turn += 1
        return self.bases[self.turn % len(self.bases)]


@dataclass
class _Polls:
    before: list[float]
    herd: list[float]
    ads: set[str]
    errors: Counter[int] = field(default_factory=Counter)  # playlist answers other than 200, by status
    last: float = 0.0  # when the last poll was sent


def _through(body: bytes, start_msn: int) -> bool | None:
    """Whether the session's playlist shows the break with its ads (True), with the content (False: no ads for
    it), or not yet (None: its decision is pending or the break is not published)."""
    if b"/ad/" in body or b"\nseg/" in body:  # seg/: through the beacon redirect
        return True
    return False if f"/v0/{start_msn}.ts".encode() in body else None


async def _player(
    http: aiohttp.ClientSession, edges: Edges, sid: str, offset: float, herd: tuple[float, float, int], polls: _Polls
) -> None:
    """Poll once per TD from `start` until the break starting at segment `start_msn` is through the session's
    playlist and two TDs after it is `seen`; classify each latency."""
    start, seen, start_msn = herd
    await asyncio.sleep(max(0.0, start + offset - time.time()))
    outcome = None
    while outcome is None or time.time() < seen + 2 * TD:
        sent = polls.last = time.time()
        if sent > seen + GIVE_UP:
            raise RuntimeError(f"session {sid}: break at segment {start_msn} not in its playlist after {GIVE_UP} s")
        async with http.get(f"{edges.next()}/v1/ssai/media/herd/{sid}/v0.m3u8") as response:
            body = await response.read()
            if response.status != 200:
                polls.errors[response.status] += 1
        latency = time.time() - sent
        (polls.herd if sent >= seen else polls.before).append(latency)
        outcome = _through(body, start_msn) if outcome is None else outcome
        if outcome:
            polls.ads.add(sid)
        await asyncio.sleep(max(0.0, TD - latency))


async def _create_between_breaks(
    origin: FakeOrigin, http: aiohttp.ClientSession, edges: Edges, sessions: int
) -> tuple[list[str], float]:
    """Create the sessions just after one break is seen, so the next one is the first break they decide
    (a session created while a break is seen would prefetch it too); return when that next break is seen."""
    await asyncio.sleep(max(0.0, origin.next_break_seen_at(time.time()) + TD - time.time()))
    limit = asyncio.Semaphore(100)
    created_from = time.time()
    ids = await asyncio.gather(*(_session(http, edges.next(), limit) for _ in range(sessions)))
    seen = origin.next_break_seen_at(created_from)
    if time.time() > seen - 2 * TD:
        raise RuntimeError(f"creating {sessions} sessions took {time.time() - created_from:.1f} s: over a break period")
    return ids, seen


async def _summed(http: aiohttp.ClientSession, bases: list[str]) -> dict[str, Counter[str]]:
    """The edges' decision counters, decision flights and session store errors, each summed over the edges."""
    total: dict[str, Counter[str]] = {"decisions": Counter(), "decision_flights": Counter(), "store_errors": Counter()}
    for base in bases:
        async with http.get(f"{base}/v1/ssai/stats") as response:
            stats = await response.json()
        total["decisions"].update(stats["decisions"])
        total["decision_flights"].update(stats.get("decision_flights", {}))
        total["store_errors"].update(stats.get("session_store", {}).get("errors", {}))
    return total


async def _settled(
    http: aiohttp.ClientSession, bases: list[str], origin_base: str, sessions: int, seen: float
) -> tuple[dict[str, Counter[str]], dict[str, Any]]:
    """The edges' summed figures and the ad server's stats once every session's request has arrived or was counted
    skipped (a late session's request still goes out after its player has moved on), read before the next
    break is seen (its prefetch would count the sessions, gone by then, SESSION_INACTIVE)."""
    deadline = seen + (EVERY - 1) * TD
    while True:
        summed = await _summed(http, bases)
        async with http.get(f"{origin_base}/stats") as response:
            stats = await response.json()
        accounted = stats["requests"].get("vast", 0) + summed["decisions"]["SESSION_INACTIVE"]
        if accounted >= sessions or time.time() > deadline:
            return summed, stats
        await asyncio.sleep(0.5)


def _ms(values: list[float], p: float) -> float:
    ordered = sorted(values) or [0.0]
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 2)


async def _play(
    origin: FakeOrigin, origin_base: str, bases: list[str], processes: list[subprocess.Popen[bytes]], sessions: int
) -> tuple[_Polls, Counter[str], dict[str, Any]]:
    """The herd once every process is up: the players' polls, the edges' decision counters, the ad server's stats."""
    connector = aiohttp.TCPConnector(limit=1000)
    async with aiohttp.ClientSession(connector=connector) as http:
        await _wait_ready(http, f"{origin_base}/stats", processes[0])
        for base, proxy in zip(bases, processes[1:], strict=True):
            await _wait_ready(http, f"{base}/healthz", proxy)
        edges = Edges(bases)
        ids, seen = await _create_between_breaks(origin, http, edges, sessions)
        polls = _Polls([], [], set())
        herd = (seen - 2 * TD, seen, round((seen - origin.epoch) / TD) - 1)
        await asyncio.gather(*(_player(http, edges, sid, i * TD / sessions, herd, polls) for i, sid in enumerate(ids)))
        # The counts are this break's only if no session was still playing when the next one was seen.
        if polls.last > seen + (EVERY - 2) * TD:  # 2 TDs: more than a session stays active
            raise RuntimeError(f"the players took {polls.last - seen:.0f} s: into the next break")
        summed, stats = await _settled(http, bases, origin_base, sessions, seen)
    decisions = summed["decisions"]
    stats["cluster"] = {"decision_flights": dict(summed["decision_flights"]), "store": dict(summed["store_errors"])}
    if os.environ.get("HERD_DEBUG"):
        print(json.dumps(decisions, indent=1), file=sys.stderr)
    return polls, decisions, stats


def _drop_keys(prefix: str) -> None:
    redis = Redis.from_url(REDIS)
    try:
        keys = list(redis.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            redis.delete(*keys)
    finally:
        redis.close()


async def run_herd(sessions: int, *, personal: bool = True, latency: float = 0.2, edges: int = 1) -> HerdResult:
    origin = FakeOrigin(td=TD, window=6, every=EVERY, break_segments=4)
    origin_port, ports = free_port(), [free_port() for _ in range(edges)]
    origin_base = f"http://127.0.0.1:{origin_port}"
    prefix = f"bench-herd-{uuid.uuid4().hex[:8]}" if edges > 1 else None
    with tempfile.TemporaryDirectory() as folder:
        channels = _channel_file(Path(folder), origin_base, personal, latency)
        processes = [_start_origin(origin, origin_port), *(_start_proxy(channels, port, prefix) for port in ports)]
        try:
            bases = [f"http://127.0.0.1:{port}" for port in ports]
            polls, decisions, stats = await _play(origin, origin_base, bases, processes, sessions)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=10)
            if prefix is not None:
                _drop_keys(prefix)
    return _result(sessions, personal, edges, polls, decisions, stats)


def _result(
    sessions: int, personal: bool, edges: int, polls: _Polls, decisions: Counter[str], stats: dict[str, Any]
) -> HerdResult:
    times = sorted(stats["vast_times"])
    rate = len(times) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return HerdResult(
        sessions=sessions,
        personal=personal,
        edges=edges,
        with_ads=len(polls.ads),
        without_ads=sessions - len(polls.ads),
        decision_late=decisions["DECISION_LATE"],
        inactive=decisions["SESSION_INACTIVE"],
        decided_without_ads=decisions["breaks_without_ads"],
        vast_requests=int(stats["requests"].get("vast", 0)),
        decisions_per_second=round(rate, 1),
        p50_before_ms=_ms(polls.before, 50),
        p99_before_ms=_ms(polls.before, 99),
        p50_herd_ms=_ms(polls.herd, 50),
        p99_herd_ms=_ms(polls.herd, 99),
        max_herd_ms=_ms(polls.herd, 100),
        errors=dict(polls.errors),
        cluster=stats["cluster"] if edges > 1 else {},
    )


def main() -> None:
    sessions = int(next((a for a in sys.argv[1:] if a.isdigit()), "2000"))
    latency = float(next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--latency=")), "0.2"))
    edges = int(next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--edges=")), "1"))
    result = asyncio.run(run_herd(sessions, personal="--shared" not in sys.argv, latency=latency, edges=edges))
    print(json.dumps(asdict(result), indent=2))


if __name__ == "__main__":
    main()
