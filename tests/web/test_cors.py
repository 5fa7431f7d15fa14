"""CORS: every route a player or its page calls answers pages of other origins; the control API does
not unless told to. Through HTTP on real servers: the demo (default settings) and proxies with restricted lists."""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from proxy.errors import ConfigError
from proxy.settings import Settings
from proxy.web.app import create_app
from tests.servers import free_port, run_server

PAGE = "http://player.test:3000"  # a page of another origin than the proxy's
ASSET = "0123456789abcdef/feedfacefeedfacefeedface/v0/seg-000.ts"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names; repeated fields joined with ", "
    body: bytes


def call(url: str, method: str = "GET", headers: dict[str, str] | None = None, body: bytes | None = None) -> Answer:
    """One request, redirects not followed (a browser checks the CORS headers of every hop)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body, headers or {})
        response = connection.getresponse()
        joined: dict[str, str] = {}
        for name, value in response.getheaders():
            key = name.lower()
            joined[key] = f"{joined[key]}, {value}" if key in joined else value
        return Answer(response.status, joined, response.read())
    finally:
        connection.close()


def preflight(url: str, origin: str, method: str, headers: str = "") -> Answer:
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        asked["Access-Control-Request-Headers"] = headers
    return call(url, "OPTIONS", asked)


def cors_headers(answer: Answer) -> dict[str, str]:
    return {k: v for k, v in answer.headers.items() if k.startswith("access-control-")}


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    url: str
    status: int | None  # None: not asserted (the click route is another engineer's, it may not be here yet)


def _session_with_an_ad(base: str) -> tuple[str, str, str]:
    """A demo session (created cross-origin) whose v0 playlist holds an ad segment: its id, the media playlist's
    URL and the text of that playlist."""
    answer = call(
        f"{base}/v1/ssai/session/demo/main.m3u8", "POST", {"Origin": PAGE, "Content-Type": "application/json"}, b"{}"
    )
    assert answer.status == 200, answer
    session = json.loads(answer.body)["manifestUrl"].rsplit("=", 1)[1]
    media = f"{base}/v1/ssai/media/demo/{session}/v0.m3u8"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = call(media).body.decode()
        if "\nseg/" in text:
            return session, media, text
        time.sleep(1)
    raise AssertionError(f"no ad segment reached the session's window in 120 s:\n{text}")


@pytest.fixture(scope="module")
def player_routes(demo_server: str) -> dict[str, Route]:
    """Every route a player or its page calls, with a real URL of the demo (default settings: any origin)."""
    base = demo_server
    session, media, text = _session_with_an_ad(base)
    seg = base + "/v1/ssai/media/demo/" + session + "/" + re.findall(r"^seg/\S+", text, re.M)[0]
    creative = call(seg).headers["location"]
    msn = int(re.findall(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)[0])
    return {
        "session": Route("POST", f"{base}/v1/ssai/session/demo/main.m3u8", 200),
        "master": Route("GET", f"{base}/v1/ssai/master/demo/main.m3u8?session_id={session}", 200),
        "media": Route("GET", media, 200),
        "tracking": Route("GET", f"{base}/v1/ssai/tracking/demo/{session}", 200),
        "ad segment redirect": Route("GET", seg, 302),
        "content segment redirect": Route("GET", f"{base}/v1/ssai/media/demo/{session}/cseg/v0/{msn}.ts", 302),
        "asset": Route("GET", f"{base}/v1/ssai/assets/{ASSET}", 404),  # the error is readable by the page too
        "click": Route("GET", f"{base}/v1/ssai/click/demo/{session}/ad-1", None),
        "demo origin": Route("GET", f"{base}/demo/origin/master.m3u8", 200),
        "demo ad server": Route("GET", f"{base}/demo/ads/vast?dur=6", 200),
        "demo creative": Route("GET", urllib.parse.urljoin(seg, creative), 200),
        "demo player page": Route("GET", f"{base}/demo/player/", 200),
    }


ROUTES = [
    "session",
    "master",
    "media",
    "tracking",
    "ad segment redirect",
    "content segment redirect",
    "asset",
    "click",
    "demo origin",
    "demo ad server",
    "demo creative",
    "demo player page",
]


@pytest.mark.parametrize("name", ROUTES)
def test_a_preflight_is_granted_on_every_player_route(player_routes: dict[str, Route], name: str) -> None:
    route = player_routes[name]
    answer = preflight(route.url, PAGE, route.method, "content-type")
    assert answer.status == 204, answer
    assert answer.headers["access-control-allow-origin"] == "*"
    assert route.method in answer.headers["access-control-allow-methods"].split(", ")
    assert answer.headers["access-control-allow-headers"] == "Content-Type"
    assert int(answer.headers["access-control-max-age"]) > 0


@pytest.mark.parametrize("name", ROUTES)
def test_the_answer_of_every_player_route_is_readable_by_another_origin(
    player_routes: dict[str, Route], name: str
) -> None:
    route = player_routes[name]
    body = b"{}" if route.method == "POST" else None
    answer = call(route.url, route.method, {"Origin": PAGE, "Content-Type": "application/json"}, body)
    if route.status is not None:
        assert answer.status == route.status, (answer.status, answer.body[:200])
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["access-control-expose-headers"] == "Age"  # hls.js reads a live playlist's Age
    assert "access-control-allow-credentials" not in answer.headers


CONTROL = [
    ("GET", "/v1/ssai/applications/account/default"),
    ("POST", "/v1/ssai/applications"),
    ("PUT", "/v1/ssai/applications/application/x"),
    ("POST", "/v1/ssai/slates"),
    ("GET", "/v1/ssai/channels"),
    ("GET", "/v1/ssai/jobs"),
    ("GET", "/v1/accounts/default/ssai_configs"),
    ("POST", "/v4/access_token"),
    ("GET", "/metrics"),
    ("GET", "/v1/ssai/stats"),
    ("GET", "/openapi.json"),
]


@pytest.mark.parametrize(("method", "path"), CONTROL)
def test_the_control_api_gives_no_grant_by_default(demo_server: str, method: str, path: str) -> None:
    asked = preflight(demo_server + path, PAGE, method, "authorization, content-type")
    assert asked.status >= 400 and not cors_headers(asked), asked
    answer = call(demo_server + path, method, {"Origin": PAGE}, b"{}" if method != "GET" else None)
    assert not cors_headers(answer), answer.headers


@pytest.fixture(scope="module")
def restricted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A proxy (no channels) whose player routes answer two origins and whose control API answers an admin page."""
    data = tmp_path_factory.mktemp("cors-data")
    asset = data / "assets" / ASSET
    asset.parent.mkdir(parents=True)
    asset.write_bytes(b"\x47" * 188)
    settings = Settings(
        data_dir=data,
        cors_origins="http://player.test:3000, HTTPS://Tv.Example:443",
        control_cors_origins="https://admin.example",
    )
    port = free_port()
    with run_server(create_app(settings), port) as base:
        yield base


def test_a_restricted_list_echoes_an_allowed_origin(restricted: str) -> None:
    answer = call(f"{restricted}/v1/ssai/assets/{ASSET}", headers={"Origin": PAGE})
    assert answer.status == 200
    assert answer.headers["access-control-allow-origin"] == PAGE
    assert answer.headers["vary"] == "Origin"
    asked = preflight(f"{restricted}/v1/ssai/session/any/main.m3u8", "https://tv.example", "POST", "content-type")
    assert asked.status == 204
    assert asked.headers["access-control-allow-origin"] == "https://tv.example"  # listed as HTTPS://Tv.Example:443


@pytest.mark.parametrize("origin", ["http://evil.test", "http://player.test:3001", "https://player.test:3000"])
def test_a_restricted_list_grants_nothing_to_another_origin(restricted: str, origin: str) -> None:
    answer = call(f"{restricted}/v1/ssai/assets/{ASSET}", headers={"Origin": origin})
    assert answer.status == 200 and not cors_headers(answer)
    assert answer.headers["vary"] == "Origin"  # a cache must not hand this answer to a listed origin
    asked = preflight(f"{restricted}/v1/ssai/session/any/main.m3u8", origin, "POST", "content-type")
    assert asked.status == 403 and not cors_headers(asked)
    assert json.loads(asked.body)["error"] == f"origin {origin!r} is not allowed: not listed in SSAI_CORS_ORIGINS"


def test_an_answer_without_origin_still_says_it_varies(restricted: str) -> None:
    answer = call(f"{restricted}/v1/ssai/assets/{ASSET}")
    assert answer.status == 200 and not cors_headers(answer) and answer.headers["vary"] == "Origin"


def test_the_control_api_answers_only_its_own_list(restricted: str) -> None:
    url = f"{restricted}/v1/ssai/channels"
    asked = preflight(url, "https://admin.example", "PUT", "authorization, x-api-key")
    assert asked.status == 204
    assert asked.headers["access-control-allow-origin"] == "https://admin.example"
    assert "PUT" in asked.headers["access-control-allow-methods"].split(", ")
    assert asked.headers["access-control-allow-headers"] == "Authorization, Content-Type, X-API-Key"
    answer = call(url, headers={"Origin": "https://admin.example"})
    assert answer.status == 401 and answer.headers["access-control-allow-origin"] == "https://admin.example"
    refused = preflight(url, PAGE, "GET")  # a player page's origin is not an admin page's
    assert refused.status == 403 and b"SSAI_CONTROL_CORS_ORIGINS" in refused.body
    assert not cors_headers(call(url, headers={"Origin": PAGE}))


def test_an_empty_list_sends_no_cors_headers(tmp_path: Path) -> None:
    port = free_port()
    with run_server(create_app(Settings(data_dir=tmp_path, cors_origins="")), port) as base:
        url = f"{base}/v1/ssai/assets/{ASSET}"
        answer = call(url, headers={"Origin": PAGE})
        assert answer.status == 404 and not cors_headers(answer) and "vary" not in answer.headers
        assert preflight(url, PAGE, "GET").status == 405


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("https://player.test/", "'https://player.test/' is not an origin: scheme://host[:port] only"),
        ("player.test", "'player.test' is not an origin (expected * or scheme://host[:port])"),
        ("*, https://player.test", "* allows every origin, it cannot be listed with others"),
    ],
)
def test_a_bad_origin_list_stops_the_start_naming_the_setting(tmp_path: Path, value: str, reason: str) -> None:
    with pytest.raises(ConfigError) as raised:
        create_app(Settings(data_dir=tmp_path, control_cors_origins=value))
    assert str(raised.value) == f"SSAI_CONTROL_CORS_ORIGINS has value {value!r}: {reason}"
