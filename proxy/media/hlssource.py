"""An HLS creative or slate brought onto local disk for the media pipeline: its playlists and segments.

The pipeline remakes an HLS creative that does not fit a channel (segments longer than its target duration,
renditions unlike its ladder). It downloads, through the same downloader as an MP4 source (egress-checked for
what an ad server names), the renditions paired with the channel's tracks and the highest-bandwidth variant
(the transcode's source), each as one local file: its segments concatenated in order, the EXT-X-MAP
initialization section first for fMP4. Both MPEG-TS packets and fMP4 fragments concatenate into one valid
stream (ISO/IEC 13818-1; ISO/IEC 23000-19 §7.3). The size limit counts every byte of every file.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from proxy.errors import BodyTooLarge, ProxyError
from proxy.hls.conformance import mismatch
from proxy.hls.master import Track, parse_master
from proxy.hls.playlist import MediaPlaylist, parse_media
from proxy.hls.profile import TranscodeProfile
from proxy.hls.render import resolve
from proxy.hls.tags import EXT_X_BYTERANGE, EXT_X_STREAM_INF, EXTM3U
from proxy.media.creatives import choose_renditions

MAX_SEGMENTS = 2_000  # per rendition: over an hour of 2 s segments, far more than any ad
MAGIC = EXTM3U.encode()  # every playlist's first line (RFC 8216bis §4.4.1.1)


class Downloader(Protocol):
    async def download(self, url: str, path: Path, *, timeout: float, max_bytes: int) -> int: ...


class HlsSourceError(Exception):
    """A playlist the pipeline cannot bring onto disk (unparsable, encrypted, byte ranges, too many segments)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class HlsSource:
    renditions: dict[str, Path]  # by channel track name (v0…, a0…): the paired ad rendition's file
    video: Path  # the highest-bandwidth variant's file: what a transcode starts from
    audio: Path | None  # the ad's audio rendition, when its variants carry none of their own
    declared_fit: bool  # the creative's master declares renditions matching the channel's ladder


def is_playlist(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(len(MAGIC) + 3).lstrip(b"\xef\xbb\xbf").startswith(MAGIC)


def channel_tracks(profile: TranscodeProfile) -> tuple[Track, ...]:
    """The channel's tracks as the profile names them, with the bandwidths renditions are paired by."""
    return (
        *(Track(variant.name, "", variant.bandwidth, "") for variant in profile.variants),
        *(Track(audio.name, "", 0, "") for audio in profile.audio),
    )


class _Budget:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes, self.used = max_bytes, 0

    async def fetch(self, downloader: Downloader, url: str, path: Path, timeout: float) -> None:
        left = self.max_bytes - self.used
        if left <= 0:
            raise BodyTooLarge(f"the creative's files pass {self.max_bytes} bytes in all (at {url})")
        self.used += await downloader.download(url, path, timeout=timeout, max_bytes=left)


async def fetch_hls(
    downloader: Downloader,
    master: Path,
    url: str,
    profile: TranscodeProfile,
    work: Path,
    *,
    timeout: float,
    max_bytes: int,
) -> HlsSource:
    """`master` is the playlist at `url`, already downloaded; the renditions land in `work`."""
    body = master.read_bytes()
    budget = _Budget(max_bytes - master.stat().st_size)
    try:
        chosen = choose_renditions(body, url, channel_tracks(profile))
        video, audio = _transcode_sources(body, url)
    except ProxyError as error:
        raise HlsSourceError(error.message) from None
    files: dict[str, Path] = {}
    for index, rendition in enumerate(dict.fromkeys([*chosen.urls.values(), video, *filter(None, [audio])])):
        files[rendition] = await _fetch_rendition(downloader, rendition, work / f"rendition-{index}", budget, timeout)
    return HlsSource(
        {name: files[rendition] for name, rendition in chosen.urls.items()},
        files[video],
        files[audio] if audio is not None else None,
        mismatch(profile, chosen.paired) is None,
    )


def _transcode_sources(body: bytes, url: str) -> tuple[str, str | None]:
    """The highest-bandwidth variant's URL, and the first audio rendition's when the master has one."""
    if EXT_X_STREAM_INF.encode() not in body:
        return url, None
    master = parse_master(body, url, "")
    best = max(master.variants, key=lambda variant: variant.bandwidth)
    audio = next((track for track in master.tracks if track.name.startswith("a")), None)
    return resolve(url, best.uri), resolve(url, audio.uri) if audio is not None else None


async def _fetch_rendition(downloader: Downloader, url: str, path: Path, budget: _Budget, timeout: float) -> Path:
    listing = path.with_suffix(".m3u8")
    await budget.fetch(downloader, url, listing, timeout)
    try:
        playlist = parse_media(listing.read_bytes(), url)
    except ProxyError as error:
        raise HlsSourceError(error.message) from None
    _check_plain(playlist, url)
    part = path.with_suffix(".part")
    with path.open("wb") as out:
        for uri in _uris(playlist):
            await budget.fetch(downloader, resolve(url, uri), part, timeout)
            with part.open("rb") as segment:
                shutil.copyfileobj(segment, out)
    part.unlink(missing_ok=True)
    return path


def _check_plain(playlist: MediaPlaylist, url: str) -> None:
    """Segments that concatenate into the rendition: whole files, in the clear, one initialization section."""
    if not playlist.segments or len(playlist.segments) > MAX_SEGMENTS:
        raise HlsSourceError(f"{url} has {len(playlist.segments)} segments: expected 1 to {MAX_SEGMENTS}")
    for segment in playlist.segments:
        if segment.key_line is not None and "METHOD=NONE" not in segment.key_line:
            raise HlsSourceError(f"{url} is encrypted ({segment.key_line}): expected clear segments")
        if any(line.startswith(EXT_X_BYTERANGE) for line in segment.lines):
            raise HlsSourceError(f"{url} uses EXT-X-BYTERANGE: expected one file per segment")
    if len({segment.map_line for segment in playlist.segments}) > 1:
        raise HlsSourceError(f"{url} changes its EXT-X-MAP: expected one initialization section")


def _uris(playlist: MediaPlaylist) -> list[str]:
    map_line = playlist.segments[0].map_line
    init = [map_line[map_line.index('URI="') + 5 :].split('"', 1)[0]] if map_line and 'URI="' in map_line else []
    return [*init, *(segment.uri for segment in playlist.segments)]
