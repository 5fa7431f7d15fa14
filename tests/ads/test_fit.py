"""`fit`: ads are never clipped; one longer than what is left is dropped and the later, shorter ones still fit."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from proxy.ads.fit import SLACK, fit
from proxy.ads.models import Ad, MediaFile


def ad(ad_id: str, duration: float) -> Ad:
    media = (MediaFile(f"https://cdn.example.com/{ad_id}.m3u8", "application/x-mpegURL", "streaming", 0, 0, 0),)
    return Ad(ad_id, None, "test", ad_id, f"c-{ad_id}", duration, media)


def test_everything_fits() -> None:
    ads = [ad("a", 10), ad("b", 15), ad("c", 5)]
    chosen, skipped = fit(ads, 30)
    assert chosen == ads
    assert skipped == []


def test_chosen_ads_are_never_clipped() -> None:
    chosen, _ = fit([ad("a", 20), ad("b", 15)], 30)
    assert [(a.ad_id, a.duration) for a in chosen] == [("a", 20)]


def test_too_long_ad_is_dropped_with_the_durations_and_later_shorter_ads_still_fit() -> None:
    chosen, skipped = fit([ad("a", 20), ad("b", 15), ad("c", 10), ad("d", 1)], 30)
    assert [a.ad_id for a in chosen] == ["a", "c"]
    assert [(s.ad_id, s.reason) for s in skipped] == [
        ("b", "AVAIL_DURATION_EXCEEDED"),
        ("d", "AVAIL_DURATION_EXCEEDED"),
    ]
    assert skipped[0].detail == "ad of 15 s does not fit in the 10 s left of a 30 s break"
    assert "ad of 1 s" in skipped[1].detail and "the 0 s left" in skipped[1].detail


def test_an_ad_longer_than_the_whole_break() -> None:
    chosen, skipped = fit([ad("long", 45.5)], 30)
    assert chosen == []
    (skip,) = skipped
    assert (skip.ad_id, skip.reason) == ("long", "AVAIL_DURATION_EXCEEDED")
    assert "45.5 s" in skip.detail and "30 s break" in skip.detail


@pytest.mark.parametrize(("over", "fits"), [(0.0, True), (SLACK / 2, True), (SLACK, True), (SLACK + 0.01, False)])
def test_rounding_slack(over: float, fits: bool) -> None:
    """VAST and EXTINF durations are rounded: an ad a few ms over the break still plays; more than SLACK does not."""
    chosen, skipped = fit([ad("a", 30 + over)], 30)
    assert (len(chosen), len(skipped)) == ((1, 0) if fits else (0, 1))


def test_empty_pod_and_zero_break() -> None:
    assert fit([], 30) == ([], [])
    chosen, skipped = fit([ad("a", 6)], 0)
    assert chosen == [] and [s.ad_id for s in skipped] == ["a"]


durations = st.lists(st.floats(min_value=0, max_value=200, allow_nan=False, allow_infinity=False), max_size=12)


@given(durations, st.floats(min_value=0, max_value=600, allow_nan=False, allow_infinity=False))
def test_fit_properties(lengths: list[float], break_duration: float) -> None:
    ads = [ad(f"ad{i}", length) for i, length in enumerate(lengths)]
    chosen, skipped = fit(ads, break_duration)
    assert sum(a.duration for a in chosen) <= break_duration + SLACK + 1e-9
    # Order preserved and nothing lost or duplicated: chosen and skipped partition the ads, each in pod order.
    ids = [a.ad_id for a in ads]
    chosen_ids, skipped_ids = [a.ad_id for a in chosen], [s.ad_id for s in skipped]
    assert sorted(chosen_ids + skipped_ids, key=ids.index) == ids
    assert chosen_ids == sorted(chosen_ids, key=ids.index) and skipped_ids == sorted(skipped_ids, key=ids.index)
    assert all(s.reason == "AVAIL_DURATION_EXCEEDED" for s in skipped)
    # Never clipped: the chosen ads are the very same objects.
    assert all(any(c is a for a in ads) for c in chosen)
    # Greedy: every skipped ad was longer than what was left when its turn came.
    left = break_duration
    for a in ads:
        if a.ad_id in chosen_ids:
            left -= a.duration
        else:
            assert a.duration > left + SLACK
