"""The operator's counters: `/metrics` in the Prometheus text format (proxy/web/telemetry.py) and `/v1/ssai/stats`,
the same parts' figures as one JSON document. They name every account's channels, so they are not anyone's to read.

Who may read them (the settings, checked in this order):

- `metrics_listen` (host:port): served on a listener of its own, which the operator keeps off the public
  network; the proxy's listener answers 404;
- `metrics_token`: only a request with `Authorization: Bearer TOKEN` (RFC 6750 §2.1), on either listener;
  others get 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3);
- `metrics_open`: anyone (the demo's default: a single-user machine).

With none of them (`serve`'s default), 403 naming the three settings: a proxy that players reach must not tell
every key holder and viewer which channels other accounts run, and an operator who wants the counters
chooses how to keep them private rather than finding them public.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy.errors import ConfigError
from proxy.hls import markers
from proxy.playback.service import Service
from proxy.settings import Settings
from proxy.web.responses import JSONResponse, error_response
from proxy.web.telemetry import Telemetry

REFUSED = (
    "{path} is the operator's: set SSAI_METRICS_TOKEN (then send `Authorization: Bearer TOKEN`), "
    "SSAI_METRICS_LISTEN=host:port (a listener of its own) or SSAI_METRICS_OPEN=true (anyone may read it)"
)


def _prefixed(prefix: str, figures: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}_{name}": value for name, value in figures.items()}


def counters(service: Service) -> dict[str, Any]:
    """Each part's own figures, gathered: the service's, the origin and ad server clients', the beacons', …"""
    own = service.figures()
    decisions = service.decisions.figures()["decisions"]
    decisions.update({f"marker_skipped.{reason}": n for reason, n in markers.SKIPPED.items()})
    running = service.channels
    channels = {
        # A configured channel nobody has played yet has no runtime.
        name: rt.figures() if (rt := running.get(name)) is not None else {"breaks": 0, "sessions": 0, "tracks": []}
        for name in service.configs
    }
    return {
        "sessions": own["sessions"],
        "sessions_created": own["sessions_created"],
        "session_store": own["session_store"],
        "beacon_journal": own["beacon_journal"],
        "decision_flights": own["decision_flights"],
        **_prefixed("origin", service.client.figures()),
        **_prefixed("ad_server", service.ads.figures()),
        **service.beacons.figures(),
        **service.clicks.figures(),
        **service.jobs.figures(),
        "job_leases": own["job_leases"],
        "job_requests": own["job_requests"],
        "timelines": own["timelines"],
        "decisions": decisions,
        "breaks_clamped": own["breaks_clamped"],
        "channels": channels,
    }


def refusal(settings: Settings, request: Request, *, own_listener: bool) -> Response | None:
    """Why this request may not read the counters (the answer to send), or None when it may."""
    path = request.url.path
    if settings.metrics_listen and not own_listener:
        return error_response(404, f"{path} is served on the operator's listener (SSAI_METRICS_LISTEN), not here")
    if settings.metrics_token:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), settings.metrics_token.encode()):
            return None
        answer = error_response(401, f"{path}: expected `Authorization: Bearer` with the token of SSAI_METRICS_TOKEN")
        answer.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return answer
    if own_listener or settings.metrics_open:
        return None
    return error_response(403, REFUSED.format(path=path))


async def prometheus(request: Request) -> Response:
    state = request.app.state
    refused = refusal(state.settings, request, own_listener=getattr(state, "metrics_listener", False))
    if refused is not None:
        return refused
    telemetry: Telemetry = state.telemetry
    return Response(telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)


async def stats(request: Request) -> Response:
    state = request.app.state
    refused = refusal(state.settings, request, own_listener=getattr(state, "metrics_listener", False))
    return refused if refused is not None else JSONResponse(counters(state.service))


def listen_address(value: str) -> tuple[str, int]:
    """`host:port` (an IPv6 host in brackets: `[::1]:9100`)."""
    host, _, port = value.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"SSAI_METRICS_LISTEN has value {value!r}: expected host:port, e.g. 127.0.0.1:9100")
    return host, int(port)


class _Listener(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the proxy's own server owns the signals: this one stops when the proxy's lifespan ends


class MetricsListener:
    """`/metrics` and `/v1/ssai/stats` alone on `metrics_listen`, in the proxy's event loop, reading its service."""

    def __init__(self, settings: Settings, service: Service, telemetry: Telemetry) -> None:
        app = Starlette(routes=routes)
        app.state.settings, app.state.service, app.state.metrics_listener = settings, service, True
        app.state.telemetry = telemetry
        host, port = listen_address(settings.metrics_listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:  # bound here: a taken port stops the start with its name, not uvicorn's exit
            self.socket = socket.create_server((host, port), family=family)
        except OSError as error:
            raise ConfigError(f"SSAI_METRICS_LISTEN has value {settings.metrics_listen!r}: {error}") from None
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self.server = _Listener(config)
        self.task = asyncio.ensure_future(self.server.serve(sockets=[self.socket]))

    async def close(self) -> None:
        self.server.should_exit = True
        await self.task
        self.socket.close()


STATS = "/v1/ssai/stats"
routes = [Route("/metrics", prometheus), Route(STATS, stats)]
