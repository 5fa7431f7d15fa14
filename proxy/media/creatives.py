"""Preconditioned HLS creatives (and the slate) loaded and matched to a channel's tracks.

Each content variant gets the ad variant nearest in bandwidth, each audio rendition the ad's audio
rendition; every chosen rendition must have the same segment count (one numbering for all tracks,
RFC 8216bis §6.2.4) and no segment longer than the channel's target duration (§4.4.3.1). Results are kept by
(creative key, media URL) and loaded once however many sessions ask (single-flight); a failure is kept for
`retry_after` seconds so a broken creative is not fetched in a tight loop.

A creative with longer segments, or (given the channel's profile) whose master declares renditions unlike the
channel's ladder (proxy.hls.conformance), raises `CreativeMisfit`: the media pipeline remakes it for the
channel, and a creative that fits is used as it is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from proxy.errors import AdMediaError, ProxyError
from proxy.hls.conformance import mismatch
from proxy.hls.fill import Creative
from proxy.hls.master import Track, parse_master
from proxy.hls.playlist import MediaPlaylist, parse_media
from proxy.hls.profile import TranscodeProfile
from proxy.hls.render import resolve
from proxy.hls.tags import EXT_X_STREAM_INF
from proxy.net.origin import Fetcher

log = logging.getLogger("proxy.media.creatives")


def _nearest(variants: Sequence[Track], bandwidth: int) -> Track:
    return min(variants, key=lambda variant: abs(variant.bandwidth - bandwidth))


class CreativeMisfit(AdMediaError):
    """A creative that plays only once remade for the channel (re-segmented or transcoded by the media pipeline):
    segments longer than the channel's target duration, or renditions unlike the channel's ladder."""


@dataclass(frozen=True, slots=True)
class Renditions:
    """The ad renditions chosen for a channel's tracks (by track name: v0…, a0…)."""

    urls: dict[str, str]  # the media playlist URL of each
    paired: dict[str, Track]  # the ad master's track of each; empty for a creative that is one media playlist


def choose_renditions(body: bytes, url: str, tracks: Sequence[Track]) -> Renditions:
    """Each content variant gets the ad variant nearest in bandwidth, each audio rendition the ad's first one."""
    if EXT_X_STREAM_INF.encode() not in body:
        if any(track.name.startswith("a") for track in tracks):
            raise AdMediaError("NO_VARIANT_MATCH", f"{url} is one muxed rendition; the channel has audio renditions")
        return Renditions({track.name: url for track in tracks}, {})
    master = parse_master(body, url, "")
    variants, audio = master.variants, [t for t in master.tracks if t.name.startswith("a")]
    paired = {}
    for track in tracks:
        if track.name.startswith("v"):
            paired[track.name] = _nearest(variants, track.bandwidth)
        elif audio:
            paired[track.name] = audio[0]
        else:
            raise AdMediaError("NO_VARIANT_MATCH", f"{url} has no audio rendition for track {track.name}")
    return Renditions({name: resolve(url, ad.uri) for name, ad in paired.items()}, paired)


class CreativeLoader:
    def __init__(self, client: Fetcher, *, timeout: float, retry_after: float = 60.0) -> None:
        self.client = client
        self.timeout = timeout
        self.retry_after = retry_after
        self._loaded: dict[tuple[str, str, int, str], asyncio.Task[Creative]] = {}
        self._failed_at: dict[tuple[str, str, int, str], float] = {}

    async def load(
        self,
        key: str,
        url: str,
        tracks: Sequence[Track],
        target_duration: int,
        prefix: str | None = None,
        profile: TranscodeProfile | None = None,
    ) -> Creative:
        """The creative as it is; `CreativeMisfit` when it must be remade first (for `profile`, when given)."""
        cache_key = (key, url, target_duration, profile.key if profile is not None else "")
        task = self._loaded.get(cache_key)
        failed_at = self._failed_at.get(cache_key)
        if task is None or (failed_at is not None and time.monotonic() - failed_at > self.retry_after):
            task = asyncio.ensure_future(self._load(key, url, tracks, target_duration, prefix, profile))
            task.add_done_callback(lambda done: self._done(cache_key, done))
            self._loaded[cache_key] = task
        return await asyncio.shield(task)

    def _done(self, cache_key: tuple[str, str, int, str], task: asyncio.Task[Creative]) -> None:
        if task.cancelled() or task.exception() is not None:
            self._failed_at[cache_key] = time.monotonic()
        else:
            self._failed_at.pop(cache_key, None)

    async def _load(
        self,
        key: str,
        url: str,
        tracks: Sequence[Track],
        target_duration: int,
        prefix: str | None,
        profile: TranscodeProfile | None,
    ) -> Creative:
        body = await self.client.get(url, timeout=self.timeout)
        try:
            chosen = choose_renditions(body, url, tracks)
            unlike = mismatch(profile, chosen.paired) if profile is not None else None
            if unlike is not None:
                raise CreativeMisfit("PROFILE_MISMATCH", f"creative {key!r} at {url}: {unlike}")
            playlists = {
                u: parse_media(await self.client.get(u, timeout=self.timeout), u) for u in set(chosen.urls.values())
            }
        except CreativeMisfit:
            raise
        except ProxyError as error:
            raise AdMediaError("MEDIA_FILE_UNAVAILABLE", f"creative {key!r} at {url}: {error.message}") from None
        return build_creative(key, chosen.urls, playlists, target_duration, prefix)


def build_creative(
    key: str, chosen: dict[str, str], playlists: dict[str, MediaPlaylist], target_duration: int, prefix: str | None
) -> Creative:
    counts = {url: len(playlist.segments) for url, playlist in playlists.items()}
    if len(set(counts.values())) != 1 or 0 in counts.values():
        raise AdMediaError("NO_VARIANT_MATCH", f"creative {key!r}: renditions have segment counts {counts}")
    for url, playlist in playlists.items():
        for segment in playlist.segments:
            if round(segment.duration) > target_duration:
                raise CreativeMisfit(
                    "SEGMENT_TOO_LONG",
                    f"creative {key!r} at {url}: segment {segment.uri} lasts {segment.duration:g} s,"
                    f" longer than the channel's target duration {target_duration} s",
                )
    video = [track for track in chosen if track.startswith("v")]  # "a0" sorts before "v0"
    reference = playlists[chosen[min(video or chosen)]]
    return Creative(
        key=key,
        durations=tuple(s.duration for s in reference.segments),
        uris={t: tuple(resolve(u, s.uri, prefix) for s in playlists[u].segments) for t, u in chosen.items()},
        extinfs={t: tuple(s.duration for s in playlists[u].segments) for t, u in chosen.items()},
        map_lines={t: line for t, u in chosen.items() if (line := _map_line(playlists[u], u, prefix))},
    )


def _map_line(playlist: MediaPlaylist, url: str, prefix: str | None) -> str | None:
    line = playlist.segments[0].map_line
    if line is None:
        return None
    start = line.index('URI="') + 5
    end = line.index('"', start)
    return line[:start] + resolve(url, line[start:end], prefix) + line[end:]
