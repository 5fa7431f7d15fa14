"""Which tracking events fire at which ad segment (proxy/ads/events.py): properties over random segmentations."""

from __future__ import annotations

from hypothesis import given, strategies as st

from proxy.ads.events import EVENTS, event_offsets, event_urls, segment_events
from proxy.ads.models import Ad

DURATIONS = st.lists(st.floats(min_value=0.5, max_value=10, allow_nan=False), min_size=1, max_size=30)


@given(DURATIONS)
def test_requesting_every_segment_in_turn_fires_each_event_once_in_vast_order(durations: list[float]) -> None:
    fired = [event for index in range(len(durations)) for event in segment_events(durations, index)]
    assert fired == list(EVENTS)


@given(DURATIONS, st.data())
def test_each_quartile_fires_at_the_segment_holding_its_point(durations: list[float], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(durations) - 1))
    start = sum(durations[:index])
    end = start + durations[index]
    offsets = event_offsets(durations)
    for event in segment_events(durations, index):
        if event not in ("complete",):
            assert start <= offsets[event] < end or (index == 0 and offsets[event] == 0.0)


def test_the_first_and_last_segments() -> None:
    assert segment_events([2.0, 2.0, 2.0, 2.0], 0) == ("impression", "start")
    assert segment_events([2.0, 2.0, 2.0, 2.0], 3) == ("thirdQuartile", "complete")
    assert segment_events([6.0], 0) == EVENTS  # a one-segment ad fires everything at once
    assert segment_events([2.0], 5) == ()


def test_event_urls_come_from_impressions_and_tracking() -> None:
    ad = Ad("a", None, "sys", "t", "c", 8.0, (), impressions=("https://i/1", "https://i/2"),
            tracking=(("start", "https://t/s"), ("midpoint", "https://t/m"), ("start", "https://t/s2")))  # fmt: skip
    assert event_urls(ad, "impression") == ("https://i/1", "https://i/2")
    assert event_urls(ad, "start") == ("https://t/s", "https://t/s2")
    assert event_urls(ad, "complete") == ()
