"""Media pipeline routes: the transcoded renditions (when no CDN serves the asset folder) and the job list.

The job list is an account's, under its credential (`X-API-KEY` or a bearer token): the jobs its channels and
slates asked for. A job shared with another account (the same creative or slate source) is listed to both; its
record names no account, so neither learns who else uses it. What every account's jobs add up to is the
operator's, in `/metrics`.
"""

from __future__ import annotations

import re
from collections import Counter

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from proxy.control.plane import ControlPlane
from proxy.errors import NotFound
from proxy.playback import urls
from proxy.playback.service import Service
from proxy.web.responses import M3U8, JSONResponse

# A part never starts with a dot: no "..", and the ".work" folder of builds in progress stays private.
_PART = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
MEDIA_TYPES = {".m3u8": M3U8, ".ts": "video/mp2t", ".m4s": "video/iso.segment", ".mp4": "video/mp4"}
# A folder is keyed by (profile, creative) and never rewritten in place, so players and CDNs may keep it.
IMMUTABLE = {"Cache-Control": "public, max-age=86400"}


async def asset(request: Request) -> Response:
    service: Service = request.app.state.service
    relative: str = request.path_params["path"]
    parts = relative.split("/")
    suffix = "." + parts[-1].rpartition(".")[2]
    if not all(_PART.fullmatch(part) for part in parts) or suffix not in MEDIA_TYPES:
        raise NotFound(f"asset {relative[:200]!r}: expected PROFILE/CREATIVE/RENDITION/FILE")
    path = service.assets.root.joinpath(*parts)
    if not path.is_file():
        raise NotFound(f"asset {relative[:200]!r} does not exist (not transcoded yet, or cleaned up)")
    return FileResponse(path, media_type=MEDIA_TYPES[suffix], headers=IMMUTABLE)


async def jobs(request: Request) -> Response:
    control: ControlPlane = request.app.state.control
    principal = await control.by_either(request.headers, write=False)
    service: Service = request.app.state.service
    own = service.jobs.of_account(principal.account_id)
    return JSONResponse({"counts": dict(Counter(job.state for job in own)), "jobs": [job.as_dict() for job in own]})


routes = [
    Route(urls.ASSET, asset, methods=["GET", "HEAD"]),
    Route("/v1/ssai/jobs", jobs, methods=["GET"]),
]
