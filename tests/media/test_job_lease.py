"""Media jobs once per cluster (proxy/media/job_lease.py): two job queues on one Redis, as two processes, asked for
the same job run it once; the other adopts the outcome (the output made, or the failure recorded, which holds
cluster-wide until the retry delay); a holder that died (its lease expires, never renewed) is taken over; an
operator's retry runs a failed job again at once; with Redis down the job runs here. Needs Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from proxy.media.job_lease import JobLease
from proxy.media.jobs import Job, JobFailed, JobQueue
from tests import redisdb


@pytest.fixture
async def redis(prefix: str) -> AsyncIterator[Redis]:
    client = await redisdb.reachable()
    yield client
    await client.aclose()


def queue(redis: Redis, prefix: str, *, seconds: float = 30.0) -> JobQueue:
    jobs = JobQueue(1, retry_after=300)
    jobs.lease = JobLease(redis, prefix, seconds=seconds, poll=0.05)
    return jobs


def job() -> Job:
    return Job("p1/creative-a", "creative", "creative-a", "https://ads.example/a.mp4", "p1")


def state(job: Job) -> str:
    """A job's state now (it moves between two looks)."""
    return job.state


class Work:
    """The work of a job as both queues would do it: counts its runs, makes its output when allowed to finish."""

    def __init__(self, fail: bool = False) -> None:
        self.runs, self.made, self.fail = 0, False, fail
        self.started, self.finish = asyncio.Event(), asyncio.Event()

    async def __call__(self, job: Job) -> None:
        self.runs += 1
        self.started.set()
        await self.finish.wait()
        if self.fail:
            raise JobFailed("transcode", "ffmpeg exited with 1")
        self.made = True

    def done(self) -> bool:
        return self.made


async def test_two_processes_run_a_job_once_and_both_see_it_ready(redis: Redis, prefix: str) -> None:
    one, two, work = queue(redis, prefix), queue(redis, prefix), Work()
    first = one.submit(job(), work, done=work.done)
    await asyncio.wait_for(work.started.wait(), 10)
    second = two.submit(job(), work, done=work.done)
    await asyncio.sleep(0.3)  # the second waits on the lease meanwhile
    assert state(second) == "queued" and work.runs == 1
    work.finish.set()
    await asyncio.wait_for(asyncio.gather(one.wait(), two.wait()), 10)
    assert (first.state, second.state, work.runs) == ("ready", "ready", 1)
    assert two.lease is not None and two.lease.figures()["adopted_ready"] == 1


async def test_a_failure_is_adopted_and_holds_until_an_operator_retries(redis: Redis, prefix: str) -> None:
    one, two, work = queue(redis, prefix), queue(redis, prefix), Work(fail=True)
    work.finish.set()
    failed = one.submit(job(), work, done=work.done)
    await asyncio.wait_for(one.wait(), 10)
    assert (failed.state, failed.stage, work.runs) == ("error", "transcode", 1)
    told: list[Job] = []
    two.on_finished.append(told.append)
    adopted = two.submit(job(), work, done=work.done)
    await asyncio.wait_for(two.wait(), 10)
    assert (adopted.state, adopted.stage, work.runs) == ("error", "transcode", 1)
    assert "in another process" in (adopted.error or "") and told == [adopted]
    two.forget(adopted.id)  # POST …/slates/{id}/retry
    work.fail = False
    retried = two.submit(job(), work, done=work.done)
    await asyncio.wait_for(two.wait(), 10)
    assert (retried.state, work.runs) == ("ready", 2)


async def test_a_dead_holders_job_is_taken_over(redis: Redis, prefix: str) -> None:
    await redis.set(f"{prefix}:job:{job().id}", "a process killed -9", px=500)  # never renewed
    work = Work()
    work.finish.set()
    jobs = queue(redis, prefix)
    taken = jobs.submit(job(), work, done=work.done)
    await asyncio.wait_for(jobs.wait(), 30)
    assert (taken.state, work.runs) == ("ready", 1)


async def test_the_lease_is_renewed_while_the_job_runs(redis: Redis, prefix: str) -> None:
    one, two, work = queue(redis, prefix, seconds=0.6), queue(redis, prefix, seconds=0.6), Work()
    one.submit(job(), work, done=work.done)
    await asyncio.wait_for(work.started.wait(), 10)
    waiting = two.submit(job(), work, done=work.done)
    await asyncio.sleep(2.0)  # three lease lifetimes: renewed, never taken over
    assert work.runs == 1 and waiting.state == "queued"
    work.finish.set()
    await asyncio.wait_for(asyncio.gather(one.wait(), two.wait()), 10)
    assert work.runs == 1 and state(waiting) == "ready"


async def test_redis_down_runs_the_job_here() -> None:
    jobs = JobQueue(1, retry_after=300)
    jobs.lease = JobLease(redisdb.unreachable(), "down", poll=0.05)
    work = Work()
    work.finish.set()
    ran = jobs.submit(job(), work, done=work.done)
    await asyncio.wait_for(jobs.wait(), 30)
    assert (ran.state, work.runs) == ("ready", 1) and jobs.lease.figures()["errors"] >= 1
