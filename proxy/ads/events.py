"""Which linear ad tracking events a server fires at which segment of an ad (VAST 4.3 §1.1.2, §2.3.4).

A player's request for an ad segment is the server's only sign of playback, so each event is tied to the
segment during which playback crosses its point: `impression` and `start` at the first segment, each quartile
at the segment holding 25/50/75 % of the ad's duration, `complete` at the last (MediaTailor's server-side
reporting, "Server-side ad tracking"). Pure: durations in, event names out.
"""

from __future__ import annotations

from collections.abc import Sequence

from proxy.ads.models import Ad

QUARTILES = (("firstQuartile", 0.25), ("midpoint", 0.5), ("thirdQuartile", 0.75))
EVENTS = ("impression", "start", "firstQuartile", "midpoint", "thirdQuartile", "complete")


def segment_events(durations: Sequence[float], index: int) -> tuple[str, ...]:
    """The events due when segment `index` of an ad made of `durations` is requested, in VAST order."""
    if not 0 <= index < len(durations):
        return ()
    total = sum(durations)
    start = sum(durations[:index])
    end = start + durations[index]
    due = ["impression", "start"] if index == 0 else []
    due += [name for name, share in QUARTILES if start <= share * total < end]
    if index == len(durations) - 1:
        due.append("complete")
    return tuple(due)


def event_offsets(durations: Sequence[float]) -> dict[str, float]:
    """Seconds into the ad at which each event happens (for the tracking API's client-side reporting)."""
    total = sum(durations)
    return {"impression": 0.0, "start": 0.0, **{name: share * total for name, share in QUARTILES}, "complete": total}


def event_urls(ad: Ad, event: str) -> tuple[str, ...]:
    """The ad's URLs for `event` (Impression elements, or Tracking elements of that event)."""
    if event == "impression":
        return ad.impressions
    return tuple(url for name, url in ad.tracking if name == event)
