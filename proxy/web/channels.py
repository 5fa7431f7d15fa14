"""Channels and cue points: this product's operator API, beside the two SSAI APIs.

`/v1/ssai/channels` with either credential of the two SSAI APIs (`X-API-KEY`, or a bearer token whose client may
write for changes). A channel ties an origin to an ad configuration (an application of the Live SSAI API or an
ssai_config of the Video Cloud SSAI API, by id) and a slate; `POST …/{name}/cuepoint` inserts a break now or `timecode`
seconds from now, shaped as Brightcove Live's cue point answer (`{"id", "cue_point": {…}}`). Channels of the
channel file are listed and take cue points, but are changed in the file, not here (409).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy.control.channelstore import StoredChannel
from proxy.control.plane import ControlPlane
from proxy.errors import BadRequest, Conflict, NotFound
from proxy.playback import urls
from proxy.web.limits import BodyLimit
from proxy.web.readonly import current_values, without_read_only
from proxy.web.responses import JSONResponse, read_body, timestamp
from proxy.web.schemas import ChannelBody, CuePointBody, decode_object, merge_channel, parse
from proxy.web.state import control_of, service_of

# What channel_document adds to the stored body (`name` is the body's own, never changed: merge_channel).
READ_ONLY = ("channel_id", "account_id", "source", "playback_url", "created_timestamp", "updated_timestamp")


def channel_document(stored: StoredChannel) -> dict[str, Any]:
    document = stored.document.get("file", stored.document)
    return {
        **document,
        "name": stored.name,
        "channel_id": stored.name,
        "account_id": stored.account_id,
        "source": "file" if stored.from_file else "api",
        "playback_url": urls.session_url(stored.name),
        "created_timestamp": timestamp(stored.created_at),
        "updated_timestamp": timestamp(stored.updated_at),
    }


async def _account(request: Request, *, write: bool) -> tuple[ControlPlane, str]:
    control = control_of(request)
    principal = await control.by_either(request.headers, write=write)
    return control, principal.account_id


async def _owned(control: ControlPlane, account: str, name: str) -> StoredChannel:
    stored = await control.channels.get(account, name)
    if stored is None:
        raise NotFound(f"channel {name!r} does not exist")
    return stored


def _fetchable_origin(request: Request, origin: str) -> None:
    """Refused when written if the egress policy refuses the origin's host as written (an address in a refused
    range, a metadata or loopback name). A name is not resolved here: what it resolves to when fetched is
    what counts, and every fetch checks it (proxy/net/origin.py)."""
    reason = service_of(request).ads.policy.host_refusal(urlsplit(origin).hostname or "")
    if reason is not None:
        raise BadRequest(f"origin = {origin!r}: refused by the egress policy: {reason}")


def _editable(stored: StoredChannel) -> None:
    if stored.from_file:
        raise Conflict(f"channel {stored.name!r} comes from the channel file: change it there, not through the API")


async def create_channel(request: Request) -> Response:
    control, account = await _account(request, write=True)
    body = parse(ChannelBody, await read_body(request, BodyLimit.CONTROL))
    _fetchable_origin(request, body.origin)
    stored = await control.create_channel(account, body.name, body.model_dump(mode="json"))
    return JSONResponse(channel_document(stored), status_code=201)


async def list_channels(request: Request) -> Response:
    control, account = await _account(request, write=False)
    return JSONResponse([channel_document(s) for s in await control.channels.of_account(account)])


async def get_channel(request: Request) -> Response:
    control, account = await _account(request, write=False)
    return JSONResponse(channel_document(await _owned(control, account, request.path_params["name"])))


async def update_channel(request: Request) -> Response:
    """Partial, as the Video Cloud SSAI API's updates: the given fields are merged into the stored channel, then
    checked. The whole GET answer may be sent: the fields the server sets must be unchanged."""
    control, account = await _account(request, write=True)
    name = request.path_params["name"]
    raw = decode_object(await read_body(request, BodyLimit.CONTROL))
    stored = await _owned(control, account, name)
    _editable(stored)
    patch = without_read_only(raw, current_values(channel_document(stored), READ_ONLY))
    merged = merge_channel(stored.document, patch).model_dump(mode="json")
    _fetchable_origin(request, merged["origin"])
    updated = await control.update_channel(account, name, merged)
    if updated is None:  # deleted meanwhile
        raise NotFound(f"channel {name!r} does not exist")
    return JSONResponse(channel_document(updated))


async def delete_channel(request: Request) -> Response:
    """Sessions already playing it go on until they expire; no new session starts."""
    control, account = await _account(request, write=True)
    name = request.path_params["name"]
    _editable(await _owned(control, account, name))
    if not await control.delete_channel(account, name):
        raise NotFound(f"channel {name!r} does not exist")
    return JSONResponse({"channel_id": name, "deleted": True})


def _cue_point(name: str, cuepoint: dict[str, Any]) -> dict[str, Any]:
    starts = datetime.fromtimestamp(cuepoint["starts_at"], UTC)
    return {
        "id": cuepoint["id"],
        "name": f"{name}-{cuepoint['id'][:8]}",
        "type": "AD",
        "duration": cuepoint["duration"],
        "starts_at": timestamp(starts),
        "ad_server_data": cuepoint["ad_server_data"],
        "accuracy": "segment",  # the break starts at the first segment the origin publishes from then on
    }


async def insert_cuepoint(request: Request) -> Response:
    control, account = await _account(request, write=True)
    name = request.path_params["name"]
    body = parse(CuePointBody, await read_body(request, BodyLimit.CONTROL))
    starts_at = time.time() + (body.timecode or 0.0)
    cuepoint = await control.add_cuepoint(account, name, starts_at, body.duration, body.ad_server_data)
    if cuepoint is None:
        raise NotFound(f"channel {name!r} does not exist")
    return JSONResponse({"id": name, "cue_point": _cue_point(name, cuepoint)})


async def list_cuepoints(request: Request) -> Response:
    control, account = await _account(request, write=False)
    name = request.path_params["name"]
    found = await control.channels.cuepoints_of(account, name)
    if found is None:
        raise NotFound(f"channel {name!r} does not exist")
    return JSONResponse([_cue_point(name, cuepoint) for cuepoint in found])


CHANNELS = "/v1/ssai/channels"
routes = [
    Route(CHANNELS, create_channel, methods=["POST"]),
    Route(CHANNELS, list_channels, methods=["GET"]),
    Route(CHANNELS + "/{name}", get_channel, methods=["GET"]),
    Route(CHANNELS + "/{name}", update_channel, methods=["PUT"]),
    Route(CHANNELS + "/{name}", delete_channel, methods=["DELETE"]),
    Route(CHANNELS + "/{name}/cuepoint", insert_cuepoint, methods=["POST"]),
    Route(CHANNELS + "/{name}/cuepoints", list_cuepoints, methods=["GET"]),
]
