"""Playback routes of seed 000: session initialisation, master and media playlists, tracking."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy.errors import BadRequest, NotFound
from proxy.playback import urls
from proxy.playback.service import Service
from proxy.playback.sessions import Client, Session
from proxy.playback.tracking import tracking_document
from proxy.web.limits import BodyLimit
from proxy.web.responses import JSONResponse, PlaylistResponse, read_body


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _player_params(request: Request) -> dict[str, str]:
    """A master request's query parameters as ad parameters (MediaTailor's ads.* prefix stripped). A player that
    appends `?x=1` to a manifestUrl already holding `?session_id=…` (seed 002's `playlist.m3u8?deviceid=…`
    pattern) makes the session id `ID?x=1`: what follows its `?` is parameters too."""
    params = {key.removeprefix("ads."): value for key, value in request.query_params.items()}
    session_id, mark, rest = params.get("session_id", "").partition("?")
    if mark:
        params["session_id"] = session_id
        params.update((key.removeprefix("ads."), value) for key, value in parse_qsl(rest, keep_blank_values=True))
    return params


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


def _client_reporting(mode: object) -> bool:
    """MediaTailor's `reportingMode`: "client" makes the player fire the beacons from the tracking API. The one
    check for every way a player sends it: the session POST's body or query, and the master GET's query."""
    if mode not in REPORTING_MODES:
        raise BadRequest(f"reportingMode = {mode!r}: expected one of {list(REPORTING_MODES)}")
    return mode == "client"


def _client(request: Request) -> Client:
    """The viewer: X-Forwarded-For's first address when a load balancer set it, else the peer (seed 002)."""
    headers = request.headers
    raw = headers.get("x-forwarded-for", "")
    peer = request.client.host if request.client else ""
    return Client(raw.split(",")[0].strip() or peer, headers.get("user-agent", ""), headers.get("referer", ""), raw)


async def create_session(request: Request) -> Response:
    channel = request.path_params["channel"]
    document = await _body_document(request)
    query = dict(request.query_params)
    client_reporting = _client_reporting(document.get("reportingMode", query.pop("reportingMode", "server")))
    params = {**query, **_ad_params(document)}
    service = _service(request)
    session = await service.create_session(channel, params, _client(request), client_reporting)
    pages = service.decisions.page_names(service.runtime_of(session).config)
    return JSONResponse(
        {
            "manifestUrl": urls.manifest_url(channel, session.id, pages),
            "trackingUrl": urls.tracking_url(channel, session.id),
        }
    )


async def master(request: Request) -> Response:
    channel = request.path_params["channel"]
    service = _service(request)
    params = _player_params(request)
    session_id = params.pop("session_id", None)
    client_reporting = _client_reporting(params.pop("reportingMode", "server"))
    if session_id is None:
        # Implicit initialisation: the query parameters are the session's ad parameters. With client-side
        # macros not in them, a 302 to the manifestUrl that lists them (seed 003) lets the player fill them in.
        session = await service.create_session(channel, params, _client(request), client_reporting)
        pages = service.decisions.page_names(service.runtime_of(session).config)
        if any(name not in params for name in pages):
            return _redirect(urls.manifest_url(channel, session.id, tuple(n for n in pages if n not in params)))
    else:
        # Parameters a player appends to its manifestUrl (seed 002 `?deviceid=…`, seed 003 `+ "&x=1"`, the
        # page.* values it filled in) apply to the breaks not decided yet.
        session = service.session(channel, session_id)  # its reporting mode was chosen when it was made
        if params:
            service.add_params(session, params)
    runtime = service.runtime_of(session)
    await runtime.start()
    assert runtime.master is not None
    return PlaylistResponse(runtime.master.render(session.id))


async def media(request: Request) -> Response:
    params = request.path_params
    service = _service(request)
    session = service.session(params["channel"], params["session"])
    runtime = service.runtime_of(session)
    poller = runtime.poller(params["track"])
    if poller.window is None and poller.error is None:
        await poller.first.wait()  # only the first request of a track waits for its first fetch
    return PlaylistResponse(runtime.playlist(session, params["track"]))


def _segment_request(request: Request, what: str) -> tuple[Service, Session, int]:
    """The session and the item number of a redirect request (`…/{item}` is `N.ts`)."""
    params = request.path_params
    service = _service(request)
    session = service.session(params["channel"], params["session"])
    number = params["item"].partition(".")[0]
    if not number.isdigit():
        raise NotFound(f"{what} {params['item']!r}: expected N.ts")
    return service, session, int(number)


def _redirect(url: str) -> Response:
    return Response(status_code=302, headers={"Location": url, "Cache-Control": "no-store"})


async def ad_segment(request: Request) -> Response:
    """Issue #6: a 302 to the real ad segment; the session's beacons for it are queued, never awaited."""
    service, session, number = _segment_request(request, "ad segment")
    config = service.runtime_of(session).config
    params = request.path_params
    return _redirect(service.impressions.segment(config, session, params["track"], params["brk"], number))


async def content_segment(request: Request) -> Response:
    """Issue #6: a 302 to the origin's segment, for configurations whose beacon templates need content requests."""
    service, session, number = _segment_request(request, "content segment")
    params = request.path_params
    runtime = service.runtime_of(session)
    poller = runtime.poller(params["track"])
    if poller.window is None and poller.error is None:
        await poller.first.wait()  # a rendition nobody had asked for yet
    window = poller.current()
    return _redirect(service.impressions.content(runtime.config, session, window, number))


async def click(request: Request) -> Response:
    """A 302 to the ad's landing page; with server-side beacons its ClickTracking is queued once."""
    params = request.path_params
    service = _service(request)
    session = service.session(params["channel"], params["session"])
    return _redirect(service.clicks.click(service.runtime_of(session).config, session, params["ad"]))


async def tracking(request: Request) -> Response:
    params = request.path_params
    service = _service(request)
    session = service.session(params["channel"], params["session"])
    return JSONResponse(tracking_document(session, service.clicks.counts, service.events))


async def events(request: Request) -> Response:
    """The session's beacons and what became of them (fired by the proxy, or listed for the player to fire).
    Reading them does not keep the session alive: only playing does."""
    params = request.path_params
    service = _service(request)
    session = service.session(params["channel"], params["session"], keep_alive=False)
    return JSONResponse(service.events.document(session))


routes = [
    Route(urls.SESSION, create_session, methods=["POST"]),
    Route(urls.SESSION, master, methods=["GET"]),  # seed 002 "Appending the URL"
    Route(urls.MASTER, master, methods=["GET"]),
    Route(urls.MEDIA, media, methods=["GET"]),
    Route(urls.AD_SEGMENT, ad_segment, methods=["GET"]),
    Route(urls.CONTENT_SEGMENT, content_segment, methods=["GET"]),
    Route(urls.TRACKING, tracking, methods=["GET"]),
    Route(urls.SESSION_EVENTS, events, methods=["GET"]),
    Route(urls.CLICK, click, methods=["GET"]),
]
