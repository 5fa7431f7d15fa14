"""A 24 s break with 23 s of ads is filled to 24 s, within one frame, and PROGRAM-DATE-TIME goes on without a
hole after it: real uvicorn servers for the proxy and a live origin with PROGRAM-DATE-TIME and a 23 s HLS ad,
a slate video the media pipeline transcodes with real ffmpeg (and cuts into pieces), all over HTTP.

What ffmpeg cut is measured too: every slate segment the session's playlists name lasts what its EXTINF says
(packet timestamps read back with ffmpeg, which imageio-ffmpeg ships without ffprobe), and each piece's audio
starts with its video and ends within one AAC frame of it.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from proxy.demo.testing import FakeOrigin, vast_document
from proxy.hls.fill import pdt_line
from proxy.hls.playlist import Segment, parse_media, parse_pdt
from proxy.media.transcode import AAC_FRAME, SAMPLE_RATE, default_ffmpeg
from proxy.settings import ChannelConfig, Settings
from proxy.web.app import create_app
from tests.hls.invariants import check_track, check_tracks_agree
from tests.mediafiles import make_source
from tests.servers import free_port, run_server

TD = 2
BREAK = 12  # segments: a 24 s break
AD = [2.0] * 11 + [1.0]  # 23 s of ad
FPS = 30.0  # the slate source's rate (the origin's master names none)
WAIT = 300.0  # a bound for a transcode and a break on a loaded machine, not a measure
TRACKS = ("v0", "v1", "a0")


class PaddedOrigin(FakeOrigin):
    """A live origin with PROGRAM-DATE-TIME on every segment, a 24 s break every 28 s, and a 23 s ad."""

    def __init__(self) -> None:
        super().__init__(td=TD, window=8, every=BREAK + 2, break_segments=BREAK)

    def playlist(self, name: str, edge: int) -> str:
        first, lines = max(0, edge - self.window + 1), list[str]()
        for line in super().playlist(name, edge).splitlines():
            if line.startswith("#EXTINF"):
                msn = first + sum(seen.startswith("#EXTINF") for seen in lines)
                lines.append(pdt_line(self.epoch + msn * self.td))
            lines.append(line)
        return "\n".join(lines) + "\n"

    async def vast(self, request: Request) -> Response:
        master, beacon = str(request.url_for("ad_master")), str(request.base_url).rstrip("/")
        return PlainTextResponse(vast_document("00:00:23.000", beacon, master))

    async def ad_media(self, request: Request) -> Response:
        name = request.path_params["name"]
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{TD}", "#EXT-X-PLAYLIST-TYPE:VOD"]
        for index, duration in enumerate(AD):
            lines += [f"#EXTINF:{duration:.3f},", f"{name}/{index}.ts"]
        return PlainTextResponse("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("remainder")
    slate = make_source(folder, "4x3-30fps-mono-44k")
    origin, origin_port = PaddedOrigin(), free_port()
    origin_url = f"http://127.0.0.1:{origin_port}"
    channel = ChannelConfig("padded", f"{origin_url}/master.m3u8", ad_tag=f"{origin_url}/vast", slate=str(slate))
    settings = Settings(
        data_dir=folder / "data", egress_allow_loopback=True, transcode_preset="ultrafast", metrics_open=True
    )
    with (
        run_server(origin.app, origin_port),
        run_server(create_app(settings.with_channels({"padded": channel})), free_port()) as proxy,
    ):
        yield proxy, origin_url


def identity(uri: str) -> str:
    """The same moment in every track: content:c{msn}, ad:ad:{index}, ad:slate:{index}, ad:slate-{frames}:0."""
    if match := re.search(r"/ad/\w+/(\d+)\.ts$", uri):
        return f"ad:ad:{match.group(1)}"
    if match := re.search(r"/assets/.*?(?:/pieces/(\d+))?/\w+/seg-(\d+)\.ts$", uri):
        return f"ad:slate{'-' + match.group(1) if match.group(1) else ''}:{int(match.group(2))}"
    match = re.search(r"/\w+/(\d+)\.ts$", uri)
    assert match is not None, f"unexpected segment URI {uri}"
    return f"content:c{match.group(1)}"


async def _wait_for_slate(http: aiohttp.ClientSession, proxy: str) -> None:
    """A first session starts the channel, whose slate job then runs: wait until it is ready."""
    async with http.post(f"{proxy}/v1/ssai/session/padded/main.m3u8") as response:
        assert response.status == 200, await response.text()
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        async with http.get(f"{proxy}/v1/ssai/stats") as response:  # the operator's job counts, by state
            jobs = (await response.json())["jobs"]
        assert "error" not in jobs, jobs
        if jobs and set(jobs) == {"ready"}:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"the slate was not ready in {WAIT:g} s")


def _timeline(bodies: list[bytes]) -> list[Segment]:
    """Every segment a track's playlists named, by media sequence number (a break outlasts the window)."""
    segments = {segment.msn: segment for body in bodies for segment in parse_media(body).segments}
    return [segments[msn] for msn in sorted(segments)]


def _returned(bodies: list[bytes]) -> bool:
    """The playlists showed content, then a whole break, then the content after it."""
    kinds = "".join("a" if identity(s.uri).startswith("ad:") else "c" for s in _timeline(bodies))
    return re.search("ca+c", kinds) is not None


async def _play_a_break(http: aiohttp.ClientSession, proxy: str) -> dict[str, list[bytes]]:
    async with http.post(f"{proxy}/v1/ssai/session/padded/main.m3u8?reportingMode=client") as response:
        session = str((await response.json())["manifestUrl"]).rsplit("=", 1)[1]
    outputs: dict[str, list[bytes]] = {track: [] for track in TRACKS}
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for track in TRACKS:
            async with http.get(f"{proxy}/v1/ssai/media/padded/{session}/{track}.m3u8") as response:
                assert response.status == 200, await response.text()
                outputs[track].append(await response.read())
        if all(_returned(bodies) for bodies in outputs.values()):
            return outputs
        await asyncio.sleep(1.0)
    raise AssertionError(f"no break played the ad and returned in {WAIT:g} s (session {session})")


def _break_of(segments: list[Segment]) -> tuple[list[Segment], Segment]:
    """The fill of the first whole break, and the content segment it returns to."""
    start = next(i for i, s in enumerate(segments) if i and identity(s.uri).startswith("ad:"))
    end = next(i for i in range(start, len(segments)) if identity(segments[i].uri).startswith("content"))
    return segments[start:end], segments[end]


def _packets(path: Path) -> dict[str, list[tuple[int, int]]]:
    """(pts, duration) of each packet of each stream in 90 kHz ticks, as the segment stamps them (`-copyts`)."""
    argv = [
        default_ffmpeg(),
        "-v",
        "error",
        "-copyts",
        "-i",
        str(path),
        "-map",
        "0",
        "-c",
        "copy",
        "-f",
        "framecrc",
        "-",
    ]
    report = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout
    kinds = dict(re.findall(r"#media_type (\d+): (\w+)", report))
    packets: dict[str, list[tuple[int, int]]] = {}
    for line in report.splitlines():
        if not line.startswith("#"):
            stream, _, pts, duration = (int(field) for field in line.split(",")[:4])
            packets.setdefault(kinds[str(stream)], []).append((pts, duration))
    return packets


def _span(packets: list[tuple[int, int]]) -> tuple[float, float]:
    start = min(pts for pts, _ in packets)
    return start / 90_000, max(pts + duration for pts, duration in packets) / 90_000


async def _measure(http: aiohttp.ClientSession, proxy: str, uri: str, folder: Path) -> dict[str, tuple[float, float]]:
    async with http.get(proxy + uri if uri.startswith("/") else uri) as response:
        assert response.status == 200, uri
        path = folder / f"{abs(hash(uri))}.ts"
        path.write_bytes(await response.read())
    return {kind: _span(packets) for kind, packets in _packets(path).items()}


def _pdt(segment: Segment) -> float | None:
    """The segment's own PROGRAM-DATE-TIME, if it has one."""
    lines = [line for line in segment.lines if line.startswith("#EXT-X-PROGRAM-DATE-TIME:")]
    return parse_pdt(lines[0].split(":", 1)[1]) if lines else None


@pytest.mark.slow
async def test_a_24_s_break_with_23_s_of_ads_is_filled_to_24_s(servers: tuple[str, str], tmp_path: Path) -> None:
    proxy, _ = servers
    frame = 1 / FPS
    async with aiohttp.ClientSession() as http:
        await _wait_for_slate(http, proxy)
        outputs = await _play_a_break(http, proxy)
        measured = {}
        for track in TRACKS:
            fill, _ = _break_of(_timeline(outputs[track]))
            for segment in fill:
                if identity(segment.uri).startswith("ad:slate"):
                    measured[segment.uri] = (segment.duration, await _measure(http, proxy, segment.uri, tmp_path))

    for track in TRACKS:
        fill, back = _break_of(_timeline(outputs[track]))
        assert [identity(s.uri) for s in fill[:12]] == [f"ad:ad:{i}" for i in range(12)], track
        total = sum(segment.duration for segment in fill)
        assert abs(total - 24.0) <= frame, f"{track}: {total} s of ads and slate in a 24 s break"
        # Every PROGRAM-DATE-TIME in the break and the one of the return follow on from the break's first.
        at, stamped = _pdt(fill[0]), 0
        assert at is not None, f"{track}: no PROGRAM-DATE-TIME after the DISCONTINUITY opening the break"
        for segment in [*fill, back]:
            pdt = _pdt(segment)
            if pdt is not None:
                assert abs(pdt - at) <= frame, f"{track}: PROGRAM-DATE-TIME {pdt} where {at} was due: {segment.uri}"
                stamped += 1
            at += segment.duration
        assert _pdt(back) is not None and stamped > 2, f"{track}: the return and the pieces carry PDT"
        assert any("/pieces/" in segment.uri for segment in fill), f"{track}: the remainder is slate pieces"
    for uri, (extinf, streams) in measured.items():
        kind = "audio" if "/a0/" in uri else "video"
        start, end = streams[kind]
        assert abs((end - start) - extinf) <= 0.001, f"{uri}: EXTINF {extinf} but {kind} lasts {end - start}"
        if "/pieces/" in uri and kind == "video":  # the variants are video-only: their audio is a0's piece
            audio = measured[re.sub(r"/v\d+/(seg-\d+\.ts)$", r"/a0/\1", uri)][1]["audio"]
            assert abs(audio[0] - start) <= 0.001, f"{uri}: audio starts at {audio[0]}, video at {start}"
            assert abs((audio[1] - audio[0]) - (end - start)) <= AAC_FRAME / SAMPLE_RATE, uri
    per_track = {
        track: check_track(bodies, TD, [], [10**9] * len(bodies), identity) for track, bodies in outputs.items()
    }
    check_tracks_agree(per_track)
