"""A pure simulation of a live origin, a channel's tracker and sessions, for stitcher invariant tests.

URIs encode what a segment is so the tests can tell content from ads and compare tracks:
content `https://origin.test/{track}/c{msn}.ts`, creatives `https://ads.test/{key}/{track}/{index}.ts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from proxy.hls.breaks import BreakTracker, due_breaks
from proxy.hls.fill import Creative, Fill, FillPlan
from proxy.hls.playlist import MediaPlaylist, parse_media
from proxy.hls.render import Window, render
from proxy.media.slatepieces import piece_frames
from proxy.playback.sessions import Decided, Session

TRACKS = ("v0", "v1", "a0")
ORIGIN = "https://origin.test/live/{track}.m3u8"


@dataclass(frozen=True)
class OriginSegment:
    duration: float
    tags: tuple[str, ...] = ()  # marker tags (video tracks only) and others, before EXTINF
    discontinuity: bool = False


def creative(key: str, durations: Sequence[float], tracks: Sequence[str] = TRACKS) -> Creative:
    return Creative(
        key=key,
        durations=tuple(durations),
        uris={t: tuple(f"https://ads.test/{key}/{t}/{i}.ts" for i in range(len(durations))) for t in tracks},
        extinfs={t: tuple(durations) for t in tracks},
    )


def slate_with_pieces(key: str, durations: Sequence[float], fps: float, tracks: Sequence[str] = TRACKS) -> Creative:
    """A slate whose pieces are its first 1, 2, 4, … frames at `fps`, fewer than its first segment has, as the
    media pipeline cuts them (proxy.media.slatepieces), EXTINFs printed to the microsecond as ffmpeg does."""
    counts = piece_frames(round(durations[0] * fps))
    pieces = tuple(creative(f"{key}-{n}", [round(n / fps, 6)], tracks) for n in reversed(counts))
    return replace(creative(key, durations, tracks), pieces=pieces)


def origin_playlist(
    segments: Sequence[OriginSegment], first: int, last: int, track: str, td: int, pdt0: float | None
) -> bytes:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{td}", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    discs_before = sum(s.discontinuity for s in segments[:first])
    lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discs_before}")
    at = (pdt0 or 0.0) + sum(s.duration for s in segments[:first])
    for msn in range(first, last + 1):
        segment = segments[msn]
        if segment.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        if track.startswith("v"):
            lines += segment.tags
        if pdt0 is not None:
            from proxy.hls.fill import pdt_line

            lines.append(pdt_line(at))
        lines += [f"#EXTINF:{segment.duration:.3f},", f"c{msn}.ts"]
        at += segment.duration
    return ("\n".join(lines) + "\n").encode()


@dataclass
class SimSession:
    session: Session
    choose: object  # callable(break_id) -> FillPlan
    outputs: dict[str, list[tuple[int, bytes]]] = field(default_factory=dict)
    every_fill: list[Fill] = field(default_factory=list)


class Simulation:
    def __init__(self, segments: Sequence[OriginSegment], td: int, window: int, pdt0: float | None = None) -> None:
        self.segments = segments
        self.td = td
        self.window = window
        self.pdt0 = pdt0
        self.tracker = BreakTracker(max_duration=600)
        self.fills: dict[tuple[str, str], Fill] = {}
        self.windows: dict[str, Window] = {}
        self.edge = -1
        self.fold = True  # fold fills that slid out of every window, as ChannelRuntime does

    def advance(self, edge: int) -> None:
        self.edge = edge
        first = max(0, edge - self.window + 1)
        for track in TRACKS:
            body = origin_playlist(self.segments, first, edge, track, self.td, self.pdt0)
            playlist: MediaPlaylist = parse_media(body, ORIGIN.format(track=track))
            self.windows[track] = Window(playlist, ORIGIN.format(track=track))
            if track.startswith("v"):
                self.tracker.feed(playlist)

    def fills_of(self, sim: SimSession) -> list[Fill]:
        """Every fill the session ever had, folded ones included (for the §4.7 check)."""
        return sorted(sim.every_fill, key=lambda fill: fill.brk.start_msn)

    def render(self, sim: SimSession, track: str, ready: bool = True) -> bytes:
        session = sim.session
        window = self.windows[track]
        hold = None
        for brk in due_breaks(self.tracker.breaks, session.last_start, session.join_msn, window.last_msn):
            if not ready and brk.start_msn > window.first_msn + 2:
                hold = brk.start_msn  # a late decision holds the window only at the live edge
                break
            plan: FillPlan = sim.choose(brk.id)  # type: ignore[operator]
            fill = None
            if not plan.empty:
                fill = self.fills.setdefault((brk.id, plan.key), Fill(brk, plan))
            session.decide(brk.id, brk.start_msn, Decided(fill, ()))
            if fill is not None:
                sim.every_fill.append(fill)
        if not track.startswith("v") and self.tracker.last_msn is not None:
            hold = min(hold if hold is not None else self.tracker.last_msn + 1, self.tracker.last_msn + 1)
        if session.fills and self.fold:
            session.fold(min(w.first_msn for w in self.windows.values()))
        body = render(window, track, session.fills or (), hold, session.shift[:2])
        sim.outputs.setdefault(track, []).append((self.edge, body))
        return body
