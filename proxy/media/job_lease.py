"""Media jobs once per cluster: before a job runs, its process takes the job's lease in Redis (`SET NX` with an
expiry it renews while the job runs). A process that asks for a job another holds waits for the lease to go, then
finds the work done (the renditions in the shared asset folder) or the failure its holder recorded (kept as long as a
failed job is not retried), and takes the job itself only when neither is there: its holder died (the lease expired)
or the outputs are gone. Redis unreachable: the job runs here (a transcode twice is waste, a creative never made is a
break without ads), counted."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass

import orjson
from redis.asyncio import Redis

LEASE_SECONDS = 30.0  # a holder that stops renewing (killed) lets others take its jobs after this
POLL_SECONDS = 1.0  # how often a waiting process looks again

# Renew or release a lease only while it is still ours (an expired one may be another process's by now).
_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


@dataclass(frozen=True, slots=True)
class Failure:
    """How a job failed where it ran, as the waiting processes adopt it."""

    stage: str
    error: str
    timed_out: bool


class JobLease:
    def __init__(
        self, redis: Redis, prefix: str, *, seconds: float = LEASE_SECONDS, poll: float = POLL_SECONDS
    ) -> None:
        self.redis, self.prefix, self.seconds, self.poll = redis, prefix, seconds, poll
        self.owner = uuid.uuid4().hex  # this process
        self.counts: Counter[str] = Counter()  # taken, waited (polls), adopted_ready, adopted_failure, errors

    def _key(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}"

    def _failure_key(self, job_id: str) -> str:
        return f"{self.prefix}:jobfail:{job_id}"

    async def take(self, job_id: str) -> bool:
        """Whether this process now holds the job's lease."""
        taken = bool(await self.redis.set(self._key(job_id), self.owner, nx=True, px=int(self.seconds * 1000)))
        self.counts["taken" if taken else "waited"] += 1
        return taken

    async def renew(self, job_id: str) -> bool:
        renewed = await self.redis.eval(_RENEW, 1, self._key(job_id), self.owner, int(self.seconds * 1000))
        return bool(renewed)

    async def release(self, job_id: str, failure: Failure | None = None, keep_failure: float = 0.0) -> None:
        """Let the job go; a failure is recorded first (for `keep_failure` seconds), so a waiter that takes the lease
        next finds it."""
        if failure is not None and keep_failure > 0:
            record = orjson.dumps([failure.stage, failure.error, failure.timed_out])
            await self.redis.set(self._failure_key(job_id), record, px=max(1, int(keep_failure * 1000)))
        await self.redis.eval(_RELEASE, 1, self._key(job_id), self.owner)

    async def failure(self, job_id: str) -> Failure | None:
        """The failure recorded for the job, while it is not to be retried."""
        record = await self.redis.get(self._failure_key(job_id))
        if record is None:
            return None
        stage, error, timed_out = orjson.loads(record)
        return Failure(str(stage), str(error), bool(timed_out))

    async def forget_failure(self, job_id: str) -> None:
        """An operator's retry: the job runs again at once, wherever it is asked for."""
        await self.redis.delete(self._failure_key(job_id))

    def figures(self) -> dict[str, int]:
        return dict(self.counts)
