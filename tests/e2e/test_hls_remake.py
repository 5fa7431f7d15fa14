"""HLS creatives that do not fit their channel, end to end on real uvicorn servers: the proxy, and an edge (live
origin, ad server, creatives made by real ffmpeg: tests/hlsads.py).

- 6 s creative segments on a 2 s channel: skipped in the first break (NEW_CREATIVE, slate), re-segmented by a
  stream copy meanwhile, played from a later break with every segment within the target duration.
- A Baseline 640x360 creative on a High 1280x720 + 640x360 channel: transcoded, each variant's ad segments
  of the resolution and profile the session's master advertises for it.
- A creative that fits is played as it is, from the first break, with no job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from proxy.hls.attributes import parse_attributes
from proxy.hls.playlist import parse_media
from proxy.hls.profile import h264_profile_level
from proxy.media.transcode import probe, stream_codecs
from proxy.settings import ChannelConfig
from proxy.web.app import create_app
from tests.e2e.test_media import get_json, poll_until
from tests.hls.invariants import check_track, check_tracks_agree
from tests.hlsads import Edge, make_creative
from tests.servers import free_port, local_settings, run_server

TD = 2
NO_EDGE = 10**9
ASSETS = "/v1/ssai/assets/"


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("creatives")
    for name in ("long", "small", "slate"):
        make_creative(folder, name)
    with run_server(Edge(folder, td=TD).app, free_port()) as url:
        yield url


@pytest.fixture
def proxy(edge: str, tmp_path: Path) -> Iterator[str]:
    """A proxy of its own per test (its job list and counts are the test's), with one channel per case."""
    channels = {
        "resegment": ChannelConfig(
            "resegment",
            f"{edge}/baseline/master.m3u8",
            ad_tag=f"{edge}/vast?creative=long",
            slate=f"{edge}/creatives/slate/master.m3u8",
        ),
        "transcode": ChannelConfig("transcode", f"{edge}/high/master.m3u8", ad_tag=f"{edge}/vast?creative=small"),
        "unchanged": ChannelConfig("unchanged", f"{edge}/baseline/master.m3u8", ad_tag=f"{edge}/vast?creative=small"),
        "long-slate": ChannelConfig(
            "long-slate", f"{edge}/baseline/master.m3u8", slate=f"{edge}/creatives/long/master.m3u8"
        ),
    }
    settings = local_settings(data_dir=tmp_path, transcode_preset="ultrafast", metrics_open=True).with_channels(
        channels
    )
    with run_server(create_app(settings), free_port()) as url:
        yield url


def identify(uri: str) -> str:
    """tests/hls/invariants.py identities: ad:{creative}:{index} for ad and slate segments, content:c{msn}."""
    parts = urlsplit(uri).path.split("/")
    if "creatives" in parts:
        return f"ad:{parts[parts.index('creatives') + 1]}:{int(parts[-1][4:7])}"
    if uri.startswith(ASSETS):
        return f"ad:{parts[-3]}:{int(parts[-1][4:7])}"
    return f"content:c{int(parts[-1].removesuffix('.ts'))}"


def kind(uri: str) -> str:
    """remade (from the proxy's asset folder), slate, as-is (a creative from the ad server) or content."""
    if uri.startswith(ASSETS):
        return "remade"
    identity = identify(uri)
    if identity.startswith("content:"):
        return "content"
    return "slate" if identity.startswith("ad:slate:") else "as-is"


def breaks(bodies: list[bytes]) -> list[set[str]]:
    """The kinds of segment each break was filled with, in order (a break: a run of non-content msns)."""
    kinds = {segment.msn: kind(segment.uri) for body in bodies for segment in parse_media(body).segments}
    found: list[set[str]] = []
    for msn in sorted(kinds):
        if kinds[msn] != "content":
            if kinds.get(msn - 1, "content") == "content":
                found.append(set())
            found[-1].add(kinds[msn])
    return found


async def play(
    http: aiohttp.ClientSession, base: str, channel: str, tracks: list[str], enough: Callable[[list[set[str]]], bool]
) -> dict[str, list[bytes]]:
    """Poll the session's playlists like a player until `enough(the breaks of v0)`."""
    urls = await get_json(http, f"{base}/v1/ssai/session/{channel}/main.m3u8?reportingMode=client", "POST")
    session = urls["manifestUrl"].rsplit("=", 1)[1]
    outputs: dict[str, list[bytes]] = {track: [] for track in tracks}
    await poll_until(
        http,
        f"{base}/v1/ssai/media/{channel}/{session}",
        outputs,
        lambda: enough(breaks(outputs["v0"])),
        TD / 3,
        lambda: breaks(outputs["v0"]),
    )
    return outputs


def check_invariants(outputs: dict[str, list[bytes]]) -> None:
    per_track = {
        track: check_track(bodies, TD, [], [NO_EDGE] * len(bodies), identify) for track, bodies in outputs.items()
    }
    check_tracks_agree(per_track)


def remade_in_a_later_break(found: list[set[str]]) -> bool:
    return len(found) >= 2 and any("remade" in fill for fill in found[1:])


@pytest.mark.slow
async def test_long_segments_are_re_segmented_and_played_from_a_later_break(proxy: str) -> None:
    async with aiohttp.ClientSession() as http:
        outputs = await play(http, proxy, "resegment", ["v0"], remade_in_a_later_break)
        metrics = await get_json(http, f"{proxy}/v1/ssai/stats")
    first, *later = breaks(outputs["v0"])
    assert first == {"slate"}, f"the first break has slate while the creative is re-segmented: {[first, *later]}"
    playing = next(index for index, fill in enumerate(later) if "remade" in fill)
    assert all(fill == {"slate"} for fill in later[:playing]), later
    assert all("remade" in fill for fill in later[playing:]), later
    assert metrics["decisions"]["NEW_CREATIVE"] >= 1 and metrics["jobs"] == {"ready": 1}
    ads = [s for body in outputs["v0"] for s in parse_media(body).segments if s.uri.startswith(ASSETS)]
    assert {round(s.duration, 1) for s in ads} == {2.0}, "6 s segments cut at the channel's 2 s"
    check_invariants(outputs)  # every EXTINF within TARGETDURATION, numbering, discontinuities


@pytest.mark.slow
async def test_a_creative_unlike_the_ladder_is_transcoded_to_each_variant(proxy: str, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http:
        outputs = await play(http, proxy, "transcode", ["v0", "v1"], lambda found: any("remade" in f for f in found))
        async with http.get(f"{proxy}/v1/ssai/session/transcode/main.m3u8") as response:
            master = (await response.read()).decode()
        segments = {}
        for track, bodies in outputs.items():
            uri = next(s.uri for body in bodies for s in parse_media(body).segments if s.uri.startswith(ASSETS))
            async with http.get(proxy + uri) as response:
                assert response.status == 200
                segments[track] = await response.read()
    promised = [
        parse_attributes(line.split(":", 1)[1]) for line in master.splitlines() if line.startswith("#EXT-X-STREAM-INF")
    ]
    assert [p.get("RESOLUTION") for p in promised] == ["1280x720", "640x360"], master
    for track, attrs in zip(["v0", "v1"], promised, strict=True):
        path = tmp_path / f"{track}.ts"
        path.write_bytes(segments[track])
        info = probe(path)
        codec = stream_codecs(segments[track], video=True).split(",")[0]
        assert f"{info.width}x{info.height}" == attrs.get("RESOLUTION"), f"{track} plays what the master promises"
        assert h264_profile_level(codec)[0] == h264_profile_level(str(attrs.get("CODECS")).split(",")[0])[0] == "high"
    check_invariants(outputs)


async def test_a_creative_that_fits_is_played_as_it_is(proxy: str) -> None:
    async with aiohttp.ClientSession() as http:
        outputs = await play(http, proxy, "unchanged", ["v0"], lambda found: len(found) >= 2)
        metrics = await get_json(http, f"{proxy}/v1/ssai/stats")
    assert all(fill == {"as-is"} for fill in breaks(outputs["v0"])), breaks(outputs["v0"])
    assert metrics["jobs"] == {}, "no job for a creative that fits"
    check_invariants(outputs)


@pytest.mark.slow
async def test_a_slate_with_long_segments_is_re_segmented(proxy: str) -> None:
    async with aiohttp.ClientSession() as http:
        outputs = await play(http, proxy, "long-slate", ["v0"], lambda found: any("remade" in f for f in found))
        metrics = await get_json(http, f"{proxy}/v1/ssai/stats")
    assert metrics["jobs"] == {"ready": 1}
    slate = [s for body in outputs["v0"] for s in parse_media(body).segments if s.uri.startswith(ASSETS)]
    assert {round(s.duration, 1) for s in slate} == {2.0}, "the slate's 6 s segments cut at the channel's 2 s"
    check_invariants(outputs)
