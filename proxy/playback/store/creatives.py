"""The parts of decisions shared through Redis: a frozen decision names its creatives by key and its ads by the id
of their list, and each creative and ad list is written once for the cluster (`{prefix}:c:{digest of the key}`,
`{prefix}:a:{digest of the list}`). A shared decision gives every session the same ads, so a million sessions'
decisions of one break hold one copy of its VAST data; another process reads them to lay a decision over its own
break."""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis

from proxy.ads.models import Ad
from proxy.hls.fill import Creative
from proxy.net.redis_client import pipeline
from proxy.playback.store import codec
from proxy.playback.store.base import FrozenDecision

PART_TTL = 7 * 86_400  # seconds; written again by any process that freezes a decision with it
PARTS_KEPT = 4096  # decoded creatives (and ad lists) a process keeps
WRITTEN_KEPT = 65_536  # names a process remembers having written (forgotten ones are written again)


class SharedCreatives:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis, self.prefix = redis, prefix
        self.creatives: dict[str, Creative] = {}  # by key: written or read by this process
        self.ad_lists: dict[str, tuple[Ad, ...]] = {}  # by id
        self._written: set[str] = set()  # names of the keys this process wrote

    def _creative(self, key: str) -> str:
        return f"{self.prefix}:c:{codec.creative_id(key)}"

    def _ads(self, ads_id: str) -> str:
        return f"{self.prefix}:a:{ads_id}"

    def decode(self, raw: bytes | str) -> FrozenDecision:
        """A frozen decision from what this process holds; a KeyError for a part it has not fetched."""
        return codec.decode_decision(raw, self.creatives, self.ad_lists)

    async def fetch(self, raws: Iterable[bytes | str]) -> None:
        """The parts of these frozen decisions this process lacks, in one round trip (RedisError: no answer)."""
        raws = list(raws)
        creatives = sorted({key for raw in raws for key in codec.creative_keys(raw) if key not in self.creatives})
        ad_lists = sorted({ref for raw in raws if (ref := codec.ads_ref(raw)) and ref not in self.ad_lists})
        if not creatives and not ad_lists:
            return
        names = [self._creative(key) for key in creatives] + [self._ads(ref) for ref in ad_lists]
        values = await self.redis.mget(names)
        if len(self.creatives) + len(self.ad_lists) + len(names) > PARTS_KEPT:
            self.creatives.clear()
            self.ad_lists.clear()
        for key, value in zip(creatives, values, strict=False):
            if value is not None:
                self.creatives[key] = codec.decode_creative(value)
        for ref, value in zip(ad_lists, values[len(creatives) :], strict=True):
            if value is not None:
                self.ad_lists[ref] = codec.decode_ads(value)

    async def write(self, frozen: FrozenDecision) -> None:
        """Store the decision's creatives and ad list that this process has not written yet (RedisError: no
        answer)."""
        parts: dict[str, bytes] = {}
        for creative in codec.creatives_of(frozen):
            parts[self._creative(creative.key)] = codec.encode_creative(creative)
            self.creatives.setdefault(creative.key, creative)
        if frozen.ads:
            ref = codec.ads_id(frozen.ads)
            parts[self._ads(ref)] = codec.encode_ads(frozen.ads)
            self.ad_lists.setdefault(ref, frozen.ads)
        new = {name: value for name, value in parts.items() if name not in self._written}
        if not new:
            return
        async with pipeline(self.redis, transaction=False) as pipe:
            for name, value in new.items():
                pipe.set(name, value, ex=PART_TTL)
            await pipe.execute()
        if len(self._written) > WRITTEN_KEPT:  # personal decisions make an ad list per session and break
            self._written.clear()
        self._written.update(new)
