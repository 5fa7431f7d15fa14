"""Brightcove Live API's `Dfp` response type through real uvicorn servers: a live origin, a test ad server answering
what Google Ad Manager answers (a VAST pod, a VMAP with two mid-roll AdBreaks for the break, an empty VAST), and the
proxy. Each channel's first break, read from the session's playlists as a player would, holds exactly the ads
the rules say (proxy.ads.vmap), or the slate with the empty answer counted and its Error URI told 303."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from proxy.demo.testing import MASTER, FakeOrigin
from proxy.hls.playlist import parse_media
from proxy.settings import ChannelConfig, Settings, ad_response_of
from proxy.web.app import create_app
from tests.servers import free_port, run_server

TD = 2
AD_SEGMENTS = 4  # every creative: 4 segments of TD seconds
BREAK_SEGMENTS = 8  # a 16 s break: room for two 8 s ads


def inline(name: str, base: str, sequence: int | None = None) -> str:
    order = f' sequence="{sequence}"' if sequence else ""
    return (
        f'<Ad id="{name}"{order}><InLine><AdSystem>test</AdSystem><AdTitle>{name}</AdTitle>'
        f'<Impression>{base}/imp/{name}</Impression><Creatives><Creative id="{name}"><Linear>'
        f"<Duration>00:00:{AD_SEGMENTS * TD:02d}</Duration><MediaFiles>"
        f'<MediaFile delivery="streaming" type="application/x-mpegURL" width="640" height="360">'
        f"{base}/creative/{name}/master.m3u8</MediaFile></MediaFiles></Linear></Creative></Creatives></InLine></Ad>"
    )


def vmap(base: str) -> str:
    """Two AdBreaks due at a session's first break (`#1`): one inline, one AdTagURI; a post-roll that never is."""
    return (
        '<vmap:VMAP xmlns:vmap="http://www.iab.net/videosuite/vmap" version="1.0">'
        '<vmap:AdBreak timeOffset="#1" breakType="linear" breakId="midroll-1"><vmap:AdSource id="mid-ad-1">'
        f'<vmap:VASTAdData><VAST version="3.0">{inline("vmap-inline", base)}</VAST></vmap:VASTAdData>'
        "</vmap:AdSource></vmap:AdBreak>"
        '<vmap:AdBreak timeOffset="#1" breakType="linear" breakId="midroll-1"><vmap:AdSource id="mid-ad-2">'
        f'<vmap:AdTagURI templateType="vast3"><![CDATA[{base}/tagged]]></vmap:AdTagURI></vmap:AdSource></vmap:AdBreak>'
        '<vmap:AdBreak timeOffset="end" breakType="linear" breakId="postroll"><vmap:AdSource id="post">'
        f'<vmap:AdTagURI templateType="vast3"><![CDATA[{base}/post]]></vmap:AdTagURI></vmap:AdSource></vmap:AdBreak>'
        "</vmap:VMAP>"
    )


class AdServer:
    """Answers like Google Ad Manager: `/pod` a VAST pod of three ads (the third cannot fit), `/vmap` ad rules,
    `/tagged` the VAST of the VMAP's AdTagURI, `/empty` an empty VAST; serves the creatives and the slate."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.requests: list[str] = []
        self.errors: list[str] = []  # query strings sent to the empty VAST's Error URI
        self.app = Starlette(
            routes=[
                Route("/error", self.error),
                Route("/creative/{name}/master.m3u8", self.master),
                Route("/creative/{name}/{track}.m3u8", self.media),
                Route("/{kind}", self.answer),
            ]
        )

    def body(self, kind: str) -> str:
        base = self.base
        if kind == "pod":
            ads = inline("pod-2", base, 2) + inline("pod-1", base, 1) + inline("pod-3", base, 3)
            return f'<VAST version="3.0">{ads}</VAST>'
        if kind == "vmap":
            return vmap(base)
        if kind == "tagged":
            return f'<VAST version="3.0">{inline("vmap-tagged", base)}</VAST>'
        return f'<VAST version="3.0"><Error><![CDATA[{base}/error?code=[ERRORCODE]]]></Error></VAST>'

    async def answer(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        self.requests.append(kind)
        return PlainTextResponse(self.body(kind), media_type="application/xml")

    async def error(self, request: Request) -> Response:
        self.errors.append(request.url.query)
        return Response(status_code=204)

    async def master(self, request: Request) -> Response:
        return PlainTextResponse(MASTER, media_type="application/vnd.apple.mpegurl")

    async def media(self, request: Request) -> Response:
        track = request.path_params["track"]
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{TD}", "#EXT-X-PLAYLIST-TYPE:VOD"]
        for index in range(AD_SEGMENTS):
            lines += [f"#EXTINF:{TD:.3f},", f"{track}/{index}.ts"]
        body = "\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n"
        return PlainTextResponse(body, media_type="application/vnd.apple.mpegurl")


@dataclass
class Rig:
    base: str
    ads: AdServer


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    origin = FakeOrigin(td=TD, window=6, every=12, break_segments=BREAK_SEGMENTS)
    origin_port, ads_port = free_port(), free_port()
    origin_url, ads_url = f"http://127.0.0.1:{origin_port}", f"http://127.0.0.1:{ads_port}"
    ads = AdServer(ads_url)

    def channel(kind: str) -> ChannelConfig:
        return ChannelConfig(
            kind,
            origin=f"{origin_url}/master.m3u8",
            ad_tag=f"{ads_url}/{kind}?sid=[session.uuid]",  # per viewer: positions are the session's
            ad_response=ad_response_of("Dfp"),  # Brightcove Live API ad_configuration_expected_response_type
            slate=f"{ads_url}/creative/slate/master.m3u8",
        )

    channels = {kind: channel(kind) for kind in ("pod", "vmap", "empty")}
    settings = Settings(data_dir=tmp_path, egress_allow_loopback=True, metrics_open=True).with_channels(channels)
    with (
        run_server(origin.app, origin_port),
        run_server(ads.app, ads_port),
        run_server(create_app(settings), free_port()) as base,
    ):
        yield Rig(base, ads)


async def first_break(http: aiohttp.ClientSession, base: str, channel: str) -> list[str]:
    """The creatives of the session's first break, one per ad segment in play order, once the whole break is
    in the playlist (the content is back after it)."""
    async with http.post(f"{base}/v1/ssai/session/{channel}/main.m3u8?reportingMode=client") as response:
        assert response.status == 200, await response.text()
        sid = str((await response.json())["manifestUrl"]).rsplit("=", 1)[1]
    seen: dict[int, str] = {}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        async with http.get(f"{base}/v1/ssai/media/{channel}/{sid}/v0.m3u8") as response:
            assert response.status == 200
            segments = parse_media(await response.read()).segments
        for segment in segments:
            if "/creative/" in segment.uri:
                seen[segment.msn] = segment.uri.split("/creative/")[1].split("/")[0]
        if seen and "/creative/" not in segments[-1].uri and max(seen) < segments[-1].msn:
            return [seen[msn] for msn in sorted(seen)]
        await asyncio.sleep(0.5)
    raise AssertionError(f"no complete break for {channel} (seen {seen})")


@pytest.mark.slow
async def test_a_dfp_channel_stitches_vast_pods_vmap_ad_rules_and_slates_an_empty_vast(rig: Rig) -> None:
    async with aiohttp.ClientSession() as http:
        pod, vmap_pod, empty = await asyncio.gather(
            *(first_break(http, rig.base, channel) for channel in ("pod", "vmap", "empty"))
        )
        async with http.get(f"{rig.base}/v1/ssai/stats") as response:
            counts = (await response.json())["decisions"]
        deadline = time.monotonic() + 30
        while not rig.ads.errors and time.monotonic() < deadline:  # error beacons leave through the queue
            await asyncio.sleep(0.2)
    per_ad = AD_SEGMENTS
    assert pod == ["pod-1"] * per_ad + ["pod-2"] * per_ad  # in sequence order; pod-3 would be clipped: dropped
    assert vmap_pod == ["vmap-inline"] * per_ad + ["vmap-tagged"] * per_ad  # both AdBreaks, in document order
    assert empty == ["slate"] * BREAK_SEGMENTS
    assert counts.get("AVAIL_DURATION_EXCEEDED", 0) >= 1 and counts.get("EMPTY_VAST_RESPONSE", 0) >= 1
    assert "tagged" in rig.ads.requests and "post" not in rig.ads.requests
    assert "code=303" in rig.ads.errors
