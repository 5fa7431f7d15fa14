"""The one outbound HTTP client: origin and creative playlists, ad responses, beacons, creative downloads.

One aiohttp session per app (aiohttp's advice) whose connector enforces the egress policy on every address it
connects to (proxy/net/egress.py); redirects are followed here, at most `MAX_REDIRECTS`, each target checked by the
policy before it is asked. A body is read to its end or to the size cap, under one total timeout:
`response.content.read(n)` returns what has arrived so far, which is a cut playlist when the origin stalls.
Every failure is an `OriginError` (502/504) whose message never quotes what the upstream sent, counted by kind.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiohttp
from yarl import URL

from proxy.errors import BodyTooLarge, BodyTruncated, FetchRefused, HttpStatusError, OriginError, OriginTimeout
from proxy.net.egress import EgressConnector, EgressPolicy, EgressRefused, egress_connector

log = logging.getLogger("proxy.net.origin")
T = TypeVar("T")
MAX_REDIRECTS = 10  # aiohttp's default
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class Fetcher(Protocol):
    """What loads a URL: the origin client, or the ad server client with its egress policy and caps."""

    async def get(self, url: str, *, timeout: float, headers: Mapping[str, str] | None = None) -> bytes: ...


class HttpClient:
    """Fetches through a session made by `new_session(policy)`: no other session is accepted."""

    def __init__(self, session: aiohttp.ClientSession, *, max_bytes: int) -> None:
        connector = session.connector
        if not isinstance(connector, EgressConnector):
            raise TypeError(
                "HttpClient needs a session from proxy.net.origin.new_session(policy): every fetch is checked"
            )
        self.session = session
        self.policy: EgressPolicy = connector.policy
        self.max_bytes = max_bytes
        self.requests = 0  # counted so tests can prove coalescing
        self.errors: Counter[str] = Counter()  # failures by OriginError.kind, for /metrics
        self.observe: Callable[[float], None] | None = None  # told the seconds of each `get` (/metrics histogram)

    def figures(self) -> dict[str, Any]:
        """Requests made and failures by kind, for /metrics."""
        return {"requests": self.requests, "errors": dict(self.errors)}

    async def get(
        self, url: str, *, timeout: float, headers: Mapping[str, str] | None = None, beacon: bool = False
    ) -> bytes:
        """The body of a 200 answer; with `beacon`, any 2xx/3xx counts (tracking pixels answer 204 or 302)."""
        self.requests += 1

        async def body(response: aiohttp.ClientResponse) -> bytes:
            if response.status != 200 and not (beacon and 200 <= response.status < 400):
                raise HttpStatusError(f"GET {url} answered HTTP {response.status}: expected 200", response.status)
            return await read_body(response, url, self.max_bytes)

        started = time.monotonic()
        try:
            return await self._fetch(url, timeout, headers, body)
        finally:
            if self.observe is not None:
                self.observe(time.monotonic() - started)

    async def download(self, url: str, path: Path, *, timeout: float, max_bytes: int) -> int:
        """Stream a 200 answer's body into `path` (a creative or slate source: megabytes, never held in
        memory), refused as soon as it passes `max_bytes`; the number of bytes written."""

        async def save(response: aiohttp.ClientResponse) -> int:
            if response.status != 200:
                raise HttpStatusError(f"GET {url} answered HTTP {response.status}: expected 200", response.status)
            return await _stream_to(response, path, url, max_bytes)

        return await self._fetch(url, timeout, None, save)

    def count(self, error: OriginError) -> None:
        """Count a failure found in a fetched body by its reader (a playlist that does not parse)."""
        self.errors[error.kind] += 1

    async def _fetch(
        self,
        url: str,
        timeout: float,
        headers: Mapping[str, str] | None,
        use: Callable[[aiohttp.ClientResponse], Awaitable[T]],
    ) -> T:
        try:
            try:
                async with asyncio.timeout(timeout):
                    async with await self._follow(url, headers) as response:
                        return await use(response)
            except (TimeoutError, aiohttp.ClientError) as error:
                raise _failure(url, timeout, error) from None
        except OriginError as error:
            self.count(error)
            raise

    async def _follow(self, url: str, headers: Mapping[str, str] | None) -> aiohttp.ClientResponse:
        """The first answer that is not a redirect. Each URL asked passes the policy first (scheme, credentials,
        literal addresses, forbidden names); the connector checks the address it resolves to."""
        target = url
        for _ in range(MAX_REDIRECTS + 1):
            self._check(url, target)
            response = await self.session.get(target, headers=headers, allow_redirects=False)
            location = response.headers.get("Location")
            if response.status not in REDIRECTS or not location:
                return response
            response.release()
            try:
                target = str(response.url.join(URL(location)))
            except ValueError:
                raise OriginError(f"GET {url} redirected to a Location that is not a URL") from None
        raise OriginError(f"GET {url} redirected more than {MAX_REDIRECTS} times")

    def _check(self, url: str, target: str) -> None:
        try:
            self.policy.check_url(target)
        except EgressRefused as refused:
            hop = "" if target == url else " (redirected)"
            raise FetchRefused(f"GET {url}{hop} refused by the egress policy: {refused.message}") from None


def _failure(url: str, timeout: float, error: TimeoutError | aiohttp.ClientError) -> OriginError:
    """The error tree's name for an aiohttp failure, chosen by its type. aiohttp's own text is kept only for
    connection errors: a protocol error's text can quote bytes the upstream sent."""
    if isinstance(error, TimeoutError):
        return OriginTimeout(f"GET {url} took longer than {timeout:g} s")
    if isinstance(error, aiohttp.ClientPayloadError):
        return BodyTruncated(f"GET {url}: the body ended before its announced length (connection closed)")
    if isinstance(error, aiohttp.ClientConnectorError) and isinstance(error.os_error, EgressRefused):
        return FetchRefused(f"GET {url} refused by the egress policy: {error.os_error.message}")
    if isinstance(error, aiohttp.ClientOSError):
        return OriginError(f"GET {url} failed: {error.__class__.__name__}: {error}")
    log.info("GET %s failed: %s: %s", url, error.__class__.__name__, str(error)[:200])
    return OriginError(f"GET {url} failed: {error.__class__.__name__}")


async def read_body(response: aiohttp.ClientResponse, url: str, max_bytes: int) -> bytes:
    """The whole body, or `BodyTooLarge` as soon as it passes `max_bytes` (a Content-Length over it is refused
    unread); a connection closed before the announced length raises aiohttp's `ClientPayloadError`."""
    _check_declared(response, url, max_bytes)
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > max_bytes:
            raise BodyTooLarge(f"GET {url} returned more than {max_bytes} bytes")
    return bytes(body)


async def _stream_to(response: aiohttp.ClientResponse, path: Path, url: str, max_bytes: int) -> int:
    _check_declared(response, url, max_bytes)
    size = 0
    with path.open("wb") as out:
        async for chunk in response.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > max_bytes:
                raise BodyTooLarge(f"GET {url} returned more than {max_bytes} bytes")
            out.write(chunk)
    return size


def _check_declared(response: aiohttp.ClientResponse, url: str, max_bytes: int) -> None:
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise BodyTooLarge(f"GET {url} declares {declared} bytes: expected at most {max_bytes}")


def new_session(policy: EgressPolicy, **connector_options: Any) -> aiohttp.ClientSession:
    """The session every outbound fetch goes through: its connector refuses what `policy` refuses (on resolved
    addresses, at connect time). `connector_options` go to aiohttp's TCPConnector (default: a pool of 256, 64
    per host). `trust_env=False`: an environment proxy would hide the address the egress check must see."""
    options: dict[str, Any] = {"limit": 256, "limit_per_host": 64, "ttl_dns_cache": 300, **connector_options}
    connector = egress_connector(policy, **options)
    return aiohttp.ClientSession(connector=connector, headers={"User-Agent": "ssai-proxy"}, trust_env=False)
