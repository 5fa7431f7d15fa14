"""The position of a break the proxy computes for a session (proxy/playback/positions.py): its breaks counted from
its join, its time from its start, the origin's break id; and the channel's own (a viewer who joined when the
proxy started following it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from proxy.ads.models import BreakPosition
from proxy.hls.breaks import BreakTracker
from proxy.hls.playlist import parse_media
from proxy.playback.positions import channel_position, session_position
from proxy.playback.sessions import Session


def window(first: int, last: int, tags: Mapping[int, Sequence[str]]) -> bytes:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:6", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    for msn in range(first, last + 1):
        lines += [*tags.get(msn, ()), "#EXTINF:6.000,", f"s{msn}.ts"]
    return ("\n".join(lines) + "\n").encode()


def test_positions_count_a_sessions_breaks_from_its_join_and_time_from_its_start() -> None:
    tags: dict[int, Sequence[str]] = {
        n: ["#EXT-X-CUE-OUT:12.000"] if n % 10 == 0 else ["#EXT-X-CUE-IN"] if n % 10 == 2 else [] for n in range(5, 60)
    }
    tags[30] = ['#EXT-X-DATERANGE:ID="0x1F",START-DATE="2026-01-01T00:00:00Z",PLANNED-DURATION=12,SCTE35-OUT=0xFC']
    tracker = BreakTracker()
    tracker.feed(parse_media(window(0, 59, tags)))
    numbered = [(brk.start_msn, brk.number, brk.previous_start) for brk in tracker.breaks]
    assert numbered == [(10, 1, None), (20, 2, 60.0), (30, 3, 120.0), (40, 4, 180.0), (50, 5, 240.0)]
    session = Session("c", 19, 120.0, {}, 0.0)  # joined at msn 19: the timeline's 120 s is its start
    first, third = tracker.breaks[1], tracker.breaks[3]
    assert session_position(tracker.breaks, session, first, 6.0) == BreakPosition(1, 0.0, None, True, "")
    assert session_position(tracker.breaks, session, third, 6.0) == BreakPosition(3, 120.0, 60.0, False, "")
    assert session_position(tracker.breaks, Session("c", 11, 72.0, {}, 0.0), first, 6.0).preroll is False
    named = tracker.breaks[2]
    assert session_position(tracker.breaks, session, named, 6.0).break_id == "0x1F"
    assert channel_position(third) == BreakPosition(4, 240.0, 180.0, False, "")
