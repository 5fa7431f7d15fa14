"""Parse an origin master playlist and rewrite it to point at one session's media playlists.

Tracks are named by position: `v0, v1, …` for EXT-X-STREAM-INF variants in origin order and `a0, a1, …` for
EXT-X-MEDIA TYPE=AUDIO renditions with a URI. I-frame playlists and SUBTITLES renditions are dropped: their
timelines would not follow the stitched one (RFC 8216bis §6.2.4: matching content in every rendition).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin

from proxy.errors import PlaylistParseError
from proxy.hls.playlist import _lines
from proxy.hls.tags import EXT_X_I_FRAME_STREAM_INF, EXT_X_MEDIA, EXT_X_SESSION_PREFIX, EXT_X_STREAM_INF, EXTM3U

_URI_ATTR = re.compile(r'(?<=[:,])\s*URI="([^"]*)"')  # not X-URI="…"
_BANDWIDTH = re.compile(r"(?:^|[:,])\s*BANDWIDTH=(\d+)")
# The SUBTITLES attribute with the separator before it, and the comma after it when it comes first.
_SUBTITLES_ATTR = re.compile(r'([:,])\s*SUBTITLES="[^"]*"(,?)')
SESSION_SLOT = "{session}"
_MEDIA = f"{EXT_X_MEDIA}:"


@dataclass(frozen=True, slots=True)
class Track:
    name: str  # "v0" or "a0"
    uri: str  # as written in the origin master (resolve against the master URL)
    bandwidth: int  # 0 for audio renditions
    attributes: str  # the STREAM-INF / MEDIA attribute text, for matching ads by codec and resolution


@dataclass(frozen=True, slots=True)
class MasterPlaylist:
    tracks: tuple[Track, ...]
    template: str  # the rewritten master with SESSION_SLOT where the session id goes

    @property
    def variants(self) -> tuple[Track, ...]:
        return tuple(t for t in self.tracks if t.name.startswith("v"))

    def render(self, session_id: str) -> bytes:
        return self.template.replace(SESSION_SLOT, session_id).encode()


def _media_line(line: str, tracks: list[Track], path: str) -> str | None:
    if "TYPE=SUBTITLES" in line:
        return None
    match = _URI_ATTR.search(line)
    if match is None:
        return line  # muxed renditions and closed captions have no URI of their own
    if "TYPE=AUDIO" not in line:
        return None  # an alternate VIDEO rendition is not stitched, so it would not follow the session's timeline
    track = Track(f"a{sum(t.name[0] == 'a' for t in tracks)}", match.group(1), 0, line)
    tracks.append(track)
    return line[: match.start(1)] + f"{path}/{track.name}.m3u8" + line[match.end(1) :]


def _absolute_uri(line: str, url: str) -> str:
    """EXT-X-SESSION-KEY/SESSION-DATA URIs were relative to the origin's master, not to the proxy's path."""
    match = _URI_ATTR.search(line) if line.startswith(EXT_X_SESSION_PREFIX) else None
    if match is None:
        return line
    absolute: str = urljoin(url, match.group(1))
    return line[: match.start(1)] + absolute + line[match.end(1) :]


def parse_master(body: bytes, url: str, path: str) -> MasterPlaylist:
    """`path` is the absolute path prefix of the session's media playlists, containing SESSION_SLOT."""
    lines = _lines(body)
    if not lines or not lines[0][1].startswith(EXTM3U):
        first, text = lines[0] if lines else (1, "")
        raise PlaylistParseError(url, first, text, f"{EXTM3U} as the first line")
    tracks: list[Track] = []
    out: list[str] = []
    stream_inf: str | None = None
    for lineno, line in lines:
        if line.startswith(EXT_X_STREAM_INF):
            stream_inf = _SUBTITLES_ATTR.sub(lambda m: ":" if m[1] == ":" else m[2], line)
            continue
        if line.startswith(EXT_X_I_FRAME_STREAM_INF):
            continue
        if line.startswith(_MEDIA):
            rewritten = _media_line(line, tracks, path)
            if rewritten is not None:
                out.append(rewritten)
        elif not line.startswith("#"):
            if stream_inf is None:
                raise PlaylistParseError(url, lineno, line, f"{EXT_X_STREAM_INF} before a variant URI")
            bandwidth = _BANDWIDTH.search(stream_inf)
            track = Track(
                f"v{sum(t.name[0] == 'v' for t in tracks)}",
                line,
                int(bandwidth.group(1)) if bandwidth else 0,
                stream_inf,
            )
            tracks.append(track)
            out += [stream_inf, f"{path}/{track.name}.m3u8"]
            stream_inf = None
        else:
            out.append(_absolute_uri(line, url))
    if not any(t.name[0] == "v" for t in tracks):
        raise PlaylistParseError(url, 0, "", f"at least one {EXT_X_STREAM_INF} variant (a master playlist)")
    return MasterPlaylist(tuple(tracks), "\n".join(out) + "\n")
