"""CORS (Fetch standard §3.2) for the routes a player and its page call: players live on pages of other origins.

A lean pure-ASGI middleware rather than Starlette's CORSMiddleware: the headers of each policy are built once,
and a response only gets them appended, so the playlist hot path pays one list extend. Which policy applies is
decided by path prefix, so routes added under these prefixes (the click redirect, …) are covered as they come:
player routes answer the origins of `SSAI_CORS_ORIGINS` (every origin by default); every other route (the control
API: keys, tokens, documents, /metrics) only those of `SSAI_CONTROL_CORS_ORIGINS` (none by default).

No `Access-Control-Allow-Credentials`: a session is named by its URLs, players send no cookies to the proxy.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proxy.playback import urls
from proxy.settings import Settings, origins_of

Header = tuple[bytes, bytes]

# What players and their pages call: session POST, playlists, tracking, the segment and click redirects,
# transcoded assets, and the demo's origin, ad server and player page.
PLAYER_PREFIXES = (*urls.PLAYER_PREFIXES, "/demo/")
PLAYER_METHODS = b"GET, HEAD, POST"
PLAYER_HEADERS = b"Content-Type"  # the session POST's JSON body is not a CORS-safelisted content type
CONTROL_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE"
# The Video Cloud SSAI API's bearer tokens, the Live SSAI API's API keys.
CONTROL_HEADERS = b"Authorization, Content-Type, X-API-Key"
# hls.js reads a live playlist's Age (a CDN's cache age) to place the live edge; the other headers a player
# reads (Content-Type, Cache-Control, Content-Length) are CORS-safelisted. Location is never readable.
EXPOSE: Header = (b"access-control-expose-headers", b"Age")
VARY: Header = (b"vary", b"Origin")
MAX_AGE: Header = (b"access-control-max-age", b"7200")  # Chromium's cap: one preflight per route for 2 hours


class Policy:
    """Who may read the responses of one group of routes, with every header list prebuilt."""

    def __init__(self, setting: str, origins: Sequence[str], methods: bytes, headers: bytes) -> None:
        self.setting = setting
        self.any = tuple(origins) == ("*",)
        if self.any:
            self.miss: list[Header] = [(b"access-control-allow-origin", b"*"), EXPOSE]
        else:  # the answer depends on Origin: caches must keep one per origin, granted or not
            self.miss = [VARY]
        self.granted = {o.encode(): [(b"access-control-allow-origin", o.encode()), EXPOSE, VARY] for o in origins}
        self.preflight = [
            (b"access-control-allow-methods", methods),
            (b"access-control-allow-headers", headers),
            MAX_AGE,
        ]

    def grant(self, origin: bytes | None) -> list[Header]:
        """The headers a response gets: a grant for `origin`, or for every origin, or only `Vary`."""
        if self.any or origin is None:
            return self.miss
        return self.granted.get(origin, self.miss)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class CorsMiddleware:
    def __init__(self, app: ASGIApp, player: Policy | None, control: Policy | None) -> None:
        self.app, self.player, self.control = app, player, control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.player if scope["path"].startswith(PLAYER_PREFIXES) else self.control
        if policy is None:
            await self.app(scope, receive, send)  # no grant: a preflight gets the router's 405
            return
        origin = None if policy.any else _header(scope, b"origin")
        if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method") is not None:
            await _preflight(policy, origin, send)
            return
        extra = policy.grant(origin)

        async def send_granted(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                if isinstance(headers, list):
                    headers.extend(extra)
                else:
                    message["headers"] = [*headers, *extra]
            await send(message)

        await self.app(scope, receive, send_granted)


async def _preflight(policy: Policy, origin: bytes | None, send: Send) -> None:
    """Fetch §3.2.3: 204 with the methods and headers allowed; a refused origin gets 403 saying which setting."""
    granted = policy.grant(origin)
    if granted is policy.miss and not policy.any:
        shown = (origin or b"").decode("latin-1")
        body = orjson.dumps({"error": f"origin {shown!r} is not allowed: not listed in {policy.setting}"})
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), VARY]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await send({"type": "http.response.start", "status": 204, "headers": [*granted, *policy.preflight]})
    await send({"type": "http.response.body", "body": b""})


def middleware(settings: Settings) -> list[Middleware]:
    """The CORS middleware for `settings`, or none at all when neither setting lists an origin."""
    player = origins_of("SSAI_CORS_ORIGINS", settings.cors_origins)
    control = origins_of("SSAI_CONTROL_CORS_ORIGINS", settings.control_cors_origins)
    if not player and not control:
        return []
    return [
        Middleware(
            CorsMiddleware,
            player=Policy("SSAI_CORS_ORIGINS", player, PLAYER_METHODS, PLAYER_HEADERS) if player else None,
            control=Policy("SSAI_CONTROL_CORS_ORIGINS", control, CONTROL_METHODS, CONTROL_HEADERS) if control else None,
        )
    ]
