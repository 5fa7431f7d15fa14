"""Every request the proxy makes on an ad server's say-so: ad tags, wrapper redirects, creative playlists.

They go through one aiohttp session whose connector enforces the egress policy on resolved addresses
(proxy/egress.py), at most `concurrency` requests in flight per ad server host (a herd must not flatten an
ad server, reference/perf-reliability.md §2.3), and identical requests in flight at once share one answer
(single-flight).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from urllib.parse import urlsplit

from proxy.egress import EgressPolicy, EgressRefused
from proxy.errors import OriginError
from proxy.origin import HttpClient


class AdServerClient:
    def __init__(self, client: HttpClient, policy: EgressPolicy, *, concurrency: int) -> None:
        self.client = client
        self.policy = policy
        self.concurrency = concurrency
        self.requests: Counter[str] = Counter()  # per host: what each ad server was asked, for tests and metrics
        self.shared = 0  # requests answered by another identical one already in flight
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._inflight: dict[tuple[str, tuple[tuple[str, str], ...]], asyncio.Future[bytes]] = {}

    async def get(self, url: str, *, timeout: float, headers: Mapping[str, str] | None = None) -> bytes:
        key = (url, tuple(sorted((headers or {}).items())))
        pending = self._inflight.get(key)
        if pending is not None:
            self.shared += 1
            return await asyncio.shield(pending)
        future = asyncio.ensure_future(self._get(url, timeout, headers))
        self._inflight[key] = future
        future.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(future)

    async def _get(self, url: str, timeout: float, headers: Mapping[str, str] | None) -> bytes:
        try:
            self.policy.check_url(url)
        except EgressRefused as refused:
            raise OriginError(refused.message) from None
        host = urlsplit(url).netloc.lower()
        limit = self._limits.get(host)
        if limit is None:
            limit = self._limits[host] = asyncio.Semaphore(self.concurrency)
        async with limit:
            self.requests[host] += 1
            return await self.client.get(url, timeout=timeout, headers=headers)
