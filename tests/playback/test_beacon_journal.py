"""The beacon journal (proxy/playback/beacon_journal.py) on a real Redis and a real beacon endpoint: beacons
journaled by a process that stopped before sending them are sent, once, by another; sent ones leave the journal;
without Redis beacons still go out. Needs Redis (tests/redisdb.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from redis.asyncio import Redis

from proxy.demo.testing import FakeOrigin
from proxy.net.adserver import AdServerClient
from proxy.net.origin import HttpClient, new_session
from proxy.playback.beacon_journal import BeaconJournal
from proxy.playback.beacons import BeaconQueue
from tests import redisdb
from tests.servers import LOCAL_POLICY, free_port, run_server


@pytest.fixture
def endpoint() -> Iterator[tuple[FakeOrigin, str]]:
    origin = FakeOrigin()
    with run_server(origin.app, free_port()) as url:
        yield origin, url


class Process:
    """What one proxy process has of beacons: an HTTP pool, the queue and its journal on a Redis client."""

    def __init__(self, redis: Redis, prefix: str, **queue_options: Any) -> None:
        self.http = new_session(LOCAL_POLICY)
        client = AdServerClient(HttpClient(self.http, max_bytes=1024), LOCAL_POLICY, concurrency=64)
        self.queue = BeaconQueue(client, **queue_options)
        self.journal = BeaconJournal(redis, self.queue, prefix=prefix, heartbeat=0.2, dead_after=0.6)

    async def stop(self) -> None:
        await self.journal.close()
        await self.queue.close()
        await self.http.close()
        await self.journal.redis.aclose()


async def _received(origin: FakeOrigin, count: int) -> list[str]:
    deadline = time.monotonic() + 20
    while len(origin.beacons) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # anything more would be a duplicate
    return sorted(query for _event, query, _headers in origin.beacons)


async def test_beacons_a_stopped_process_journaled_are_sent_once_by_another(
    prefix: str, endpoint: tuple[FakeOrigin, str]
) -> None:
    origin, url = endpoint
    dying = Process(await redisdb.reachable(), prefix, workers=0)  # journals, never sends: killed before it could
    await dying.journal.start()
    for n in range(5):
        dying.queue.fire(f"{url}/beacon/start?n={n}", {"X-Device-IP": "203.0.113.7"}, "start")
    await dying.queue.journaled()
    await dying.journal.close()  # it stops with 5 beacons unsent, as a process whose sends were all stuck
    survivors = [Process(await redisdb.reachable(), prefix) for _ in range(2)]
    for survivor in survivors:
        await survivor.journal.start()
    assert await _received(origin, 5) == [f"n={n}" for n in range(5)], "each sent once, by one survivor"
    assert all(headers["x-device-ip"] == "203.0.113.7" for _e, _q, headers in origin.beacons)
    assert sum(survivor.journal.counts["reclaimed"] for survivor in survivors) == 5
    redis = await redisdb.reachable()
    assert not await redis.exists(dying.journal.stream), "a stopped process's journal is deleted once sent"
    assert dying.journal.edge.encode() not in await redis.smembers(f"{prefix}:edges")
    await redis.aclose()
    for process in survivors:
        await process.stop()
    await dying.queue.close()
    await dying.http.close()
    await dying.journal.redis.aclose()


async def test_a_sent_beacon_leaves_the_journal(prefix: str, endpoint: tuple[FakeOrigin, str]) -> None:
    origin, url = endpoint
    process = Process(await redisdb.reachable(), prefix)
    await process.journal.start()
    for n in range(3):
        process.queue.fire(f"{url}/beacon/complete?n={n}", {}, "complete")
    await process.queue.journaled()
    assert process.journal.counts["journaled"] == 3
    assert await _received(origin, 3) == ["n=0", "n=1", "n=2"]
    await process.queue.drain()
    assert await process.journal.redis.xlen(process.journal.stream) == 0
    assert process.queue.counts["fired"] == 3
    await process.stop()


async def test_without_redis_beacons_are_sent_and_the_failure_counted(endpoint: tuple[FakeOrigin, str]) -> None:
    origin, url = endpoint
    down = redisdb.unreachable()
    process = Process(down, "down")
    await process.journal.start()
    process.queue.fire(f"{url}/beacon/impression?n=1", {}, "impression")
    await process.queue.journaled()
    assert await _received(origin, 1) == ["n=1"]
    assert process.journal.counts["journal_errors"] >= 2, "the heartbeat and the journaling, both degraded"
    await process.stop()


async def test_a_beacon_fired_through_http_is_journaled_before_the_redirect(
    prefix: str, endpoint: tuple[FakeOrigin, str]
) -> None:
    """`journaled()` returns only once the stream holds the beacon: what a segment redirect awaits."""
    _origin, url = endpoint
    process = Process(await redisdb.reachable(), prefix, workers=0)
    process.queue.fire(f"{url}/beacon/start?n=7", {}, "start")
    await process.queue.journaled()
    entries = await process.journal.redis.xrange(process.journal.stream)
    assert entries is not None and len(entries) == 1
    fields = entries[0][1]
    assert fields is not None and b"n=7" in fields[b"b"]
    await process.stop()
