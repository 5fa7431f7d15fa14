"""The Video Cloud SSAI API under /v1/accounts/{account_id}/ssai_configs, with `Authorization: Bearer`
(tokens from proxy/web/oauth.py).

Tokens of a `video-cloud/video/read` client may list and get; changes need `video-cloud/video/all` (403). A
token never reaches another account's configurations: they are not found (404).
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
from proxy.web.responses import JSONResponse, read_body, timestamp
from proxy.web.schemas import SSAI_SERVER_FIELDS, SsaiConfig, decode_object, merge_ssai_config, parse
from proxy.web.state import control_of


def config_document(stored: Stored) -> dict[str, Any]:
    return {
        **stored.document,
        "config_id": stored.id,
        "account_id": stored.account_id,
        "created_timestamp": timestamp(stored.created_at),
        "updated_timestamp": timestamp(stored.updated_at),
    }


async def _account(request: Request, *, write: bool) -> tuple[ControlPlane, str]:
    control = control_of(request)
    principal = await control.by_bearer(request.headers.get("authorization"), write=write)
    return control, own_account(principal, request.path_params["account_id"])


async def _owned(control: ControlPlane, account: str, config_id: str) -> Stored:
    stored = await control.ssai_configs.get(account, config_id)
    if stored is None:
        raise NotFound(f"ssai_config {config_id!r} does not exist")
    return stored


async def list_configs(request: Request) -> Response:
    control, account = await _account(request, write=False)
    return JSONResponse([config_document(s) for s in await control.ssai_configs.list(account)])


async def create_config(request: Request) -> Response:
    control, account = await _account(request, write=True)
    body = parse(SsaiConfig, await read_body(request, BodyLimit.CONTROL))
    stored = await control.create_ssai_config(account, body.model_dump(mode="json"))
    return JSONResponse(config_document(stored))


async def get_config(request: Request) -> Response:
    control, account = await _account(request, write=False)
    return JSONResponse(config_document(await _owned(control, account, request.path_params["config_id"])))


async def update_config(request: Request) -> Response:
    """A partial update, as its documentation's sample `{"name": …}` shows: merged into the stored config, then checked.
    The whole GET answer may be sent: its config_id, account_id and timestamps must be the stored ones."""
    control, account = await _account(request, write=True)
    config_id = request.path_params["config_id"]
    raw = decode_object(await read_body(request, BodyLimit.CONTROL))
    stored = await _owned(control, account, config_id)
    patch = without_read_only(raw, current_values(config_document(stored), sorted(SSAI_SERVER_FIELDS)))
    merged = merge_ssai_config(stored.document, patch).model_dump(mode="json")
    updated = await control.update_ssai_config(account, config_id, merged)
    if updated is None:  # deleted meanwhile
        raise NotFound(f"ssai_config {config_id!r} does not exist")
    return JSONResponse(config_document(updated))


async def delete_config(request: Request) -> Response:
    control, account = await _account(request, write=True)
    config_id = request.path_params["config_id"]
    if not await control.delete_ssai_config(account, config_id):
        raise NotFound(f"ssai_config {config_id!r} does not exist")
    return Response(status_code=204)


CONFIGS = "/v1/accounts/{account_id}/ssai_configs"

routes = [
    Route(CONFIGS, list_configs, methods=["GET"]),
    Route(CONFIGS, create_config, methods=["POST"]),
    Route(CONFIGS + "/{config_id}", get_config, methods=["GET"]),
    Route(CONFIGS + "/{config_id}", update_config, methods=["PUT"]),
    Route(CONFIGS + "/{config_id}", delete_config, methods=["DELETE"]),
]
