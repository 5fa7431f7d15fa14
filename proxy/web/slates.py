"""The Live SSAI API's slates under /v1/ssai/slates, by `X-API-KEY`: its documentation's add, list and delete, plus this
product's get, update (`PUT …/slate/{id}`, which moves the account's default) and retry (`POST …/slate/{id}/retry`,
for a slate in error). A body a GET answered can be sent back with PUT (proxy/web/readonly.py).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy.control.plane import ControlPlane, own_account
from proxy.control.slates import Slate
from proxy.errors import NotFound
from proxy.web.limits import BodyLimit
from proxy.web.readonly import current_values, without_read_only
from proxy.web.responses import JSONResponse, read_body
from proxy.web.schemas import SlateBody, SlateUpdate, decode_object, parse, validate
from proxy.web.state import api_key_account, control_of

SLATE_READ_ONLY = (
    "media_source_asset_id",
    "account_id",
    "media_source_asset_type",
    "media_source_asset_url",
    "media_source_asset_status",
    "media_source_asset_error",
)


async def add_slate(request: Request) -> Response:
    control = control_of(request)
    principal = await control.by_api_key(request.headers.get("x-api-key"))
    body = parse(SlateBody, await read_body(request, BodyLimit.CONTROL))
    account = own_account(principal, body.account_id)
    slate = await control.add_slate(account, body.source_url, body.source_description)
    return JSONResponse(control.slates.as_document(slate))  # its status when added, before anything else ran


async def list_slates(request: Request) -> Response:
    control, account = await api_key_account(request)
    return JSONResponse([control.slates.as_document(slate) for slate in await control.slates.of_account(account)])


async def _slate(request: Request) -> tuple[ControlPlane, str, Slate]:
    control, account = await api_key_account(request)
    slate_id = request.path_params["slate_id"]
    slate = await control.slates.get(account, slate_id)
    if slate is None:
        raise NotFound(f"slate {slate_id!r} does not exist")
    return control, account, slate


async def get_slate(request: Request) -> Response:
    control, _, slate = await _slate(request)
    return JSONResponse(control.slates.as_document(slate))


async def update_slate(request: Request) -> Response:
    """`media_source_asset_default: true` makes it the account's default (one per account, never one in error);
    the description may change. The rest of what a GET answered may be sent back unchanged."""
    control, _, slate = await _slate(request)
    current = current_values(control.slates.as_document(slate), SLATE_READ_ONLY)
    raw = decode_object(await read_body(request, BodyLimit.CONTROL))
    body = validate(SlateUpdate, without_read_only(raw, current))
    updated = await control.update_slate(
        slate, default=body.wanted_default, description=body.media_source_asset_description
    )
    if updated is None:  # deleted meanwhile
        raise NotFound(f"slate {slate.id!r} does not exist")
    return JSONResponse(control.slates.as_document(updated))


async def retry_slate(request: Request) -> Response:
    """A slate in error is prepared again at once (409 for one that is not in error)."""
    control, account, slate = await _slate(request)
    retried = await control.slates.retry(account, slate.id)
    if retried is None:  # deleted meanwhile
        raise NotFound(f"slate {slate.id!r} does not exist")
    return JSONResponse(control.slates.as_document(retried))


async def delete_slate(request: Request) -> Response:
    control, account = await api_key_account(request)
    slate_id = request.path_params["slate_id"]
    slate = await control.delete_slate(account, slate_id)
    if slate is None:
        raise NotFound(f"slate {slate_id!r} does not exist")
    return JSONResponse(control.slates.as_document(slate))


SLATES = "/v1/ssai/slates"
routes = [
    Route(SLATES, add_slate, methods=["POST"]),
    Route(SLATES + "/account/{account_id}", list_slates, methods=["GET"]),
    Route(SLATES + "/slate/{slate_id}", get_slate, methods=["GET"]),
    Route(SLATES + "/slate/{slate_id}", update_slate, methods=["PUT"]),
    Route(SLATES + "/slate/{slate_id}", delete_slate, methods=["DELETE"]),
    Route(SLATES + "/slate/{slate_id}/retry", retry_slate, methods=["POST"]),
]
