"""The process's one Redis client (redis-py's asyncio client, hiredis parser when installed): shared state of a
cluster (sessions, beacon journal) goes through its connection pool."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

# Short timeouts: a Redis that does not answer must degrade a request (the session store's and the beacon journal's
# fallbacks), not hold it for the client's default of forever.
TIMEOUT = 2.0


def redis_client(url: str) -> Redis:
    """A client for `url` (redis://host:port/db, rediss:// for TLS); it connects on first use."""
    return Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, health_check_interval=30)


@contextlib.asynccontextmanager
async def pipeline(redis: Redis, *, transaction: bool = False) -> AsyncIterator[Any]:
    """One round trip for many commands. redis-py types the commands queued on a pipeline as awaitables, which they
    are not (`execute()` runs them all), so the pipeline is handed out untyped rather than ignored line by line."""
    async with redis.pipeline(transaction=transaction) as pipe:
        yield pipe


def text(value: bytes | str) -> str:
    """A reply as text: this client answers bytes (no decode_responses), typed as either."""
    return value.decode() if isinstance(value, bytes) else value
