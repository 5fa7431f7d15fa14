"""One route per path, and JSON for the router's own refusals (no route, a method the path has not).

Starlette tries routes in order and answers 405 from the first one whose path matches, with that route's
methods only: `PUT /v1/ssai/channels/x` found the GET route first and said `Allow: GET, HEAD`, though PUT and
DELETE are served there. Routes of one path are merged here into one route whose `Allow` is every method
registered for the path (RFC 9110 §15.5.6: a 405 "MUST generate an Allow header field … containing a list of
the target resource's currently supported methods").
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from proxy.web.responses import error_response


class MethodDispatch:
    """The ASGI app of one path: each method's own route app. Route.handle refuses other methods first."""

    def __init__(self, apps: dict[str, ASGIApp]) -> None:
        self.apps = apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.apps[scope["method"]](scope, receive, send)


def _merged(group: list[Route]) -> Route:
    if len(group) == 1:
        return group[0]
    apps = {method: route.app for route in reversed(group) for method in route.methods or ()}
    first = group[0]
    return Route(first.path, MethodDispatch(apps), methods=sorted(apps), name=first.name)


def by_path(routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    """`routes` with the `Route`s of one path merged into one, at the place of the first; others as they are."""
    groups: dict[str, list[Route]] = {}
    merged: list[BaseRoute | str] = []
    for route in routes:
        if isinstance(route, Route):
            if route.path not in groups:
                merged.append(route.path)
            groups.setdefault(route.path, []).append(route)
        else:
            merged.append(route)
    return [_merged(groups[item]) if isinstance(item, str) else item for item in merged]


async def http_error(request: Request, exc: Exception) -> Response:
    """The router's 404 and 405 as every other API error: `{"error": …}`, keeping the 405's `Allow`."""
    assert isinstance(exc, HTTPException)
    path = request.url.path[:200]
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"method {request.method!r} on {path!r}: expected one of {allowed}"
    elif exc.status_code == 404:
        message = f"path {path!r}: no such route (the routes are listed at /openapi.json)"
    else:
        message = f"{request.method} {path!r}: {exc.detail}"
    response = error_response(exc.status_code, message)
    response.headers.update(exc.headers or {})
    return response
