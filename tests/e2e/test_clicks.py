"""Click tracking through real uvicorn servers: with server-side beacons the tracking API's clickThrough is the
proxy's click URL, which answers 302 to the landing page every time and fires the ad's ClickTracking (its
Wrapper's too) once per session and ad, with the viewer's identity; an unknown ad is a 404; a `javascript:` or
`data:` landing page is never listed nor redirected to, and counted; client-side reporting lists the landing page
and every ClickTracking URL for the player, as before, and a click through the proxy then fires nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID
from xml.sax.saxutils import escape

import aiohttp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from proxy.demo.testing import FakeOrigin
from proxy.hls.playlist import parse_media
from proxy.settings import ChannelConfig, Settings
from proxy.web.app import create_app
from tests.servers import free_port, run_server

pytestmark = pytest.mark.slow
TD = 2
VIEWER = {"X-Forwarded-For": "203.0.113.7", "User-Agent": "viewer-agent/1.0"}
LANDING = "https://shop.example.com/soldes/été?id=1&x=2"
LANDING_SENT = "https://shop.example.com/soldes/%C3%A9t%C3%A9?id=1&x=2"  # a Location header is ASCII
LANDINGS = {"ok": LANDING, "js": "javascript:alert(document.cookie)", "data": "data:text/html,<script>1</script>"}

WRAPPER = """<VAST version="3.0"><Ad id="w-ad"><Wrapper><AdSystem>wrapper</AdSystem>
<VASTAdTagURI>{inline}</VASTAdTagURI><Impression>{beacon}/wrapper-impression?sid={sid}</Impression>
<Creatives><Creative><Linear><VideoClicks><ClickTracking>{beacon}/wrapper-click?sid={sid}</ClickTracking>
</VideoClicks></Linear></Creative></Creatives></Wrapper></Ad></VAST>"""
INLINE = """<VAST version="3.0"><Ad id="i-ad"><InLine><AdSystem>inline</AdSystem><AdTitle>Sale</AdTitle>
<Impression>{beacon}/impression?sid={sid}</Impression><Creatives><Creative id="sale-creative"><Linear>
<Duration>00:00:{seconds:02d}.000</Duration><VideoClicks><ClickThrough>{landing}</ClickThrough>
<ClickTracking>{beacon}/inline-click?sid={sid}&amp;ts=[TIMESTAMP]</ClickTracking></VideoClicks>
<MediaFiles><MediaFile delivery="streaming" type="application/x-mpegURL" width="640" height="360">{media}</MediaFile>
</MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>"""


@dataclass
class AdServer:
    """A Wrapper whose target InLine has the landing page of `kind`; every beacon hit is recorded."""

    media: str
    hits: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)  # (event, query, headers)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/wrapper/{kind}", self.wrapper),
                Route("/inline/{kind}", self.inline, name="inline"),
                Route("/beacon/{event}", self.beacon, name="beacon"),
            ]
        )

    def _beacon_base(self, request: Request) -> str:
        return str(request.url_for("beacon", event="x")).removesuffix("/x")

    async def wrapper(self, request: Request) -> Response:
        sid = request.query_params["sid"]
        inline = f"{request.url_for('inline', kind=request.path_params['kind'])}?sid={sid}"
        body = WRAPPER.format(inline=escape(inline), beacon=self._beacon_base(request), sid=sid)
        return PlainTextResponse(body, media_type="application/xml")

    async def inline(self, request: Request) -> Response:
        landing = escape(LANDINGS[request.path_params["kind"]])
        beacon, sid = self._beacon_base(request), request.query_params["sid"]
        body = INLINE.format(beacon=beacon, sid=sid, seconds=4 * TD, landing=landing, media=self.media)
        return PlainTextResponse(body, media_type="application/xml")

    async def beacon(self, request: Request) -> Response:
        self.hits.append((request.path_params["event"], dict(request.query_params), dict(request.headers)))
        return Response(status_code=204)

    def clicks(self, sid: str) -> list[tuple[str, dict[str, str], dict[str, str]]]:
        """The click beacons of session `sid` (the ad tag passes its `[session.uuid]`, the id with dashes)."""
        return [hit for hit in self.hits if hit[0].endswith("click") and hit[1].get("sid", "").replace("-", "") == sid]


@dataclass
class Rig:
    base: str
    ads: AdServer


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """Channels `ok`, `js` and `data`: the same content, each with the landing page of its name."""
    origin = FakeOrigin(td=TD, window=6, every=6, break_segments=4)
    origin_port, ads_port = free_port(), free_port()
    ads = AdServer(f"http://127.0.0.1:{origin_port}/ad/master.m3u8")
    channels = {
        kind: ChannelConfig(
            kind,
            origin=f"http://127.0.0.1:{origin_port}/master.m3u8",
            ad_tag=f"http://127.0.0.1:{ads_port}/wrapper/{kind}?sid=[session.uuid]",
        )
        for kind in LANDINGS
    }
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("clicks"), egress_allow_loopback=True, metrics_open=True
    ).with_channels(channels)
    with run_server(origin.app, origin_port), run_server(ads.app(), ads_port):
        with run_server(create_app(settings), free_port()) as base:
            yield Rig(base, ads)


async def _session(http: aiohttp.ClientSession, base: str, channel: str, mode: str = "server") -> str:
    url = f"{base}/v1/ssai/session/{channel}/main.m3u8?reportingMode={mode}"
    async with http.post(url, headers=VIEWER) as response:
        assert response.status == 200, await response.text()
        return str((await response.json())["manifestUrl"]).rsplit("=", 1)[1]


async def _first_break(http: aiohttp.ClientSession, base: str, channel: str, sid: str) -> list[dict[str, Any]]:
    """Poll the playlist and the tracking API like a player until the session's first ad is in its playlist (then
    once more): every ad the tracking API returned meanwhile."""
    ads: list[dict[str, Any]] = []
    deadline, seen = time.monotonic() + 60, 0
    while time.monotonic() < deadline and seen < 2:
        async with http.get(f"{base}/v1/ssai/media/{channel}/{sid}/v0.m3u8") as response:
            segments = parse_media(await response.read()).segments
        seen += any("/ad/" in s.uri or s.uri.startswith("seg/") for s in segments) or bool(ads)
        async with http.get(f"{base}/v1/ssai/tracking/{channel}/{sid}") as response:
            ads += [ad for avail in (await response.json())["avails"] for ad in avail["ads"]]
        await asyncio.sleep(TD / 2)
    assert seen == 2, f"no ad in the session's playlist within 60 s: {segments}"
    return ads


async def _ad_refs(http: aiohttp.ClientSession, base: str, channel: str, sid: str) -> list[str]:
    """`{break}.{index}` of the ads in the session's playlist, from its redirect URIs (`seg/v0/{break}/{item}`)."""
    async with http.get(f"{base}/v1/ssai/media/{channel}/{sid}/v0.m3u8") as response:
        uris = [s.uri for s in parse_media(await response.read()).segments if s.uri.startswith("seg/")]
    return sorted({f"{uri.split('/')[2]}.0" for uri in uris})


def _events(ad: dict[str, Any]) -> dict[str, list[str]]:
    return {event["eventType"]: event["beaconUrls"] for event in ad["trackingEvents"]}


async def _metrics(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with http.get(f"{base}/v1/ssai/stats") as response:
        document: dict[str, Any] = await response.json()
        return document


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, str, dict[str, Any] | None]:
    async with http.get(url, headers=VIEWER, allow_redirects=False) as response:
        body = await response.json() if response.status >= 400 else None
        return response.status, response.headers.get("Location", ""), body


def _delta(after: dict[str, Any], before: dict[str, Any], name: str) -> dict[str, int]:
    changed = {key: after[name].get(key, 0) - before[name].get(key, 0) for key in after[name]}
    return {key: change for key, change in changed.items() if change}


async def test_click_through_is_the_proxy_which_fires_click_tracking_once_and_redirects(rig: Rig) -> None:
    async with aiohttp.ClientSession() as http:
        sid = await _session(http, rig.base, "ok")
        ads = await _first_break(http, rig.base, "ok", sid)
        (ref,) = await _ad_refs(http, rig.base, "ok", sid)
        assert [_events(ad) for ad in ads] == [{"clickThrough": [f"/v1/ssai/click/ok/{sid}/{ref}"]}], ads
        before = await _metrics(http, rig.base)
        for _ in range(2):
            status, location, _body = await _get(http, rig.base + _events(ads[0])["clickThrough"][0])
            assert (status, location) == (302, LANDING_SENT)
        deadline, after = time.monotonic() + 10, before
        while _delta(after, before, "beacon_events").get("clickTracking", 0) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            after = await _metrics(http, rig.base)
    assert _delta(after, before, "clicks") == {"redirected": 2, "unique": 1}, "ClickTracking queued once"
    assert _delta(after, before, "beacon_events") == {"clickTracking": 2}, "the Wrapper's and the InLine's"
    clicks = rig.ads.clicks(sid)
    assert sorted(event for event, _query, _headers in clicks) == ["inline-click", "wrapper-click"], clicks
    for _event, query, headers in clicks:
        assert headers["x-device-user-agent"] == "viewer-agent/1.0" and headers["x-device-ip"] == "203.0.113.7"
        assert "[TIMESTAMP]" not in query.get("ts", ""), "VAST macros expanded"
    assert next(query for event, query, _ in clicks if event == "inline-click")["ts"].startswith("20")


async def test_an_unknown_ad_or_session_is_a_404_naming_it(rig: Rig) -> None:
    async with aiohttp.ClientSession() as http:
        sid = await _session(http, rig.base, "ok")
        await _first_break(http, rig.base, "ok", sid)
        (known,) = await _ad_refs(http, rig.base, "ok", sid)
        brk = known.split(".")[0]
        for bad in (f"{brk}.1", "99999.0", brk, f"{brk}.x", f"{brk}.²", f"{brk}.-1"):
            status, location, body = await _get(http, f"{rig.base}/v1/ssai/click/ok/{sid}/{bad}")
            assert (status, location) == (404, "") and body is not None and repr(bad) in body["error"], (bad, body)
        status, _, body = await _get(http, f"{rig.base}/v1/ssai/click/ok/{'0' * 32}/{known}")
        assert status == 404 and body is not None and "0" * 32 in body["error"], body
        status, location, _ = await _get(http, f"{rig.base}/v1/ssai/click/ok/{sid}/{known}")
        assert (status, location) == (302, LANDING_SENT), "the known one does redirect"


@pytest.mark.parametrize("kind", ["js", "data"])
async def test_a_hostile_landing_page_is_never_listed_nor_redirected_to(rig: Rig, kind: str) -> None:
    async with aiohttp.ClientSession() as http:
        before = await _metrics(http, rig.base)
        sid = await _session(http, rig.base, kind)
        ads = await _first_break(http, rig.base, kind, sid)
        (ref,) = await _ad_refs(http, rig.base, kind, sid)
        assert ads == [], "an ad whose only clickThrough is refused has nothing to list"
        status, location, body = await _get(http, f"{rig.base}/v1/ssai/click/{kind}/{sid}/{ref}")
        after = await _metrics(http, rig.base)
    assert (status, location) == (404, "") and body is not None, (status, location)
    assert repr(LANDINGS[kind][:200]) in body["error"] and "expected http or https" in body["error"], body
    assert _delta(after, before, "clicks") == {"omitted": 1, "refused": 1}, "counted, nothing fired"


async def test_client_side_reporting_lists_the_landing_page_and_every_click_tracking_url(rig: Rig) -> None:
    async with aiohttp.ClientSession() as http:
        sid = await _session(http, rig.base, "ok", "client")
        ads = await _first_break(http, rig.base, "ok", sid)
        assert len(ads) == 1, ads
        events = _events(ads[0])
        assert events["clickThrough"] == [LANDING], "the landing page itself, as before"
        assert [url.split("?")[0].rsplit("/", 1)[1] for url in events["clickTracking"]] == [
            "wrapper-click",
            "inline-click",
        ], "the Wrapper's ClickTracking first (VAST 4.3 §2.3.5.2)"
        assert all(f"sid={UUID(hex=sid)}" in url for url in events["clickTracking"])
        before = await _metrics(http, rig.base)
        # The first break of a session has no fold before it: its first ad's mediaSequence is the break id.
        status, location, _body = await _get(http, f"{rig.base}/v1/ssai/click/ok/{sid}/{ads[0]['mediaSequence']}.0")
        after = await _metrics(http, rig.base)
    assert (status, location) == (302, LANDING_SENT)
    assert _delta(after, before, "clicks") == {"redirected": 1}, "the player fires ClickTracking itself"
    assert rig.ads.clicks(sid) == []
