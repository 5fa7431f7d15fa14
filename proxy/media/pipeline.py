"""The media pipeline: progressive creatives and slates become HLS renditions of a channel's profile.

Asked for a creative, it answers at once: the `Creative` when its renditions for that profile are on disk,
else a `NotReady` naming why (NEW_CREATIVE, TRANSCODE_IN_PROGRESS, TRANSCODE_ERROR: MediaTailor's skip
reasons) after making sure a job prepares it. The job downloads the source (ad MediaFiles through the egress
policy, with a size limit), probes and transcodes it with ffmpeg at a lower CPU priority in a worker thread,
and publishes the folder atomically. A source that is an HLS playlist (a creative or slate that does not fit
its channel as it is) is downloaded rendition by rendition (proxy.media.hlssource) and re-segmented by a stream copy
when its media fit the channel's ladder (proxy.media.restream), transcoded otherwise. Nothing here is awaited by a
playlist request: decisions call it, and they already run beside the hot path.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from cachetools import LRUCache

from proxy.ads.errors import ErrorCode
from proxy.errors import OriginError, OriginTimeout, ProxyError
from proxy.hls.fill import Creative
from proxy.hls.master import Track
from proxy.hls.playlist import parse_media
from proxy.hls.profile import TranscodeProfile
from proxy.media.assetstore import AssetStore, Cleanup, creative_folder
from proxy.media.creatives import build_creative, choose_renditions
from proxy.media.hlssource import Downloader, HlsSource, HlsSourceError, fetch_hls, is_playlist
from proxy.media.job_requests import JobRequest, JobRequests
from proxy.media.jobs import Job, JobFailed, JobQueue
from proxy.media.restream import remux, restream
from proxy.media.slatepieces import cut_pieces, piece_folders
from proxy.media.transcode import TranscodeError, default_ffmpeg, probe, transcode
from proxy.settings import Settings


@dataclass(frozen=True, slots=True)
class NotReady:
    """Why a creative cannot play yet: a skip reason, what happened, and the VAST error code to report."""

    reason: Literal["NEW_CREATIVE", "TRANSCODE_IN_PROGRESS", "TRANSCODE_ERROR"]
    detail: str
    code: int


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    base_url: str  # where the asset folder is served: the proxy's own path or a CDN / object storage URL
    ffmpeg: str | None
    preset: str
    timeout: float
    nice: int
    max_bytes: int
    download_timeout: float

    @classmethod
    def of(cls, settings: Settings) -> PipelineOptions:
        return cls(
            base_url=settings.asset_base_url,
            ffmpeg=settings.ffmpeg or None,
            preset=settings.transcode_preset,
            timeout=settings.transcode_timeout,
            nice=settings.transcode_nice,
            max_bytes=int(settings.creative_max_mb * 1024 * 1024),
            download_timeout=settings.creative_download_timeout,
        )


CACHED_CREATIVES = 10_000


def failure_code(job: Job) -> int:
    """A failed download is "MediaFile not found" (402 when it timed out); a file ffmpeg cannot use is a
    "problem displaying MediaFile" (VAST 4.3 error table)."""
    if job.stage == "download":
        return ErrorCode.MEDIA_TIMEOUT if job.timed_out else ErrorCode.MEDIA_NOT_FOUND
    return ErrorCode.MEDIA_DISPLAY


class MediaPipeline:
    def __init__(
        self, store: AssetStore, jobs: JobQueue, ads: Downloader, trusted: Downloader, options: PipelineOptions
    ) -> None:
        """`ads` downloads what ad servers point at (egress-checked); `trusted`, what the operator configured."""
        self.store, self.jobs, self.options = store, jobs, options
        self._downloaders = {False: ads, True: trusted}
        self._creatives: LRUCache[tuple[str, str, str | None], Creative] = LRUCache(CACHED_CREATIVES)
        self.profiles: dict[str, TranscodeProfile] = {}  # every channel profile seen: slates are made for each
        self.on_profile: list[Callable[[TranscodeProfile], None]] = []  # told of each new profile
        self.requests: JobRequests | None = None  # on an edge of a cluster: its jobs are run by another process

    def register(self, profile: TranscodeProfile) -> None:
        if profile.key not in self.profiles:
            self.profiles[profile.key] = profile
            for listener in self.on_profile:
                listener(profile)

    def prepare(
        self,
        key: str,
        source: str,
        profile: TranscodeProfile,
        *,
        kind: Literal["creative", "slate"],
        trusted: bool,
        accounts: Iterable[str],
    ) -> Job | None:
        """Make sure `key` gets prepared for `profile`: None when it is on disk, else its (new or running) job,
        which lists `accounts` among those that asked for it."""
        folder = self.store.folder(profile.key, key)
        if self.store.is_ready(folder):
            return None
        job = Job(self.job_id(profile, key), kind, key, source, profile.key, accounts=set(accounts))
        # In a cluster another process may have made it meanwhile, into the asset folder they share.
        done = functools.partial(self.store.is_ready, folder)
        requests = self.requests
        if requests is None:
            return self.jobs.submit(job, lambda job: self._build(job, profile, trusted), done=done)
        request = JobRequest(job.id, kind, key, source, profile, trusted, tuple(sorted(job.accounts)))
        return self.jobs.submit(job, lambda job: requests.handed_off(job, request, done))

    def run_request(self, request: JobRequest) -> None:
        """An edge's job, run here (a control process takes them: proxy/media/job_requests.py)."""
        self.register(request.profile)
        self.prepare(
            request.key, request.source, request.profile,
            kind=request.kind, trusted=request.trusted, accounts=request.accounts,
        )  # fmt: skip

    def job_id(self, profile: TranscodeProfile | None, key: str) -> str:
        return f"{profile.key if profile else 'probe'}/{creative_folder(key)}"

    async def creative(
        self,
        key: str,
        source: str,
        profile: TranscodeProfile,
        tracks: Sequence[Track],
        prefix: str | None = None,
        *,
        kind: Literal["creative", "slate"] = "creative",
        trusted: bool = False,
        account: str,
    ) -> Creative | NotReady:
        """The creative `key` (transcoded from `source`) for a channel of `profile` of `account`, or why not yet."""
        cached = self._creatives.get((profile.key, key, prefix))
        folder = self.store.folder(profile.key, key)
        if cached is not None and self.store.is_ready(folder):
            self.store.touch(folder)
            return cached
        if self.store.is_ready(folder):
            try:
                creative = await asyncio.to_thread(self._load, key, folder, tracks, profile.target_duration, prefix)
            except (OSError, ProxyError) as error:
                message = getattr(error, "message", str(error))
                return NotReady("TRANSCODE_ERROR", f"renditions of {key!r} unusable: {message}", ErrorCode.LINEAR)
            self._creatives[(profile.key, key, prefix)] = creative
            return creative
        return self._ensure_job(key, source, profile, kind, trusted, account)

    def probe_source(self, key: str, source: str, *, trusted: bool, accounts: Iterable[str]) -> Job:
        """A job that only downloads and probes `source`: a slate's check when no channel profile is known."""
        job = Job(self.job_id(None, key), "probe", key, source, "", accounts=set(accounts))
        return self.jobs.submit(job, lambda job: self._build(job, None, trusted))

    def _ensure_job(
        self,
        key: str,
        source: str,
        profile: TranscodeProfile,
        kind: Literal["creative", "slate"],
        trusted: bool,
        account: str,
    ) -> NotReady:
        known = self.jobs.get(self.job_id(profile, key))
        job = self.prepare(key, source, profile, kind=kind, trusted=trusted, accounts=(account,))
        if job is None:  # published between the caller's look and now
            return NotReady("TRANSCODE_IN_PROGRESS", "ready for the next break", ErrorCode.MEZZANINE_DOWNLOADING)
        if job.state == "error":
            return NotReady("TRANSCODE_ERROR", f"{job.stage}: {job.error}", failure_code(job))
        if known is None:
            return NotReady("NEW_CREATIVE", f"first seen; transcoding {source[:200]}", ErrorCode.MEZZANINE_DOWNLOADING)
        detail = f"{job.state} {job.percent:.0f}%"
        return NotReady("TRANSCODE_IN_PROGRESS", detail, ErrorCode.MEZZANINE_DOWNLOADING)

    async def _build(self, job: Job, profile: TranscodeProfile | None, trusted: bool) -> None:
        work = self.store.work_dir()
        try:
            job.state = "downloading"
            path = await self._fetch(job.source, work, trusted)
            source = await self._fetch_hls(job.source, path, profile, work, trusted) if is_playlist(path) else path
            job.state, job.percent = "transcoding", 5.0
            await asyncio.to_thread(self._transcode, job, source, profile, work / "out")
            if profile is not None:
                self.store.publish(work / "out", self.store.folder(profile.key, job.key))
        except TranscodeError as error:
            raise JobFailed(error.stage, error.message) from None
        finally:
            shutil.rmtree(work, ignore_errors=True)

    async def _fetch(self, source: str, work: Path, trusted: bool) -> Path:
        local = _local_path(source) if trusted else None
        if local is not None:
            if not local.is_file():
                raise JobFailed("download", f"{str(local)!r} is not a readable file")
            return local
        path = work / "source"
        try:
            await self._downloaders[trusted].download(
                source, path, timeout=self.options.download_timeout, max_bytes=self.options.max_bytes
            )
        except OriginError as error:
            raise JobFailed("download", error.message, timed_out=isinstance(error, OriginTimeout)) from None
        return path

    async def _fetch_hls(
        self, url: str, master: Path, profile: TranscodeProfile | None, work: Path, trusted: bool
    ) -> HlsSource | Path:
        """An HLS source's renditions on disk; for a probe (no profile), only its playlist is checked."""
        if trusted and _local_path(url) is not None:
            raise JobFailed("download", f"{url!r} is a playlist on disk: expected a video file, or a playlist URL")
        try:
            if profile is None:
                choose_renditions(master.read_bytes(), url, ())
                return master
            options = self.options
            return await fetch_hls(
                self._downloaders[trusted],
                master,
                url,
                profile,
                work,
                timeout=options.download_timeout,
                max_bytes=options.max_bytes,
            )
        except OriginError as error:
            raise JobFailed("download", error.message) from None
        except (HlsSourceError, ProxyError) as error:
            raise JobFailed("probe", error.message) from None

    def _transcode(self, job: Job, source: Path | HlsSource, profile: TranscodeProfile | None, out: Path) -> None:
        """In a worker thread: probe only (no profile) or the full transcode, reporting progress into `job`. An
        HLS source whose renditions fit the channel is re-segmented by a stream copy when its keyframes allow."""
        options = self.options
        if profile is None:
            if isinstance(source, Path) and not is_playlist(source):
                probe(source, options.ffmpeg)
            return
        path = self._hls_source(source, profile, out) if isinstance(source, HlsSource) else source
        if path is None:
            return

        def progress(fraction: float) -> None:
            if job.cancelled:
                raise TranscodeError("transcode", "cancelled")
            job.percent = 5.0 + 90.0 * fraction

        def encode(folder: Path, frames: int | None = None) -> None:
            # A piece's progress is not the slate's: the job stays at 95 % while they are cut (a cancel still stops).
            transcode(
                path,
                profile,
                folder,
                ffmpeg=options.ffmpeg,
                timeout=options.timeout,
                preset=options.preset,
                progress=progress if frames is None else lambda _: progress(1.0),
                nice=options.nice,
                frames=frames,
            )

        encode(out)
        if job.kind == "slate":  # ready with its pieces, so that the first break it fills ends on time too
            cut_pieces(path, profile, out, options.ffmpeg, encode)

    def _hls_source(self, source: HlsSource, profile: TranscodeProfile, out: Path) -> Path | None:
        """None when a stream copy made `out`; else the file to transcode."""
        exe, timeout = self.options.ffmpeg or default_ffmpeg(), self.options.timeout
        if source.declared_fit and restream(source.renditions, profile, out, ffmpeg=exe, timeout=timeout):
            return None
        shutil.rmtree(out, ignore_errors=True)
        return remux(exe, source.video, source.audio, out.parent / "source.mkv", timeout)

    def _load(
        self, key: str, folder: Path, tracks: Sequence[Track], target_duration: int, prefix: str | None
    ) -> Creative:
        """The creative from its folder, with its pieces when it is a slate (`proxy.media.slatepieces`)."""
        creative = self._load_renditions(key, folder, tracks, target_duration, prefix)
        pieces = tuple(
            self._load_renditions(f"{key}#{piece.name}", piece, tracks, target_duration, prefix)
            for piece in piece_folders(folder)
        )
        return replace(creative, pieces=pieces) if pieces else creative

    def _load_renditions(
        self, key: str, folder: Path, tracks: Sequence[Track], target_duration: int, prefix: str | None
    ) -> Creative:
        """The creative from its folder: rendition names are the channel's track names (v0…, a0…)."""
        base = f"{self.options.base_url.rstrip('/')}/{self.store.relative(folder)}"
        chosen = {track.name: f"{base}/{track.name}/index.m3u8" for track in tracks}
        playlists = {
            chosen[track.name]: parse_media((folder / track.name / "index.m3u8").read_bytes(), chosen[track.name])
            for track in tracks
        }
        self.store.touch(folder)
        return build_creative(key, chosen, playlists, target_duration, prefix)

    async def clean(self, *, max_age: float, max_bytes: int) -> Cleanup:
        """Old and surplus transcoded assets removed (a thread: it walks the folder), and forgotten."""
        report = await asyncio.to_thread(self.store.cleanup, max_age=max_age, max_bytes=max_bytes)
        self.forget_missing()
        return report

    def forget_missing(self) -> None:
        """Drop cached creatives whose folder was cleaned up; the next decision prepares them again."""
        for cache_key in list(self._creatives):
            if not self.store.is_ready(self.store.folder(cache_key[0], cache_key[1])):
                del self._creatives[cache_key]


def _local_path(source: str) -> Path | None:
    """A local file named by an operator: `file:///…` or an absolute path."""
    if source.startswith("/"):
        return Path(source)
    parts = urlsplit(source)
    return Path(unquote(parts.path)) if parts.scheme == "file" else None
