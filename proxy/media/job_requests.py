"""Media jobs handed from edges to the cluster's other processes: an edge (`serve --role edge` with Redis) does not
run ffmpeg beside its playlists. It queues each job it needs in Redis (`{prefix}:media:requests`, a list) with what
running it takes (kind, key, source, the channel's transcode profile, whether the source is the operator's); a
control process (or one of role `all`) takes it and runs it as its own job, once per cluster (the job lease). The
edge's job waits for the renditions in the asset folder they share, or adopts the failure recorded where the job
ran; one no process took within `wait` seconds fails, and is asked again after the retry delay like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from proxy.hls.profile import AudioProfile, TranscodeProfile, VariantProfile
from proxy.media.job_lease import JobLease
from proxy.media.jobs import Job, JobFailed

log = logging.getLogger("proxy.media.jobs")
POLL_SECONDS = 1.0  # how often a waiting edge looks for the renditions or a failure
TAKE_SECONDS = 1  # a taker's blocking pop: under the client's socket timeout (proxy.net.redis_client.TIMEOUT)


@dataclass(frozen=True, slots=True)
class JobRequest:
    job_id: str
    kind: Literal["creative", "slate"]
    key: str
    source: str
    profile: TranscodeProfile
    trusted: bool
    accounts: tuple[str, ...]


def encode(request: JobRequest) -> bytes:
    return orjson.dumps(asdict(request))


def decode(raw: bytes | str) -> JobRequest:
    """A request as queued; ValueError, TypeError or KeyError when it is not one."""
    fields: dict[str, Any] = orjson.loads(raw)
    profile = fields["profile"]
    variants = tuple(VariantProfile(**variant) for variant in profile["variants"])
    audio = tuple(AudioProfile(**track) for track in profile["audio"])
    fields["profile"] = TranscodeProfile(
        variants, audio, int(profile["target_duration"]), profile["packaging"], tuple(profile["warnings"])
    )
    if fields["kind"] not in ("creative", "slate"):
        raise ValueError(f"kind {fields['kind']!r}: expected creative or slate")
    fields["accounts"] = tuple(fields["accounts"])
    return JobRequest(**fields)


class JobRequests:
    def __init__(self, redis: Redis, prefix: str, lease: JobLease, *, wait: float, poll: float = POLL_SECONDS) -> None:
        self.redis, self.key, self.lease = redis, f"{prefix}:media:requests", lease
        self.wait, self.poll = wait, poll
        self.counts: Counter[str] = Counter()  # asked, taken, bad, errors
        self._taker: asyncio.Task[None] | None = None

    async def handed_off(self, job: Job, request: JobRequest, done: Callable[[], bool]) -> None:
        """An edge's work for `job`: queue the request, then wait for its renditions (`done`) or its failure."""
        try:
            await self.redis.lpush(self.key, encode(request))
            self.counts["asked"] += 1
            await self._outcome(job, done)
        except RedisError as error:
            self.counts["errors"] += 1
            raise JobFailed("handoff", f"Redis failed ({type(error).__name__}: {error})") from None

    async def _outcome(self, job: Job, done: Callable[[], bool]) -> None:
        deadline = asyncio.get_running_loop().time() + self.wait
        while not done():
            failure = await self.lease.failure(job.id)
            if failure is not None:
                raise JobFailed(failure.stage, failure.error, timed_out=failure.timed_out)
            if asyncio.get_running_loop().time() > deadline:
                raise JobFailed("handoff", f"no control process made it within {self.wait:g} s")
            await asyncio.sleep(self.poll)

    def start(self, run: Callable[[JobRequest], object]) -> None:
        """Take the edges' requests from now on, each run by `run` (which submits it as a job of this process)."""
        self._taker = asyncio.get_running_loop().create_task(self._take_forever(run))

    async def _take_forever(self, run: Callable[[JobRequest], object]) -> None:
        while True:
            try:
                popped = await self.redis.brpop([self.key], timeout=TAKE_SECONDS)
            except RedisError as error:
                self.counts["errors"] += 1
                log.warning("media job requests: Redis failed (%s: %s)", type(error).__name__, error)
                await asyncio.sleep(self.poll)
                continue
            if popped is not None:
                self._run(run, popped[1])

    def _run(self, run: Callable[[JobRequest], object], raw: bytes | str) -> None:
        try:
            request = decode(raw)
        except (ValueError, TypeError, KeyError) as error:
            self.counts["bad"] += 1
            log.warning("media job request skipped: %s: %r", error, raw[:200])
            return
        self.counts["taken"] += 1
        run(request)

    async def stop(self) -> None:
        if self._taker is not None:
            self._taker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._taker

    def figures(self) -> dict[str, int]:
        return dict(self.counts)
