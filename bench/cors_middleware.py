"""What CORS adds to one request, in process (no network, no wrk): the same playlist route of a Starlette app
without CORS, behind proxy/web/cors.py (any origin, and a restricted list) and behind Starlette's CORSMiddleware.
Best of several runs, so a loaded machine's other processes disturb it little. Run: `python -m bench.cors_middleware`.
"""

from __future__ import annotations

import asyncio
import json
import time

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Scope

from proxy.web.cors import PLAYER_HEADERS, PLAYER_METHODS, CorsMiddleware, Policy
from proxy.web.responses import PlaylistResponse

BODY = b"#EXTINF:6.000,\nseg.ts\n" * 10
ORIGIN = b"http://player.example"
PATH = "/v1/ssai/media/demo/0123456789abcdef/v0.m3u8"
SCOPE: Scope = {
    "type": "http",
    "method": "GET",
    "path": PATH,
    "raw_path": PATH.encode(),
    "query_string": b"",
    "headers": [(b"host", b"proxy"), (b"origin", ORIGIN), (b"user-agent", b"bench")],
    "http_version": "1.1",
    "scheme": "http",
    "server": ("127.0.0.1", 80),
    "client": ("127.0.0.1", 1),
    "root_path": "",
}


async def media(request: Request) -> Response:
    return PlaylistResponse(BODY)


def apps() -> dict[str, ASGIApp]:
    routes = [Route("/v1/ssai/media/{channel}/{session}/{track}.m3u8", media)]

    def lean(*origins: str) -> Middleware:
        return Middleware(CorsMiddleware, player=Policy("-", origins, PLAYER_METHODS, PLAYER_HEADERS), control=None)

    return {
        "no_cors": Starlette(routes=routes),
        "lean_any": Starlette(routes=routes, middleware=[lean("*")]),
        "lean_list": Starlette(routes=routes, middleware=[lean(ORIGIN.decode())]),
        "starlette_any": Starlette(routes=routes, middleware=[Middleware(CORSMiddleware, allow_origins=["*"])]),
    }


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Message) -> None:
    return None


async def per_request_us(app: ASGIApp, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        await app(dict(SCOPE), receive, send)
    return (time.perf_counter() - started) / count * 1e6


async def measure(runs: int = 7, count: int = 20_000) -> dict[str, float]:
    found = apps()
    best = dict.fromkeys(found, float("inf"))
    for app in found.values():
        await per_request_us(app, 1000)  # warm up
    for _ in range(runs):  # alternate, keep the best of each
        for name, app in found.items():
            best[name] = min(best[name], await per_request_us(app, count))
    return {f"{name}_us": round(value, 2) for name, value in best.items()}


def main() -> None:
    print(json.dumps(asyncio.run(measure()), indent=2))


if __name__ == "__main__":
    main()
