"""Redis for tests: the server at 127.0.0.1:6379 (as on the development and CI machines), database 15, each test
under a key prefix of its own that is deleted afterwards (the `prefix` fixture, through the conftests). A machine
without Redis skips those with a message."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from proxy.demo.testing import free_port

REDIS = "redis://127.0.0.1:6379/15"


async def reachable() -> Redis:
    redis = Redis.from_url(REDIS, socket_timeout=5, socket_connect_timeout=5)
    try:
        await redis.ping()
    except (OSError, RedisError) as error:
        await redis.aclose()
        pytest.skip(f"Redis at {REDIS} is not reachable ({error}): these tests need it")
    return redis


def new_prefix() -> str:
    return f"ssai-test-{uuid.uuid4().hex[:12]}"


async def drop(prefix: str) -> int:
    """Delete every key under the prefix; how many there were."""
    redis = Redis.from_url(REDIS)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await redis.delete(*keys)
        return len(keys)
    finally:
        await redis.aclose()


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A prefix for one test's keys, on a reachable Redis; its keys go afterwards."""
    redis = await reachable()
    await redis.aclose()
    prefix = new_prefix()
    try:
        yield prefix
    finally:
        await drop(prefix)


def unreachable() -> Redis:
    """A client for a port nobody listens on: a Redis that is down."""
    return Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1, socket_timeout=1)
