"""proxy/playback/urls.py: the builders give paths the routes match with the same values, the relative URIs
proxy/hls writes resolve to the segment routes, and every playback route of the app is one of its templates."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from starlette.routing import Route, compile_path

from proxy.hls.fill import redirect_uri
from proxy.hls.master import SESSION_SLOT, parse_master
from proxy.hls.playlist import parse_media
from proxy.hls.render import Window
from proxy.playback import urls
from proxy.settings import Settings
from proxy.web.app import create_app

MASTER = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=900000\nlow/index.m3u8\n"
MEDIA = b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:40\n#EXTINF:6.0,\nsegment40.ts\n"


def matched(template: str, path: str) -> dict[str, str]:
    """The path parameters of `path` under the route `template`, as Starlette reads them."""
    found = compile_path(template)[0].fullmatch(urlsplit(path).path)
    assert found is not None, f"{path!r} does not match {template!r}"
    return found.groupdict()


@pytest.mark.parametrize(
    ("template", "path", "params"),
    [
        (urls.SESSION, urls.session_url("news"), {"channel": "news", "name": "main"}),
        (urls.MASTER, urls.manifest_url("news", "s1", ("tz",)), {"channel": "news"}),
        (urls.MEDIA, urls.media_url("news", "s1", "v0"), {"channel": "news", "session": "s1", "track": "v0"}),
        (
            urls.AD_SEGMENT,
            urls.ad_segment_url("news", "s1", "v0", "b7", "3.ts"),
            {"channel": "news", "session": "s1", "track": "v0", "brk": "b7", "item": "3.ts"},
        ),
        (
            urls.CONTENT_SEGMENT,
            urls.content_segment_url("news", "s1", "v0", "41.ts"),
            {"channel": "news", "session": "s1", "track": "v0", "item": "41.ts"},
        ),
        (urls.TRACKING, urls.tracking_url("news", "s1"), {"channel": "news", "session": "s1"}),
        (urls.SESSION_EVENTS, urls.session_events_url("news", "s1"), {"channel": "news", "session": "s1"}),
        (urls.CLICK, urls.click_url("news", "s1", "b7.0"), {"channel": "news", "session": "s1", "ad": "b7.0"}),
        (urls.ASSET, urls.ASSETS + "/p1/c1/r1/index.m3u8", {"path": "p1/c1/r1/index.m3u8"}),
    ],
)
def test_each_builder_gives_a_path_its_route_reads_back(template: str, path: str, params: dict[str, str]) -> None:
    assert matched(template, path) == params
    assert path.startswith(urls.PLAYER_PREFIXES)


def test_the_manifest_url_names_the_session_and_the_page_variables_to_fill() -> None:
    url = urls.manifest_url("news", "s1", ("tz", "w"))
    assert urlsplit(url).query == "session_id=s1&tz={tz}&w={w}"


def test_the_master_points_at_the_sessions_media_playlists() -> None:
    master = parse_master(MASTER, "http://origin.example/live/master.m3u8", urls.media_base("news", SESSION_SLOT))
    rendered = master.render("s1").decode()
    assert urls.media_url("news", "s1", master.variants[0].name) in rendered.splitlines()


def test_the_relative_segment_uris_of_proxy_hls_resolve_to_the_redirect_routes() -> None:
    playlist = urls.media_url("news", "s1", "v0")
    assert urljoin(playlist, redirect_uri("v0", "b7", 3, "ad/seg3.ts")) == urls.ad_segment_url(
        "news", "s1", "v0", "b7", "3.ts"
    )
    window = Window(parse_media(MEDIA, "http://origin.example/low/index.m3u8"), "", redirect_track="v0")
    content = urljoin(playlist, window.segment_uri(40, "segment40.ts"))
    assert content == urls.content_segment_url("news", "s1", "v0", "40.ts")


def test_the_default_asset_base_url_is_the_asset_route() -> None:
    assert Settings().asset_base_url == urls.ASSETS


def test_every_playback_route_of_the_app_is_a_template_of_urls(tmp_path: Path) -> None:
    paths = {route.path for route in create_app(Settings(data_dir=tmp_path)).routes if isinstance(route, Route)}
    playback = {path for path in paths if path.startswith(urls.PLAYER_PREFIXES)}
    assert playback == set(urls.ROUTE_TEMPLATES)
    assert all(template.startswith(urls.PLAYER_PREFIXES) for template in urls.ROUTE_TEMPLATES)
