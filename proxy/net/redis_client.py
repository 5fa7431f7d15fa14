"""The process's one Redis client (redis-py's asyncio client, hiredis parser when installed): shared state of a
cluster (sessions, beacon journal) goes through its connection pool."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis

# Short timeouts: a Redis that does not answer must degrade a request (the session store's and the beacon journal's
# fallbacks), not hold it for the client's default of forever.
TIMEOUT = 2.0
# Connections per process. A herd's prefetch starts hundreds of decisions at once, each a few commands: past the
# pool's size they queue for a connection (for at most TIMEOUT) instead of failing, as redis-py's default pool does
# past its 100 (MaxConnectionsError). 64 keeps a cluster of many edges and workers well under Redis's maxclients.
CONNECTIONS = 64


def redis_client(url: str) -> Redis:
    """A client for `url` (redis://host:port/db, rediss:// for TLS); it connects on first use."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=CONNECTIONS,
        timeout=TIMEOUT,
        socket_timeout=TIMEOUT,
        socket_connect_timeout=TIMEOUT,
        health_check_interval=30,
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it


@contextlib.asynccontextmanager
async def pipeline(redis: Redis, *, transaction: bool = False) -> AsyncIterator[Any]:
    """One round trip for many commands. redis-py types the commands queued on a pipeline as awaitables, which they
    are not (`execute()` runs them all), so the pipeline is handed out untyped rather than ignored line by line."""
    async with redis.pipeline(transaction=transaction) as pipe:
        yield pipe


def text(value: bytes | str) -> str:
    """A reply as text: this client answers bytes (no decode_responses), typed as either."""
    return value.decode() if isinstance(value, bytes) else value
