"""The Redis session store as a cluster uses it: two stores on one Redis stand for two processes. What one makes,
freezes, claims or keeps alive, the other sees; a Redis that does not answer degrades what a process holds and
refuses what it cannot do. Needs Redis (tests/redisdb.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from proxy.ads.models import Ad, MediaFile
from proxy.errors import StoreUnavailable
from proxy.hls.fill import Creative, Fill, FillPlan
from proxy.net.redis_client import text
from proxy.playback.sessions import Client, Decided, Session
from proxy.playback.store.redis_store import RedisSessionStore
from tests import redisdb
from tests.playback.test_store_contract import Clock, a_break, rebuild


@pytest.fixture
async def pair(prefix: str) -> AsyncIterator[tuple[RedisSessionStore, RedisSessionStore, Clock]]:
    """Two processes' stores on one Redis, on one clock (the tests move it)."""
    clock = Clock()
    one = RedisSessionStore(await redisdb.reachable(), rebuild, prefix=prefix, clock=clock, wall=clock, ahead=0.0)
    two = RedisSessionStore(await redisdb.reachable(), rebuild, prefix=prefix, clock=clock, wall=clock, ahead=0.0)
    yield one, two, clock
    for store in (one, two):
        await store.close()
        await store.redis.aclose()


def creative(key: str, seconds: float) -> Creative:
    piece = Creative(f"{key}/piece", (0.04,), {"v0": ("https://cdn.test/p.ts",)}, {"v0": (0.04,)})
    uris = {
        "v0": (f"https://cdn.test/{key}/0.ts", f"https://cdn.test/{key}/1.ts"),
        "a0": (f"https://cdn.test/{key}/a.ts",) * 2,
    }
    extinfs = {"v0": (seconds / 2, seconds / 2), "a0": (seconds / 2, seconds / 2)}
    return Creative(key, (seconds / 2, seconds / 2), uris, extinfs, {"v0": '#EXT-X-MAP:URI="init.mp4"'}, (piece,))


def an_ad(ad_id: str) -> Ad:
    media = MediaFile("https://cdn.test/ad.mp4", "video/mp4", "progressive", 2000, 1280, 720, codec="avc1")
    return Ad(
        ad_id, 1, "test", "Title", f"creative-{ad_id}", 10.0, (media,),
        impressions=("https://track.test/imp",), tracking=(("start", "https://track.test/start"),),
        click_through=("https://brand.test/",), universal_ad_id="reg 1",
    )  # fmt: skip


def new_session() -> Session:
    session = Session("ch", 10, 60.0, {"device": "tv", "gdpr": "1"}, 160.0)
    session.version = "v1"
    session.server_beacons = True
    session.client = Client("203.0.113.9", "Player/1.0", "https://page.test/", "203.0.113.9, 10.0.0.1")
    return session


async def test_a_session_made_by_one_process_is_served_by_another(pair: tuple[RedisSessionStore, ...]) -> None:
    one, two, _ = pair
    session = new_session()
    await one.create(session)
    assert two.peek(session.id) is None
    loaded = await two.load(session.id)
    assert loaded is not None and loaded is not session
    assert (loaded.id, loaded.channel, loaded.version, loaded.join_msn, loaded.join_time) == (
        session.id, "ch", "v1", 10, 60.0
    )  # fmt: skip
    assert (loaded.params, loaded.client, loaded.server_beacons) == (session.params, session.client, True)
    assert loaded.expires_at == pytest.approx(160.0)
    assert two.peek(session.id) is loaded and dict(two.of_channel(("ch", "v1"))) == {session.id: loaded}


async def test_parameters_set_by_one_process_reach_a_process_loading_the_session(
    pair: tuple[RedisSessionStore, ...],
) -> None:
    one, two, _ = pair
    session = new_session()
    await one.create(session)
    await one.set_params(session, {"device": "phone"})
    loaded = await two.load(session.id)
    assert loaded is not None and loaded.params == {"device": "phone"}


async def test_the_decision_one_process_froze_is_the_one_the_other_plays(pair: tuple[RedisSessionStore, ...]) -> None:
    one, two, _ = pair
    session = new_session()
    await one.create(session)
    there = await two.load(session.id)
    assert there is not None
    plan = FillPlan("ad-1|slate=s", (creative("ad-1", 10.0),), creative("s", 2.0), redirect=True)
    first = Decided(Fill(a_break(20), plan), (an_ad("1"),), (("breakStart", "https://track.test/bs"),))
    assert await one.freeze(session, "20", 20, first) is first
    other = Decided(None, ())
    frozen = await two.freeze(there, "20", 20, other)
    assert frozen is not other and frozen.fill is not None
    assert frozen.fill.plan == plan, "creatives, slate pieces and the redirect flag come through"
    assert frozen.ads == first.ads and frozen.break_tracking == first.break_tracking
    assert two.decided(there, "20") is frozen and there.last_start == 20 and there.fills == [frozen.fill]


async def test_decisions_frozen_before_a_process_loads_a_session_are_adopted_without_a_round_trip(
    pair: tuple[RedisSessionStore, ...],
) -> None:
    one, two, _ = pair
    session = new_session()
    await one.create(session)
    await one.freeze(
        session, "20", 20, Decided(Fill(a_break(20), FillPlan("a|slate=", (creative("a", 6.0),), None)), ())
    )
    await one.freeze(session, "40", 40, Decided(None, (an_ad("2"),)))
    there = await two.load(session.id)
    assert there is not None
    await two.redis.aclose()  # nothing below may need Redis
    twenty, forty = two.decided(there, "20"), two.decided(there, "40")
    assert twenty is not None and twenty.fill is not None and twenty.fill.plan.key == "a|slate="
    assert forty is not None and forty.fill is None and forty.ads == (an_ad("2"),)
    assert there.last_start == 40


async def test_a_decision_frozen_after_a_process_loaded_the_session_is_found_by_asking(
    pair: tuple[RedisSessionStore, ...],
) -> None:
    one, two, _ = pair
    session = new_session()
    await one.create(session)
    there = await two.load(session.id)
    assert there is not None
    await one.freeze(
        session, "30", 30, Decided(Fill(a_break(30), FillPlan("b|slate=", (creative("b", 4.0),), None)), ())
    )
    assert two.decided(there, "30") is None, "the local view has not seen it"
    found = await two.decision(there, "30")
    assert found is not None and found.fill is not None and found.fill.plan.key == "b|slate="
    assert await two.decision(there, "31") is None


async def test_racing_freezes_in_two_processes_agree(pair: tuple[RedisSessionStore, ...]) -> None:
    one, two, _ = pair
    session = new_session()
    await one.create(session)
    there = await two.load(session.id)
    assert there is not None
    mine = [Decided(Fill(a_break(50), FillPlan(f"one{k}", (), None)), ()) for k in range(10)]
    theirs = [Decided(Fill(a_break(50), FillPlan(f"two{k}", (), None)), ()) for k in range(10)]
    frozen = await asyncio.gather(
        *(one.freeze(session, "50", 50, d) for d in mine), *(two.freeze(there, "50", 50, d) for d in theirs)
    )
    keys = {d.fill.plan.key for d in frozen if d.fill is not None}
    assert len(keys) == 1 and len(frozen) == 20


async def test_a_once_record_is_claimed_once_across_processes(pair: tuple[RedisSessionStore, ...]) -> None:
    one, two, _ = pair
    session = new_session()
    await one.create(session)
    there = await two.load(session.id)
    assert there is not None
    for ttl in (60.0, float("inf")):
        key = ("20", 0, f"impression-{ttl}")
        claims = await asyncio.gather(*(store.claim(s, key, ttl) for store, s in [(one, session), (two, there)] * 20))
        assert claims.count(True) == 1


async def test_a_session_kept_alive_by_another_process_does_not_expire_here(
    pair: tuple[RedisSessionStore, RedisSessionStore, Clock],
) -> None:
    one, two, clock = pair
    session = new_session()
    await one.create(session)
    there = await two.load(session.id)
    assert there is not None
    clock.now = 150.0
    two.keep_alive(there, 60.0)  # until 210
    await two.flush()
    clock.now = 170.0
    assert await one.expire() == [], "the other process kept it alive"
    assert session.expires_at == pytest.approx(210.0)
    clock.now = 211.0
    assert await one.expire() == [session]
    assert await two.load(session.id) is there, "the local copy lives until its own expiry pass"
    assert await two.expire() == [there]
    third = RedisSessionStore(await redisdb.reachable(), rebuild, prefix=one.prefix, clock=clock, wall=clock)
    assert await third.load(session.id) is None, "gone from Redis"
    await third.redis.aclose()


async def test_a_session_with_its_parameters_stays_under_a_kilobyte(
    pair: tuple[RedisSessionStore, ...], prefix: str
) -> None:
    one, _, _ = pair
    session = new_session()
    session.params = {"device": "ctv", "gdpr": "1", "gdpr_consent": "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"}
    await one.create(session)
    for k in range(4):  # a few once-records for its life
        await one.claim(session, (str(20 + k), 0, "complete"))
    redis = await redisdb.reachable()
    used = await redis.memory_usage(f"{prefix}:s:{session.id}")
    await redis.aclose()
    assert used is not None and used <= 1024, used


async def test_sessions_given_one_shared_decision_share_one_copy_of_its_ads_and_creatives(
    pair: tuple[RedisSessionStore, ...], prefix: str
) -> None:
    one, two, _ = pair
    plan = FillPlan("ad-1|slate=s", (creative("ad-1", 10.0),), creative("s", 2.0))
    sessions = [new_session() for _ in range(5)]
    for k, session in enumerate(sessions):
        store = (one, two)[k % 2]
        await store.create(session)
        await store.freeze(session, "20", 20, Decided(Fill(a_break(20), plan), (an_ad("1"), an_ad("2"))))
    redis = await redisdb.reachable()
    ad_lists = [key async for key in redis.scan_iter(match=f"{prefix}:a:*")]
    creatives = [key async for key in redis.scan_iter(match=f"{prefix}:c:*")]
    sizes = [await redis.memory_usage(f"{prefix}:s:{session.id}") for session in sessions]
    await redis.aclose()
    assert len(ad_lists) == 1 and len(creatives) == 2, "one ad list, the ad and the slate, for five sessions"
    assert all(size is not None and size <= 1024 for size in sizes), sizes


async def test_without_redis_new_sessions_fail_and_held_ones_keep_playing(prefix: str) -> None:
    clock = Clock()
    down = redisdb.unreachable()
    store = RedisSessionStore(down, rebuild, prefix=prefix, clock=clock, wall=clock)
    with pytest.raises(StoreUnavailable, match="session store unreachable during create"):
        await store.create(new_session())
    with pytest.raises(StoreUnavailable, match="during load"):
        await store.load("someone")
    held = new_session()
    await store.local.create(held)  # a session this process held before Redis went away
    mine = Decided(Fill(a_break(20), FillPlan("k", (), None)), ())
    assert await store.freeze(held, "20", 20, mine) is mine and store.decided(held, "20") is mine
    assert await store.claim(held, ("20", 0, "start"), 60.0) and not await store.claim(held, ("20", 0, "start"), 60.0)
    store.keep_alive(held, 60.0)
    await store.flush()
    assert store.counts["freeze"] == 1 and store.counts["claim"] == 2 and store.counts["flush"] == 1
    await store.close()
    await down.aclose()


async def test_keep_alives_are_written_ahead_once_per_ahead_and_never_early(prefix: str) -> None:
    """A player polling every 2 s costs one expiry write per `ahead` (10 s), not one per request; Redis's expiry is
    never before the session's own, and another process drops its copy only after Redis's."""
    clock = Clock()
    redis = await redisdb.reachable()
    one = RedisSessionStore(redis, rebuild, prefix=prefix, clock=clock, wall=clock, ahead=10.0)
    other = RedisSessionStore(await redisdb.reachable(), rebuild, prefix=prefix, clock=clock, wall=clock, ahead=10.0)
    session = new_session()  # expires at 160
    await one.create(session)
    there = await other.load(session.id)
    written: list[float] = []
    for now in range(150, 176, 2):
        clock.now = float(now)
        one.keep_alive(session, 60.0)
        await one.flush()
        expires = float(await redis.hget(f"{prefix}:s:{session.id}", "e") or 0)
        assert expires >= session.expires_at, f"Redis's expiry {expires} before the session's {session.expires_at}"
        written.append(expires)
    assert sorted(set(written)) == [220.0, 232.0, 244.0], "one write per 10 s of requests, each 10 s ahead"
    assert there is not None
    clock.now = 236.0  # the last request was at 174: its own expiry 234 has passed, Redis's (244) not
    assert await other.expire() == [] and there.expires_at == pytest.approx(244.0)
    clock.now = 244.0
    assert await other.expire() == [there]
    for store in (one, other):
        await store.close()
        await store.redis.aclose()


async def test_a_fold_leaves_only_the_breaks_still_in_a_window_in_the_hash(
    pair: tuple[RedisSessionStore, ...], prefix: str
) -> None:
    """A long session's hash does not grow with every break it played: a fold replaces the folded breaks' decisions
    and once-records with the shift, and a process loading the session later renders from that shift."""
    one, two, _ = pair
    session = new_session()
    await one.create(session)
    for start in (20, 40):
        plan = FillPlan(f"ad-{start}|slate=", (creative(f"ad-{start}", 6.0),), None)
        await one.freeze(session, str(start), start, Decided(Fill(a_break(start), plan), (an_ad(str(start)),)))
        await one.claim(session, (str(start), 0, "complete"))
    await one.claim(session, ("200", 0, "complete"))  # a break whose id starts like 20's: not folded with it
    session.shift, session.folded_through = (4, 1, 2.0), 20  # as Session.fold leaves them
    one.folded(session, ["20"])
    await one.flush()
    redis = await redisdb.reachable()
    fields = sorted(text(name) for name in await redis.hkeys(f"{prefix}:s:{session.id}"))
    await redis.aclose()
    assert fields == ["d:40", "e", "h", 'o:["200",0,"complete"]', 'o:["40",0,"complete"]', "p", "r"]
    there = await two.load(session.id)
    assert there is not None and there.shift == session.shift and there.folded_through == 20
    assert two.decided(there, "20") is None and two.decided(there, "40") is not None
    assert not await two.claim(there, ("40", 0, "complete")), "the kept break's once-record holds"


async def test_adopt_takes_every_decision_loaded_with_the_session_in_break_order(
    pair: tuple[RedisSessionStore, ...],
) -> None:
    """The tracking API reads a session's fills whole: on a process that loaded the session but rendered none of its
    breaks yet, `adopt` brings in what another process froze."""
    one, two, _ = pair
    session = new_session()
    await one.create(session)
    for start in (40, 20):
        plan = FillPlan(f"ad-{start}|slate=", (creative(f"ad-{start}", 6.0),), None)
        await one.freeze(session, str(start), start, Decided(Fill(a_break(start), plan), ()))
    there = await two.load(session.id)
    assert there is not None and not there.fills, "adopted lazily, by break"
    two.adopt(there)
    assert [fill.brk.start_msn for fill in there.fills or ()] == [20, 40]
    two.adopt(there)
    assert len(there.fills or ()) == 2, "once"
