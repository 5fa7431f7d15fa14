"""Media jobs: a bounded pool running creative and slate preparations, with their state visible.

At most `concurrency` jobs run at once (ffmpeg uses every core it can get; one at a time suits a 2-core
machine). A job is known by its id, the (profile, creative) it prepares, so asking again for a job queued,
running or done returns the same one (idempotent: every decision seeing a new creative asks). A failed job
keeps its stage and reason and is not run again before `retry_after` seconds, so a broken creative is not
transcoded in a tight loop. Jobs live in memory only: after a restart whatever is missing on disk is asked
for again by the next decision or channel start. In a cluster (Redis) a job runs in one process at a time
(proxy.media.job_lease): the others wait and adopt its outcome.

A job is shared by every account whose channels or slates asked for the same work (one transcode of one
creative per profile), and recorded with the accounts that asked: the job list shows an account the jobs it
asked for, never which other accounts share them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from redis.exceptions import RedisError

from proxy.media.job_lease import Failure, JobLease

log = logging.getLogger("proxy.media.jobs")
JobState = Literal["queued", "downloading", "transcoding", "ready", "error"]
KEEP_FINISHED = 10_000  # finished job records kept for the job list; older ones are forgotten


class JobFailed(Exception):
    """A job's failure: `stage` is download, probe, transcode or verify; `timed_out` when it ran out of time
    (told by the type of the error that ended it, never by its text)."""

    def __init__(self, stage: str, message: str, *, timed_out: bool = False) -> None:
        super().__init__(f"{stage}: {message}")
        self.stage = stage
        self.message = message
        self.timed_out = timed_out


@dataclass(slots=True)
class Job:
    id: str
    kind: Literal["creative", "slate", "probe"]
    key: str  # the creative key (id or media URL) or the slate's source
    source: str
    profile: str  # the profile key, "" for a probe
    state: JobState = "queued"
    percent: float = 0.0
    stage: str | None = None  # where it failed
    error: str | None = None
    timed_out: bool = False  # the failure was a timeout (a download's: VAST error 402 rather than 401)
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    failed_at: float | None = None  # monotonic, for the retry delay
    cancelled: bool = False  # read by the worker thread: ffmpeg is killed at its next progress line
    accounts: set[str] = field(default_factory=set)  # who asked for it: the only ones it is listed to

    @property
    def active(self) -> bool:
        return self.state in ("queued", "downloading", "transcoding")

    def as_dict(self) -> dict[str, Any]:
        seconds = (self.finished or time.time()) - self.started if self.started else None
        return {
            "id": self.id,
            "kind": self.kind,
            "key": self.key,
            "source": self.source,
            "profile": self.profile,
            "state": self.state,
            "percent": round(self.percent, 1),
            "stage": self.stage,
            "error": self.error,
            "seconds": round(seconds, 2) if seconds is not None else None,
        }


Work = Callable[[Job], Awaitable[None]]


class JobQueue:
    def __init__(self, concurrency: int, *, retry_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.retry_after = retry_after
        self.clock = clock
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self._limit = asyncio.Semaphore(max(1, concurrency))
        self._tasks: set[asyncio.Task[None]] = set()
        # Told of each job that ended ready or failed (not of one cancelled by a shutdown): the slate library
        # stores its slates' status from them.
        self.on_finished: list[Callable[[Job], None]] = []
        self.lease: JobLease | None = None  # in a cluster: each job runs in one process at a time
        self._retried: set[str] = set()

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def forget(self, job_id: str) -> None:
        """Drop a failed job's record, so the next submit runs it at once (an operator's retry)."""
        job = self.jobs.get(job_id)
        if job is not None and job.state == "error":
            del self.jobs[job_id]
            self._retried.add(job_id)  # in a cluster, its recorded failure is forgotten too

    def retry_due(self, job: Job) -> bool:
        return job.state == "error" and (job.failed_at is None or self.clock() - job.failed_at >= self.retry_after)

    def submit(self, job: Job, work: Work, *, done: Callable[[], bool] | None = None) -> Job:
        """Run `job` unless the same one is queued, running, or failed less than `retry_after` ago. A job
        already done runs again: its caller asks because the output is gone (cleaned up)."""
        existing = self.jobs.get(job.id)
        if existing is not None and (existing.active or (existing.state == "error" and not self.retry_due(existing))):
            existing.accounts |= job.accounts
            return existing
        if existing is not None:
            job.accounts |= existing.accounts  # a run again is still the work those accounts asked for
        self.jobs[job.id] = job
        self.jobs.move_to_end(job.id)
        task = asyncio.ensure_future(self._run(job, work, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._forget_old()
        return job

    async def _run(self, job: Job, work: Work, done: Callable[[], bool] | None) -> None:
        """Run `job` here, unless in a cluster another process ran it (`done` says whether its output is there)."""
        held = False
        if self.lease is not None:
            turn = await self._turn(self.lease, job, done)
            if turn is False:
                self._tell(job)
                return
            held = turn is True
        keep = asyncio.ensure_future(self._keep(job.id)) if held else None
        try:
            async with self._limit:
                await self._work(job, work)
        finally:
            if keep is not None:
                keep.cancel()
            if held:
                await self._release(job)
        self._tell(job)

    async def _work(self, job: Job, work: Work) -> None:
        job.started = time.time()
        log.info("job %s (%s %s) started", job.id, job.kind, job.source[:200])
        try:
            await work(job)
        except JobFailed as failed:
            self._fail(job, failed.stage, failed.message)
            job.timed_out = failed.timed_out
        except asyncio.CancelledError:
            self._fail(job, "cancelled", "the proxy stopped")
            raise
        except Exception as error:  # a bug must not kill the worker or hide the job's fate
            log.exception("job %s crashed", job.id)
            self._fail(job, "internal", f"{error.__class__.__name__}: {error}")
        else:
            job.state, job.percent, job.finished = "ready", 100.0, time.time()
            log.info("job %s ready in %.1f s", job.id, job.finished - job.started)

    def _tell(self, job: Job) -> None:
        if job.state in ("ready", "error") and job.stage != "cancelled":
            for listener in self.on_finished:
                listener(job)

    async def _turn(self, lease: JobLease, job: Job, done: Callable[[], bool] | None) -> bool | None:
        """True: this process holds the job's lease and runs it; False: another ran it, its outcome adopted; None:
        Redis is unreachable, the job runs here without a lease."""
        retry = job.id in self._retried
        self._retried.discard(job.id)
        try:
            while not await lease.take(job.id):
                await asyncio.sleep(lease.poll)  # another process runs it: until it lets go (or its lease expires)
            failure = None if retry else await lease.failure(job.id)
            if retry:
                await lease.forget_failure(job.id)
            if failure is None and not (done is not None and done()):
                return True
            await lease.release(job.id)
        except (RedisError, OSError) as error:
            lease.counts["errors"] += 1
            log.warning("job %s: lease unavailable (%s): running it here", job.id, error)
            return None
        if failure is not None:
            self._fail(job, failure.stage, f"{failure.error} (in another process)")
            job.timed_out = failure.timed_out
            lease.counts["adopted_failure"] += 1
        else:
            job.state, job.percent, job.finished = "ready", 100.0, time.time()
            lease.counts["adopted_ready"] += 1
        return False

    async def _keep(self, job_id: str) -> None:
        """Renew the lease of a job this process holds, while it waits for a slot and runs."""
        assert self.lease is not None
        while True:
            await asyncio.sleep(self.lease.seconds / 3)
            with contextlib.suppress(RedisError, OSError):
                if not await self.lease.renew(job_id):
                    log.warning("job %s: lease lost (Redis restarted?): another process may run it too", job_id)

    async def _release(self, job: Job) -> None:
        assert self.lease is not None
        failed = job.state == "error" and job.stage != "cancelled"
        failure = Failure(job.stage or "", job.error or "", job.timed_out) if failed else None
        try:
            await self.lease.release(job.id, failure, keep_failure=self.retry_after)
        except (RedisError, OSError) as error:  # it expires by itself
            self.lease.counts["errors"] += 1
            log.warning("job %s: lease not released (%s)", job.id, error)

    def _fail(self, job: Job, stage: str, message: str) -> None:
        job.state, job.stage, job.error = "error", stage, message
        job.finished, job.failed_at = time.time(), self.clock()
        log.warning("job %s (%s %s) failed at %s: %s", job.id, job.kind, job.source[:200], stage, message)

    def _forget_old(self) -> None:
        finished = [job_id for job_id, job in self.jobs.items() if not job.active]
        for job_id in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self.jobs[job_id]

    def counts(self) -> Counter[str]:
        return Counter(job.state for job in self.jobs.values())

    def figures(self) -> dict[str, Any]:
        """Jobs by state, every account's, for /metrics."""
        return {"jobs": dict(self.counts())}

    def of_account(self, account_id: str) -> list[Job]:
        """The jobs `account_id` asked for, newest first."""
        return [job for job in reversed(self.jobs.values()) if account_id in job.accounts]

    async def wait(self) -> None:
        """Until no job runs (tests, and a clean shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        for job in self.jobs.values():
            job.cancelled = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
