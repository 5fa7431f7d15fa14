"""Two `ssai-proxy serve` edges on one Redis, with a fake origin and ad server, for the cluster tests (test_cluster,
test_nginx): the fixtures `prefix` and `cluster` (through tests/e2e/conftest.py) and a player's helpers."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from proxy.demo.testing import FakeOrigin
from proxy.hls.playlist import MediaPlaylist, parse_media
from tests import redisdb
from tests.cli.process import start, wait_until_serving
from tests.servers import free_port, run_server

TD = 2
AD_EVENTS = ("impression", "start", "firstQuartile", "midpoint", "thirdQuartile", "complete")
NO_EDGE = 10**9


@dataclass
class Edge:
    folder: Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen[str] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = ("serve", "--channels", "../channels.toml", "--port", str(self.port), "--data-dir", "data")
        self.process = start(self.folder, *argv, **self.env)
        wait_until_serving(self.process, self.base)

    def stop(self) -> None:
        """SIGTERM, as a deploy stops it: it drains (tests/e2e/test_drain.py), then uvicorn re-raises the signal it
        handled, so the status is the signal's."""
        assert self.process is not None
        self.process.terminate()
        _out, err = self.process.communicate(timeout=60)
        assert self.process.returncode == -signal.SIGTERM, err
        self.process = None

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: nothing is flushed or handed over
        self.process.communicate(timeout=30)
        self.process = None


@dataclass
class Cluster:
    origin: FakeOrigin
    edges: list[Edge]
    prefix: str  # of every key the edges write in Redis
    outputs: list[bytes] = field(default_factory=list)  # every v0 playlist the player got, in order
    listed: list[dict[str, Any]] = field(default_factory=list)  # the ads the tracking API listed, as it did


@pytest.fixture
def cluster(tmp_path: Path, prefix: str) -> Iterator[Cluster]:
    # A window of 10 segments: an edge restarted mid-break still sees where the break began.
    origin = FakeOrigin(td=TD, window=10, every=8, break_segments=4)
    origin_port = free_port()
    (tmp_path / "channels.toml").write_text(
        "[channels.fake]\n"
        f'origin = "http://127.0.0.1:{origin_port}/master.m3u8"\n'
        f'ad_tag = "http://127.0.0.1:{origin_port}/vast?sid=[session.id]"\n'
    )
    env = {
        "SSAI_REDIS_URL": redisdb.REDIS,
        "SSAI_REDIS_PREFIX": prefix,
        "SSAI_EGRESS_ALLOW_LOOPBACK": "1",
        "SSAI_LOG_LEVEL": "warning",
    }
    edges = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        edges.append(Edge(tmp_path / name, free_port(), env))
    with run_server(origin.app, origin_port):
        try:
            for edge in edges:
                edge.start()
            yield Cluster(origin, edges, prefix)
        finally:
            for edge in edges:
                if edge.process is not None:
                    edge.kill()


async def playlist(http: aiohttp.ClientSession, edge: Edge, sid: str) -> bytes:
    async with http.get(f"{edge.base}/v1/ssai/media/fake/{sid}/v0.m3u8") as response:
        assert response.status == 200, await response.text()
        return await response.read()


def numbered(playlist: MediaPlaylist) -> dict[int, tuple[str, int]]:
    """Each segment's URI and discontinuity sequence number, by its media sequence number."""
    dsn, numbered = playlist.discontinuity_sequence, {}
    for segment in playlist.segments:
        dsn += segment.discontinuity
        numbered[segment.msn] = (segment.uri, dsn)
    return numbered


def seg_identity(uri: str) -> str:
    if uri.startswith("seg/"):
        _seg, _track, brk, item = uri.split("/")
        return f"ad:{brk}:{item.partition('.')[0]}"
    return f"content:c{uri.rsplit('/', 1)[1].removesuffix('.ts')}"


async def both_agree(http: aiohttp.ClientSession, cluster: Cluster, sid: str, first: int) -> bytes:
    """The session's playlist from one edge and at once from the other: where the windows overlap (the edges poll
    the origin independently, so one may be a segment ahead), every number names the same segment."""
    live = [edge for edge in cluster.edges if edge.process is not None]
    ordered = live[first % len(live) :] + live[: first % len(live)]
    bodies = [await playlist(http, edge, sid) for edge in ordered]
    mine, *others = [numbered(parse_media(body)) for body in bodies]
    for other in others:
        shared = mine.keys() & other.keys()
        assert len(shared) >= 3, (mine, other)
        assert {msn: mine[msn] for msn in shared} == {msn: other[msn] for msn in shared}
    return bodies[0]


async def redirect(http: aiohttp.ClientSession, edge: Edge, sid: str, uri: str) -> None:
    async with http.get(f"{edge.base}/v1/ssai/media/fake/{sid}/{uri}", allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        assert "/ad/" in response.headers["Location"]


async def tracked(http: aiohttp.ClientSession, cluster: Cluster, sid: str, restarts: int) -> None:
    """The tracking API's new ads, asked of the edge never restarted until the session's first break was listed,
    then of the other once it was restarted: its tracker started after the first's, so its timeline seconds must
    have come from the first's for the avails to agree."""
    one, two = cluster.edges
    edge = one if not cluster.listed else two if restarts else None
    if edge is None or edge.process is None:
        return
    async with http.get(f"{edge.base}/v1/ssai/tracking/fake/{sid}") as response:
        assert response.status == 200, await response.text()
        avails = (await response.json())["avails"]
    cluster.listed += [ad for avail in avails for ad in avail["ads"]]


async def play(http: aiohttp.ClientSession, cluster: Cluster, sid: str, breaks: int, restart: Edge) -> set[str]:
    """Play like a player behind a round-robin balancer until `breaks` breaks were played, each ad segment asked
    once, of the edge whose turn it is. `restart` is killed and started again twice: at the first ad segment
    (mid-break), and once that break has left the origin's window (the new process never sees it: the session's
    numbers after it come from what the other edge folded into the session's shift). The breaks whose every ad
    segment was asked."""
    asked: dict[str, set[str]] = {}
    turn, deadline, restarts = 0, time.monotonic() + 150, 0
    while time.monotonic() < deadline:
        body = await both_agree(http, cluster, sid, turn)
        cluster.outputs.append(body)
        await tracked(http, cluster, sid, restarts)
        for uri in (s.uri for s in parse_media(body).segments if s.uri.startswith("seg/")):
            brk = uri.split("/")[2]
            if uri not in asked.setdefault(brk, set()):
                live = [edge for edge in cluster.edges if edge.process is not None]
                await redirect(http, live[turn % len(live)], sid, uri)
                asked[brk].add(uri)
                turn += 1
                if restarts == 0:
                    # Killed once the segment's beacons went out: one in flight at the kill is not sent again
                    # (tests/playback/test_beacon_journal.py covers beacons journaled and never sent).
                    await settled(cluster.origin)
                    restart.kill()
                    restart.start()
                    restarts = 1
        first = min((int(brk) for brk in asked), default=None)
        if restarts == 1 and first is not None and await folded_through(cluster, sid) >= first:
            restart.kill()
            restart.start()
            restarts = 2
        whole = {brk for brk, uris in asked.items() if len(uris) == 4}
        if (
            len(whole) >= breaks
            and restarts == 2
            and not any(s.uri.startswith("seg/") for s in parse_media(body).segments[-2:])
        ):
            return whole
        turn += 1
        await asyncio.sleep(TD / 2)
    raise AssertionError(f"no {breaks} breaks played in 150 s: {asked}")


async def settled(origin: FakeOrigin) -> None:
    """Until the beacons the ad server received stop changing for a second (or 20 s passed)."""
    deadline, seen = time.monotonic() + 20, -1
    while len(origin.beacons) != seen and time.monotonic() < deadline:
        seen = len(origin.beacons)
        await asyncio.sleep(1.0)


async def folded_through(cluster: Cluster, sid: str) -> int:
    """The start of the last break the session folded into its shift, as the edges told Redis (-1: none): one folds
    a break once it has left the origin's window."""
    redis = await redisdb.reachable()
    try:
        shift = await redis.hget(f"{cluster.prefix}:s:{sid}", "h")
    finally:
        await redis.aclose()
    return int(orjson.loads(shift)[3]) if shift else -1


async def beacons_received(origin: FakeOrigin, expected: int) -> Counter[str]:
    deadline = time.monotonic() + 20
    while sum(1 for event, _q, _h in origin.beacons if event in AD_EVENTS) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # anything more would be a duplicate
    return Counter(event for event, _query, _headers in origin.beacons)


def bursts(times: list[float]) -> list[list[float]]:
    """Ad requests grouped by break: those of one break leave within seconds, breaks are 16 s apart."""
    bursts: list[list[float]] = []
    for at in sorted(times):
        if bursts and at - bursts[-1][-1] < 6.0:
            bursts[-1].append(at)
        else:
            bursts.append([at])
    return bursts
