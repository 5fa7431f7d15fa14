"""Creatives shared through Redis: a decision names its creatives by key, and each is written once for the cluster
(`{prefix}:c:{digest of its key}`), so that another process can lay that decision over its own break."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from redis.asyncio import Redis

from proxy.hls.fill import Creative
from proxy.net.redis_client import pipeline
from proxy.playback.store import codec

CREATIVE_TTL = 7 * 86_400  # written again by any process that shares a decision with it
CREATIVES_KEPT = 4096  # decoded creatives a process keeps


class SharedCreatives:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis, self.prefix = redis, prefix
        self.known: dict[str, Creative] = {}  # by key: written or read by this process
        self._written: set[str] = set()

    def _name(self, key: str) -> str:
        return f"{self.prefix}:c:{codec.creative_id(key)}"

    async def fetch(self, keys: Iterable[str]) -> Mapping[str, Creative]:
        """Every creative of `keys` this process or the store has (one round trip for those it lacks); a
        RedisError when Redis does not answer."""
        missing = sorted({key for key in keys if key not in self.known})
        if missing:
            raws = await self.redis.mget([self._name(key) for key in missing])
            if len(self.known) + len(missing) > CREATIVES_KEPT:
                self.known.clear()
            for key, raw in zip(missing, raws, strict=True):
                if raw is not None:
                    self.known[key] = codec.decode_creative(raw)
        return self.known

    async def write(self, creatives: Iterable[Creative]) -> None:
        """Store the creatives this process has not written yet (a RedisError when Redis does not answer)."""
        new = {creative.key: creative for creative in creatives if creative.key not in self._written}
        if not new:
            return
        async with pipeline(self.redis, transaction=False) as pipe:
            for key, creative in new.items():
                pipe.set(self._name(key), codec.encode_creative(creative), ex=CREATIVE_TTL)
            await pipe.execute()
        self._written.update(new)
        for key, creative in new.items():
            self.known.setdefault(key, creative)
