"""The process's Redis client (proxy/net/redis_client.py): a herd's burst of commands, more at once than the pool
has connections, queues for a connection rather than failing (redis-py's default pool raises MaxConnectionsError
past its 100), and the client never opens more connections than its pool allows."""

from __future__ import annotations

import asyncio

from proxy.net.redis_client import CONNECTIONS, redis_client
from tests.redisdb import REDIS, prefix

__all__ = ["prefix"]


async def test_a_burst_larger_than_the_pool_queues_instead_of_failing(prefix: str) -> None:
    redis = redis_client(REDIS)
    seen: list[int] = []

    async def one() -> int:
        count = int(await redis.incr(f"{prefix}:burst"))
        seen.append(len(redis.connection_pool._in_use_connections))
        return count

    try:
        counts = await asyncio.gather(*(one() for _ in range(CONNECTIONS * 8)))
    finally:
        await redis.aclose()
    assert sorted(counts) == list(range(1, CONNECTIONS * 8 + 1)), "every command ran once"
    assert max(seen) <= CONNECTIONS, f"at most {CONNECTIONS} connections at once, saw {max(seen)}"
