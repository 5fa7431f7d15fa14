"""Responses whose bodies are already bytes: nothing is serialised on the hot path but JSON for the APIs."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

M3U8 = "application/vnd.apple.mpegurl"


class PlaylistResponse(Response):
    media_type = M3U8

    def __init__(self, body: bytes) -> None:
        super().__init__(body, headers={"Cache-Control": "no-cache"})


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
