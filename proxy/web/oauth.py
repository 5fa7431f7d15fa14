"""The OAuth 2.0 client-credentials endpoint (RFC 6749 §4.4) that issues the Video Cloud SSAI API's bearer tokens:
`POST /v4/access_token`, Brightcove's."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy.control.accounts import TOKEN_SECONDS
from proxy.errors import Unauthorized
from proxy.web.limits import BodyLimit
from proxy.web.responses import JSONResponse, read_body
from proxy.web.state import control_of


def _oauth_error(status: int, error: str, description: str) -> Response:
    """RFC 6749 §5.2's error shape."""
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _client_credentials(request: Request, form: dict[str, list[str]]) -> tuple[str, str]:
    """From HTTP Basic (RFC 6749 §2.3.1, preferred) or the form's client_id/client_secret."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        return client_id, secret
    return form.get("client_id", [""])[0], form.get("client_secret", [""])[0]


async def access_token(request: Request) -> Response:
    raw = await read_body(request, BodyLimit.TOKEN_FORM)
    form = parse_qs(raw.decode(errors="replace")) | parse_qs(request.url.query)
    grant = form.get("grant_type", [""])[0]
    if grant != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", f"grant_type {grant!r}: expected 'client_credentials'")
    client_id, secret = _client_credentials(request, form)
    try:
        token = await control_of(request).issue_token(client_id, secret)
    except Unauthorized as error:
        return _oauth_error(401, "invalid_client", error.message)
    return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_SECONDS})


routes = [Route("/v4/access_token", access_token, methods=["POST"])]
