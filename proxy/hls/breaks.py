"""Ad breaks of one channel, tracked across origin polls.

Each segment is looked at once, the first time any variant's window shows it, so a break whose bare
CUE-OUT slid out of the window stays a break (bare CUE-OUT has no per-segment continuation). A break opens on an OUT
cue, follows CONT updates of its planned duration, and closes on an IN cue, when its planned duration has
played out without a CONT saying it goes on, or at `max_duration` when nothing ever says how long it is.

`max_duration` bounds a planned duration too: a marker's duration is the origin's word (CUE-OUT:99999999999 is
well-formed), and a break planned longer would ask ad servers for, and fill with slate, hours of ads. Such a
plan is clamped, logged once per break and counted in `clamped` by reason.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from proxy.hls.cues import Cue
from proxy.hls.markers import detect
from proxy.hls.playlist import MediaPlaylist, Segment
from proxy.hls.tags import EXT_X_DATERANGE

log = logging.getLogger("proxy.hls.breaks")

# A break with a planned duration ends at the first segment boundary within this of the plan: durations
# are printed rounded (CUE-OUT:20.020 with segments adding up to 20.02, Duration=21 in CONT; §1.8).
END_TOLERANCE = 0.5


@dataclass(slots=True)
class Break:
    start_msn: int
    start_time: float  # channel timeline seconds (0 = first segment this tracker saw)
    seen_at: float  # the tracker clock when the OUT was seen: decisions are due from then
    planned: float | None
    from_start: bool  # False when the window joined it mid-way (a CONT with no OUT seen)
    cue: Cue
    start_pdt: float | None
    key_line: str | None  # EXT-X-KEY in effect at the first break segment
    map_line: str | None
    durations: list[float] = field(default_factory=list)
    disc_flags: list[bool] = field(default_factory=list)  # origin DISCONTINUITY on each break segment
    dateranges: list[tuple[float, str]] = field(default_factory=list)  # (seconds into the break, tag line)
    end_msn: int | None = None
    end_disc: bool = False  # origin DISCONTINUITY on the return segment
    ad_server_data: Mapping[str, str] = field(default_factory=dict)  # a cue point's ad tag variables
    number: int = 0  # 1-based among the breaks this tracker saw from their start (0: joined mid-way)
    clamped_from: float | None = None  # the longest planned duration its markers gave, when over max_duration
    previous_start: float | None = None  # start_time of the one before it (numbered), None for the first

    @property
    def id(self) -> str:
        return f"{self.start_msn}"

    @property
    def closed(self) -> bool:
        return self.end_msn is not None

    @property
    def elapsed(self) -> float:
        return sum(self.durations)

    def time_into(self, msn: int) -> float:
        """Seconds from the break start to the start of content segment `msn` (clamped to what was seen)."""
        return sum(self.durations[: max(0, msn - self.start_msn)])

    def disc_count(self, first: int, last: int) -> int:
        """Origin DISCONTINUITY tags on break segments first..last inclusive (the return segment included)."""
        flags = self.disc_flags[max(0, first - self.start_msn) : max(0, last - self.start_msn + 1)]
        count = sum(flags)
        if self.end_msn is not None and first <= self.end_msn <= last:
            count += self.end_disc
        return count


@dataclass(frozen=True, slots=True)
class CuePoint:
    """A break asked for through the control API (Brightcove Live API "Using manual cue points"): it starts at the first
    segment the tracker sees at or after `starts_at` (Unix time), and lasts `duration` seconds."""

    id: str
    starts_at: float
    duration: float
    ad_server_data: Mapping[str, str] = field(default_factory=dict)

    def cue(self) -> Cue:
        return Cue(kind="out", dialect="cuepoint", duration=self.duration, break_id=f"cuepoint:{self.id}")


class BreakTracker:
    def __init__(
        self, *, max_duration: float = 600.0, clock: Callable[[], float] | None = None, keep: int = 512
    ) -> None:
        self.max_duration = max_duration
        self.clock = clock or (lambda: 0.0)
        self.keep = keep
        self.breaks: list[Break] = []
        self.last_msn: int | None = None
        self.next_time = 0.0
        self._open: Break | None = None
        self._cuepoints: dict[str, CuePoint] = {}  # scheduled, not started yet
        self._seen_cuepoints: set[str] = set()
        self.opened = 0  # breaks seen from their start so far: what numbers them (VMAP `#n`, proxy.ads.vmap)
        self.clamped: Counter[str] = Counter()  # breaks whose planned duration was cut, by reason
        self._last_start: float | None = None

    def schedule(self, cuepoint: CuePoint) -> None:
        """Add a cue point (once: the same id again is ignored, so every poll of the store may pass it)."""
        if cuepoint.id not in self._seen_cuepoints:
            self._seen_cuepoints.add(cuepoint.id)
            self._cuepoints[cuepoint.id] = cuepoint

    def feed(self, playlist: MediaPlaylist, now: float = 0.0) -> list[Break]:
        """Look at the segments not seen before (at Unix time `now`); return the breaks that opened."""
        opened: list[Break] = []
        for segment in playlist.segments:
            if self.last_msn is not None and segment.msn <= self.last_msn:
                continue
            cues, cuepoint = self._cues(segment, now)
            started = self._segment(segment, cues)
            if started is not None and cuepoint is not None:
                started.ad_server_data = cuepoint.ad_server_data
            if started is not None:
                opened.append(started)
            self.last_msn = segment.msn
            self.next_time += segment.duration
        del self.breaks[: max(0, len(self.breaks) - self.keep)]
        return opened

    def _cues(self, segment: Segment, now: float) -> tuple[tuple[Cue, ...], CuePoint | None]:
        """The segment's markers, or a due cue point's OUT when the segment has none and no break is open:
        the cue point then opens a break exactly as an origin CUE-OUT with its duration would."""
        cues = detect(segment.lines)
        due = [c for c in self._cuepoints.values() if c.starts_at <= now] if self._cuepoints else []
        if not due or cues or self._open is not None:
            return cues, None  # a cue point due inside a break waits for its end
        cuepoint = min(due, key=lambda c: c.starts_at)
        del self._cuepoints[cuepoint.id]
        if cuepoint.starts_at + cuepoint.duration <= now:
            log.warning("cue point %s ended before a segment could start it: dropped", cuepoint.id)
            return cues, None
        log.info("cue point %s starts a break of %g s", cuepoint.id, cuepoint.duration)
        return (cuepoint.cue(),), cuepoint

    def _segment(self, segment: Segment, cues: Sequence[Cue]) -> Break | None:
        current = self._open
        if current is not None and self._ends(current, segment, cues):
            current.end_msn, current.end_disc = segment.msn, segment.discontinuity
            self._open = current = None
            cues = [cue for cue in cues if cue.kind == "out"]
        if current is None:
            return self._maybe_open(segment, cues)
        self._extend(current, segment, cues)
        return None

    def _ends(self, current: Break, segment: Segment, cues: Sequence[Cue]) -> bool:
        # A DATERANGE that closes by DURATION/END-DATE only ends the break with its ID; an unrelated date
        # range with a duration must not (RFC 8216bis §4.4.5.1: attributes belong to the tag's ID).
        ins = [c for c in cues if c.kind == "in" and not (c.closes and c.break_id not in (None, current.cue.break_id))]
        kinds = {cue.kind for cue in cues}
        if ins:
            return True
        outs = [cue for cue in cues if cue.kind == "out"]
        if outs and outs[0].break_id is not None and outs[0].break_id != current.cue.break_id:
            return True  # a new break with its own id replaces one that never got its CUE-IN
        if kinds & {"cont", "out"}:
            return False  # a CONT (or a repeated OUT) says the break goes on
        limit = current.planned if current.planned is not None else self.max_duration
        return current.elapsed >= limit - END_TOLERANCE

    def _maybe_open(self, segment: Segment, cues: Sequence[Cue]) -> Break | None:
        outs = [cue for cue in cues if cue.kind == "out"]
        if outs:
            if outs[0].duration == 0 or any(cue.kind == "in" for cue in cues):
                return None  # zero-length break (CUE-OUT:0 + CUE-IN, splice_immediate with duration 0)
            return self._open_break(segment, outs[0], from_start=True)
        conts = [cue for cue in cues if cue.kind == "cont"]
        if conts:
            # The window starts inside a break whose OUT this tracker never saw: nobody gets ads in it.
            self._open_break(segment, conts[0], from_start=False)
        return None

    def _open_break(self, segment: Segment, cue: Cue, *, from_start: bool) -> Break:
        opened = Break(
            start_msn=segment.msn,
            start_time=self.next_time,
            seen_at=self.clock(),
            planned=None,
            from_start=from_start,
            cue=cue,
            start_pdt=segment.pdt,
            key_line=segment.key_line,
            map_line=segment.map_line,
        )
        if from_start:
            self.opened += 1
            opened.number, opened.previous_start, self._last_start = self.opened, self._last_start, opened.start_time
        self._plan(opened, segment.msn, cue.duration)
        self._extend(opened, segment, ())
        self.breaks.append(opened)
        self._open = opened
        if from_start:
            log.info("break at msn %d: planned %s s (%s)", segment.msn, opened.planned, cue.dialect)
        return opened

    def _extend(self, current: Break, segment: Segment, cues: Sequence[Cue]) -> None:
        for cue in cues:
            if cue.kind in ("cont", "out") and cue.duration:
                self._plan(current, segment.msn, cue.duration)  # CONT updates the duration (§4 of anchors)
        offset = current.elapsed
        current.dateranges += [(offset, line) for line in segment.lines if line.startswith(EXT_X_DATERANGE)]
        current.durations.append(segment.duration)
        current.disc_flags.append(segment.discontinuity)

    def _plan(self, current: Break, msn: int, duration: float | None) -> None:
        """`duration` as the break's plan, cut to `max_duration` (logged and counted once per break)."""
        if duration is None or duration <= self.max_duration:
            current.planned = duration
            return
        current.planned = self.max_duration
        if current.clamped_from is None:
            self.clamped["planned_over_max"] += 1
            log.warning(
                "break at msn %d: planned %s s, longer than the longest break (max_break_duration %g s): "
                "played as %g s",
                msn,
                duration,
                self.max_duration,
                self.max_duration,
            )
        current.clamped_from = max(duration, current.clamped_from or 0.0)

    def open_break(self) -> Break | None:
        return self._open

    def timeline_at(self, playlist: MediaPlaylist, msn: int) -> TimelinePoint | None:
        """Where segment `msn` of `playlist`, the last window fed, stands on this tracker's timeline; None when the
        playlist is not the last fed or does not hold `msn`."""
        if playlist.last_msn != self.last_msn or not playlist.media_sequence <= msn <= playlist.last_msn:
            return None
        after = sum(segment.duration for segment in playlist.segments if segment.msn >= msn)
        numbered = [brk for brk in self.breaks if brk.number and brk.start_msn < msn]
        before = self.opened - sum(1 for brk in self.breaks if brk.number and brk.start_msn >= msn)
        return TimelinePoint(msn, self.next_time - after, before, numbered[-1].start_time if numbered else None)

    def align(self, playlist: MediaPlaylist, point: TimelinePoint) -> bool:
        """Move this tracker's timeline seconds and break numbers onto those of another tracker of the channel (one
        that started earlier: a cluster's processes share one), given where `point.msn` stands on its timeline;
        False when `point.msn` is not in `playlist`, the last window fed."""
        here = self.timeline_at(playlist, point.msn)
        if here is None:
            return False
        seconds, numbers = point.seconds - here.seconds, point.numbered - here.numbered
        self.next_time += seconds
        self.opened += numbers
        self._last_start = None if self._last_start is None else self._last_start + seconds
        for brk in self.breaks:
            brk.start_time += seconds
            brk.previous_start = None if brk.previous_start is None else brk.previous_start + seconds
            brk.number += numbers if brk.number else 0
        first = next((brk for brk in self.breaks if brk.number and brk.start_msn >= point.msn), None)
        if first is not None and first.previous_start is None:
            first.previous_start = point.last_start  # the break before it, which this tracker never saw open
        if self._last_start is None:
            self._last_start = point.last_start
        return True


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """A segment on a tracker's timeline: where it starts (seconds), how many breaks were numbered before it and
    where the last of those started."""

    msn: int
    seconds: float
    numbered: int
    last_start: float | None


def due_breaks(breaks: Sequence[Break], after_msn: int, join_msn: int, last_msn: int) -> list[Break]:
    """Breaks that a session joined at `join_msn` must decide, in order, to render a window ending at
    `last_msn`; `after_msn` is the start of the last break it decided. A break already running when the
    session joined plays as content for it (the issue's mid-break join rule)."""
    due: list[Break] = []
    for brk in reversed(breaks):
        if brk.start_msn <= after_msn:
            break
        if brk.from_start and join_msn < brk.start_msn <= last_msn:
            due.append(brk)
    due.reverse()
    return due
