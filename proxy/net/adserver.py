"""Every request the proxy makes on an ad server's say-so: ad tags, wrapper redirects, creative playlists.

They go through one aiohttp session whose connector enforces the egress policy on resolved addresses
(proxy/net/egress.py), at most `concurrency` requests in flight per ad server host (a herd must not flatten an
ad server: a break makes every session ask at once), and identical requests in flight at once share one answer
(single-flight).

A URL the egress policy refuses, before the request (its name, scheme or literal address) or after (the
addresses its name resolves to, a redirect's target), is never an ad server request: it raises `FetchRefused`,
final (nothing tries it again), and is counted in `refused` by host, not in `requests`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from proxy.errors import FetchRefused
from proxy.net.egress import EgressPolicy, EgressRefused
from proxy.net.origin import HttpClient

T = TypeVar("T")


class AdServerClient:
    """See the module docstring; `beacon()` sends a tracking request (egress-checked, uncapped, not shared)."""

    def __init__(self, client: HttpClient, policy: EgressPolicy, *, concurrency: int) -> None:
        self.client = client
        self.policy = policy
        self.concurrency = concurrency
        self.requests: Counter[str] = Counter()  # per host: what each ad server was asked, for tests and metrics
        self.refused: Counter[str] = Counter()  # per host: what the egress policy refused (never asked)
        self.shared = 0  # requests answered by another identical one already in flight
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._inflight: dict[tuple[str, tuple[tuple[str, str], ...]], asyncio.Future[bytes]] = {}

    def figures(self) -> dict[str, Any]:
        """Requests by host, those shared with one in flight, and those the egress policy refused, for /metrics."""
        return {"requests": dict(self.requests), "requests_shared": self.shared, "refused": dict(self.refused)}

    async def get(self, url: str, *, timeout: float, headers: Mapping[str, str] | None = None) -> bytes:
        """An ad decision request (ad tag, wrapper): capped per host."""
        return await self._shared(url, timeout, headers, capped=True)

    async def beacon(self, url: str, *, timeout: float, headers: Mapping[str, str] | None = None) -> None:
        host = self._checked(url)
        await self._counted(host, self.client.get(url, timeout=timeout, headers=headers, beacon=True))

    async def download(self, url: str, path: Path, *, timeout: float, max_bytes: int) -> int:
        """A creative's MediaFile for the media pipeline: egress-checked, neither capped nor shared (one job
        per creative already)."""
        host = self._checked(url)
        return await self._counted(host, self.client.download(url, path, timeout=timeout, max_bytes=max_bytes))

    def _checked(self, url: str) -> str:
        """The host of `url`, or `FetchRefused` (counted) when the policy refuses it before any request."""
        host = urlsplit(url).netloc.lower()
        try:
            self.policy.check_url(url)
        except EgressRefused as refused:
            self.refused[host] += 1
            raise FetchRefused(f"GET {url} refused by the egress policy: {refused.message}") from None
        return host

    async def _counted(self, host: str, fetch: Awaitable[T]) -> T:
        """`fetch`, counted as a request to `host`, or as refused when the policy refused it on the way (the
        addresses its name resolves to, a redirect): then nothing was asked of that host."""
        try:
            result = await fetch
        except FetchRefused:
            self.refused[host] += 1
            raise
        except BaseException:
            self.requests[host] += 1
            raise
        self.requests[host] += 1
        return result

    def media(self) -> MediaFetcher:
        """The same client for creative playlists: egress-checked and single-flight but not queued behind
        a herd's decision requests, or every decision would wait for the one creative load they share."""
        return MediaFetcher(self)

    async def _shared(self, url: str, timeout: float, headers: Mapping[str, str] | None, *, capped: bool) -> bytes:
        key = (url, tuple(sorted((headers or {}).items())))
        pending = self._inflight.get(key)
        if pending is not None:
            self.shared += 1
            return await asyncio.shield(pending)
        future = asyncio.ensure_future(self._get(url, timeout, headers, capped))
        self._inflight[key] = future
        future.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(future)

    async def _get(self, url: str, timeout: float, headers: Mapping[str, str] | None, capped: bool) -> bytes:
        host = self._checked(url)
        if not capped:
            return await self._counted(host, self.client.get(url, timeout=timeout, headers=headers))
        limit = self._limits.get(host)
        if limit is None:
            limit = self._limits[host] = asyncio.Semaphore(self.concurrency)
        async with limit:
            return await self._counted(host, self.client.get(url, timeout=timeout, headers=headers))


class MediaFetcher:
    """`AdServerClient.media()`: a `proxy.net.origin.Fetcher` for creative playlists."""

    def __init__(self, client: AdServerClient) -> None:
        self.client = client

    async def get(self, url: str, *, timeout: float, headers: Mapping[str, str] | None = None) -> bytes:
        return await self.client._shared(url, timeout, headers, capped=False)
