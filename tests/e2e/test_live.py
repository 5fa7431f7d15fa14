"""End to end through a real uvicorn: the demo origin, ad server and proxy; two sessions, several breaks."""

from __future__ import annotations

import asyncio
import re
import time

import aiohttp
import pytest

from proxy.hls.playlist import parse_media
from tests.hls.invariants import check_track, check_tracks_agree

_CONTENT = re.compile(r"/demo/origin/[^/]+/seg-(\d+)\.ts$")
_AD = re.compile(r"/demo/ads/(?:creatives/([^/]+)|(slate))/[^/]+/seg-(\d+)\.ts$")
NO_EDGE = 10**9


def demo_identity(uri: str) -> str:
    if match := _CONTENT.search(uri):
        return f"content:c{match.group(1)}"
    match = _AD.search(uri)
    assert match is not None, f"unexpected segment URI {uri}"
    return f"ad:{match.group(1) or match.group(2)}:{int(match.group(3))}"


async def _session(http: aiohttp.ClientSession, base: str) -> tuple[str, str]:
    # Client reporting: segment URIs are the ads' own, so identities come from them (the redirect endpoint of
    # server-side beacons is covered by tests/e2e/test_beacons.py and the browser test).
    async with http.post(f"{base}/v1/ssai/session/demo/main.m3u8?reportingMode=client") as response:
        assert response.status == 200
        urls = await response.json()
    assert urls["manifestUrl"].startswith("/v1/ssai/master/demo/main.m3u8?session_id=")
    assert urls["trackingUrl"].startswith("/v1/ssai/tracking/demo/")
    return urls["manifestUrl"].rsplit("=", 1)[1], urls["trackingUrl"]


async def _poll(
    http: aiohttp.ClientSession, base: str, session_id: str, seconds: float, tracked: list[dict[str, object]]
) -> dict[str, list[bytes]]:
    """Poll every variant as a player switching variants would, and the tracking API as StreamPackage says."""
    outputs: dict[str, list[bytes]] = {"v0": [], "v1": [], "v2": []}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        async with http.get(f"{base}/v1/ssai/tracking/demo/{session_id}") as response:
            assert response.status == 200
            tracked += [ad for avail in (await response.json())["avails"] for ad in avail["ads"]]
        for track, bodies in outputs.items():
            async with http.get(f"{base}/v1/ssai/media/demo/{session_id}/{track}.m3u8") as response:
                assert response.status == 200, await response.text()
                assert response.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
                bodies.append(await response.read())
        await asyncio.sleep(0.7)
    return outputs


def _ad_breaks(bodies: list[bytes]) -> set[int]:
    """Media sequence numbers of the first ad segment of each break seen."""
    starts: set[int] = set()
    for body in bodies:
        previous = "content"
        for segment in parse_media(body).segments:
            kind = demo_identity(segment.uri).split(":")[0]
            if kind == "ad" and previous == "content":
                starts.add(segment.msn)
            previous = kind
    return starts


@pytest.mark.slow
async def test_two_sessions_play_several_breaks_with_every_invariant(demo_server: str) -> None:
    async with aiohttp.ClientSession() as http:
        first, _ = await _session(http, demo_server)
        await asyncio.sleep(5)
        second, _ = await _session(http, demo_server)
        ads: list[dict[str, object]] = []
        polls = await asyncio.gather(_poll(http, demo_server, first, 40, ads), _poll(http, demo_server, second, 35, []))
    for outputs in polls:
        edges = {track: [NO_EDGE] * len(bodies) for track, bodies in outputs.items()}
        per_track = {
            track: check_track(bodies, 2, [], edges[track], demo_identity) for track, bodies in outputs.items()
        }
        check_tracks_agree(per_track)
        assert len(_ad_breaks(outputs["v0"])) >= 2, "each session plays at least two filled breaks"
    assert len(ads) >= 2
    every = {"impression", "start", "firstQuartile", "midpoint", "thirdQuartile", "complete", "clickThrough"}
    # Client reporting: every event of the ad, for the player to fire.
    assert all({e["eventType"] for e in ad["trackingEvents"]} >= every for ad in ads)  # type: ignore[attr-defined]
    sequences = [ad["mediaSequence"] for ad in ads]
    assert len(sequences) == len(set(sequences)), "the tracking API never returns an event twice"
