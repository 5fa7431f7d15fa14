"""Ad decisions made once for the cluster: a break's shared decision, or one session's personal decision, is asked
of the ad server by one process; the others that need it take that process's answer.

The first process to start a decision takes its lock (`{prefix}:dl:{key}`, SET NX, kept as long as the outcome);
it decides, stores the outcome (`{prefix}:dr:{key}`: the plan with its creatives by key, the ads, the skips,
VMAP break tracking) and announces it on `{prefix}:decided`. The others wait for that announcement (one
subscription per process, whatever the number of waits), then read the outcome. A process that waits longer than
the decision may take (its holder died) or cannot reach Redis decides itself: a decision is never lost, at worst
made twice. The ads' error beacons fire where the ad server was asked, so they fire once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

from proxy.net.redis_client import pipeline, text
from proxy.playback.decisions import Decision
from proxy.playback.store import codec
from proxy.playback.store.base import FrozenDecision
from proxy.playback.store.creatives import SharedCreatives

log = logging.getLogger("proxy.playback.decisions")
OUTCOME_TTL = 600  # seconds an outcome stays for processes that start the same decision late
RECHECK = 1.0  # seconds between reads of the outcome while waiting for its announcement


class DecisionFlights:
    def __init__(self, creatives: SharedCreatives, *, prefix: str = "ssai") -> None:
        self.redis, self.creatives, self.prefix = creatives.redis, creatives, prefix
        self.channel = f"{prefix}:decided"
        self.counts: Counter[str] = Counter()  # decided here, taken over, orphaned (the holder never answered)
        self._waiting: dict[str, asyncio.Future[None]] = {}
        self._listener: asyncio.Task[None] | None = None

    async def once(self, key: str, decide: Callable[[], Awaitable[Decision]], within: float) -> Decision:
        """The decision `key` (channel version, break and, for a personal one, session): made here by `decide`
        if this process is first, else the first one's; `within` bounds how long a decision may take."""
        try:
            # The lock outlives the decision as long as its outcome is kept: a late starter takes the outcome.
            first = await self.redis.set(f"{self.prefix}:dl:{key}", 1, nx=True, ex=OUTCOME_TTL)
        except RedisError as error:
            self._failed(error)
            return await decide()
        if first:
            decision = await decide()
            await self._publish(key, decision)
            self.counts["decided"] += 1
            return decision
        taken = await self._taken(key, within)
        if taken is None:
            self.counts["orphaned"] += 1
            return await decide()
        self.counts["taken"] += 1
        return taken

    async def _publish(self, key: str, decision: Decision) -> None:
        frozen = FrozenDecision(decision.plan, decision.ads, decision.break_tracking)
        try:
            await self.creatives.write(frozen)
            async with pipeline(self.redis, transaction=False) as pipe:
                pipe.set(f"{self.prefix}:dr:{key}", codec.encode_decision(frozen, -1, decision.skipped), ex=OUTCOME_TTL)
                pipe.publish(self.channel, key)
                await pipe.execute()
        except RedisError as error:  # the others decide themselves once the lock expires
            self._failed(error)

    async def _taken(self, key: str, within: float) -> Decision | None:
        """The first process's decision once it is published (None: not within `within`, or unreadable)."""
        waiting = self._waiting.get(key)
        if waiting is None:
            waiting = self._waiting[key] = asyncio.get_running_loop().create_future()
        deadline = asyncio.get_running_loop().time() + within
        try:
            await self._listen()
            outcome = await self._outcome(key)
            while outcome is None and (left := deadline - asyncio.get_running_loop().time()) > 0:
                # Woken by the announcement, or every second anyway: one missed (a subscription renewed) costs
                # a second, not the whole wait.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(waiting), min(left, RECHECK))
                outcome = await self._outcome(key)
            return outcome
        except RedisError as error:
            self._failed(error)
            return None
        finally:
            self._waiting.pop(key, None)

    async def _outcome(self, key: str) -> Decision | None:
        raw = await self.redis.get(f"{self.prefix}:dr:{key}")
        if raw is None:
            return None
        await self.creatives.fetch([raw])
        try:
            frozen = self.creatives.decode(raw)
        except KeyError as missing:
            log.warning("decision %s: part %s missing from the store", key, missing)
            return None
        assert frozen.plan is not None  # a decision always has a plan (perhaps empty)
        return Decision(frozen.plan, frozen.ads, codec.decoded_skips(raw), frozen.break_tracking)

    async def _listen(self) -> None:
        """Subscribe once; announcements wake the waits they are for."""
        if self._listener is not None and not self._listener.done():
            return
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self.channel)
        self._listener = asyncio.ensure_future(self._dispatch(pubsub))

    async def _dispatch(self, pubsub: Any) -> None:
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                waiting = self._waiting.get(text(message["data"]))
                if waiting is not None and not waiting.done():
                    waiting.set_result(None)
        except RedisError as error:  # the next wait subscribes again
            self._failed(error)
        finally:
            with contextlib.suppress(RedisError):
                await pubsub.aclose()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    def figures(self) -> dict[str, int]:
        return dict(self.counts)

    def _failed(self, error: Exception) -> None:
        self.counts["errors"] += 1
        log.warning("decision flights: Redis failed (%s: %s), deciding here", type(error).__name__, error)
