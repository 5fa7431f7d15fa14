"""Preconditioned HLS creatives (and the slate) loaded and matched to a channel's tracks.

Each content variant gets the ad variant nearest in bandwidth, each audio rendition the ad's audio
rendition; every chosen rendition must have the same segment count (one numbering for all tracks,
ARCHITECTURE.md §4.4) and no segment longer than the channel's target duration (§4.5). Results are kept by
(creative key, media URL) and loaded once however many sessions ask (single-flight); a failure is kept for
`retry_after` seconds so a broken creative is not fetched in a tight loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from proxy.errors import AdMediaError, ProxyError
from proxy.hls.fill import Creative
from proxy.hls.master import Track, parse_master
from proxy.hls.playlist import MediaPlaylist, parse_media
from proxy.hls.render import resolve
from proxy.origin import Fetcher

log = logging.getLogger("proxy.assets")


def _nearest(variants: Sequence[Track], bandwidth: int) -> Track:
    return min(variants, key=lambda variant: abs(variant.bandwidth - bandwidth))


class CreativeLoader:
    def __init__(self, client: Fetcher, *, timeout: float, retry_after: float = 60.0) -> None:
        self.client = client
        self.timeout = timeout
        self.retry_after = retry_after
        self._loaded: dict[tuple[str, str, int], asyncio.Task[Creative]] = {}
        self._failed_at: dict[tuple[str, str, int], float] = {}

    async def load(
        self, key: str, url: str, tracks: Sequence[Track], target_duration: int, prefix: str | None = None
    ) -> Creative:
        cache_key = (key, url, target_duration)
        task = self._loaded.get(cache_key)
        failed_at = self._failed_at.get(cache_key)
        if task is None or (failed_at is not None and time.monotonic() - failed_at > self.retry_after):
            task = asyncio.ensure_future(self._load(key, url, tracks, target_duration, prefix))
            task.add_done_callback(lambda done: self._done(cache_key, done))
            self._loaded[cache_key] = task
        return await asyncio.shield(task)

    def _done(self, cache_key: tuple[str, str, int], task: asyncio.Task[Creative]) -> None:
        if task.cancelled() or task.exception() is not None:
            self._failed_at[cache_key] = time.monotonic()
        else:
            self._failed_at.pop(cache_key, None)

    async def _load(
        self, key: str, url: str, tracks: Sequence[Track], target_duration: int, prefix: str | None
    ) -> Creative:
        body = await self.client.get(url, timeout=self.timeout)
        try:
            chosen = self._choose(body, url, tracks)
            playlists = {
                u: parse_media(await self.client.get(u, timeout=self.timeout), u) for u in set(chosen.values())
            }
        except ProxyError as error:
            raise AdMediaError("MEDIA_FILE_UNAVAILABLE", f"creative {key!r} at {url}: {error.message}") from None
        return build_creative(key, chosen, playlists, target_duration, prefix)

    def _choose(self, body: bytes, url: str, tracks: Sequence[Track]) -> dict[str, str]:
        if b"#EXT-X-STREAM-INF" not in body:
            if any(track.name.startswith("a") for track in tracks):
                raise AdMediaError(
                    "NO_VARIANT_MATCH", f"{url} is one muxed rendition; the channel has audio renditions"
                )
            return {track.name: url for track in tracks}
        master = parse_master(body, url, "")
        variants, audio = master.variants, [t for t in master.tracks if t.name.startswith("a")]
        chosen = {}
        for track in tracks:
            if track.name.startswith("v"):
                chosen[track.name] = resolve(url, _nearest(variants, track.bandwidth).uri)
            elif audio:
                chosen[track.name] = resolve(url, audio[0].uri)
            else:
                raise AdMediaError("NO_VARIANT_MATCH", f"{url} has no audio rendition for track {track.name}")
        return chosen


def build_creative(
    key: str, chosen: dict[str, str], playlists: dict[str, MediaPlaylist], target_duration: int, prefix: str | None
) -> Creative:
    counts = {url: len(playlist.segments) for url, playlist in playlists.items()}
    if len(set(counts.values())) != 1 or 0 in counts.values():
        raise AdMediaError("NO_VARIANT_MATCH", f"creative {key!r}: renditions have segment counts {counts}")
    for url, playlist in playlists.items():
        for segment in playlist.segments:
            if round(segment.duration) > target_duration:
                raise AdMediaError(
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
