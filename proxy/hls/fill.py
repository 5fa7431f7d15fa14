"""What replaces a break's content for a session: the segments of its ads, then slate.

A `FillPlan` is frozen per session and break the first time that break needs it; a `Fill` is that plan
laid over one break, shared by every session with the same plan. Its items are numbered from 0 and
published by time: item k (from `start` to `end` seconds into the break) appears once the origin has
published content covering `end`, so a session's window never runs ahead of the origin's live edge
and every session with the plan sees the same items whenever it polls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from proxy.hls.breaks import Break
from proxy.hls.tags import EXT_X_DISCONTINUITY, EXT_X_KEY, EXT_X_PROGRAM_DATE_TIME, EXTINF

# Float noise in summed EXTINF values must not hold an ad's item back for a whole poll.
EPSILON = 0.05
# Slate is the proxy's own: its items wait for the content under them, so that none is published past the
# end of a break (which is known only once it has closed) and the fill ends within half a frame of it.
SLATE_EPSILON = 0.001
_CLEAR_KEY = f"{EXT_X_KEY}:METHOD=NONE"


@dataclass(frozen=True, slots=True)
class Creative:
    """An ad or slate with the same segmentation in every track (the counts must match: RFC 8216bis §6.2.4)."""

    key: str
    durations: tuple[float, ...]  # reference durations, from the first video track
    uris: Mapping[str, tuple[str, ...]]  # track name -> absolute segment URIs
    extinfs: Mapping[str, tuple[float, ...]]  # track name -> EXTINF of each segment
    map_lines: Mapping[str, str] = field(default_factory=dict)  # track name -> EXT-X-MAP line (fMP4 only)
    # A slate's first 2^k frames (k = 0, 1, …; each shorter than a segment), longest first, each one segment
    # that starts on a keyframe: whatever a break has left after whole segments is a sum of a few of them.
    pieces: tuple[Creative, ...] = ()

    @property
    def duration(self) -> float:
        return sum(self.durations)

    @property
    def frame(self) -> float | None:
        """One frame of a slate with pieces (its shortest piece), None without."""
        return self.pieces[-1].duration if self.pieces else None


@dataclass(frozen=True, slots=True)
class FillPlan:
    key: str  # identifies the decision: sessions with equal keys share every rendered byte
    ads: tuple[Creative, ...]
    slate: Creative | None
    # Server-side beacons: ad segments point at the proxy's redirect endpoint, relative to the session's playlist URL
    # (`seg/{track}/{break}/{item}.ts`), so the bytes stay the same for every session with the plan.
    redirect: bool = False

    @property
    def empty(self) -> bool:
        return not self.ads and self.slate is None

    @property
    def ads_duration(self) -> float:
        return sum(ad.duration for ad in self.ads)


@dataclass(frozen=True, slots=True)
class Item:
    start: float
    end: float
    creative: Creative
    index: int  # segment index within the creative
    ad_index: int | None  # position in the pod, None for slate
    disc: bool  # a DISCONTINUITY goes before it


def redirect_uri(track: str, break_id: str, k: int, uri: str) -> str:
    """The relative URI of item k through the redirect endpoint; the segment's extension is kept."""
    suffix = PurePosixPath(urlsplit(uri).path).suffix or ".ts"
    return f"seg/{track}/{break_id}/{k}{suffix}"


def pdt_line(epoch: float) -> str:
    stamp = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"{EXT_X_PROGRAM_DATE_TIME}:{stamp}"


class Fill:
    """A plan laid over one break: its items, the session's return point and the bytes of each item."""

    def __init__(self, brk: Break, plan: FillPlan) -> None:
        self.brk = brk
        self.plan = plan
        self.items: list[Item] = []
        self._chunks: dict[tuple[int, str], bytes] = {}
        self._ads_items = 0
        self._settled: tuple[int, int, int] | None = None
        self._end: float | None = None  # the closed break's duration, once the slate fills up to it
        self._extend_ads()

    def _extend_ads(self) -> None:
        at = 0.0
        for ad_index, ad in enumerate(self.plan.ads):
            for index, duration in enumerate(ad.durations):
                self.items.append(Item(at, at + duration, ad, index, ad_index, index == 0))
                at += duration
        self._ads_items = len(self.items)

    def _grow(self, until: float) -> None:
        slate = self.plan.slate
        if slate is None or not slate.durations or self._end is not None:
            return
        if self.brk.end_msn is not None:
            self._fill_to(slate, self.brk.time_into(self.brk.end_msn))
            return
        while not self.items or self.items[-1].end <= until + EPSILON:
            self.items.append(self._next_segment(slate))

    def _next_segment(self, slate: Creative) -> Item:
        last = self.items[-1] if self.items else None
        at = last.end if last else 0.0
        index = (last.index + 1) % len(slate.durations) if last is not None and last.creative is slate else 0
        # Every loop of the slate restarts its timestamps, so each one opens with a discontinuity.
        return Item(at, at + slate.durations[index], slate, index, None, index == 0)

    def _fill_to(self, slate: Creative, end: float) -> None:
        """Slate up to the closed break's `end` within half a frame, so the timeline after it (PROGRAM-DATE-TIME)
        goes on without a hole: whole segments while they fit, then the pieces that sum to what is left."""
        self._end = end
        # Slate items past the end were only looked ahead, never published (`published` stops before them).
        while self.items and self.items[-1].ad_index is None and self.items[-1].end > end + SLATE_EPSILON:
            self.items.pop()
        limit = end + (slate.frame / 2 if slate.frame is not None else SLATE_EPSILON)
        while (item := self._next_segment(slate)).end <= limit:
            self.items.append(item)
        for piece in slate.pieces:
            at = self.items[-1].end if self.items else 0.0
            if at + piece.duration <= limit:
                # A piece has its own timestamps, from the slate's first frame: a discontinuity (RFC 8216bis §6.2.1).
                self.items.append(Item(at, at + piece.duration, piece, 0, None, True))

    def end_msn(self) -> int | None:
        """The content segment this session returns to, once known."""
        brk = self.brk
        if self.plan.slate is not None:
            return brk.end_msn
        # Without slate the session goes back to content at the first segment after its ads (MediaTailor).
        target = self.plan.ads_duration - EPSILON
        for offset in range(len(brk.durations)):
            msn = brk.start_msn + offset
            if brk.time_into(msn) >= target:
                return msn
        return brk.end_msn

    def published(self, available: float) -> int:
        """How many items have content published under them when `available` seconds of the break exist."""
        self._grow(available)
        count = 0
        for item in self.items:
            if self._due(item) > available:
                break
            count += 1
        return count

    def _due(self, item: Item) -> float:
        """How much of the break must be published before `item` is: once the slate has filled the closed
        break, its last items (which end within half a frame of it) are due at its end."""
        if item.ad_index is not None:
            return item.end - EPSILON
        return (item.end if self._end is None else min(item.end, self._end)) - SLATE_EPSILON

    def settled(self) -> tuple[int, int, int] | None:
        """(items, discontinuities among them, return msn) once the session has gone back to content.
        Fixed from then on (the break's durations up to the return are known), so computed once."""
        if self._settled is not None:
            return self._settled
        end = self.end_msn()
        if end is None:
            return None
        count = self.published(self.brk.time_into(end))
        self._settled = (count, sum(item.disc for item in self.items[:count]), end)
        return self._settled

    def shift(self) -> tuple[int, int, float] | None:
        """What this fill adds to the numbers and the timeline of everything after it, once settled:
        (media sequence, discontinuity sequence, seconds)."""
        settled = self.settled()
        if settled is None:
            return None
        count, discs, end = settled
        brk = self.brk
        seconds = sum(item.end - item.start for item in self.items[:count]) - brk.time_into(end)
        return count - (end - brk.start_msn), discs + 1 - brk.disc_count(brk.start_msn, end), seconds

    def chunk(self, k: int, track: str) -> bytes:
        key = (k, track)
        cached = self._chunks.get(key)
        if cached is None:
            cached = self._chunks[key] = self._render(k, track)
        return cached

    def _render(self, k: int, track: str) -> bytes:
        item, brk = self.items[k], self.brk
        lines = [line for at, line in brk.dateranges if item.start <= at + EPSILON < item.end]
        if item.disc:
            lines.append(EXT_X_DISCONTINUITY)
            if k == 0 and brk.key_line is not None and "METHOD=NONE" not in brk.key_line:
                lines.append(_CLEAR_KEY)  # clear ads in an encrypted stream (§4.4.4.4)
            if brk.start_pdt is not None:
                lines.append(pdt_line(brk.start_pdt + item.start))
        map_line = item.creative.map_lines.get(track)
        if map_line is not None and item.index == 0:
            lines.append(map_line)
        extinf = item.creative.extinfs[track][item.index]
        lines.append(f"{EXTINF}:{extinf:.3f},")
        uri = item.creative.uris[track][item.index]
        if self.plan.redirect and item.ad_index is not None:
            uri = redirect_uri(track, brk.id, k, uri)
        lines.append(uri)
        return ("\n".join(lines) + "\n").encode()

    def top_lines(self, k: int, track: str) -> bytes:
        """What a window starting at item k needs before it: the KEY and MAP that slid out with earlier items."""
        item, lines = self.items[k], []
        if self.brk.key_line is not None and "METHOD=NONE" not in self.brk.key_line and not (item.disc and k == 0):
            lines.append(_CLEAR_KEY)
        map_line = item.creative.map_lines.get(track)
        if map_line is not None and item.index != 0:
            lines.append(map_line)
        return ("\n".join(lines) + "\n").encode() if lines else b""
