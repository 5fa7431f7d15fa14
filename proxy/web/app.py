"""The app factory: routes, the lifespan that owns the HTTP client and the services, error mapping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from proxy.ads.config import compile_ad_config
from proxy.control.channelstore import ChannelDirectory
from proxy.control.plane import ControlPlane
from proxy.errors import PlaylistParseError, ProxyError
from proxy.net.egress import EgressPolicy
from proxy.net.origin import HttpClient, new_session
from proxy.playback.service import Service
from proxy.settings import Settings, configure_logging, from_process_env, metrics_dir
from proxy.web import (
    applications,
    assets,
    channels,
    cors,
    jobs,
    metrics,
    oauth,
    openapi,
    playlists,
    routing,
    sessions,
    slates,
    ssai_configs,
    tracking,
)
from proxy.web.responses import JSONResponse, error_response
from proxy.web.telemetry import Telemetry

log = logging.getLogger("proxy.web")


async def proxy_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProxyError)
    if exc.status_code >= 500:
        excerpt = f" (the body read {exc.excerpt!r})" if isinstance(exc, PlaylistParseError) else ""
        log.warning("%s %s: %s%s", request.method, request.url.path, exc.message, excerpt)
    return error_response(exc.status_code, exc.message)


async def health(request: Request) -> Response:
    service: Service = request.app.state.service
    settings: Settings = request.app.state.settings
    return JSONResponse({"status": "ok", "role": settings.role, "sessions": len(service.sessions)})


async def _directory(settings: Settings, control: ControlPlane, service: Service) -> ChannelDirectory:
    """Every channel of the store (the channel file's stored by ControlPlane.open) played and kept in step."""
    directory = ChannelDirectory(control.channels, service.set_channels, service.schedule, settings.config_refresh)
    control.on_change = directory.refresh
    await directory.refresh()
    directory.start()
    return directory


# What each role serves (SSAI_ROLE, `serve --role`): edges answer players, control processes the control APIs;
# both answer /healthz, /metrics and the OpenAPI document of what they serve.
PLAYBACK_ROUTES: tuple[BaseRoute, ...] = (*sessions.routes, *playlists.routes, *tracking.routes, *assets.routes)
CONTROL_ROUTES: tuple[BaseRoute, ...] = (
    *jobs.routes,
    *slates.routes,
    *applications.routes,
    *oauth.routes,
    *ssai_configs.routes,
    *channels.routes,
)
COMMON_ROUTES: tuple[BaseRoute, ...] = (Route("/healthz", health), *metrics.routes)
OPENAPI_ROUTE = Route("/openapi.json", openapi.endpoint_of(()))
ROLE_ROUTES = {
    "all": (*PLAYBACK_ROUTES, *CONTROL_ROUTES),
    "edge": PLAYBACK_ROUTES,
    "control": CONTROL_ROUTES,
}


def create_app(settings: Settings, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        policy = EgressPolicy(settings.egress_allow_private, settings.egress_allow_loopback)
        # One egress-checked pool for every fetch, origins included. The per-host cap is AdServerClient's; the
        # pool must not be a tighter one (aiohttp's default is 100). Two clients: origin and ad-side counts.
        async with new_session(policy, limit=0, limit_per_host=0) as http:
            origin = HttpClient(http, max_bytes=settings.origin_max_bytes)
            service = Service(settings, origin, HttpClient(http, max_bytes=settings.origin_max_bytes))
            await service.start()
            app.state.service, app.state.settings = service, settings
            app.state.control = control = await ControlPlane.open(settings, service.pipeline)
            directory = await _directory(settings, control, service)
            sweeper = asyncio.ensure_future(service.sweep_forever())
            app.state.telemetry = telemetry = Telemetry(
                service, multiprocess_dir=metrics_dir(settings) if settings.workers > 1 else None
            )
            telemetry.start()
            listener = metrics.MetricsListener(settings, service, telemetry) if settings.metrics_listen else None
            try:
                yield
            finally:
                if listener is not None:
                    await listener.close()
                await telemetry.close()
                await directory.close()
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
                await service.close()
                await control.close()

    for channel in settings.channels.values():
        compile_ad_config(channel)  # a bad ad tag, header or stylesheet stops the start, naming the field
    if settings.metrics_listen:
        metrics.listen_address(settings.metrics_listen)  # a bad address stops the start, naming the setting
    openapi.check_routes([*PLAYBACK_ROUTES, *CONTROL_ROUTES, *COMMON_ROUTES, OPENAPI_ROUTE])
    routes = [*ROLE_ROUTES[settings.role], *COMMON_ROUTES]
    routes += [Route(OPENAPI_ROUTE.path, openapi.endpoint_of(routes)), *extra_routes]
    return Starlette(
        routes=routing.by_path(routes),
        lifespan=lifespan,
        exception_handlers={ProxyError: proxy_error, HTTPException: routing.http_error},
        middleware=cors.middleware(settings),  # players on pages of other origins (Fetch standard, CORS)
    )


def app_from_env() -> Starlette:
    """The app of one `serve --workers N` process: uvicorn imports it by name in each worker, whose settings come
    from the environment the command line filled (proxy.cli); the parent holds the data directory."""
    settings = from_process_env()
    configure_logging(settings.log_level, log_format=settings.log_format)
    return create_app(settings)
