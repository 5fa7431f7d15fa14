"""`ssai-proxy demo`: origin, ad server, slate, player page and the proxy in one app on one port.

Two channels share the origin: `demo`, whose ads and slate are HLS conditioned like the content, and `mp4`,
whose ad server answers plain MP4 creatives and whose slate is an MP4, as real ad servers do (the player
page plays it with `?channel=mp4`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from proxy.demo.adserver import create_adserver_app
from proxy.demo.media import DemoMedia
from proxy.demo.origin import create_origin_app
from proxy.settings import ChannelConfig, Settings
from proxy.web.app import create_app

STATIC = Path(__file__).parent / "static"
CHANNEL = "demo"
MP4_CHANNEL = "mp4"


@dataclass(frozen=True, slots=True)
class DemoOptions:
    port: int = 8080
    host: str = "127.0.0.1"
    target_duration: int = 6
    ad_interval: float = 60.0
    ad_duration: float = 30.0
    marker: str = "cue-out"
    window_segments: int = 10


def demo_channel(base: str, name: str = CHANNEL, ad_query: str = "") -> ChannelConfig:
    """The demo channel; `ad_query` adds ad server modes (`mode=wrapper&wrap=3`, `mode=vmap`, `mode=error`…)."""
    extra = f"&{ad_query}" if ad_query else ""
    return ChannelConfig(
        name=name,
        origin=f"{base}/demo/origin/master.m3u8",
        ad_tag=f"{base}/demo/ads/vast?dur=[session.avail_duration_secs]&sid=[session.uuid]{extra}",
        slate=f"{base}/demo/ads/slate/master.m3u8",
    )


def mp4_channel(base: str, name: str = MP4_CHANNEL, ad_query: str = "") -> ChannelConfig:
    """The demo channel with MP4 ads and an MP4 slate: what the proxy must transcode before stitching."""
    channel = demo_channel(base, name, "&".join(q for q in ("media=mp4", ad_query) if q))
    return replace(channel, slate=f"{base}/demo/ads/mp4/slate.mp4")


def self_host(host: str) -> str:
    """Where the proxy reaches its own demo origin: a wildcard bind address is not a destination."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


async def _home(request: Request) -> Response:
    return RedirectResponse("/demo/player/")


def create_demo_app(settings: Settings, media: DemoMedia, options: DemoOptions) -> Starlette:
    base = f"http://{self_host(options.host)}:{options.port}"
    channels = {CHANNEL: demo_channel(base), MP4_CHANNEL: mp4_channel(base)}
    settings = settings.with_channels({**settings.channels, **channels})
    settings = replace(settings, egress_allow_loopback=True)  # the demo's ad server and creatives are on loopback
    # The player page shows the proxy's counters: open on a demo (one user, one machine) unless a token or a
    # listener of its own keeps them private (proxy/web/metrics.py).
    settings = replace(settings, metrics_open=True)
    origin = create_origin_app(
        media,
        marker=options.marker,
        ad_interval=options.ad_interval,
        ad_duration=options.ad_duration,
        window_segments=options.window_segments,
    )
    extra = [
        Route("/", _home),
        Mount("/demo/origin", app=origin),
        Mount("/demo/ads", app=create_adserver_app(media)),
        Mount("/demo/player", app=StaticFiles(directory=STATIC, html=True)),
    ]
    return create_app(settings, extra)
