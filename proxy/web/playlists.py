"""A session's playlists (master, media) and the segment redirects written into them (server-side beacons):
the tracking API's playback path. A GET of the session URL is the Live SSAI API's implicit initialisation."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy.errors import NotFound
from proxy.playback import player, urls
from proxy.playback.service import Service
from proxy.playback.sessions import Session
from proxy.web.responses import PlaylistResponse, redirect
from proxy.web.sessions import client_of, client_reporting
from proxy.web.state import service_of, telemetry_of


def _player_params(request: Request) -> dict[str, str]:
    """A master request's query parameters as ad parameters (MediaTailor's ads.* prefix stripped). A player that
    appends `?x=1` to a manifestUrl already holding `?session_id=…` (the Live SSAI API's `playlist.m3u8?deviceid=…`
    pattern) makes the session id `ID?x=1`: what follows its `?` is parameters too."""
    params = {key.removeprefix("ads."): value for key, value in request.query_params.items()}
    session_id, mark, rest = params.get("session_id", "").partition("?")
    if mark:
        params["session_id"] = session_id
        params.update((key.removeprefix("ads."), value) for key, value in parse_qsl(rest, keep_blank_values=True))
    return params


async def master(request: Request) -> Response:
    channel = request.path_params["channel"]
    service = service_of(request)
    params = _player_params(request)
    session_id = params.pop("session_id", None)
    by_client = client_reporting(params.pop("reportingMode", "server"))
    if session_id is None:
        # Implicit initialisation: the query parameters are the session's ad parameters. With client-side
        # macros not in them, a 302 to the manifestUrl that lists them (the Video Cloud SSAI API) lets the player
        # fill them in.
        session = await service.create_session(channel, params, client_of(request), by_client)
        pages = player.page_names(service, session)
        if any(name not in params for name in pages):
            return redirect(urls.manifest_url(channel, session.id, tuple(n for n in pages if n not in params)))
    else:
        # Parameters a player appends to its manifestUrl (the Live SSAI API `?deviceid=…`, the Video Cloud SSAI API `+
        # "&x=1"`, the page.* values it filled in) apply to the breaks not decided yet.
        session = await service.session(channel, session_id)  # its reporting mode was chosen when it was made
        if params:
            await service.add_params(session, params)
    return PlaylistResponse(await player.master_playlist(service, session))


async def media(request: Request) -> Response:
    started = time.perf_counter()
    params = request.path_params
    service = service_of(request)
    try:
        # held: a session this process has seen answers without an await; another is loaded from the store
        session = service.held(params["channel"], params["session"]) or await service.session(
            params["channel"], params["session"]
        )
        return PlaylistResponse(await player.media_playlist(service, session, params["track"]))
    finally:
        telemetry_of(request).playlist.observe(time.perf_counter() - started)


async def _segment_request(request: Request, what: str) -> tuple[Service, Session, int]:
    """The session and the item number of a redirect request (`…/{item}` is `N.ts`)."""
    params = request.path_params
    service = service_of(request)
    session = await service.session(params["channel"], params["session"])
    number = params["item"].partition(".")[0]
    if not number.isdigit():
        raise NotFound(f"{what} {params['item']!r}: expected N.ts")
    return service, session, int(number)


async def ad_segment(request: Request) -> Response:
    """A 302 to the real ad segment; the session's beacons for it are queued, never awaited."""
    service, session, number = await _segment_request(request, "ad segment")
    params = request.path_params
    return redirect(await player.ad_segment(service, session, params["track"], params["brk"], number))


async def content_segment(request: Request) -> Response:
    """A 302 to the origin's segment, for configurations whose beacon templates need content requests."""
    service, session, number = await _segment_request(request, "content segment")
    return redirect(await player.content_segment(service, session, request.path_params["track"], number))


routes = [
    Route(urls.SESSION, master, methods=["GET"]),  # the Live SSAI API "Appending the URL"
    Route(urls.MASTER, master, methods=["GET"]),
    Route(urls.MEDIA, media, methods=["GET"]),
    Route(urls.AD_SEGMENT, ad_segment, methods=["GET"]),
    Route(urls.CONTENT_SEGMENT, content_segment, methods=["GET"]),
]
