"""Media jobs handed from an edge to a control process (proxy/media/job_requests.py): two pipelines on one asset
folder and one Redis, as an edge and a control process. The edge queues the job, the control process transcodes
it (real ffmpeg) and the edge plays the renditions; a failure there is the edge's failure; with no control
process the edge's job fails after its wait; a request that is not one is skipped, counted. Needs Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from proxy.hls.fill import Creative
from proxy.hls.profile import TranscodeProfile
from proxy.media.job_lease import JobLease
from proxy.media.job_requests import JobRequest, JobRequests, decode, encode
from proxy.media.jobs import Job
from proxy.media.pipeline import NotReady
from proxy.net.origin import new_session
from tests import redisdb
from tests.media.test_pipeline import LOOPBACK, Rig, adserver, files
from tests.mediafiles import CHANNELS, channel

__all__ = ["adserver", "files"]


@dataclass
class Pair:
    edge: Rig
    control: Rig
    asked: JobRequests  # the edge's
    taken: JobRequests  # the control process's


@pytest.fixture
async def pair(tmp_path: Path, prefix: str) -> AsyncIterator[Pair]:
    async with new_session(LOOPBACK) as http, new_session(LOOPBACK) as ads_http:
        edge, control = Rig(tmp_path / "assets", http, ads_http), Rig(tmp_path / "assets", http, ads_http)
        redis = await redisdb.reachable()
        asked = JobRequests(redis, prefix, JobLease(redis, prefix, poll=0.05), wait=60.0, poll=0.05)
        control.jobs.lease = JobLease(redis, prefix, poll=0.05)
        taken = JobRequests(redis, prefix, control.jobs.lease, wait=60.0, poll=0.05)
        edge.pipeline.requests = asked
        taken.start(control.pipeline.run_request)
        yield Pair(edge, control, asked, taken)
        await taken.stop()
        for rig in (edge, control):
            await rig.jobs.close()
        await redis.aclose()


def spy_builds(rig: Rig, name: str, built: list[str]) -> None:
    """Record which pipeline builds (downloads and transcodes) a job."""
    build = rig.pipeline._build

    async def recorded(job: Job, profile: TranscodeProfile | None, trusted: bool) -> None:
        built.append(name)
        await build(job, profile, trusted)

    rig.pipeline._build = recorded  # type: ignore[method-assign]


@pytest.mark.slow
async def test_the_edge_plays_what_the_control_process_transcoded(pair: Pair, adserver: str) -> None:
    url = f"{adserver}/media/ad.mp4"
    built: list[str] = []
    spy_builds(pair.edge, "edge", built)
    spy_builds(pair.control, "control", built)
    first = await pair.edge.creative("creative-1", url)
    assert isinstance(first, NotReady) and first.reason == "NEW_CREATIVE"
    await pair.edge.jobs.wait()  # the edge's job: waiting for the renditions
    await pair.control.jobs.wait()
    (mine,), (theirs,) = pair.edge.jobs.jobs.values(), pair.control.jobs.jobs.values()
    assert (mine.id, mine.state, theirs.id, theirs.state) == (theirs.id, "ready", mine.id, "ready")
    assert built == ["control"], "ffmpeg ran in the control process only"
    assert (pair.asked.counts["asked"], pair.taken.counts["taken"]) == (1, 1)
    assert isinstance(await pair.edge.creative("creative-1", url), Creative)


@pytest.mark.slow
async def test_a_failure_where_the_job_ran_is_the_edges(pair: Pair, adserver: str) -> None:
    await pair.edge.creative("broken", f"{adserver}/media/broken.mp4")
    await pair.edge.jobs.wait()
    (mine,), (theirs,) = pair.edge.jobs.jobs.values(), pair.control.jobs.jobs.values()
    assert theirs.state == "error" and (mine.state, mine.stage, mine.error) == ("error", theirs.stage, theirs.error)
    again = await pair.edge.creative("broken", f"{adserver}/media/broken.mp4")
    assert isinstance(again, NotReady) and again.reason == "TRANSCODE_ERROR", "not asked again before the retry delay"
    assert pair.asked.counts["asked"] == 1


async def test_without_a_control_process_the_edges_job_fails_after_its_wait(tmp_path: Path, prefix: str) -> None:
    async with new_session(LOOPBACK) as http, new_session(LOOPBACK) as ads_http:
        edge = Rig(tmp_path / "assets", http, ads_http)
        redis = await redisdb.reachable()
        edge.pipeline.requests = JobRequests(redis, prefix, JobLease(redis, prefix), wait=0.2, poll=0.05)
        await edge.creative("creative-1", "https://ads.test/a.mp4")
        await edge.jobs.wait()
        (job,) = edge.jobs.jobs.values()
        assert (job.state, job.stage) == ("error", "handoff") and "within 0.2 s" in (job.error or "")
        (raw,) = await redis.lrange(f"{prefix}:media:requests", 0, -1)
        request = decode(raw)
        assert (request.key, request.kind, request.profile, request.accounts) == (
            "creative-1", "creative", edge.profile, ("acct",)
        )  # fmt: skip
        await edge.jobs.close()
        await redis.aclose()


async def test_a_request_that_is_not_one_is_skipped_and_counted(prefix: str) -> None:
    redis = await redisdb.reachable()
    taken = JobRequests(redis, prefix, JobLease(redis, prefix), wait=1.0)
    ran: list[JobRequest] = []
    for raw in (b"not json", b'{"job_id": "x"}', b"[]"):
        taken._run(ran.append, raw)
    assert ran == [] and taken.counts["bad"] == 3
    await redis.aclose()


def test_a_request_survives_its_encoding() -> None:
    _master, profile = channel(*CHANNELS["fmp4"])
    request = JobRequest("p/c", "slate", "https://s.test/slate.mp4", "https://s.test/slate.mp4", profile, True, ("a",))
    assert decode(encode(request)) == request and decode(encode(request)).profile.key == profile.key
