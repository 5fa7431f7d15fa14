"""The media pipeline end to end on a real uvicorn: a new MP4 creative is skipped in its first break (reason counted,
slate played), transcoded meanwhile, and played from a later break on, with every playlist invariant.

A demo server of its own (a fresh asset folder, so nothing is transcoded yet) with one more channel, `warm`:
the mp4 channel's origin and slate but no ad tag. A session there prepares the slate alone, so when the test's
session joins the mp4 channel the slate is ready and its creatives are new.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from proxy.demo.app import DemoOptions, mp4_channel
from proxy.demo.media import DemoMedia
from proxy.hls.playlist import parse_media
from proxy.media.assetstore import creative_folder
from tests.conftest import demo_jobs, demo_settings, run_demo
from tests.e2e.test_live import demo_identity
from tests.hls.invariants import check_track, check_tracks_agree
from tests.servers import free_port

NO_EDGE = 10**9
CREATIVE = "ad-blue-6s"  # a 6 s break holds the demo's 6 s creative only


@pytest.fixture(scope="module")
def server(demo_media: DemoMedia, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    options = DemoOptions(port=port, target_duration=2, ad_interval=12, ad_duration=6, window_segments=8)
    warm = replace(mp4_channel(base, "warm"), ad_tag=None)
    settings = demo_settings(port, tmp_path_factory.mktemp("fresh-data")).with_channels({"warm": warm})
    with run_demo(settings, demo_media, options) as url:
        yield url


async def get_json(http: aiohttp.ClientSession, url: str, method: str = "GET") -> Any:
    async with http.request(method, url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def wait_for_slate(http: aiohttp.ClientSession, base: str) -> None:
    await get_json(http, f"{base}/v1/ssai/session/warm/main.m3u8", "POST")
    deadline = time.monotonic() + 300  # a deadline, not a threshold: ffmpeg shares a loaded machine
    while time.monotonic() < deadline:
        jobs = demo_jobs(base)
        assert [job["kind"] for job in jobs] in ([], ["slate"]), jobs
        if jobs and jobs[0]["state"] == "ready":
            return
        assert not jobs or jobs[0]["state"] != "error", jobs
        await asyncio.sleep(0.3)
    raise AssertionError("the slate was not transcoded in 300 s")


def classify(uri: str, slate_folder: str, ad_folder: str) -> str:
    """tests/hls/invariants.py identities: ad:{key}:{index} for ad and slate segments, content:c{msn}."""
    index = int(uri.rsplit("/seg-", 1)[-1].removesuffix(".ts")) if "/seg-" in uri else -1
    if slate_folder in uri:
        return f"ad:slate:{index}"
    if ad_folder in uri:
        return f"ad:{CREATIVE}:{index}"
    return demo_identity(uri)  # content:c{msn}; anything else fails there


def breaks_of(bodies: list[bytes], kind: Any) -> dict[int, set[str]]:
    """Per break (its first media sequence number), the kinds of segment it was filled with."""
    kinds = {segment.msn: _kind(kind(segment.uri)) for body in bodies for segment in parse_media(body).segments}
    found: dict[int, set[str]] = {}
    start = None
    for msn in sorted(kinds):
        if kinds[msn] == "content" or msn - 1 not in kinds:
            start = None
        if kinds[msn] != "content":
            start = msn if start is None else start
            found.setdefault(start, set()).add(kinds[msn])
    return found


def _kind(identity: str) -> str:
    return "slate" if identity.startswith("ad:slate:") else identity.split(":")[0]


def ordered_breaks(bodies: list[bytes], kind: Any) -> list[set[str]]:
    found = breaks_of(bodies, kind)
    return [found[start] for start in sorted(found)]


async def poll_until_two_ad_breaks(
    http: aiohttp.ClientSession, url: str, outputs: dict[str, list[bytes]], kind: Any
) -> None:
    """Poll every track until two breaks after the first have played the ad: the transcode's length depends
    on the machine's load, so the test waits for the event (generous deadline) rather than a fixed time."""

    def done() -> bool:
        return (
            len(outputs["v0"]) % 8 == 0 and sum("ad" in fill for fill in ordered_breaks(outputs["v0"], kind)[1:]) >= 2
        )

    await poll_until(http, url, outputs, done, 0.7, lambda: ordered_breaks(outputs["v0"], kind))


async def poll_until(
    http: aiohttp.ClientSession,
    url: str,
    outputs: dict[str, list[bytes]],
    done: Callable[[], bool],
    interval: float,
    seen: Callable[[], object],
    deadline: float = 300,
) -> None:
    """Poll every track of `outputs` (the session's media playlists under `url`) until `done()`, for at most
    `deadline` seconds: a deadline, not a threshold (ffmpeg shares a loaded machine); `seen()` says what was
    seen instead."""
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        for track, bodies in outputs.items():
            async with http.get(f"{url}/{track}.m3u8") as response:
                assert response.status == 200, await response.text()
                bodies.append(await response.read())
        if done():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"not done in {deadline:g} s: {seen()}")


@pytest.mark.slow
async def test_first_break_skips_the_new_creative_with_slate_a_later_one_plays_it(server: str) -> None:
    async with aiohttp.ClientSession() as http:
        await wait_for_slate(http, server)
        jobs = demo_jobs(server)
        profile = next(job["profile"] for job in jobs if job["kind"] == "slate")
        slate_folder = f"/v1/ssai/assets/{profile}/{creative_folder('slate:' + server + '/demo/ads/mp4/slate.mp4')}/"
        ad_folder = f"/v1/ssai/assets/{profile}/{creative_folder(CREATIVE)}/"

        def kind(uri: str) -> str:
            return classify(uri, slate_folder, ad_folder)

        urls = await get_json(http, f"{server}/v1/ssai/session/mp4/main.m3u8?reportingMode=client", "POST")
        session = urls["manifestUrl"].rsplit("=", 1)[1]
        outputs: dict[str, list[bytes]] = {"v0": [], "v1": [], "v2": []}
        await poll_until_two_ad_breaks(http, f"{server}/v1/ssai/media/mp4/{session}", outputs, kind)
        metrics = await get_json(http, f"{server}/v1/ssai/stats")
        jobs = demo_jobs(server)
        segment_url = next(server + s.uri for b in outputs["v1"] for s in parse_media(b).segments if ad_folder in s.uri)
        async with http.get(segment_url) as response:
            assert response.status == 200 and response.headers["Content-Type"] == "video/mp2t"
            assert (await response.read())[0] == 0x47, "an MPEG-TS segment"

    breaks = ordered_breaks(outputs["v0"], kind)
    first, *later = breaks
    assert first == {"slate"}, f"the first break fills with slate while {CREATIVE} is transcoded: {breaks}"
    playing = [index for index, fill in enumerate(later) if "ad" in fill]
    # Slate while the transcode runs (TRANSCODE_IN_PROGRESS, as many breaks as the machine's load makes it),
    # then the ad in every break from the first that has it.
    assert all(fill == {"slate"} for fill in later[: playing[0]]), breaks
    assert all("ad" in fill for fill in later[playing[0] :]), f"later breaks play the transcoded ad: {breaks}"
    assert metrics["decisions"]["NEW_CREATIVE"] >= 1 and metrics["jobs"] == {"ready": 2}
    assert {job["key"] for job in jobs if job["kind"] == "creative"} == {CREATIVE}
    per_track = {track: check_track(bodies, 2, [], [NO_EDGE] * len(bodies), kind) for track, bodies in outputs.items()}
    check_tracks_agree(per_track)
