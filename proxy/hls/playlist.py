"""Tokenise HLS playlists without round-tripping them through a general model.

Every non-URI line stays attached, unchanged, to the segment it precedes (general parsers
such as `m3u8` lose and reorder tags). Only what stitching needs is interpreted: EXTINF,
MEDIA-SEQUENCE, DISCONTINUITY-SEQUENCE, TARGETDURATION, DISCONTINUITY, PROGRAM-DATE-TIME, KEY, MAP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from proxy.errors import PlaylistParseError
from proxy.hls.tags import (
    EXT_X_ALLOW_CACHE,
    EXT_X_DEFINE,
    EXT_X_DISCONTINUITY,
    EXT_X_DISCONTINUITY_SEQUENCE,
    EXT_X_ENDLIST,
    EXT_X_I_FRAMES_ONLY,
    EXT_X_INDEPENDENT_SEGMENTS,
    EXT_X_KEY,
    EXT_X_MAP,
    EXT_X_MEDIA_SEQUENCE,
    EXT_X_PART,
    EXT_X_PART_INF,
    EXT_X_PLAYLIST_TYPE,
    EXT_X_PRELOAD_HINT,
    EXT_X_PROGRAM_DATE_TIME,
    EXT_X_RENDITION_REPORT,
    EXT_X_SERVER_CONTROL,
    EXT_X_SKIP,
    EXT_X_START,
    EXT_X_STREAM_INF,
    EXT_X_TARGETDURATION,
    EXT_X_VERSION,
    EXTINF,
    EXTM3U,
)

# Tags that describe the whole playlist (RFC 8216bis §4.4.3) and stay in the header.
HEADER_TAGS = (
    EXT_X_VERSION,
    EXT_X_PLAYLIST_TYPE,
    EXT_X_INDEPENDENT_SEGMENTS,
    EXT_X_START,
    EXT_X_ALLOW_CACHE,
    EXT_X_I_FRAMES_ONLY,
    EXT_X_DEFINE,
)
# Low-latency and delta-update tags: the proxy serves regular-latency playlists and does not implement
# _HLS_skip, so these are dropped (RFC 8216bis §4.4.3.8 CAN-SKIP-UNTIL would let players ask for it).
DROPPED_TAGS = (
    EXT_X_SERVER_CONTROL,
    EXT_X_PART_INF,
    f"{EXT_X_PART}:",
    EXT_X_PRELOAD_HINT,
    EXT_X_RENDITION_REPORT,
    EXT_X_SKIP,
)
_PDT = f"{EXT_X_PROGRAM_DATE_TIME}:"
_KEY = f"{EXT_X_KEY}:"
_MAP = f"{EXT_X_MAP}:"


@dataclass(frozen=True, slots=True)
class Segment:
    msn: int
    duration: float
    uri: str
    lines: tuple[str, ...]  # every line attached to this segment, EXTINF included, in origin order
    discontinuity: bool
    pdt: float | None  # epoch seconds, explicit or carried forward from an earlier PDT
    key_line: str | None  # the EXT-X-KEY in effect (RFC 8216bis §4.4.4.4)
    map_line: str | None  # the EXT-X-MAP in effect (§4.4.4.5)


@dataclass(frozen=True, slots=True)
class MediaPlaylist:
    header: tuple[str, ...]  # header lines other than the three numbers the proxy rewrites
    version: int
    target_duration: int
    media_sequence: int
    discontinuity_sequence: int
    segments: tuple[Segment, ...]
    trailer: tuple[str, ...]  # lines after the last URI, ENDLIST excluded
    endlist: bool

    @property
    def last_msn(self) -> int:
        return self.media_sequence + len(self.segments) - 1


def _lines(body: bytes) -> list[tuple[int, str]]:
    """The non-blank lines with their 1-based line numbers in the body (blank lines still count)."""
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff")
    return [(lineno, line.rstrip()) for lineno, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _value(line: str) -> str:
    return line.split(":", 1)[1].strip() if ":" in line else ""


def _int_tag(url: str, lineno: int, line: str) -> int:
    try:
        return int(_value(line))
    except ValueError:
        raise PlaylistParseError(url, lineno, line, "a decimal integer") from None


def _extinf(url: str, lineno: int, line: str) -> float:
    # `#EXTINF:5.76` without the comma and `#EXTINF:6, no desc` are both seen in real playlists.
    text = _value(line).split(",", 1)[0].strip()
    try:
        duration = float(text)
    except ValueError:
        raise PlaylistParseError(url, lineno, line, "a duration in seconds") from None
    if not math.isfinite(duration) or duration < 0:
        raise PlaylistParseError(url, lineno, line, "a non-negative finite duration")
    return duration


def parse_pdt(value: str) -> float | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class _MediaParser:
    def __init__(self, url: str) -> None:
        self.url = url
        self.header: list[str] = []
        self.version = 1
        self.target_duration: int | None = None
        self.media_sequence = 0
        self.discontinuity_sequence = 0
        self.segments: list[Segment] = []
        self.pending: list[str] = []
        self.duration: float | None = None
        self.discontinuity = False
        self.pdt: float | None = None
        self.key_line: str | None = None
        self.map_line: str | None = None
        self.endlist = False

    def feed(self, lineno: int, line: str) -> None:
        if not line.startswith("#"):
            self._segment(lineno, line)
        elif line.startswith(EXTINF):
            self.duration = _extinf(self.url, lineno, line)
            self.pending.append(line)
        elif line.startswith(EXT_X_TARGETDURATION):
            self.target_duration = _int_tag(self.url, lineno, line)
        elif line.startswith(EXT_X_MEDIA_SEQUENCE):
            self.media_sequence = _int_tag(self.url, lineno, line)
        elif line.startswith(EXT_X_DISCONTINUITY_SEQUENCE):
            self.discontinuity_sequence = _int_tag(self.url, lineno, line)
        elif line.startswith(EXT_X_ENDLIST):
            self.endlist = True
        elif line.startswith(DROPPED_TAGS):
            return
        elif line.startswith(HEADER_TAGS) and not self.segments and not self.pending:
            if line.startswith(EXT_X_VERSION):
                self.version = _int_tag(self.url, lineno, line)
            self.header.append(line)
        else:
            self._segment_tag(line)

    def _segment_tag(self, line: str) -> None:
        if line == EXT_X_DISCONTINUITY:
            self.discontinuity = True
        elif line.startswith(_PDT):
            self.pdt = parse_pdt(_value(line))
        elif line.startswith(_KEY):
            self.key_line = line
        elif line.startswith(_MAP):
            self.map_line = line
        self.pending.append(line)

    def _segment(self, lineno: int, uri: str) -> None:
        if self.duration is None:
            raise PlaylistParseError(self.url, lineno, uri, f"{EXTINF} before the segment URI")
        msn = self.media_sequence + len(self.segments)
        segment = Segment(
            msn, self.duration, uri, tuple(self.pending), self.discontinuity, self.pdt, self.key_line, self.map_line
        )
        self.segments.append(segment)
        if self.pdt is not None:
            self.pdt += self.duration  # carried forward: §4.4.4.6 maps later segments by duration
        self.pending, self.duration, self.discontinuity = [], None, False

    def result(self) -> MediaPlaylist:
        if self.target_duration is None:
            raise PlaylistParseError(self.url, 0, "", f"an {EXT_X_TARGETDURATION} tag")
        # A dangling EXTINF with no URI (truncated playlists) is dropped with its tags,
        # except the ones that are not about that segment.
        trailer = tuple(line for line in self.pending if not line.startswith(EXTINF))
        return MediaPlaylist(
            tuple(self.header),
            self.version,
            self.target_duration,
            self.media_sequence,
            self.discontinuity_sequence,
            tuple(self.segments),
            trailer,
            self.endlist,
        )


def parse_media(body: bytes, url: str = "") -> MediaPlaylist:
    lines = _lines(body)
    if not lines or not lines[0][1].startswith(EXTM3U):
        lineno, line = lines[0] if lines else (1, "")
        raise PlaylistParseError(url, lineno, line, f"{EXTM3U} as the first line")
    for lineno, line in lines:
        if line.startswith(EXT_X_STREAM_INF):
            raise PlaylistParseError(url, lineno, line, "a media playlist, not a master playlist")
    parser = _MediaParser(url)
    for lineno, line in lines[1:]:
        parser.feed(lineno, line)
    return parser.result()
