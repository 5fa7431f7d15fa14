"""The one outbound HTTP client: origin playlists, ad responses and ad playlists.

One aiohttp session per app (aiohttp's advice), a total timeout per request and a size limit, and every
failure mapped onto the error tree so the web layer answers 502/504 with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import aiohttp

from proxy.errors import HttpStatusError, OriginError, OriginTimeout


class Fetcher(Protocol):
    """What loads a URL: the origin client, or the ad server client with its egress policy and caps."""

    async def get(self, url: str, *, timeout: float, headers: Mapping[str, str] | None = None) -> bytes: ...


class HttpClient:
    def __init__(self, session: aiohttp.ClientSession, *, max_bytes: int) -> None:
        self.session = session
        self.max_bytes = max_bytes
        self.requests = 0  # counted so tests can prove coalescing

    async def get(
        self, url: str, *, timeout: float, headers: Mapping[str, str] | None = None, beacon: bool = False
    ) -> bytes:
        """The body of a 200 answer; with `beacon`, any 2xx/3xx counts (tracking pixels answer 204 or 302)."""
        self.requests += 1
        try:
            async with asyncio.timeout(timeout):
                async with self.session.get(url, headers=headers, allow_redirects=True) as response:
                    if response.status != 200 and not (beacon and 200 <= response.status < 400):
                        message = f"GET {url} answered HTTP {response.status}: expected 200"
                        raise HttpStatusError(message, response.status)
                    body = await response.content.read(self.max_bytes + 1)
        except TimeoutError:
            raise OriginTimeout(f"GET {url} took longer than {timeout:g} s") from None
        except aiohttp.ClientError as error:
            raise OriginError(f"GET {url} failed: {error.__class__.__name__}: {error}") from None
        if len(body) > self.max_bytes:
            raise OriginError(f"GET {url} returned more than {self.max_bytes} bytes")
        return body

    async def download(self, url: str, path: Path, *, timeout: float, max_bytes: int) -> int:
        """Stream a 200 answer's body into `path` (a creative or slate source: megabytes, never held in
        memory), refused as soon as it passes `max_bytes`; the number of bytes written."""
        try:
            async with asyncio.timeout(timeout):
                async with self.session.get(url, allow_redirects=True) as response:
                    if response.status != 200:
                        raise OriginError(f"GET {url} answered HTTP {response.status}: expected 200")
                    return await _stream_to(response, path, url, max_bytes)
        except TimeoutError:
            raise OriginTimeout(f"GET {url} took longer than {timeout:g} s") from None
        except aiohttp.ClientError as error:
            raise OriginError(f"GET {url} failed: {error.__class__.__name__}: {error}") from None


async def _stream_to(response: aiohttp.ClientResponse, path: Path, url: str, max_bytes: int) -> int:
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise OriginError(f"GET {url} declares {declared} bytes: expected at most {max_bytes}")
    size = 0
    with path.open("wb") as out:
        async for chunk in response.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > max_bytes:
                raise OriginError(f"GET {url} returned more than {max_bytes} bytes")
            out.write(chunk)
    return size


def new_session(connector: aiohttp.TCPConnector | None = None) -> aiohttp.ClientSession:
    """`connector` defaults to a pooled one; pass `proxy.egress.egress_connector(policy)` for ad-side requests
    (`trust_env=False`: an environment proxy would hide the address the egress check must see)."""
    connector = connector or aiohttp.TCPConnector(limit=256, limit_per_host=64, ttl_dns_cache=300)
    return aiohttp.ClientSession(connector=connector, headers={"User-Agent": "ssai-proxy"}, trust_env=False)
