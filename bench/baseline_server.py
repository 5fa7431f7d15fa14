"""The HTTP benchmark's baseline: a server of its own that answers a recorded stitched playlist's bytes without
any work, so bench/http_ratio.py measures what stitching costs against the same bytes over the same stack.

The proxy's stack, minus its work: uvicorn as `ssai-proxy serve` runs it, a Starlette app with the proxy's CORS
middleware and its playlist response, one route at the media playlist's path. The bytes come from outside: the
benchmark fetches a stitched playlist from the proxy and hands the file over; the proxy keeps no copy.

Run: `python -m bench.baseline_server --port PORT --body FILE`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy.playback import urls
from proxy.settings import Settings, from_env
from proxy.web import cors
from proxy.web.responses import PlaylistResponse


def create_baseline_app(body: bytes, settings: Settings) -> Starlette:
    """An app answering `body` as a media playlist at every media playlist path, with the CORS of `settings`."""

    async def playlist(request: Request) -> Response:
        return PlaylistResponse(body)

    routes = [Route(urls.MEDIA, playlist, methods=["GET"])]
    return Starlette(routes=routes, middleware=cors.middleware(settings))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_server", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True, help="the port to listen on (127.0.0.1)")
    parser.add_argument("--body", type=Path, required=True, help="the recorded playlist's bytes")
    args = parser.parse_args(argv)
    app = create_baseline_app(args.body.read_bytes(), from_env(os.environ))
    # As `ssai-proxy serve` runs the proxy (proxy/cli.py): the two sides differ only in the work done.
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        loop="auto",
        http="auto",
        access_log=False,
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
