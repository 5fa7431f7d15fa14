"""The tracking API's session initialisation: `POST /v1/ssai/session/{channel}/{name}.m3u8` answers the session's
manifest and tracking URLs. The viewer and the reporting mode are read here for the master route's implicit
initialisation too (proxy/web/playlists.py)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy.errors import BadRequest
from proxy.playback import player, urls
from proxy.playback.sessions import Client
from proxy.web.limits import BodyLimit
from proxy.web.responses import JSONResponse, read_body
from proxy.web.state import service_of


async def _body_document(request: Request) -> dict[str, Any]:
    raw = await read_body(request, BodyLimit.SESSION)
    if not raw.strip():
        return {}
    try:
        document: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest(f"body {raw[:60]!r}: expected a JSON object") from None
    if not isinstance(document, dict):
        raise BadRequest(f"body {raw[:60]!r}: expected a JSON object")
    return document


def _ad_params(document: dict[str, Any]) -> dict[str, str]:
    field = "adsParams." if "adsParams" in document else ""
    params = document.get("adsParams", {k: v for k, v in document.items() if k != "reportingMode"})
    if not isinstance(params, dict):
        raise BadRequest(f"adsParams {params!r}: expected an object of strings")
    bad = {
        key: value
        for key, value in params.items()
        if not isinstance(value, str | int | float) or isinstance(value, bool)
    }
    if bad:
        raise BadRequest(f"{field}{next(iter(bad))} = {next(iter(bad.values()))!r}: expected a string or number")
    return {key: str(value) for key, value in params.items()}


REPORTING_MODES = ("client", "server")


def client_reporting(mode: object) -> bool:
    """MediaTailor's `reportingMode`: "client" makes the player fire the beacons from the tracking API. The one
    check for every way a player sends it: the session POST's body or query, and the master GET's query."""
    if mode not in REPORTING_MODES:
        raise BadRequest(f"reportingMode = {mode!r}: expected one of {list(REPORTING_MODES)}")
    return mode == "client"


def client_of(request: Request) -> Client:
    """The viewer: X-Forwarded-For's first address when a load balancer set it, else the peer (the Live SSAI API)."""
    headers = request.headers
    raw = headers.get("x-forwarded-for", "")
    peer = request.client.host if request.client else ""
    return Client(raw.split(",")[0].strip() or peer, headers.get("user-agent", ""), headers.get("referer", ""), raw)


async def create_session(request: Request) -> Response:
    channel = request.path_params["channel"]
    document = await _body_document(request)
    query = dict(request.query_params)
    by_client = client_reporting(document.get("reportingMode", query.pop("reportingMode", "server")))
    params = {**query, **_ad_params(document)}
    service = service_of(request)
    session = await service.create_session(channel, params, client_of(request), by_client)
    pages = player.page_names(service, session)
    return JSONResponse(
        {
            "manifestUrl": urls.manifest_url(channel, session.id, pages),
            "trackingUrl": urls.tracking_url(channel, session.id),
        }
    )


routes = [Route(urls.SESSION, create_session, methods=["POST"])]
