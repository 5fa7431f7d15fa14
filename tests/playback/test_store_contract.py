"""The session store's contract (proxy/playback/store/base.py), run against every implementation: a new one is
added to IMPLEMENTATIONS and must pass unchanged. The Redis store's run needs Redis (tests/redisdb.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from proxy.hls.breaks import Break
from proxy.hls.cues import Cue
from proxy.hls.fill import Fill, FillPlan
from proxy.playback.sessions import Decided, Session
from proxy.playback.store.base import FrozenDecision, SessionStore
from proxy.playback.store.memory import MemorySessionStore
from proxy.playback.store.redis_store import RedisSessionStore
from tests import redisdb


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def a_break(start_msn: int) -> Break:
    return Break(start_msn, 0.0, 0.0, 8.0, True, Cue("out", "cue-out", 8.0), None, None, None)


def rebuild(session: Session, break_id: str, frozen: FrozenDecision) -> tuple[int, Decided]:
    """The breaks of these tests are named by their start."""
    brk = a_break(int(break_id))
    return brk.start_msn, Decided(Fill(brk, frozen.plan) if frozen.plan else None, frozen.ads, frozen.break_tracking)


async def memory_store(clock: Clock, prefix: str) -> SessionStore:
    return MemorySessionStore(clock)


async def redis_store(clock: Clock, prefix: str) -> SessionStore:
    # Keep-alives written exactly (ahead=0), so expiry is the memory store's to the second; test_store_redis.py
    # covers writing them ahead.
    redis = await redisdb.reachable()
    return RedisSessionStore(redis, rebuild, prefix=prefix, clock=clock, wall=clock, ahead=0.0)


IMPLEMENTATIONS: dict[str, Callable[[Clock, str], Awaitable[SessionStore]]] = {
    "memory": memory_store,
    "redis": redis_store,
}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
async def store(request: pytest.FixtureRequest, clock: Clock) -> AsyncIterator[SessionStore]:
    prefix = redisdb.new_prefix()
    made = await IMPLEMENTATIONS[request.param](clock, prefix)
    try:
        yield made
    finally:
        await made.close()
        if isinstance(made, RedisSessionStore):
            await made.redis.aclose()
        await redisdb.drop(prefix)


def new_session(channel: str = "ch", version: str = "v1", expires_at: float = 160.0) -> Session:
    session = Session(channel, 10, 60.0, {"device": "tv"}, expires_at)
    session.version = version
    return session


def decided(start_msn: int, key: str) -> Decided:
    return Decided(Fill(a_break(start_msn), FillPlan(key, (), None)), ())


async def test_a_created_session_is_found_by_peek_load_and_its_channel(store: SessionStore) -> None:
    session = new_session()
    await store.create(session)
    assert store.peek(session.id) is session
    assert await store.load(session.id) is session
    assert dict(store.of_channel(("ch", "v1"))) == {session.id: session}
    assert store.of_channel(("ch", "v2")) == {}
    loaded = await store.load(session.id)
    assert loaded is not None and (loaded.join_msn, loaded.join_time, loaded.params) == (10, 60.0, {"device": "tv"})


async def test_a_missing_session_is_none(store: SessionStore) -> None:
    assert store.peek("nobody") is None
    assert await store.load("nobody") is None


async def test_the_decision_frozen_first_never_changes(store: SessionStore) -> None:
    session = new_session()
    await store.create(session)
    assert store.decided(session, "20") is None
    first, second = decided(20, "first"), decided(20, "second")
    assert await store.freeze(session, "20", 20, first) is first
    assert await store.freeze(session, "20", 20, second) is first
    assert store.decided(session, "20") is first
    assert session.last_start == 20 and session.fills == [first.fill]


async def test_racing_freezes_agree_on_one_decision(store: SessionStore) -> None:
    session = new_session()
    await store.create(session)
    candidates = [decided(30, f"k{index}") for index in range(20)]
    frozen = await asyncio.gather(*(store.freeze(session, "30", 30, one) for one in candidates))
    assert len({id(one) for one in frozen}) == 1
    assert store.decided(session, "30") is frozen[0]


async def test_a_once_record_is_claimed_once_however_many_race_for_it(store: SessionStore) -> None:
    session = new_session()
    await store.create(session)
    claims = await asyncio.gather(*(store.claim(session, ("20", 0, "start")) for _ in range(50)))
    assert claims.count(True) == 1
    assert await store.claim(session, ("20", 1, "start")), "another key is another record"


async def test_a_once_record_may_be_claimed_again_after_its_ttl(store: SessionStore, clock: Clock) -> None:
    session = new_session()
    await store.create(session)
    assert await store.claim(session, ("20", 0, "start"), 60.0)
    clock.now += 30.0
    assert not await store.claim(session, ("20", 0, "start"), 60.0)
    clock.now += 31.0
    assert await store.claim(session, ("20", 0, "start"), 60.0)
    assert await store.claim(session, ("20", 0, "complete"))
    clock.now += 1e6
    assert not await store.claim(session, ("20", 0, "complete")), "no TTL: for the session's life"


async def test_dropped_once_records_are_those_of_the_place_below_the_position(store: SessionStore) -> None:
    session = new_session()
    await store.create(session)
    for msn in (5, 6, 7):
        assert await store.claim(session, ("content", msn, "segment_start"))
    assert await store.claim(session, ("session", 0, "content_start"))
    store.drop_once(session, "content", 7)
    assert not await store.claim(session, ("content", 7, "segment_start"))
    assert not await store.claim(session, ("session", 0, "content_start"))


async def test_parameters_set_replace_the_sessions(store: SessionStore) -> None:
    session = new_session()
    await store.create(session)
    await store.set_params(session, {"device": "phone", "gdpr": "1"})
    loaded = await store.load(session.id)
    assert loaded is not None and loaded.params == {"device": "phone", "gdpr": "1"}


async def test_idle_sessions_expire_by_the_injected_clock(store: SessionStore, clock: Clock) -> None:
    kept, idle = new_session(), new_session(expires_at=150.0)
    await store.create(kept)
    await store.create(idle)
    assert await store.expire() == []
    clock.now = 155.0
    assert await store.expire() == [idle]
    assert store.peek(idle.id) is None and await store.load(idle.id) is None
    store.keep_alive(kept, 60.0)
    clock.now = 200.0
    assert await store.expire() == [], "kept alive until 215"
    clock.now = 215.0
    assert await store.expire() == [kept]
    assert len(store) == 0 and store.of_channel(("ch", "v1")) == {}


async def test_activity_and_inactive_breaks_are_recorded(store: SessionStore, clock: Clock) -> None:
    session = new_session()
    await store.create(session)
    clock.now = 123.0
    store.seen(session)
    store.skip_inactive(session, 42)
    assert (session.seen_at, session.inactive_msn) == (123.0, 42)


async def test_len_and_iteration_cover_every_live_session(store: SessionStore) -> None:
    sessions = [new_session("ch"), new_session("ch", "v2"), new_session("other")]
    for session in sessions:
        await store.create(session)
    assert len(store) == 3
    assert {session.id for session in store} == {session.id for session in sessions}
    assert list(store.of_channel(("ch", "v2"))) == [sessions[1].id]
