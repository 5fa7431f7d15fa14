"""The services the app's lifespan keeps in `app.state`, typed for the handlers."""

from __future__ import annotations

from starlette.requests import Request

from proxy.control.plane import ControlPlane, own_account
from proxy.playback.service import Service
from proxy.web.telemetry import Telemetry


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def telemetry_of(request: Request) -> Telemetry:
    telemetry: Telemetry = request.app.state.telemetry
    return telemetry


def control_of(request: Request) -> ControlPlane:
    control: ControlPlane = request.app.state.control
    return control


async def api_key_account(request: Request) -> tuple[ControlPlane, str]:
    """The Live SSAI API's credential and the account it acts on (the path's `account_id`, when given, must be its
    own)."""
    control = control_of(request)
    principal = await control.by_api_key(request.headers.get("x-api-key"))
    return control, own_account(principal, request.path_params.get("account_id"))
