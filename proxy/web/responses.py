"""Responses whose bodies are already bytes: nothing is serialised on the hot path but JSON for the APIs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from proxy.errors import BadRequest, RequestTooLarge
from proxy.web.limits import BodyLimit

M3U8 = "application/vnd.apple.mpegurl"


class PlaylistResponse(Response):
    media_type = M3U8

    def __init__(self, body: bytes) -> None:
        super().__init__(body, headers={"Cache-Control": "no-cache"})


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def redirect(url: str) -> Response:
    """A 302 that caches do not keep (RFC 9111 §5.2.2.5): each redirect of a session may fire its beacons."""
    return Response(status_code=302, headers={"Location": url, "Cache-Control": "no-store"})


def timestamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # the APIs' RFC 3339 UTC form


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def read_body(request: Request, limit: BodyLimit) -> bytes:
    """The body, refused (413) by its Content-Length or as soon as it passes `limit`: a huge POST is never held
    in memory."""
    declared = request.headers.get("content-length")
    if declared is not None and not declared.isdigit():
        raise BadRequest(f"Content-Length {declared!r}: expected a number of bytes")
    if declared is not None and int(declared) > limit:
        raise RequestTooLarge(int(declared), limit)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise RequestTooLarge(len(raw), limit, complete=False)
    return bytes(raw)
