"""One channel timeline for a cluster (proxy/playback/timeline.py): a process that starts following a channel after
another takes that one's timeline seconds and break numbers from the anchor in Redis; a stale anchor is replaced;
without Redis a process keeps its own. Needs Redis (tests/redisdb.py)."""

from __future__ import annotations

from collections.abc import Sequence

from proxy.hls.breaks import BreakTracker
from proxy.hls.playlist import MediaPlaylist, parse_media
from proxy.net.redis_client import text
from proxy.playback.timeline import TimelineAnchor
from tests import redisdb
from tests.hls.test_breaks import uneven

TAGS: dict[int, Sequence[str]] = {
    msn: tags
    for start in (12, 24, 36)
    for msn, tags in ((start, ["#EXT-X-CUE-OUT:12"]), (start + 2, ["#EXT-X-CUE-IN"]))
}


def fed(tracker: BreakTracker, last: int) -> MediaPlaylist:
    playlist = parse_media(uneven(last - 5, last, TAGS))
    tracker.feed(playlist)
    return playlist


async def test_a_process_started_later_takes_the_first_ones_timeline(prefix: str) -> None:
    first, later = BreakTracker(), BreakTracker()
    one = TimelineAnchor(await redisdb.reachable(), prefix, ("news", "v1"))
    two = TimelineAnchor(await redisdb.reachable(), prefix, ("news", "v1"))
    playlist = fed(first, 10)
    await one.join(first, lambda: playlist)
    for last in range(11, 32):
        one.publish(first, fed(first, last))
        await one.close()  # the background write done
    window = fed(later, 31)
    await two.join(later, lambda: window)
    assert (one.counts["claimed"], two.counts["aligned"]) == (1, 1)
    for last in range(32, 42):
        fed(first, last)
        two.publish(later, fed(later, last))
    await two.close()
    assert (later.next_time, later.opened) == (first.next_time, first.opened)
    assert [(b.start_time, b.number) for b in later.breaks if b.start_msn == 36] == [
        (b.start_time, b.number) for b in first.breaks if b.start_msn == 36
    ]
    for anchor in (one, two):
        await anchor.redis.aclose()


async def test_a_stale_anchor_is_replaced_and_a_process_without_redis_keeps_its_own(prefix: str) -> None:
    old, new = BreakTracker(), BreakTracker()
    redis = await redisdb.reachable()
    gone = TimelineAnchor(redis, prefix, ("news", "v1"))
    early = fed(old, 10)
    await gone.join(old, lambda: early)  # every process then stops for longer than a window
    anchor = TimelineAnchor(redis, prefix, ("news", "v1"))
    window = fed(new, 40)
    await anchor.join(new, lambda: window)
    assert anchor.counts["unaligned"] == 1 and new.next_time == sum(s.duration for s in window.segments)
    anchor.publish(new, fed(new, 41))
    await anchor.close()
    assert text(await redis.get(f"{prefix}:tl:news:v1") or "").startswith("[36,"), "its timeline is the cluster's now"
    alone = TimelineAnchor(redisdb.unreachable(), prefix, ("news", "v1"))
    tracker = BreakTracker()
    first = fed(tracker, 20)
    await alone.join(tracker, lambda: first)
    assert alone.counts["errors"] == 1 and tracker.next_time == sum(s.duration for s in first.segments)
    await redis.aclose()
    await alone.redis.aclose()
