"""Break tracking across polls (proxy/hls/breaks.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from proxy.hls.breaks import BreakTracker, CuePoint, TimelinePoint, due_breaks
from proxy.hls.playlist import MediaPlaylist, parse_media


def window(first: int, tags: Mapping[int, Sequence[str]], last: int, td: float = 6.0) -> bytes:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:6", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    for msn in range(first, last + 1):
        lines += [*tags.get(msn, ()), f"#EXTINF:{td:.3f},", f"s{msn}.ts"]
    return ("\n".join(lines) + "\n").encode()


def feed(tracker: BreakTracker, first: int, last: int, tags: Mapping[int, Sequence[str]]) -> None:
    tracker.feed(parse_media(window(first, tags, last)))


def test_a_bare_cue_out_that_slid_out_of_the_window_is_still_a_break() -> None:
    tags: dict[int, Sequence[str]] = {10: ["#EXT-X-CUE-OUT"], 16: ["#EXT-X-CUE-IN"]}
    tracker = BreakTracker()
    feed(tracker, 5, 11, tags)
    feed(tracker, 12, 15, tags)  # the CUE-OUT segment is gone from this window
    assert tracker.open_break() is not None and tracker.open_break().start_msn == 10  # type: ignore[union-attr]
    feed(tracker, 13, 17, tags)
    (brk,) = tracker.breaks
    assert (brk.start_msn, brk.end_msn, brk.planned) == (10, 16, None)
    assert brk.durations == [6.0] * 6


def test_cont_updates_the_planned_duration_and_the_break_ends_when_it_has_played() -> None:
    tags: dict[int, Sequence[str]] = {
        10: ["#EXT-X-CUE-OUT:12.000"],
        11: ["#EXT-X-CUE-OUT-CONT:ElapsedTime=6.000,Duration=24.000"],
    }
    tracker = BreakTracker()
    feed(tracker, 8, 20, tags)
    (brk,) = tracker.breaks
    assert brk.planned == 24.0
    assert brk.end_msn == 14, "no CUE-IN: the break ends once its (updated) planned duration has played"


def test_an_early_cue_in_ends_the_break() -> None:
    tracker = BreakTracker()
    feed(tracker, 8, 20, {10: ["#EXT-X-CUE-OUT:60.000"], 12: ["#EXT-X-CUE-IN"]})
    assert tracker.breaks[0].end_msn == 12
    assert tracker.breaks[0].elapsed == 12.0


def test_a_window_that_starts_inside_a_break_gives_nobody_ads_in_it() -> None:
    tracker = BreakTracker()
    feed(tracker, 8, 14, {8: ["#EXT-X-CUE-OUT-CONT:ElapsedTime=12.000,Duration=30.000"], 11: ["#EXT-X-CUE-IN"]})
    (brk,) = tracker.breaks
    assert not brk.from_start
    assert due_breaks(tracker.breaks, -1, -1, 20) == []


def test_a_daterange_closes_only_the_break_with_its_id() -> None:
    out = '#EXT-X-DATERANGE:ID="ad1",START-DATE="2024-01-01T00:00:00Z",PLANNED-DURATION=60,SCTE35-OUT=0xFC'
    other = '#EXT-X-DATERANGE:ID="chapter",START-DATE="2024-01-01T00:00:06Z",DURATION=6'
    close = '#EXT-X-DATERANGE:ID="ad1",START-DATE="2024-01-01T00:00:00Z",DURATION=18'
    tracker = BreakTracker()
    feed(tracker, 0, 8, {1: [out], 2: [other], 4: [close]})
    (brk,) = tracker.breaks
    assert (brk.start_msn, brk.end_msn) == (1, 4)


def test_zero_length_breaks_are_ignored_and_unending_ones_are_capped() -> None:
    tracker = BreakTracker(max_duration=30)
    feed(tracker, 0, 20, {2: ["#EXT-X-CUE-OUT:0", "#EXT-X-CUE-IN"], 5: ["#EXT-X-CUE-OUT"]})
    (brk,) = tracker.breaks
    assert (brk.start_msn, brk.end_msn) == (5, 10)


def test_due_breaks_skips_breaks_before_the_join_and_already_decided_ones() -> None:
    tracker = BreakTracker()
    tags = {msn: ["#EXT-X-CUE-OUT:6.000"] for msn in (2, 6, 10)}
    feed(tracker, 0, 14, tags)
    assert [b.start_msn for b in due_breaks(tracker.breaks, after_msn=2, join_msn=3, last_msn=14)] == [6, 10]
    assert [b.start_msn for b in due_breaks(tracker.breaks, after_msn=6, join_msn=3, last_msn=9)] == []


# --- manual cue points ---


def feed_at(tracker: BreakTracker, first: int, last: int, now: float, tags: Mapping[int, Sequence[str]] = {}) -> None:
    tracker.feed(parse_media(window(first, tags, last)), now)


def test_a_due_cue_point_opens_a_break_at_the_next_new_segment_and_ends_after_its_duration() -> None:
    tracker = BreakTracker()
    feed_at(tracker, 0, 5, now=100.0)
    tracker.schedule(CuePoint("c1", starts_at=105.0, duration=18.0, ad_server_data={"campaign": "winter"}))
    feed_at(tracker, 1, 6, now=104.0)  # not due yet
    assert tracker.breaks == []
    feed_at(tracker, 2, 8, now=106.0)  # segments 7 and 8 are new: the break starts at 7
    (brk,) = tracker.breaks
    assert (brk.start_msn, brk.planned, brk.from_start) == (7, 18.0, True)
    assert brk.cue.dialect == "cuepoint" and brk.cue.break_id == "cuepoint:c1"
    assert brk.ad_server_data == {"campaign": "winter"}
    feed_at(tracker, 5, 12, now=130.0)
    assert brk.end_msn == 10  # 3 segments of 6 s = 18 s


def test_the_same_cue_point_scheduled_again_opens_no_second_break() -> None:
    tracker = BreakTracker()
    cuepoint = CuePoint("c1", starts_at=0.0, duration=6.0)
    tracker.schedule(cuepoint)
    feed_at(tracker, 0, 3, now=1.0)
    tracker.schedule(cuepoint)  # every poll of the store hands it over again
    feed_at(tracker, 0, 8, now=20.0)
    assert [b.start_msn for b in tracker.breaks] == [0]


def test_a_cue_point_due_inside_an_origin_break_waits_for_its_end() -> None:
    tags: dict[int, Sequence[str]] = {2: ["#EXT-X-CUE-OUT:12.000"], 4: ["#EXT-X-CUE-IN"]}
    tracker = BreakTracker()
    feed_at(tracker, 0, 2, now=10.0, tags=tags)
    tracker.schedule(CuePoint("c1", starts_at=0.0, duration=60.0))
    feed_at(tracker, 0, 6, now=11.0, tags=tags)
    assert [(b.start_msn, b.end_msn, b.cue.dialect) for b in tracker.breaks] == [
        (2, 4, "cue-out"),
        (5, None, "cuepoint"),
    ]


def test_a_cue_point_that_ended_before_any_new_segment_is_dropped() -> None:
    tracker = BreakTracker()
    feed_at(tracker, 0, 3, now=0.0)
    tracker.schedule(CuePoint("late", starts_at=10.0, duration=5.0))
    feed_at(tracker, 0, 5, now=30.0)
    feed_at(tracker, 0, 7, now=31.0)
    assert tracker.breaks == []


def uneven(first: int, last: int, tags: Mapping[int, Sequence[str]]) -> bytes:
    """A window whose segments last 6 s, every third 5.5 s: a timeline from a later start is not a multiple of 6."""
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:6", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    for msn in range(first, last + 1):
        lines += [*tags.get(msn, ()), f"#EXTINF:{5.5 if msn % 3 == 0 else 6.0},", f"s{msn}.ts"]
    return ("\n".join(lines) + "\n").encode()


def uneven_feed(tracker: BreakTracker, first: int, last: int, tags: Mapping[int, Sequence[str]]) -> MediaPlaylist:
    playlist = parse_media(uneven(first, last, tags))
    tracker.feed(playlist)
    return playlist


def test_a_tracker_started_later_aligns_onto_the_first_ones_timeline_and_numbers() -> None:
    tags: dict[int, Sequence[str]] = {}
    for start in (12, 24, 36):
        tags |= {start: ["#EXT-X-CUE-OUT:12"], start + 2: ["#EXT-X-CUE-IN"]}
    early, late = BreakTracker(), BreakTracker()
    for last in range(10, 36):  # the early one follows the channel from segment 5 on
        uneven_feed(early, last - 5, last, tags)
    late_window = uneven_feed(late, 28, 33, tags)  # the late one starts here: it never saw break 24 open
    point = early.timeline_at(parse_media(uneven(30, 35, tags)), 30)
    assert point is not None and point.numbered == 2 and point.last_start == early.breaks[1].start_time
    assert early.timeline_at(parse_media(uneven(29, 34, tags)), 30) is None, "only on the window it fed last"
    assert not late.align(late_window, TimelinePoint(40, 0.0, 0, None)), "a segment it has not seen"
    assert late.align(late_window, point), "30 is in its window"
    for last in range(34, 42):
        uneven_feed(early, last - 5, last, tags)
        uneven_feed(late, last - 5, last, tags)
    assert (late.next_time, late.opened) == (early.next_time, early.opened)
    (theirs,) = [b for b in early.breaks if b.start_msn == 36]
    (mine,) = [b for b in late.breaks if b.start_msn == 36]
    assert (mine.start_time, mine.number, mine.previous_start) == (theirs.start_time, 3, theirs.previous_start)
