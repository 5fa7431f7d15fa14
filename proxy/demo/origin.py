"""A simulated live HLS origin: the demo content loop as an endless sliding window with ad-break markers.

Everything derives from the clock: segment n covers [epoch + n*TD, epoch + (n+1)*TD) and exists once
that span has passed, so any number of processes agree on the window with no background task. Segment
n is loop segment n % LOOP with its timestamps shifted by whole loops (see tsshift), which keeps the
timeline continuous across loop seams. Breaks are announced in one of the marker dialects
of proxy.hls.cues.Dialect so the proxy can be exercised against each of them.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy.demo import tsshift
from proxy.demo.media import DemoMedia, render_master
from proxy.hls.scte35_encode import TICKS_PER_SECOND, encode_splice_insert, encode_time_signal, to_base64, to_hex
from proxy.hls.tags import (
    EXT_OATCLS_SCTE35,
    EXT_X_ASSET,
    EXT_X_CUE,
    EXT_X_CUE_IN,
    EXT_X_CUE_OUT,
    EXT_X_CUE_OUT_CONT,
    EXT_X_DATERANGE,
    EXT_X_MEDIA_SEQUENCE,
    EXT_X_PROGRAM_DATE_TIME,
    EXT_X_SCTE35,
    EXT_X_SPLICEPOINT_SCTE35,
    EXT_X_TARGETDURATION,
    EXT_X_VERSION,
    EXTINF,
    EXTM3U,
)

MARKER_DIALECTS: tuple[str, ...] = (
    "cue-out",
    "cue-out-slash",
    "cue-out-bare",
    "cue-out-duration",
    "scte35-enhanced",
    "daterange",
    "splicepoint",
    "scte35",
    "adobe",
)
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
_SHIFTED_CACHE_SIZE = 64


def breaks_between(
    first_msn: int, last_msn: int, *, interval_segments: int, duration_segments: int
) -> list[tuple[int, int]]:
    """Breaks (start_msn, n_segments) overlapping [first_msn, last_msn]; break b >= 1 starts at b * interval."""
    found = []
    for number in range(
        max(1, (first_msn - duration_segments) // interval_segments), last_msn // interval_segments + 1
    ):
        start = number * interval_segments
        if start <= last_msn and start + duration_segments - 1 >= first_msn:
            found.append((start, duration_segments))
    return found


@dataclass(frozen=True, slots=True)
class BreakSchedule:
    """Break b (b >= 1) covers segments [b*I, b*I + D); segment b*I + D is the first one back in content."""

    target_duration: int
    interval_segments: int
    duration_segments: int

    @classmethod
    def from_seconds(cls, target_duration: int, ad_interval: float, ad_duration: float) -> BreakSchedule:
        # Half-up rounding (not round()'s half-to-even) so 7 s at TD 2 is 4 segments, as a person expects.
        # At least two segments apart and one content segment between breaks, so every break has a CUE-IN.
        interval = max(2, math.floor(ad_interval / target_duration + 0.5))
        duration = min(max(1, math.floor(ad_duration / target_duration + 0.5)), interval - 1)
        return cls(target_duration, interval, duration)

    def breaks_between(self, first_msn: int, last_msn: int) -> list[tuple[int, int]]:
        return breaks_between(
            first_msn, last_msn, interval_segments=self.interval_segments, duration_segments=self.duration_segments
        )

    def locate(self, msn: int) -> tuple[int, int] | None:
        """(break number, position) when msn is inside a break or is its return segment (position == D)."""
        number, position = divmod(msn, self.interval_segments)
        if number >= 1 and position <= self.duration_segments:
            return number, position
        return None


@dataclass(frozen=True, slots=True)
class _Spot:
    """One segment's place in a break, with everything any dialect prints about it."""

    event_id: int
    position: int
    segments: int
    target_duration: int
    out_pts: int
    in_pts: int
    out_date: str
    in_date: str

    @property
    def duration(self) -> float:
        return float(self.segments * self.target_duration)

    @property
    def elapsed(self) -> float:
        return float(self.position * self.target_duration)

    def insert(self, out: bool) -> bytes:
        if out:
            return encode_splice_insert(self.event_id, out=True, pts_time=self.out_pts, duration_s=self.duration)
        return encode_splice_insert(self.event_id, out=False, pts_time=self.in_pts, duration_s=None)

    def signal(self, out: bool) -> bytes:
        pts, type_id, duration = (self.out_pts, 0x34, self.duration) if out else (self.in_pts, 0x35, None)
        return encode_time_signal(
            pts, segmentation_event_id=self.event_id, segmentation_type_id=type_id, duration_s=duration
        )


def _cue_out_family(spot: _Spot, dialect: str) -> list[str]:
    d, e = spot.duration, spot.elapsed
    if spot.position == spot.segments:
        return [EXT_X_CUE_IN]
    if spot.position > 0:
        if dialect == "cue-out-slash":
            return [f"{EXT_X_CUE_OUT_CONT}:{e:.3f}/{d:g}"]
        if dialect in ("cue-out", "scte35-enhanced"):
            scte35 = to_base64(spot.insert(True))
            return [f"{EXT_X_CUE_OUT_CONT}:ElapsedTime={e:.3f},Duration={d:g},SCTE35={scte35}"]
        return []  # bare and DURATION= forms carry no continuation
    if dialect == "cue-out-bare":
        return [EXT_X_CUE_OUT]
    if dialect == "cue-out-duration":
        return [f"{EXT_X_CUE_OUT}:DURATION={d:g}"]
    if dialect == "scte35-enhanced":
        oatcls = f"{EXT_OATCLS_SCTE35}:{to_base64(spot.insert(True))}"
        return [oatcls, f"{EXT_X_ASSET}:CAID=0x{spot.event_id:016X}", f"{EXT_X_CUE_OUT}:{d:.3f}"]
    return [f"{EXT_X_CUE_OUT}:{d:.3f}"]


def _daterange(spot: _Spot) -> list[str]:
    ident = f'ID="{spot.event_id}",START-DATE="{spot.out_date}"'
    if spot.position == 0:
        out = f"PLANNED-DURATION={spot.duration:.3f},SCTE35-OUT={to_hex(spot.insert(True))}"
        return [f"{EXT_X_DATERANGE}:{ident},{out}"]
    if spot.position == spot.segments:
        end = f'END-DATE="{spot.in_date}",DURATION={spot.duration:.3f},SCTE35-IN={to_hex(spot.insert(False))}'
        return [f"{EXT_X_DATERANGE}:{ident},{end}"]
    return []


def _scte35_tag(spot: _Spot) -> list[str]:
    tail = f'ID="{spot.event_id}"'
    if spot.position == spot.segments:
        return [f'{EXT_X_SCTE35}:TYPE=0x35,CUE-IN=YES,CUE="{to_base64(spot.signal(False))}",{tail}']
    cue = f'CUE="{to_base64(spot.signal(True))}"'
    if spot.position == 0:
        return [f"{EXT_X_SCTE35}:TYPE=0x34,DURATION={spot.duration:.3f},CUE-OUT=YES,{cue},{tail}"]
    return [
        f"{EXT_X_SCTE35}:TYPE=0x34,CUE-OUT=CONT,ELAPSED={spot.elapsed:.3f},DURATION={spot.duration:.3f},{cue},{tail}"
    ]


def _marker_lines(dialect: str, spot: _Spot) -> list[str]:
    if dialect == "daterange":
        return _daterange(spot)
    if dialect == "scte35":
        return _scte35_tag(spot)
    if dialect == "splicepoint":
        if spot.position in (0, spot.segments):
            return [f"{EXT_X_SPLICEPOINT_SCTE35}:{to_base64(spot.signal(spot.position == 0))}"]
        return []
    if dialect == "adobe":
        if spot.position == 0:  # start only, like Elemental's "Adobe" style: the end follows from DURATION
            time_s = spot.out_pts / TICKS_PER_SECOND
            return [f"{EXT_X_CUE}:TYPE=SpliceOut,ID={spot.event_id},DURATION={spot.duration:.3f},TIME={time_s:.3f}"]
        return []
    return _cue_out_family(spot, dialect)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Origin:
    """The state behind the routes: configuration, the loop files once read, a few shifted segments."""

    def __init__(
        self,
        media: DemoMedia,
        clock: Callable[[], float],
        marker: str,
        schedule: BreakSchedule,
        window_segments: int,
        epoch: float,
    ) -> None:
        self.media, self.clock, self.marker, self.schedule = media, clock, marker, schedule
        self.window_segments, self.epoch = window_segments, epoch
        self._loop: dict[str, tuple[bytes, ...]] = {}
        self._load_lock = asyncio.Lock()
        self._base_pts = 0
        self._shifted: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._playlist: tuple[int, str] = (-1, "")

    def available(self) -> int:
        """Whole segments since epoch: segments 0 .. available()-1 exist."""
        return max(0, math.floor((self.clock() - self.epoch) / self.media.target_duration))

    def pts(self, msn: int) -> int:
        return (self._base_pts + msn * self.media.target_duration * TICKS_PER_SECOND) % tsshift.WRAP

    async def ensure_loaded(self) -> None:
        """Read the loop files once, off the event loop (they are a few MB)."""
        if self._loop:
            return
        async with self._load_lock:
            if not self._loop:
                self._loop = await asyncio.to_thread(self._read_loop)
                self._base_pts = tsshift.first_video_pts(self._loop[self.media.ladder[0].name][0]) or 0

    def _read_loop(self) -> dict[str, tuple[bytes, ...]]:
        m = self.media
        return {
            r.name: tuple(m.content_segment_path(r.name, i).read_bytes() for i in range(m.loop_segments))
            for r in m.ladder
        }

    def spot(self, msn: int) -> _Spot | None:
        located = self.schedule.locate(msn)
        if located is None:
            return None
        number, position = located
        start, segments, td = msn - position, self.schedule.duration_segments, self.media.target_duration
        return _Spot(
            event_id=number,
            position=position,
            segments=segments,
            target_duration=td,
            out_pts=self.pts(start),
            in_pts=self.pts(start + segments),
            out_date=_iso(self.epoch + start * td),
            in_date=_iso(self.epoch + (start + segments) * td),
        )

    def playlist(self, available: int) -> str:
        """The media playlist for `available` segments; identical for every rendition (relative URIs)."""
        if self._playlist[0] == available:
            return self._playlist[1]
        td = self.media.target_duration
        first = max(0, available - self.window_segments)
        lines = [EXTM3U, f"{EXT_X_VERSION}:3", f"{EXT_X_TARGETDURATION}:{td}", f"{EXT_X_MEDIA_SEQUENCE}:{first}"]
        for msn in range(first, available):
            spot = self.spot(msn)
            if spot is not None:
                lines += _marker_lines(self.marker, spot)
            lines += [
                f"{EXT_X_PROGRAM_DATE_TIME}:{_iso(self.epoch + msn * td)}",
                f"{EXTINF}:{td:.3f},",
                f"seg-{msn}.ts",
            ]
        text = "\n".join(lines) + "\n"
        self._playlist = (available, text)
        return text

    async def segment(self, rendition: str, msn: int) -> bytes:
        key = (rendition, msn)
        cached = self._shifted.get(key)
        if cached is None:
            loops, index = divmod(msn, self.media.loop_segments)
            source = self._loop[rendition][index]
            offset = loops * self.media.loop_duration * TICKS_PER_SECOND
            cached = await asyncio.to_thread(tsshift.shift_timestamps, source, offset) if offset else source
            self._shifted[key] = cached
            while len(self._shifted) > _SHIFTED_CACHE_SIZE:
                self._shifted.popitem(last=False)
        self._shifted.move_to_end(key)
        return cached


def create_origin_app(
    media: DemoMedia,
    *,
    clock: Callable[[], float] = time.time,
    marker: str = "cue-out",
    ad_interval: float = 60.0,
    ad_duration: float = 30.0,
    window_segments: int = 10,
    epoch: float | None = None,
) -> Starlette:
    """The origin app; mount it anywhere (the demo uses /demo/origin). URIs inside are relative.

    Without `epoch`, the stream starts window_segments segments before now (aligned to the target
    duration), so the very first playlist already holds a full window.
    """
    if marker not in MARKER_DIALECTS:
        raise ValueError(f"marker={marker!r} is not one of {', '.join(MARKER_DIALECTS)}")
    if window_segments < 1:
        raise ValueError(f"window_segments={window_segments} must be at least 1")
    td = media.target_duration
    if epoch is None:
        epoch = math.floor(clock() / td) * td - window_segments * td
    schedule = BreakSchedule.from_seconds(td, ad_interval, ad_duration)
    origin = _Origin(media, clock, marker, schedule, window_segments, epoch)
    names = {r.name for r in media.ladder}
    master = render_master(media.ladder, "live.m3u8")

    async def master_playlist(request: Request) -> Response:
        return Response(master, media_type=PLAYLIST_TYPE, headers={"Cache-Control": "max-age=60"})

    async def media_playlist(request: Request) -> Response:
        if request.path_params["name"] not in names:
            return Response("unknown rendition", 404, media_type="text/plain")
        available = origin.available()
        if available == 0:
            return Response("no segment yet", 503, media_type="text/plain", headers={"Retry-After": str(td)})
        await origin.ensure_loaded()
        return Response(origin.playlist(available), media_type=PLAYLIST_TYPE, headers={"Cache-Control": "no-cache"})

    async def segment(request: Request) -> Response:
        name, msn = request.path_params["name"], request.path_params["n"]
        if name not in names or msn >= origin.available():
            return Response("no such segment", 404, media_type="text/plain")
        await origin.ensure_loaded()
        body = await origin.segment(name, msn)
        return Response(body, media_type="video/mp2t", headers={"Cache-Control": "public, max-age=3600"})

    app = Starlette(
        routes=[
            Route("/master.m3u8", master_playlist, methods=["GET"]),
            Route("/{name}/live.m3u8", media_playlist, methods=["GET"]),
            Route("/{name}/seg-{n:int}.ts", segment, methods=["GET"]),
        ]
    )
    app.state.schedule = schedule
    app.state.epoch = epoch
    app.state.origin = origin
    return app
