"""Beacons journaled in Redis until they are sent, so that a killed edge loses none and fires none twice.

Each process appends the beacons it fires to a stream of its own (`{prefix}:beacons:{edge}`, XADD) before they are
queued, sends them itself (so its sessions' event logs see each outcome, in the order fired) and deletes each
entry as its first try starts (XDEL). A process announces that it is alive with a key that expires
(`{prefix}:edge:{edge}`, renewed every `heartbeat` seconds); the streams of a process whose key expired are
taken over by one live process at a time (a lock key, SET NX) and sent by it, then deleted.

Why not one stream read by a consumer group: a live edge's beacons would be sent by whichever edge read them,
out of the order its sessions fired them and out of reach of their event logs; only a dead edge's stream needs
another reader, and one lock per dead stream gives it exactly one.

So a beacon is sent once or, when its process dies at the very moment between its XDEL and its request leaving,
not at all; one whose first try had started is not sent again by another process (whether the ad server got it
cannot be known), and its retries die with its process. When Redis does not answer, beacons wait in memory as
without a journal (degraded, counted `journal_errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from proxy.net.redis_client import pipeline, text
from proxy.playback.beacons import Beacon, BeaconQueue, Entry

log = logging.getLogger("proxy.playback.beacons")
HEARTBEAT = 3.0  # seconds between renewals of this process's alive key
DEAD_AFTER = 10.0  # the alive key's time to live: a process silent this long is dead
RECLAIM_BATCH = 200


class BeaconJournal:
    def __init__(
        self,
        redis: Redis,
        queue: BeaconQueue,
        *,
        prefix: str = "ssai",
        heartbeat: float = HEARTBEAT,
        dead_after: float = DEAD_AFTER,
    ) -> None:
        self.redis, self.queue, self.prefix = redis, queue, prefix
        self.heartbeat, self.dead_after = heartbeat, dead_after
        self.edge = uuid.uuid4().hex[:16]
        self.stream = self._stream(self.edge)
        self.counts: dict[str, int] = {"journaled": 0, "reclaimed": 0, "journal_errors": 0}
        self._held: list[Beacon] = []
        self._writing: asyncio.Future[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        queue.journal = self

    def _stream(self, edge: str) -> str:
        return f"{self.prefix}:beacons:{edge}"

    async def start(self) -> None:
        """Announce this process and start watching for dead ones' streams (a Redis down now: from when it is up)."""
        try:
            await self._alive()
        except RedisError as error:
            self._failed("heartbeat", error)
        self._tasks = [asyncio.ensure_future(self._beat_forever())]

    # -- the journal a BeaconQueue writes through ------------------------------------------------------

    def hold(self, beacon: Beacon) -> None:
        self._held.append(beacon)
        if self._writing is None or self._writing.done():
            self._writing = asyncio.ensure_future(self._write())

    async def journaled(self) -> None:
        while self._writing is not None and not self._writing.done():
            await asyncio.shield(self._writing)

    async def done(self, entry: Entry) -> None:
        stream, entry_id = entry
        try:
            await self.redis.xdel(stream, entry_id)
        except RedisError as error:  # sent again if this process dies before its stream is empty
            self._failed("forget", error)

    async def _write(self) -> None:
        while self._held:
            held, self._held = self._held, []
            try:
                async with pipeline(self.redis, transaction=False) as pipe:
                    for url, headers, event, _record in held:
                        pipe.xadd(self.stream, {"b": orjson.dumps([url, headers, event])})
                    ids = await pipe.execute()
            except RedisError as error:
                self._failed("journal", error)
                for beacon in held:
                    self.queue.put(beacon)
                continue
            self.counts["journaled"] += len(held)
            for beacon, entry_id in zip(held, ids, strict=True):
                self.queue.put(beacon, (self.stream, text(entry_id)))

    # -- other processes' streams -------------------------------------------------------------------------

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                await self._alive()
                await self.reclaim()
            except RedisError as error:
                self._failed("heartbeat", error)

    async def _alive(self) -> None:
        async with pipeline(self.redis, transaction=False) as pipe:
            pipe.set(f"{self.prefix}:edge:{self.edge}", 1, px=int(self.dead_after * 1000))
            pipe.sadd(f"{self.prefix}:edges", self.edge)
            await pipe.execute()

    async def reclaim(self) -> int:
        """Send what dead processes journaled and never sent; how many beacons were taken over."""
        taken = 0
        for raw in await self.redis.smembers(f"{self.prefix}:edges"):
            edge = text(raw)
            if edge == self.edge or await self.redis.exists(f"{self.prefix}:edge:{edge}"):
                continue
            lock = f"{self.prefix}:reclaim:{edge}"
            if await self.redis.set(lock, self.edge, nx=True, px=int(self.dead_after * 6000)):
                taken += await self._take_over(edge)
        return taken

    async def _take_over(self, edge: str) -> int:
        stream, taken = self._stream(edge), 0
        while entries := await self.redis.xrange(stream, count=RECLAIM_BATCH):
            for entry_id, fields in entries:
                if entry_id is None or fields is None:  # typed so by redis-py; XRANGE lists only live entries
                    continue
                url, headers, event = orjson.loads(fields[b"b"])
                self.queue.put((url, headers, event, None), (stream, text(entry_id)))
            taken += len(entries)
            await self.queue.drain()  # each sent and deleted before the next batch
        async with pipeline(self.redis, transaction=True) as pipe:
            pipe.delete(stream)
            pipe.srem(f"{self.prefix}:edges", edge)
            await pipe.execute()
        if taken:
            self.counts["reclaimed"] += taken
            log.warning("beacons: %d journaled by stopped process %s sent by this one", taken, edge)
        return taken

    # -- the end -----------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Journal what is held; what the queue has not sent stays in the stream for a live process to send."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.journaled()
        with contextlib.suppress(RedisError):
            await self.redis.delete(f"{self.prefix}:edge:{self.edge}")  # taken over without waiting for expiry

    def figures(self) -> dict[str, Any]:
        return dict(self.counts)

    def _failed(self, operation: str, error: Exception) -> None:
        self.counts["journal_errors"] += 1
        log.warning("beacon journal: %s failed (%s: %s), degraded", operation, type(error).__name__, error)
