"""The hot path: one session's media playlist from a compiled origin window and the session's fills.

A `Window` is compiled once per origin fetch and shared by every session; `render` only walks it and
joins prebuilt bytes. Numbering is arithmetic over the session's fills, never counters bumped per request,
so every process and every track computes the same numbers (RFC 8216bis §6.2.4):

    out_msn(content m)  = m + Σ over fills before m of (items − replaced segments)
    out_dsn(content m)  = origin_dsn(m) + Σ over fills before m of (item discontinuities + 1 − origin ones dropped)
    out_msn(item k)     = out_msn(break start) + k
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import urljoin, urlsplit

from proxy.hls.fill import Fill, pdt_line
from proxy.hls.playlist import MediaPlaylist
from proxy.hls.tags import (
    EXT_OATCLS_SCTE35,
    EXT_SCTE35,
    EXT_X_ASSET,
    EXT_X_CUE,
    EXT_X_DISCONTINUITY,
    EXT_X_DISCONTINUITY_SEQUENCE,
    EXT_X_ENDLIST,
    EXT_X_MEDIA_SEQUENCE,
    EXT_X_PROGRAM_DATE_TIME,
    EXT_X_SCTE35,
    EXT_X_SPLICEPOINT_SCTE35,
    EXT_X_TARGETDURATION,
    EXT_X_VERSION,
    EXTM3U,
)

# Marker tags are the proxy's to interpret: on the first content segment after a filled break they are
# replaced by a DISCONTINUITY (AWS MediaTailor's output, "HLS ad markers").
CUE_TAGS = (
    EXT_X_CUE,
    EXT_OATCLS_SCTE35,
    EXT_X_SCTE35,
    EXT_SCTE35,
    EXT_X_SPLICEPOINT_SCTE35,
    EXT_X_ASSET,
)
# Bytes: the hot path formats these per request.
_NUMBERS = f"{EXT_X_MEDIA_SEQUENCE}:%d\n{EXT_X_DISCONTINUITY_SEQUENCE}:%d\n".encode()
OUTPUT_VERSION = 6  # MediaTailor raises 3 to 6 so ads may carry EXT-X-MAP (RFC 8216bis §8)


def _segment_text(lines: Sequence[str], uri: str) -> bytes:
    return ("\n".join((*lines, uri)) + "\n").encode()


@dataclass(slots=True)
class Window:
    """An origin media playlist compiled for one track."""

    playlist: MediaPlaylist
    url: str
    prefix: str | None = None  # a content segment URL prefix (CDN) replacing the origin's directory
    # Content segments through the proxy's redirect (`cseg/{track}/{msn}.ts`, relative to the session's
    # playlist) for configurations with content or segment beacon templates; None: straight to the origin.
    redirect_track: str | None = None
    chunks: list[bytes] = field(default_factory=list)
    origin_dsn: list[int] = field(default_factory=list)
    head: bytes = b""
    tail: bytes = b""
    _returns: dict[int, bytes] = field(default_factory=dict)
    # Rendered playlists of this window by (hold, shift, fills): sessions with the same decisions (every
    # session of a shared ad tag) are rendered once per window. Dies with the window.
    rendered: dict[tuple[object, ...], bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        playlist, dsn = self.playlist, self.playlist.discontinuity_sequence
        for segment in playlist.segments:
            dsn += segment.discontinuity
            self.origin_dsn.append(dsn)
            self.chunks.append(_segment_text(segment.lines, self.segment_uri(segment.msn, segment.uri)))
        version = max(playlist.version, OUTPUT_VERSION)
        header = [f"{EXT_X_VERSION}:{version}" if h.startswith(EXT_X_VERSION) else h for h in playlist.header]
        if not any(h.startswith(EXT_X_VERSION) for h in header):
            header.insert(0, f"{EXT_X_VERSION}:{version}")
        target = f"{EXT_X_TARGETDURATION}:{playlist.target_duration}"
        self.head = (f"{EXTM3U}\n" + "\n".join(header) + f"\n{target}\n").encode()
        tail = list(playlist.trailer) + ([EXT_X_ENDLIST] if playlist.endlist else [])
        self.tail = ("\n".join(tail) + "\n").encode() if tail else b""

    def resolve(self, uri: str) -> str:
        return resolve(self.url, uri, self.prefix)

    def segment_uri(self, msn: int, uri: str) -> str:
        """The URI a session's playlist gives content segment `msn`."""
        absolute = self.resolve(uri)
        if self.redirect_track is None:
            return absolute
        suffix = PurePosixPath(urlsplit(absolute).path).suffix or ".ts"
        return f"cseg/{self.redirect_track}/{msn}{suffix}"

    def origin_uri(self, msn: int) -> str | None:
        """Where content segment `msn` really is, while this window has it."""
        index = msn - self.first_msn
        if not 0 <= index < len(self.playlist.segments):
            return None
        return self.resolve(self.playlist.segments[index].uri)

    @property
    def first_msn(self) -> int:
        return self.playlist.media_sequence

    @property
    def last_msn(self) -> int:
        return self.playlist.last_msn

    def return_chunk(self, msn: int) -> bytes:
        """Content segment `msn` as the first one after a filled break."""
        cached = self._returns.get(msn)
        if cached is not None:
            return cached
        segment = self.playlist.segments[msn - self.first_msn]
        lines = [line for line in segment.lines if not line.startswith(CUE_TAGS) and line != EXT_X_DISCONTINUITY]
        restate = [EXT_X_DISCONTINUITY]
        if segment.pdt is not None and not any(line.startswith(EXT_X_PROGRAM_DATE_TIME) for line in lines):
            restate.append(pdt_line(segment.pdt))
        if segment.key_line is not None and segment.key_line not in lines:
            restate.append(segment.key_line)  # the content key is restated after clear ads (§4.4.4.4)
        if segment.map_line is not None and segment.map_line not in lines:
            restate.append(segment.map_line)
        cached = self._returns[msn] = _segment_text(restate + lines, self.segment_uri(msn, segment.uri))
        return cached


def resolve(base: str, uri: str, prefix: str | None = None) -> str:
    """An absolute segment URL; with a CDN prefix, the prefix replaces the scheme and host (MediaTailor's
    Content/AdSegmentUrlPrefix: the CDN mirrors the origin's paths)."""
    absolute = urljoin(base, uri)
    if prefix is None:
        return absolute
    parts = urlsplit(absolute)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return prefix.rstrip("/") + path


class _Output:
    __slots__ = ("parts", "msn", "dsn")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.msn: int | None = None
        self.dsn = 0

    def first(self, msn: int, dsn: int, tagged: bool) -> None:
        """Number the playlist from its first segment: `dsn` is that segment's own discontinuity sequence
        number, so the header's value is one less when the segment carries a DISCONTINUITY (§6.2.1)."""
        if self.msn is None:
            self.msn, self.dsn = msn, dsn - tagged


def render(
    window: Window, track: str, fills: Sequence[Fill], hold_at: int | None = None, shift: tuple[int, int] = (0, 0)
) -> bytes:
    """`fills` are the session's filled breaks in start order; `hold_at` stops the window before a break
    whose plan is not decided yet; `shift` is what the session's older, folded fills add to its numbers."""
    first, last = window.first_msn, window.last_msn if hold_at is None else min(window.last_msn, hold_at - 1)
    out, chunks, dsns, segments = _Output(), window.chunks, window.origin_dsn, window.playlist.segments
    shift_msn, shift_dsn = shift
    at = first
    for fill in fills:
        brk, settled = fill.brk, fill.settled()
        start = brk.start_msn
        if settled is not None and settled[2] < first:
            shift_msn += settled[0] - (settled[2] - start)
            shift_dsn += settled[1] + 1 - brk.disc_count(start, settled[2])
            continue
        if start > last:
            break
        for msn in range(at, start):
            out.first(msn + shift_msn, dsns[msn - first] + shift_dsn, segments[msn - first].discontinuity)
            out.parts.append(chunks[msn - first])
        end = settled[2] if settled is not None else None
        count = settled[0] if settled is not None else fill.published(brk.time_into(last + 1))
        top = brk.time_into(first) if first > start else 0.0
        k0 = next((k for k in range(count) if fill.items[k].end > top), count)
        if k0 < count and out.msn is None:
            base = (
                (dsns[0] - brk.disc_count(start, first)) if first > start else dsns[start - first] - brk.disc_flags[0]
            )
            dsn = base + shift_dsn + sum(item.disc for item in fill.items[: k0 + 1])
            out.first(start + shift_msn + k0, dsn, fill.items[k0].disc)
            out.parts.append(fill.top_lines(k0, track))
        out.parts.extend(fill.chunk(k, track) for k in range(k0, count))
        if settled is None or end is None:
            return _finish(window, out, start + shift_msn + k0, dsns, shift_dsn)
        shift_msn += settled[0] - (end - start)
        shift_dsn += settled[1] + 1 - brk.disc_count(start, end)
        if first <= end <= last:
            out.first(end + shift_msn, dsns[end - first] + shift_dsn, True)
            out.parts.append(window.return_chunk(end))
        at = max(end + 1, first)
    for msn in range(at, last + 1):
        out.first(msn + shift_msn, dsns[msn - first] + shift_dsn, segments[msn - first].discontinuity)
        out.parts.append(chunks[msn - first])
    return _finish(window, out, at + shift_msn, dsns, shift_dsn, complete=hold_at is None or hold_at > window.last_msn)


def _finish(
    window: Window, out: _Output, fallback_msn: int, dsns: list[int], shift_dsn: int, complete: bool = False
) -> bytes:
    if out.msn is None:
        out.first(fallback_msn, dsns[0] + shift_dsn, False)
    numbers = _NUMBERS % (out.msn or 0, out.dsn)
    return b"".join((window.head, numbers, *out.parts, window.tail if complete else b""))
