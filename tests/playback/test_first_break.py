"""The first break after a channel is made gets a decision, not DECISION_LATE, when the ad server answers at
once: a channel made through the control API and one from the channel file, each with a session created as
soon as the channel exists and an XSLT transform on its ad responses (whose sandbox takes about a second to
start: it must be running before the first break, not started by its decision), through real uvicorn servers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from proxy.demo.testing import FakeOrigin
from proxy.settings import ChannelConfig, Settings, Transform
from proxy.web.app import create_app
from tests.servers import api_key, free_port, run_server
from tests.web.apichannel import create_channel

TD = 2
EVERY = 6  # a break of 4 segments (the fake ad's length) every 6 segments: the first comes within 2 TDs
IDENTITY = """<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
<xsl:template match="@*|node()"><xsl:copy><xsl:apply-templates select="@*|node()"/></xsl:copy></xsl:template>
</xsl:stylesheet>"""


async def _first_break(http: aiohttp.ClientSession, base: str) -> tuple[bool, int]:
    """Create a session and poll its playlist until its first break is decided: (ads in its playlist, the
    number of DECISION_LATE counted)."""
    async with http.post(f"{base}/v1/ssai/session/fresh/main.m3u8") as response:
        assert response.status == 200, await response.text()
        sid = str((await response.json())["manifestUrl"]).rsplit("=", 1)[1]
    while True:
        async with http.get(f"{base}/v1/ssai/media/fresh/{sid}/v0.m3u8") as response:
            assert response.status == 200, await response.text()
            body = await response.text()
        async with http.get(f"{base}/v1/ssai/stats") as response:
            late = int((await response.json())["decisions"].get("DECISION_LATE", 0))
        if "\nseg/" in body or late:  # seg/: the ad segments, through the beacon redirect
            return "\nseg/" in body, late
        await asyncio.sleep(TD / 4)


async def test_first_break_of_an_api_made_channel_has_its_ads(tmp_path: Path) -> None:
    origin = FakeOrigin(td=TD, window=6, every=EVERY, break_segments=4)
    key = await api_key(tmp_path)
    settings = Settings(data_dir=tmp_path, egress_allow_loopback=True, metrics_open=True)
    with run_server(origin.app, free_port()) as origin_url, run_server(create_app(settings), free_port()) as base:
        async with aiohttp.ClientSession(headers={"X-API-KEY": key}) as http:
            tag = f"{origin_url}/vast?sid={{{{session.session_id}}}}"
            transforms = [{"xpath": "/VAST", "xslt": IDENTITY}]
            await create_channel(http, base, "fresh", f"{origin_url}/master.m3u8", tag, transforms)
            ads, late = await asyncio.wait_for(_first_break(http, base), 60)
    assert (ads, late) == (True, 0)
    assert origin.requests["vast"] == 1


async def test_first_break_of_a_file_channel_has_its_ads(tmp_path: Path) -> None:
    origin = FakeOrigin(td=TD, window=6, every=EVERY, break_segments=4)
    origin_port = free_port()
    origin_url = f"http://127.0.0.1:{origin_port}"
    tag = f"{origin_url}/vast?sid=[session.id]"
    transforms = (Transform(xpath="/VAST", xslt=IDENTITY),)
    channel = ChannelConfig("fresh", f"{origin_url}/master.m3u8", ad_tag=tag, ad_transforms=transforms)
    settings = Settings(data_dir=tmp_path, egress_allow_loopback=True, metrics_open=True).with_channels(
        {"fresh": channel}
    )
    with run_server(origin.app, origin_port), run_server(create_app(settings), free_port()) as base:
        async with aiohttp.ClientSession() as http:
            ads, late = await asyncio.wait_for(_first_break(http, base), 60)
    assert (ads, late) == (True, 0)
    assert origin.requests["vast"] == 1
