"""proxy.media.pipeline, proxy.media.jobs, proxy.control.slates: creatives and slates prepared by real ffmpeg
jobs.

Sources are tiny generated MP4s served by a real uvicorn "ad server" (the edge fake) and fetched through the
real aiohttp client with the egress policy; the channel is tests/data/profile's three-variant TS ladder.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from proxy.ads.errors import ErrorCode
from proxy.control.accounts import create_account
from proxy.control.db import Database
from proxy.control.slates import Slate, SlateLibrary
from proxy.hls.fill import Creative
from proxy.hls.master import MasterPlaylist
from proxy.hls.profile import TranscodeProfile
from proxy.media.assetstore import AssetStore
from proxy.media.jobs import JobQueue
from proxy.media.pipeline import MediaPipeline, NotReady, PipelineOptions
from proxy.net.adserver import AdServerClient
from proxy.net.egress import EgressPolicy
from proxy.net.origin import HttpClient, new_session
from tests.mediafiles import CHANNELS, channel, make_source
from tests.servers import free_port, run_server

LOOPBACK = EgressPolicy(False, True)  # the test ad server is on 127.0.0.1
OPTIONS = PipelineOptions("/v1/ssai/assets", None, "ultrafast", 120.0, 10, 2_000_000, 10.0)
SLOW_DOWNLOAD_TIMEOUT = 0.5


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("adserver")
    make_source(folder, "4x3-30fps-mono-44k").rename(folder / "ad.mp4")
    make_source(folder, "square-video-only").rename(folder / "other.mp4")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    (folder / "huge.mp4").write_bytes(b"\x00" * 3_000_000)
    return folder


@pytest.fixture(scope="module")
def adserver(files: Path) -> Iterator[str]:
    async def serve(request: Request) -> Response:
        path = files / request.path_params["name"]
        return FileResponse(path) if path.is_file() else Response("no such creative", 404)

    async def stall(request: Request) -> Response:  # answers after the download timeout of `slow_rig`
        await asyncio.sleep(SLOW_DOWNLOAD_TIMEOUT * 4)
        return await serve(request)

    routes = [Route("/media/{name}", serve), Route("/stall/{name}", stall)]
    with run_server(Starlette(routes=routes), free_port()) as url:
        yield url


class Rig:
    def __init__(
        self,
        root: Path,
        http: aiohttp.ClientSession,
        ads_http: aiohttp.ClientSession,
        policy: EgressPolicy = LOOPBACK,
        options: PipelineOptions = OPTIONS,
    ) -> None:
        self.clock = Clock()
        self.store = AssetStore(root)
        self.jobs = JobQueue(1, retry_after=300, clock=self.clock)
        trusted = HttpClient(http, max_bytes=1 << 20)
        ads = AdServerClient(HttpClient(ads_http, max_bytes=1 << 20), policy, concurrency=8)
        self.pipeline = MediaPipeline(self.store, self.jobs, ads, trusted, options)
        self.master, self.profile = channel(*CHANNELS["ts"])

    async def creative(self, key: str, url: str, prefix: str | None = None) -> Creative | NotReady:
        return await self.pipeline.creative(key, url, self.profile, self.master.tracks, prefix, account="acct")


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with new_session(LOOPBACK) as http, new_session(LOOPBACK) as ads_http:
        rig = Rig(tmp_path / "assets", http, ads_http)
        yield rig
        await rig.jobs.close()


@pytest.mark.slow
async def test_a_new_creative_is_skipped_then_plays_once_transcoded(rig: Rig, adserver: str) -> None:
    url = f"{adserver}/media/ad.mp4"
    first = await rig.creative("creative-1", url)
    assert first == NotReady("NEW_CREATIVE", f"first seen; transcoding {url}", ErrorCode.MEZZANINE_DOWNLOADING)
    second = await rig.creative("creative-1", url)
    assert isinstance(second, NotReady) and second.reason == "TRANSCODE_IN_PROGRESS"
    assert len(rig.jobs.jobs) == 1, "asking again never starts a second job"
    await rig.jobs.wait()
    (job,) = rig.jobs.jobs.values()
    assert (job.state, job.percent, job.kind, job.profile) == ("ready", 100.0, "creative", rig.profile.key)
    creative = await rig.creative("creative-1", url)
    assert isinstance(creative, Creative)
    check_creative(creative, rig.master, rig.profile)
    assert creative.pieces == (), "pieces are a slate's"
    folder = rig.store.folder(rig.profile.key, "creative-1")
    assert creative.uris["v0"][0] == f"/v1/ssai/assets/{rig.store.relative(folder)}/v0/seg-000.ts"
    assert not list((rig.store.root / ".work").iterdir()), "the build folder is gone once published"


def check_creative(creative: Creative, master: MasterPlaylist, profile: TranscodeProfile) -> None:
    assert set(creative.uris) == {track.name for track in master.tracks}
    assert len({len(uris) for uris in creative.uris.values()}) == 1, "one numbering for every variant"
    assert all(d <= profile.target_duration for extinfs in creative.extinfs.values() for d in extinfs)
    assert creative.duration == pytest.approx(3, abs=0.1)


@pytest.mark.slow
async def test_a_reused_creative_id_keeps_its_renditions(rig: Rig, adserver: str) -> None:
    await rig.creative("creative-1", f"{adserver}/media/ad.mp4")
    await rig.jobs.wait()
    again = await rig.creative("creative-1", f"{adserver}/media/other.mp4")
    assert isinstance(again, Creative) and again.duration == pytest.approx(3, abs=0.1)  # other.mp4 lasts 2 s
    assert len(rig.jobs.jobs) == 1


@pytest.mark.slow
async def test_a_restart_finds_ready_assets_and_requeues_nothing(rig: Rig, adserver: str, tmp_path: Path) -> None:
    await rig.creative("creative-1", f"{adserver}/media/ad.mp4")
    await rig.jobs.wait()
    async with new_session(LOOPBACK) as http, new_session(LOOPBACK) as ads_http:
        restarted = Rig(tmp_path / "assets", http, ads_http)
        creative = await restarted.creative("creative-1", f"{adserver}/media/ad.mp4", prefix="https://cdn.test")
        assert isinstance(creative, Creative) and creative.uris["v1"][0].startswith("https://cdn.test/v1/ssai/assets/")
        assert not restarted.jobs.jobs


@pytest.mark.parametrize(
    ("name", "stage", "code", "message"),
    [
        ("broken.mp4", "probe", ErrorCode.MEDIA_DISPLAY, "no duration or no video stream"),
        ("absent.mp4", "download", ErrorCode.MEDIA_NOT_FOUND, "answered HTTP 404"),
        ("huge.mp4", "download", ErrorCode.MEDIA_NOT_FOUND, "expected at most 2000000"),
    ],
)
async def test_failed_jobs_say_why_and_are_not_retried_in_a_tight_loop(
    rig: Rig, adserver: str, name: str, stage: str, code: int, message: str
) -> None:
    url = f"{adserver}/media/{name}"
    assert isinstance(await rig.creative("bad", url), NotReady)
    await rig.jobs.wait()
    failed = await rig.creative("bad", url)
    assert isinstance(failed, NotReady) and (failed.reason, failed.code) == ("TRANSCODE_ERROR", code)
    assert failed.detail.startswith(f"{stage}: ") and message in failed.detail
    (job,) = rig.jobs.jobs.values()
    assert (job.state, job.stage) == ("error", stage)
    rig.clock.now += 299
    assert (await rig.creative("bad", url)) == failed, "no second attempt before retry_after"
    assert rig.jobs.jobs[job.id] is job
    rig.clock.now += 2
    retried = await rig.creative("bad", url)
    assert isinstance(retried, NotReady) and retried.reason == "TRANSCODE_IN_PROGRESS"
    assert rig.jobs.jobs[job.id] is not job


async def test_a_download_over_its_timeout_is_vast_error_402_not_401(tmp_path: Path, adserver: str) -> None:
    """The timeout is told by the error's type: VAST 4.3 error 402 (timeout of MediaFile URI), not 401."""
    options = replace(OPTIONS, download_timeout=SLOW_DOWNLOAD_TIMEOUT)
    async with new_session(LOOPBACK) as http, new_session(LOOPBACK) as ads_http:
        rig = Rig(tmp_path, http, ads_http, options=options)
        url = f"{adserver}/stall/ad.mp4"
        await rig.creative("slow", url)
        await rig.jobs.wait()
        failed = await rig.creative("slow", url)
        await rig.jobs.close()
    assert isinstance(failed, NotReady) and (failed.reason, failed.code) == ("TRANSCODE_ERROR", ErrorCode.MEDIA_TIMEOUT)
    assert failed.detail == f"download: GET {url} took longer than {SLOW_DOWNLOAD_TIMEOUT:g} s"


async def test_ad_sources_pass_the_egress_policy(tmp_path: Path, adserver: str) -> None:
    policy = EgressPolicy(False, False)  # loopback refused, as in production
    async with new_session(LOOPBACK) as http, new_session(policy) as ads_http:
        rig = Rig(tmp_path, http, ads_http, policy)
        await rig.creative("creative-1", f"{adserver}/media/ad.mp4")
        await rig.creative("local", "file:///etc/passwd")
        await rig.jobs.wait()
        jobs = {job.key: job for job in rig.jobs.jobs.values()}
        assert jobs["creative-1"].stage == "download" and "refused" in (jobs["creative-1"].error or "")
        assert jobs["local"].stage == "download" and "scheme 'file'" in (jobs["local"].error or "")


async def test_cancelled_jobs_kill_ffmpeg(rig: Rig, files: Path) -> None:
    slow = PipelineOptions("/a", None, "placebo", 120.0, 0, 1 << 30, 10.0)  # placebo: long enough to cancel
    rig.pipeline.options = slow
    await rig.pipeline.creative(
        "slow", str(files / "ad.mp4"), rig.profile, rig.master.tracks, trusted=True, account="acct"
    )
    (job,) = rig.jobs.jobs.values()
    for _ in range(600):  # until ffmpeg runs (the source is local: no download to wait for)
        if job.state != "downloading" and job.state != "queued":
            break
        await asyncio.sleep(0.05)
    assert job.state == "transcoding", job.as_dict()
    await asyncio.wait_for(rig.jobs.close(), 30)
    assert (job.state, job.stage) == ("error", "cancelled")
    assert not rig.store.is_ready(rig.store.folder(rig.profile.key, "slow"))


@pytest.mark.slow
async def test_a_slate_is_ready_with_its_first_frames_cut_in_pieces(rig: Rig, adserver: str) -> None:
    """The ts ladder's first variant runs at 25 fps with 2 s segments: pieces of 1, 2, 4 … 32 frames (their sums
    make any remainder up to 63 frames), one segment per track each, every track within a frame of the first."""
    url, tracks = f"{adserver}/media/ad.mp4", rig.master.tracks
    assert isinstance(
        await rig.pipeline.creative("slate:s", url, rig.profile, tracks, kind="slate", account="acct"), NotReady
    )
    await rig.jobs.wait()
    slate = await rig.pipeline.creative("slate:s", url, rig.profile, tracks, kind="slate", account="acct")
    assert isinstance(slate, Creative)
    assert [piece.durations for piece in slate.pieces] == [(n / 25,) for n in (32, 16, 8, 4, 2, 1)]
    assert slate.frame == 1 / 25
    for piece in slate.pieces:
        assert {track: len(uris) for track, uris in piece.uris.items()} == {track.name: 1 for track in tracks}
        assert all(abs(extinfs[0] - piece.duration) < 1 / 25 for extinfs in piece.extinfs.values()), piece.extinfs
        assert all("/pieces/" in uris[0] for uris in piece.uris.values())


@pytest.mark.slow
async def test_slate_lifecycle(rig: Rig, adserver: str, tmp_path: Path) -> None:
    db = Database.from_settings("", tmp_path)
    await db.migrate()
    for account in ("acct-1", "acct-2"):
        await create_account(db, account, account)
    slates = SlateLibrary(db, rig.pipeline)
    good = await slates.add("acct-1", f"{adserver}/media/ad.mp4", "brb")
    bad = await slates.add("acct-1", f"{adserver}/media/absent.mp4")
    other = await slates.add("acct-2", f"{adserver}/media/other.mp4")
    assert [s.status for s in (good, bad, other)] == ["transcoding"] * 3
    assert (good.default, bad.default, other.default) == (True, False, True)

    async def settle() -> None:
        await rig.jobs.wait()
        await slates.settled()  # the status writes the jobs' ends started

    async def now(slate: Slate) -> Slate:
        found = await slates.get(slate.account_id, slate.id)
        assert found is not None
        return found

    await settle()
    assert ((await now(good)).status, (await now(good)).error) == ("ready", None)  # no channel yet: probed
    bad = await now(bad)
    assert bad.status == "error" and "404" in (bad.error or "") and not bad.default
    assert slates.as_document(bad)["media_source_asset_status"] == "error"
    assert slates.as_document(bad)["media_source_asset_error"] == bad.error
    rig.pipeline.register(rig.profile)  # a channel starts: every slate not in error is prepared for its ladder
    await slates.settled()
    assert {job.key for job in rig.jobs.jobs.values() if job.active} == {f"slate:{s.source_url}" for s in (good, other)}
    assert (await now(good)).status == "transcoding"
    await settle()
    assert [(await now(s)).status for s in (good, other)] == ["ready", "ready"]
    assert rig.store.is_ready(rig.store.folder(rig.profile.key, f"slate:{good.source_url}"))
    good = await now(good)
    seed = slates.as_document(good)
    assert seed["media_source_asset_type"] == "slate" and seed["media_source_asset_default"] is True
    assert "media_source_asset_error" not in seed
    assert await slates.delete("acct-2", good.id) is None, "another account's slate is not found"
    assert await slates.delete("acct-1", good.id) == good
    left = [(s.id, s.default) for s in await slates.of_account("acct-1")]
    assert left == [(bad.id, False)], "a slate in error never becomes the default"
    await db.close()


def test_cleanup_by_age_then_size(tmp_path: Path) -> None:
    store = AssetStore(tmp_path)
    now = time.time()
    ages = {"old": 40 * 86_400, "a": 5 * 86_400, "b": 4 * 86_400, "recent": 60}
    for name, age in ages.items():
        folder = store.folder("profile", name)
        folder.mkdir(parents=True)
        (folder / "master.m3u8").write_bytes(b"x" * 1000)
        os.utime(folder, (now - age, now - age))
    (tmp_path / ".work" / "build-crashed").mkdir(parents=True)
    os.utime(tmp_path / ".work" / "build-crashed", (now - 2 * 86_400, now - 2 * 86_400))
    report = store.cleanup(max_age=30 * 86_400, max_bytes=2000)
    left = {name for name in ages if store.is_ready(store.folder("profile", name))}
    assert left == {"b", "recent"}, "the too old one, then the least recently used until under the limit"
    assert (report.removed, report.freed_bytes, report.kept, report.kept_bytes) == (2, 2000, 2, 2000)
    assert not (tmp_path / ".work" / "build-crashed").exists(), "a crashed build is removed after a day"
    assert store.cleanup(max_age=0, max_bytes=0).removed == 1, "an asset used in the last two hours stays"
