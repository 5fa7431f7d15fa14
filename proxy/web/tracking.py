"""The tracking API, the session's beacon log, and the click redirect of its clickThrough URLs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy.playback import player, urls
from proxy.playback.tracking import tracking_document
from proxy.web.responses import JSONResponse, redirect
from proxy.web.state import service_of


async def tracking(request: Request) -> Response:
    params = request.path_params
    service = service_of(request)
    session = await service.session(params["channel"], params["session"])
    return JSONResponse(await tracking_document(service.sessions, session, service.clicks.counts, service.events))


async def events(request: Request) -> Response:
    """The session's beacons and what became of them (fired by the proxy, or listed for the player to fire).
    Reading them does not keep the session alive: only playing does."""
    params = request.path_params
    service = service_of(request)
    session = await service.session(params["channel"], params["session"], keep_alive=False)
    return JSONResponse(service.events.document(session))


async def click(request: Request) -> Response:
    """A 302 to the ad's landing page; with server-side beacons its ClickTracking is queued once."""
    params = request.path_params
    service = service_of(request)
    session = await service.session(params["channel"], params["session"])
    return redirect(await player.click(service, session, params["ad"]))


routes = [
    Route(urls.TRACKING, tracking, methods=["GET"]),
    Route(urls.SESSION_EVENTS, events, methods=["GET"]),
    Route(urls.CLICK, click, methods=["GET"]),
]
