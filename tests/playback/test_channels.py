"""The channels of a process on their own: configurations, a runtime per version and cue points, with runtimes
that record what they are told (the whole-system view is tests/e2e/test_cuepoint.py)."""

from __future__ import annotations

from collections import Counter
from typing import cast

from proxy.hls.breaks import CuePoint
from proxy.playback.channels import ChannelRuntimes
from proxy.playback.runtime import ChannelRuntime
from proxy.playback.sessions import Session
from proxy.settings import ChannelConfig

V1 = ChannelConfig("news", "https://origin.test/news.m3u8", version="1", account_id="acct-a")
V2 = ChannelConfig("news", "https://origin.test/news.m3u8", version="2", account_id="acct-a")
CUE = CuePoint("c1", starts_at=1000.0, duration=30.0)


class Tracker:
    def __init__(self) -> None:
        self.scheduled: list[CuePoint] = []
        self.clamped: Counter[str] = Counter()

    def schedule(self, cuepoint: CuePoint) -> None:
        self.scheduled.append(cuepoint)


class Runtime:
    def __init__(self, config: ChannelConfig) -> None:
        self.config, self.tracker, self.sessions = config, Tracker(), dict[str, Session]()


def channels() -> ChannelRuntimes:
    return ChannelRuntimes({"news": V1}, lambda config: cast(ChannelRuntime, Runtime(config)))


def test_a_runtime_per_version_with_the_cue_points_scheduled_before_and_after() -> None:
    registry = channels()
    first = registry.runtime(V1)
    registry.schedule("news", CUE)
    assert registry.runtime(V1) is first and cast(Runtime, first).tracker.scheduled == [CUE]
    registry.set({"news": V2})
    second = registry.runtime(V2)
    assert second is not first and cast(Runtime, second).tracker.scheduled == [CUE]
    assert registry.current == {"news": second}


def test_cue_points_go_with_their_channel_or_its_owner_and_once_ended() -> None:
    registry = channels()
    registry.schedule("news", CUE)
    registry.set({"news": ChannelConfig("news", V1.origin, version="3", account_id="acct-b")})
    assert "news" not in registry.cuepoints, "another account's channel never plays this one's breaks"
    registry.schedule("news", CUE)
    registry.forget_cuepoints_ended(CUE.starts_at + CUE.duration + 1)
    assert registry.cuepoints == {"news": {}}


def test_a_version_retires_once_no_longer_configured_and_its_last_session_gone() -> None:
    registry = channels()
    old = cast(Runtime, registry.runtime(V1))
    old.tracker.clamped["markers"] += 2
    old.sessions["s"] = Session("news", 0, 0.0, {}, 60.0)
    assert registry.retire(V1.key) is None, "still configured"
    registry.set({"news": V2})
    assert registry.retire(V1.key) is None, "a session still plays it"
    old.sessions.clear()
    assert registry.retire(V1.key) is cast(ChannelRuntime, old) and V1.key not in registry.runtimes
    assert registry.breaks_clamped() == Counter({"markers": 2}), "the retired runtime's counts are kept"
