"""Ad decisions through the real service against the demo ad server's modes: wrapper chains, VMAP, errors."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from proxy.demo.app import DemoOptions, create_demo_app, demo_channel
from proxy.demo.media import DemoMedia
from proxy.settings import Settings, Transform
from tests.playback.test_transforms import CPU_BOMB  # never ends: it always meets the time limit
from tests.servers import free_port, run_server

RETITLE = """<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
<xsl:template match="@*|node()"><xsl:copy><xsl:apply-templates select="@*|node()"/></xsl:copy></xsl:template>
<xsl:template match="AdTitle/text()"><xsl:value-of select="concat(., ' (transformed)')"/></xsl:template>
</xsl:stylesheet>"""
MODES = {
    "wrap5": "mode=wrapper&wrap=5",  # five Wrappers: the limit, resolved (VAST 4.3 §2.3.5.1)
    "wrap6": "mode=wrapper&wrap=6",  # one too many: error 302 to the Wrappers' Error URIs, slate
    "vmap": "mode=vmap",  # the pod inline in a VMAP mid-roll
    "error": "mode=error",  # HTTP 500: slate
    "empty": "mode=empty",  # no ads: slate
    "xslt": "",  # an ad_configuration_transforms stylesheet retitles the ads before parsing
}


async def first_filled_break(http: aiohttp.ClientSession, base: str, channel: str, deadline: float) -> str:
    """Poll a new session of `channel` until a break reaches it; say what filled it: "ads" (with the title
    the tracking API gives, for the transform check) or "slate"."""
    async with http.post(f"{base}/v1/ssai/session/{channel}/main.m3u8?reportingMode=client") as response:
        sid = str((await response.json())["manifestUrl"]).rsplit("=", 1)[1]
    while time.monotonic() < deadline:
        async with http.get(f"{base}/v1/ssai/media/{channel}/{sid}/v0.m3u8") as response:
            assert response.status == 200
            body = await response.text()
        if "/demo/ads/creatives/" in body:
            async with http.get(f"{base}/v1/ssai/tracking/{channel}/{sid}") as response:
                avails = (await response.json())["avails"]
            titles = {ad["title"] for avail in avails for ad in avail["ads"]}
            return "ads (transformed)" if any(t.endswith("(transformed)") for t in titles) else "ads"
        if "/demo/ads/slate/" in body:
            return "slate"
        await asyncio.sleep(1)
    return "nothing"


@pytest.mark.slow
async def test_ad_server_modes_end_in_ads_or_slate_with_error_beacons(demo_media: DemoMedia, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    channels = {name: demo_channel(base, name, query) for name, query in MODES.items()}
    channels["xslt"] = replace(channels["xslt"], ad_transforms=(Transform(xpath="/VAST", xslt=RETITLE),))
    options = DemoOptions(port=port, target_duration=2, ad_interval=12, ad_duration=6, window_segments=8)
    app = create_demo_app(Settings(port=port, data_dir=tmp_path).with_channels(channels), demo_media, options)
    with run_server(app, port):
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 60
            outcomes = await asyncio.gather(*(first_filled_break(http, base, name, deadline) for name in MODES))
            await asyncio.sleep(0.5)  # error beacons leave through the queue, never awaited by a request
            async with http.get(f"{base}/demo/ads/beacons") as response:
                beacons = await response.json()
            async with http.get(f"{base}/v1/ssai/stats") as response:
                metrics = await response.json()
    assert dict(zip(MODES, outcomes, strict=True)) == {
        "wrap5": "ads",
        "wrap6": "slate",
        "vmap": "ads",
        "error": "slate",
        "empty": "slate",
        "xslt": "ads (transformed)",
    }
    codes = {hit["params"].get("code") for hit in beacons if hit["event"] == "error"}
    assert "302" in codes, f"the Wrapper limit is reported to the Wrappers' Error URIs (got {codes})"
    assert metrics["decisions"].get("ADS_ERROR", 0) >= 1
    assert metrics["beacons"].get("fired", 0) >= 1


async def failed_decisions(http: aiohttp.ClientSession, base: str, deadline: float) -> dict[str, int]:
    """/v1/ssai/stats' decision counts once a decision has failed (a late decision fails after its break got slate)."""
    while True:
        async with http.get(f"{base}/v1/ssai/stats") as response:
            counts: dict[str, int] = (await response.json())["decisions"]
        if {"TRANSFORM_FAILED", "ADS_TIMEOUT", "ADS_ERROR"} & counts.keys() or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(0.5)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("ad_query", "transforms", "reason", "not_reason"),
    [
        ("", (Transform(xpath="/VAST", xslt=CPU_BOMB),), "TRANSFORM_FAILED", "ADS_TIMEOUT"),  # the transform's
        ("mode=slow&delay=5", (), "ADS_TIMEOUT", "TRANSFORM_FAILED"),  # the ad server over ad_timeout
    ],
    ids=["transform-over-its-limit", "ad-server-over-its-timeout"],
)
async def test_a_failed_decision_is_counted_under_the_reason_of_what_failed(
    demo_media: DemoMedia,
    tmp_path: Path,
    ad_query: str,
    transforms: tuple[Transform, ...],
    reason: str,
    not_reason: str,
) -> None:
    """A transform that runs over its time limit is the transform's failure, not an ad server timeout."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    channels = {"failing": replace(demo_channel(base, "failing", ad_query), ad_transforms=transforms)}
    settings = Settings(port=port, data_dir=tmp_path, transform_timeout=0.5, ad_timeout=1.0).with_channels(channels)
    options = DemoOptions(port=port, target_duration=2, ad_interval=12, ad_duration=6, window_segments=8)
    with run_server(create_demo_app(settings, demo_media, options), port):
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 60
            outcome = await first_filled_break(http, base, "failing", deadline)
            counts = await failed_decisions(http, base, deadline)
    assert outcome == "slate"
    assert counts.get(reason, 0) >= 1, counts
    assert not_reason not in counts, counts
