"""Seed 002's Live SSAI API under /v1/ssai: applications (ad configurations) and slates, by `X-API-KEY`.

Request and response shapes are the seed's: create answers `{"application": …, "inserted": true}`, update and
get the application itself, list an array, delete `{"application_id", "deleted": true}`. `account_id` in a body
or path is optional and must be the key's own account; another account's ids are not found (404). A body a GET
answered can be sent back with PUT: its read-only fields are checked, not written (proxy/web/readonly.py).

Slates: the seed's add, list and delete, plus this product's get, update (`PUT …/slate/{id}`, which moves the
account's default) and retry (`POST …/slate/{id}/retry`, for a slate in error).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy.control.documents import Stored
from proxy.control.plane import ControlPlane, own_account
from proxy.control.slates import Slate
from proxy.errors import NotFound
from proxy.web.limits import BodyLimit
from proxy.web.readonly import current_values, without_read_only
from proxy.web.responses import JSONResponse, read_body
from proxy.web.schemas import ApplicationBody, SlateBody, SlateUpdate, decode_object, parse, validate

APPLICATION_READ_ONLY = ("application_id", "account_id")
SLATE_READ_ONLY = (
    "media_source_asset_id",
    "account_id",
    "media_source_asset_type",
    "media_source_asset_url",
    "media_source_asset_status",
    "media_source_asset_error",
)


def control_of(request: Request) -> ControlPlane:
    control: ControlPlane = request.app.state.control
    return control


def application_document(stored: Stored) -> dict[str, Any]:
    return {**stored.document, "application_id": stored.id, "account_id": stored.account_id}


async def _body(request: Request) -> tuple[ControlPlane, str, dict[str, Any]]:
    control = control_of(request)
    principal = await control.by_api_key(request.headers.get("x-api-key"))
    body = parse(ApplicationBody, await read_body(request, BodyLimit.CONTROL))
    account = own_account(principal, body.account_id)
    document = body.model_dump(mode="json", exclude={"account_id"})
    return control, account, document


async def create_application(request: Request) -> Response:
    control, account, document = await _body(request)
    stored = await control.applications.create(account, document)
    await control.changed()
    return JSONResponse({"application": application_document(stored), "inserted": True})


async def update_application(request: Request) -> Response:
    """The whole body, as the seed's update; what a GET answered may be sent back (read-only fields equal)."""
    control, account = await _principal_account(request)
    app_id = request.path_params["application_id"]
    stored = await control.applications.get(account, app_id)
    if stored is None:
        raise NotFound(f"application {app_id!r} does not exist")
    current = current_values(application_document(stored), APPLICATION_READ_ONLY)
    raw = decode_object(await read_body(request, BodyLimit.CONTROL))
    body = validate(ApplicationBody, without_read_only(raw, current))
    updated = await control.applications.update(account, app_id, body.model_dump(mode="json", exclude={"account_id"}))
    if updated is None:  # deleted meanwhile
        raise NotFound(f"application {app_id!r} does not exist")
    await control.changed()
    return JSONResponse(application_document(updated))


async def _principal_account(request: Request) -> tuple[ControlPlane, str]:
    control = control_of(request)
    principal = await control.by_api_key(request.headers.get("x-api-key"))
    return control, own_account(principal, request.path_params.get("account_id"))


async def list_applications(request: Request) -> Response:
    control, account = await _principal_account(request)
    return JSONResponse([application_document(s) for s in await control.applications.list(account)])


async def get_application(request: Request) -> Response:
    control, account = await _principal_account(request)
    app_id = request.path_params["application_id"]
    stored = await control.applications.get(account, app_id)
    if stored is None:
        raise NotFound(f"application {app_id!r} does not exist")
    return JSONResponse(application_document(stored))


async def delete_application(request: Request) -> Response:
    control, account = await _principal_account(request)
    app_id = request.path_params["application_id"]
    if await control.applications.get(account, app_id) is None:
        raise NotFound(f"application {app_id!r} does not exist")
    await control.channels.refuse_if_used(account, "application_id", app_id, "application")
    if not await control.applications.delete(account, app_id):
        raise NotFound(f"application {app_id!r} does not exist")
    return JSONResponse({"application_id": app_id, "deleted": True})


async def add_slate(request: Request) -> Response:
    control = control_of(request)
    principal = await control.by_api_key(request.headers.get("x-api-key"))
    body = parse(SlateBody, await read_body(request, BodyLimit.CONTROL))
    account = own_account(principal, body.account_id)
    slate = await control.slates.add(account, body.source_url, body.source_description)
    document = control.slates.as_seed(slate)  # its status when added, before anything else runs
    await control.changed()  # a first slate is the account's default, used by channels naming none
    return JSONResponse(document)


async def list_slates(request: Request) -> Response:
    control, account = await _principal_account(request)
    return JSONResponse([control.slates.as_seed(slate) for slate in await control.slates.of_account(account)])


async def _slate(request: Request) -> tuple[ControlPlane, str, Slate]:
    control, account = await _principal_account(request)
    slate_id = request.path_params["slate_id"]
    slate = await control.slates.get(account, slate_id)
    if slate is None:
        raise NotFound(f"slate {slate_id!r} does not exist")
    return control, account, slate


async def get_slate(request: Request) -> Response:
    control, _, slate = await _slate(request)
    return JSONResponse(control.slates.as_seed(slate))


async def update_slate(request: Request) -> Response:
    """`media_source_asset_default: true` makes it the account's default (one per account, never one in error);
    the description may change. The rest of what a GET answered may be sent back unchanged."""
    control, account, slate = await _slate(request)
    current = current_values(control.slates.as_seed(slate), SLATE_READ_ONLY)
    raw = decode_object(await read_body(request, BodyLimit.CONTROL))
    body = validate(SlateUpdate, without_read_only(raw, current))
    updated = await control.slates.update(
        account, slate.id, default=body.wanted_default, description=body.media_source_asset_description
    )
    if updated is None:  # deleted meanwhile
        raise NotFound(f"slate {slate.id!r} does not exist")
    if updated.default != slate.default:
        await control.changed()  # channels using the account's default play the new one in new sessions
    return JSONResponse(control.slates.as_seed(updated))


async def retry_slate(request: Request) -> Response:
    """A slate in error is prepared again at once (409 for one that is not in error)."""
    control, account, slate = await _slate(request)
    retried = await control.slates.retry(account, slate.id)
    if retried is None:  # deleted meanwhile
        raise NotFound(f"slate {slate.id!r} does not exist")
    return JSONResponse(control.slates.as_seed(retried))


async def delete_slate(request: Request) -> Response:
    control, account = await _principal_account(request)
    slate_id = request.path_params["slate_id"]
    if await control.slates.get(account, slate_id) is None:
        raise NotFound(f"slate {slate_id!r} does not exist")
    await control.channels.refuse_if_used(account, "slate_id", slate_id, "slate")
    slate = await control.slates.delete(account, slate_id)
    if slate is None:
        raise NotFound(f"slate {slate_id!r} does not exist")
    await control.changed()
    return JSONResponse(control.slates.as_seed(slate))


routes = [
    Route("/v1/ssai/slates", add_slate, methods=["POST"]),
    Route("/v1/ssai/slates/account/{account_id}", list_slates, methods=["GET"]),
    Route("/v1/ssai/slates/slate/{slate_id}", get_slate, methods=["GET"]),
    Route("/v1/ssai/slates/slate/{slate_id}", update_slate, methods=["PUT"]),
    Route("/v1/ssai/slates/slate/{slate_id}", delete_slate, methods=["DELETE"]),
    Route("/v1/ssai/slates/slate/{slate_id}/retry", retry_slate, methods=["POST"]),
    Route("/v1/ssai/applications", create_application, methods=["POST"]),
    Route("/v1/ssai/applications/account/{account_id}", list_applications, methods=["GET"]),
    Route("/v1/ssai/applications/application/{application_id}", get_application, methods=["GET"]),
    Route("/v1/ssai/applications/application/{application_id}", update_application, methods=["PUT"]),
    Route("/v1/ssai/applications/application/{application_id}", delete_application, methods=["DELETE"]),
]
