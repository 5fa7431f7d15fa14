"""One session's media playlist request through the whole ASGI app, in process: CORS middleware, routing, the
handler, the session lookup and the cached render — everything a player's refresh costs but the socket and the
HTTP parser (those are bench.http_ratio's). The origin is a test origin on 127.0.0.1; once the session's window is
fetched, the timed requests never suspend, so the poller does not run between them.

Run: `python -m bench.playlist_request` (best of `--rounds`). For an instruction count that a loaded machine does
not move, run it twice under `valgrind --tool=callgrind` with `--rounds 1` and two `--requests` values: the
difference of the totals divided by the difference of the counts is the instructions per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from starlette.applications import Starlette
from starlette.types import Message

from proxy.demo.testing import FakeOrigin, free_port, local_settings, run_server
from proxy.settings import ChannelConfig
from proxy.web.app import create_app


async def request(app: Starlette, method: str, target: str) -> tuple[int, bytes]:
    """One request through the ASGI app; its status and body."""
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"proxy.example"), (b"origin", b"http://player.example")],
        "client": ("127.0.0.1", 50000),
        "server": ("proxy.example", 80),
    }
    answer: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        answer.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in answer if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in answer if m["type"] == "http.response.body")


async def lifespan(app: Starlette) -> Callable[[], Awaitable[None]]:
    """Starts the app's lifespan; returns the coroutine function that shuts it down."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    started = asyncio.Event()

    async def send(message: Message) -> None:
        if message["type"].startswith("lifespan.startup"):
            started.set()

    task = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send))
    await inbox.put({"type": "lifespan.startup"})
    await started.wait()

    async def shutdown() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await task

    return shutdown


async def media_path(app: Starlette) -> str:
    """A new session's first video variant, fetched once so its window exists."""
    status, body = await request(app, "POST", "/v1/ssai/session/bench/main.m3u8")
    assert status == 200, (status, body)
    master_url = urljoin("http://proxy.example/v1/ssai/session/bench/main.m3u8", json.loads(body)["manifestUrl"])
    master_path = urlsplit(master_url)
    status, master = await request(app, "GET", f"{master_path.path}?{master_path.query}")
    assert status == 200, (status, master)
    variant = next(line for line in master.decode().splitlines() if line and not line.startswith("#"))
    media = urlsplit(urljoin(master_url, variant))
    target = f"{media.path}?{media.query}" if media.query else media.path
    status, body = await request(app, "GET", target)
    assert status == 200 and b"#EXTINF" in body, (status, body[:200])
    return target


async def measure(origin: str, data_dir: Path, requests: int, rounds: int) -> float:
    channel = ChannelConfig(name="bench", origin=f"{origin}/master.m3u8")
    app = create_app(local_settings(data_dir=data_dir).with_channels({"bench": channel}))
    shutdown = await lifespan(app)
    try:
        target = await media_path(app)
        best = float("inf")
        for _ in range(rounds):
            start = time.perf_counter_ns()
            for _ in range(requests):
                await request(app, "GET", target)
            best = min(best, (time.perf_counter_ns() - start) / requests)
        return best
    finally:
        await shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds; the best is reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, run_server(FakeOrigin().app, free_port()) as origin:
        best = asyncio.run(measure(origin, Path(folder), args.requests, args.rounds))
    print(f"media playlist request, in process: {best / 1000:.2f} µs (best of {args.rounds} × {args.requests})")


if __name__ == "__main__":
    main()
