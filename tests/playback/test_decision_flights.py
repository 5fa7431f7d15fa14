"""Decisions once per cluster (proxy/playback/decision_flights.py), two processes' flights on one Redis: the ad
server is asked once and both get the same decision; one whose holder died or that cannot reach Redis decides
itself. Needs Redis (tests/redisdb.py)."""

from __future__ import annotations

import asyncio
from functools import partial

from redis.asyncio import Redis

from proxy.ads.models import Skip
from proxy.hls.fill import FillPlan
from proxy.playback.decision_flights import DecisionFlights
from proxy.playback.decisions import Decision
from proxy.playback.store.creatives import SharedCreatives
from tests import redisdb
from tests.playback.test_store_redis import an_ad, creative


async def flights(prefix: str, redis: Redis | None = None) -> DecisionFlights:
    redis = redis or await redisdb.reachable()
    return DecisionFlights(SharedCreatives(redis, prefix), prefix=prefix)


async def close(*all_flights: DecisionFlights) -> None:
    for one in all_flights:
        await one.close()
        await one.redis.aclose()


def a_decision(name: str) -> Decision:
    plan = FillPlan(f"{name}|slate=s", (creative(name, 8.0),), creative("s", 2.0))
    skipped = (Skip("x", "AVAIL_DURATION_EXCEEDED", "12 s > 8 s left", 202, ("https://track.test/err",)),)
    return Decision(plan, (an_ad(name),), skipped, (("breakStart", "https://track.test/bs"),))


class AdServer:
    """Counts the decisions asked of it; answers after `latency` seconds."""

    def __init__(self, latency: float = 0.2) -> None:
        self.asked, self.latency = 0, latency

    async def decide(self, name: str) -> Decision:
        self.asked += 1
        await asyncio.sleep(self.latency)
        return a_decision(name)


async def test_two_processes_ask_the_ad_server_once_and_play_the_same_decision(prefix: str) -> None:
    one, two = await flights(prefix), await flights(prefix)
    server = AdServer()
    first, second = await asyncio.gather(
        one.once("ch:v1:20", lambda: server.decide("one"), 5.0), two.once("ch:v1:20", lambda: server.decide("two"), 5.0)
    )
    assert server.asked == 1
    assert first == second, "plan with its creatives and slate, ads, skips and break tracking come through"
    assert one.counts + two.counts == {"decided": 1, "taken": 1}
    late = await flights(prefix)
    assert await late.once("ch:v1:20", lambda: server.decide("late"), 5.0) == first, "a late one takes it at once"
    assert server.asked == 1
    await close(one, two, late)


async def test_each_personal_key_is_its_own_decision(prefix: str) -> None:
    one, two = await flights(prefix), await flights(prefix)
    server = AdServer(latency=0.05)
    keys = [f"ch:v1:20:{session}" for session in range(20)]
    got = await asyncio.gather(
        *(one.once(key, partial(server.decide, key), 5.0) for key in keys),
        *(two.once(key, partial(server.decide, key), 5.0) for key in keys),
    )
    assert server.asked == 20
    assert got[:20] == got[20:]
    await close(one, two)


async def test_a_holder_that_never_answers_is_replaced_after_the_wait(prefix: str) -> None:
    one = await flights(prefix)
    await one.redis.set(f"{prefix}:dl:ch:v1:30", 1, px=60_000)  # taken by a process that died deciding
    server = AdServer(latency=0.0)
    decision = await one.once("ch:v1:30", lambda: server.decide("mine"), 0.5)
    assert decision == a_decision("mine") and server.asked == 1 and one.counts["orphaned"] == 1
    await close(one)


async def test_without_redis_each_process_decides_itself() -> None:
    down = redisdb.unreachable()
    one = await flights("down", down)
    server = AdServer(latency=0.0)
    assert await one.once("ch:v1:40", lambda: server.decide("mine"), 5.0) == a_decision("mine")
    assert server.asked == 1 and one.counts["errors"] == 1
    await close(one)
