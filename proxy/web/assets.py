"""Transcoded renditions of ads and slates, served when no CDN serves the asset folder."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from proxy.errors import NotFound
from proxy.playback import urls
from proxy.web.responses import M3U8
from proxy.web.state import service_of

# A part never starts with a dot: no "..", and the ".work" folder of builds in progress stays private.
_PART = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
MEDIA_TYPES = {".m3u8": M3U8, ".ts": "video/mp2t", ".m4s": "video/iso.segment", ".mp4": "video/mp4"}
# A folder is keyed by (profile, creative) and never rewritten in place, so players and CDNs may keep it.
IMMUTABLE = {"Cache-Control": "public, max-age=86400"}


async def asset(request: Request) -> Response:
    service = service_of(request)
    relative: str = request.path_params["path"]
    parts = relative.split("/")
    suffix = "." + parts[-1].rpartition(".")[2]
    if not all(_PART.fullmatch(part) for part in parts) or suffix not in MEDIA_TYPES:
        raise NotFound(f"asset {relative[:200]!r}: expected PROFILE/CREATIVE/RENDITION/FILE")
    path = service.assets.root.joinpath(*parts)
    if not path.is_file():
        raise NotFound(f"asset {relative[:200]!r} does not exist (not transcoded yet, or cleaned up)")
    return FileResponse(path, media_type=MEDIA_TYPES[suffix], headers=IMMUTABLE)


routes = [Route(urls.ASSET, asset, methods=["GET", "HEAD"])]
