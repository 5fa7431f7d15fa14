"""One channel timeline for a cluster: every process of a channel version numbers its breaks and counts its
timeline seconds alike, whenever it started following the origin.

A break tracker counts seconds from the first segment it saw and numbers the breaks it saw open; two processes
that started at different times would disagree on both, and a session made by one and served by the other would
get another avail start in the tracking API and another break index for VMAP and ad rules. So the processes share
an anchor in Redis (`{prefix}:tl:{channel}:{version}`: a segment's media sequence number, where it starts on the
timeline, how many breaks were numbered before it). The first process to start claims it (SET NX); each later one,
at its start, moves its tracker onto it (the anchor's segment is in its own first window: every process publishes
the first segment of each window it polls). Without a cluster there is nothing to share.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from proxy.hls.breaks import BreakTracker, TimelinePoint
from proxy.hls.playlist import MediaPlaylist

log = logging.getLogger("proxy.playback.timeline")
TTL = 3600  # seconds an anchor outlives the last process that published it


class TimelineAnchor:
    def __init__(self, redis: Redis, prefix: str, key: tuple[str, str]) -> None:
        self.redis, self.key = redis, f"{prefix}:tl:{key[0]}:{key[1]}"
        self.counts: Counter[str] = Counter()  # claimed, aligned, unaligned, errors
        self.joined = False
        self._writing: asyncio.Task[None] | None = None
        self._pending: bytes | None = None

    async def join(self, tracker: BreakTracker, current: Callable[[], MediaPlaylist]) -> None:
        """Claim the anchor with this tracker's first window, or move the tracker onto the one published."""
        mine = _anchor(tracker, current())
        try:
            if mine is None or await self.redis.set(self.key, mine, nx=True, ex=TTL):
                self.counts["claimed"] += mine is not None
                return
            raw = await self.redis.get(self.key)
        except RedisError as error:
            self._failed(error)
            return
        finally:
            self.joined = True
        if raw is not None:
            self._align(tracker, current(), raw)  # the window fed last: one may have come in during the round trip

    def _align(self, tracker: BreakTracker, playlist: MediaPlaylist, raw: bytes | str) -> None:
        point = TimelinePoint(*orjson.loads(raw))
        if tracker.align(playlist, point):
            self.counts["aligned"] += 1
            return
        # The anchor is stale (every process stopped for longer than a window): this process's timeline becomes the
        # cluster's from its next window on. Or this process's window lags theirs by a whole window: it keeps its own
        # timeline and leaves theirs alone.
        self.counts["unaligned"] += 1
        self.joined = point.msn < playlist.media_sequence
        first, last = playlist.media_sequence, playlist.last_msn
        log.warning("%s: segment %d is not in this process's window %d-%d", self.key, point.msn, first, last)

    def publish(self, tracker: BreakTracker, playlist: MediaPlaylist) -> None:
        """After each window fed: the anchor moved to its first segment, written in the background (one write in
        flight; the newest waits)."""
        if not self.joined:
            return
        self._pending = _anchor(tracker, playlist)
        if self._pending is not None and (self._writing is None or self._writing.done()):
            self._writing = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        while self._pending is not None:
            value, self._pending = self._pending, None
            try:
                await self.redis.set(self.key, value, ex=TTL)
            except RedisError as error:
                self._failed(error)

    async def close(self) -> None:
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)

    def _failed(self, error: Exception) -> None:
        self.counts["errors"] += 1
        name = type(error).__name__
        log.warning("%s: Redis failed (%s: %s); this process keeps its own timeline", self.key, name, error)


def _anchor(tracker: BreakTracker, playlist: MediaPlaylist) -> bytes | None:
    """The window's first segment on the tracker's timeline, encoded."""
    point = tracker.timeline_at(playlist, playlist.media_sequence)
    return None if point is None else orjson.dumps([point.msn, point.seconds, point.numbered, point.last_start])
