"""proxy.media.pipeline remaking HLS creatives that do not fit a channel: a stream copy when the media allow it, a
transcode otherwise. Creatives are real ffmpeg output served by a real uvicorn edge and fetched through the
egress-checked ad client; the channel's ladder is tests/hlsads.py's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from proxy.hls.fill import Creative
from proxy.media.assetstore import AssetStore
from proxy.media.jobs import Job, JobQueue
from proxy.media.pipeline import MediaPipeline, NotReady, PipelineOptions
from proxy.media.transcode import stream_codecs
from proxy.net.adserver import AdServerClient
from proxy.net.egress import EgressPolicy
from proxy.net.origin import HttpClient, new_session
from tests.hlsads import CREATIVES, Edge, ladder_profile, make_creative
from tests.servers import free_port, run_server

LOOPBACK = EgressPolicy(False, True)  # the edge is on 127.0.0.1; private addresses stay refused
OPTIONS = PipelineOptions("/v1/ssai/assets", None, "ultrafast", 120.0, 10, 2_000_000, 10.0)


@pytest.fixture(scope="module")
def creatives(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("creatives")
    for name in ("long", "long-gop", "long-fmp4", "long-demuxed"):
        make_creative(folder, name)
    elsewhere = folder / "elsewhere"  # a creative whose segment is on a private address
    (elsewhere / "v0").mkdir(parents=True)
    (elsewhere / "master.m3u8").write_text((folder / "long" / "master.m3u8").read_text())
    listing = (folder / "long" / "v0" / "index.m3u8").read_text()
    (elsewhere / "v0" / "index.m3u8").write_text(listing.replace("seg-000.ts", "http://10.20.30.40/seg-000.ts"))
    return folder


@pytest.fixture(scope="module")
def edge(creatives: Path) -> Iterator[str]:
    with run_server(Edge(creatives).app, free_port()) as url:
        yield url


async def make_pipeline(root: Path, options: PipelineOptions = OPTIONS) -> AsyncIterator[MediaPipeline]:
    async with new_session(LOOPBACK) as http:
        client = HttpClient(http, max_bytes=1 << 20)
        jobs = JobQueue(1, retry_after=300)
        yield MediaPipeline(AssetStore(root), jobs, AdServerClient(client, LOOPBACK, concurrency=8), client, options)
        await jobs.close()


@pytest.fixture
async def pipeline(tmp_path: Path) -> AsyncIterator[MediaPipeline]:
    async for made in make_pipeline(tmp_path / "assets"):
        yield made


async def prepare(pipeline: MediaPipeline, url: str, ladder: str = "baseline") -> Creative | Job:
    """The creative at `url` once its job ended, or the job that failed."""
    master, profile = ladder_profile(ladder)
    first = await pipeline.creative("ad", url, profile, master.tracks, account="acct")
    assert isinstance(first, NotReady) and first.reason == "NEW_CREATIVE", first
    await pipeline.jobs.wait()
    ready = await pipeline.creative("ad", url, profile, master.tracks, account="acct")
    if isinstance(ready, Creative):
        return ready
    (job,) = pipeline.jobs.jobs.values()
    return job


def first_segment(pipeline: MediaPipeline, creative: Creative) -> bytes:
    relative = creative.uris["v0"][0].removeprefix(OPTIONS.base_url + "/")
    return (pipeline.store.root / relative).read_bytes()


@pytest.mark.parametrize("name", ["long", "long-fmp4"])
async def test_a_fitting_creative_with_long_segments_is_cut_by_a_stream_copy(
    pipeline: MediaPipeline, edge: str, name: str
) -> None:
    creative = await prepare(pipeline, f"{edge}/creatives/{name}/master.m3u8")
    assert isinstance(creative, Creative), creative
    assert creative.extinfs["v0"] == pytest.approx((2, 2, 2), abs=0.05), "6 s cut into the channel's 2 s"
    segment = first_segment(pipeline, creative)
    assert segment[0] == 0x47, "MPEG-TS, the channel's packaging, whatever the creative's"
    # Copied, not re-encoded: the creative's own level 3.0 (an encode for the channel would say 3.1, 1F).
    assert stream_codecs(segment, video=True) == "avc1.42C01E,mp4a.40.2"


async def test_a_demuxed_creative_is_cut_into_renditions_of_one_numbering(pipeline: MediaPipeline, edge: str) -> None:
    creative = await prepare(pipeline, f"{edge}/creatives/long-demuxed/master.m3u8", "demuxed")
    assert isinstance(creative, Creative), creative
    assert set(creative.uris) == {"v0", "a0"}
    assert creative.extinfs["v0"] == pytest.approx((2, 2, 2), abs=0.05)
    assert len(creative.extinfs["a0"]) == 3, "the audio rendition numbered as the video (one numbering)"
    assert all(duration <= 2.5 for duration in creative.extinfs["a0"]), creative.extinfs
    assert stream_codecs(first_segment(pipeline, creative), video=True) == "avc1.42C01E,mp4a.40.2", "copied"


async def test_keyframes_further_apart_than_the_target_duration_fall_back_to_a_transcode(
    pipeline: MediaPipeline, edge: str
) -> None:
    creative = await prepare(pipeline, f"{edge}/creatives/long-gop/master.m3u8")
    assert isinstance(creative, Creative), creative
    assert all(duration <= 2.5 for duration in creative.extinfs["v0"]), creative.extinfs
    assert creative.duration == pytest.approx(CREATIVES["long-gop"].seconds, abs=0.1)
    assert stream_codecs(first_segment(pipeline, creative), video=True) == "avc1.42C01F,mp4a.40.2", "re-encoded"


async def test_a_segment_on_a_refused_address_fails_the_download(pipeline: MediaPipeline, edge: str) -> None:
    job = await prepare(pipeline, f"{edge}/creatives/elsewhere/master.m3u8")
    assert isinstance(job, Job) and (job.state, job.stage) == ("error", "download"), job
    assert "http://10.20.30.40/seg-000.ts" in (job.error or "") and "refused" in (job.error or "")


async def test_the_size_limit_counts_every_file_of_the_creative(tmp_path: Path, edge: str, creatives: Path) -> None:
    files = [creatives / "long" / name for name in ("master.m3u8", "v0/index.m3u8", "v0/seg-000.ts")]
    limit = sum(path.stat().st_size for path in files) - 1  # each file alone is under it, not all of them
    options = PipelineOptions("/a", None, "ultrafast", 120.0, 10, limit, 10.0)
    async for pipeline in make_pipeline(tmp_path / "assets", options):
        job = await prepare(pipeline, f"{edge}/creatives/long/master.m3u8")
        assert isinstance(job, Job) and (job.state, job.stage) == ("error", "download"), job
        assert f"expected at most {limit - files[0].stat().st_size - files[1].stat().st_size}" in (job.error or "")
