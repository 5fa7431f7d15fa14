"""The Live SSAI API under /v1/ssai: applications (ad configurations), by `X-API-KEY`.

Request and response shapes are the API's documented ones: create answers `{"application": …, "inserted": true}`,
update and get the application itself, list an array, delete `{"application_id", "deleted": true}`. `account_id`
in a body or path is optional and must be the key's own account; another account's ids are not found (404). A body a GET
answered can be sent back with PUT: its read-only fields are checked, not written (proxy/web/readonly.py).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy.control.documents import Stored
from proxy.control.plane import ControlPlane, own_account
from proxy.errors import NotFound
from proxy.web.limits import BodyLimit
from proxy.web.readonly import current_values, without_read_only
from proxy.web.responses import JSONResponse, read_body
from proxy.web.schemas import ApplicationBody, decode_object, parse, validate
from proxy.web.state import api_key_account, control_of

APPLICATION_READ_ONLY = ("application_id", "account_id")


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
    stored = await control.create_application(account, document)
    return JSONResponse({"application": application_document(stored), "inserted": True})


async def update_application(request: Request) -> Response:
    """The whole body, as its documentation's update; what a GET answered may be sent back (read-only fields equal)."""
    control, account = await api_key_account(request)
    app_id = request.path_params["application_id"]
    stored = await control.applications.get(account, app_id)
    if stored is None:
        raise NotFound(f"application {app_id!r} does not exist")
    current = current_values(application_document(stored), APPLICATION_READ_ONLY)
    raw = decode_object(await read_body(request, BodyLimit.CONTROL))
    body = validate(ApplicationBody, without_read_only(raw, current))
    updated = await control.update_application(account, app_id, body.model_dump(mode="json", exclude={"account_id"}))
    if updated is None:  # deleted meanwhile
        raise NotFound(f"application {app_id!r} does not exist")
    return JSONResponse(application_document(updated))


async def list_applications(request: Request) -> Response:
    control, account = await api_key_account(request)
    return JSONResponse([application_document(s) for s in await control.applications.list(account)])


async def get_application(request: Request) -> Response:
    control, account = await api_key_account(request)
    app_id = request.path_params["application_id"]
    stored = await control.applications.get(account, app_id)
    if stored is None:
        raise NotFound(f"application {app_id!r} does not exist")
    return JSONResponse(application_document(stored))


async def delete_application(request: Request) -> Response:
    control, account = await api_key_account(request)
    app_id = request.path_params["application_id"]
    if not await control.delete_application(account, app_id):
        raise NotFound(f"application {app_id!r} does not exist")
    return JSONResponse({"application_id": app_id, "deleted": True})


APPS = "/v1/ssai/applications"
routes = [
    Route(APPS, create_application, methods=["POST"]),
    Route(APPS + "/account/{account_id}", list_applications, methods=["GET"]),
    Route(APPS + "/application/{application_id}", get_application, methods=["GET"]),
    Route(APPS + "/application/{application_id}", update_application, methods=["PUT"]),
    Route(APPS + "/application/{application_id}", delete_application, methods=["DELETE"]),
]
