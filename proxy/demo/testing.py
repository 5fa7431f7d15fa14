"""Fakes at the edge, shipped for tests and benchmarks (like starlette.testclient): a live origin that makes
playlists from the clock and can be told to fail."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from proxy.hls.tags import (
    EXT_X_CUE_IN,
    EXT_X_CUE_OUT,
    EXT_X_ENDLIST,
    EXT_X_MEDIA,
    EXT_X_MEDIA_SEQUENCE,
    EXT_X_PLAYLIST_TYPE,
    EXT_X_STREAM_INF,
    EXT_X_TARGETDURATION,
    EXT_X_VERSION,
    EXTINF,
    EXTM3U,
)
from proxy.net.egress import EgressPolicy
from proxy.settings import Settings

# Test origins, ad servers and beacon endpoints listen on 127.0.0.1, which the egress policy refuses by
# default (as in production): tests opt in, explicitly.
LOCAL_POLICY = EgressPolicy(allow_loopback=True)


def local_settings(**fields: Any) -> Settings:
    """Settings for a proxy whose origin and ad server are test servers on 127.0.0.1: loopback allowed."""
    return Settings(egress_allow_loopback=True, **fields)


MASTER = f"""{EXTM3U}
{EXT_X_STREAM_INF}:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.42C01E,mp4a.40.2",AUDIO="aud"
v0.m3u8
{EXT_X_STREAM_INF}:BANDWIDTH=400000,RESOLUTION=480x270,CODECS="avc1.42C01E,mp4a.40.2",AUDIO="aud"
v1.m3u8
{EXT_X_MEDIA}:TYPE=AUDIO,GROUP-ID="aud",NAME="en",DEFAULT=YES,URI="audio.m3u8"
"""


VAST = """<VAST version="3.0"><Ad id="fake-ad"><InLine><AdSystem>fake</AdSystem><AdTitle>Fake ad</AdTitle>
<Impression>{beacon}/impression?ts=[TIMESTAMP]</Impression><Impression>{beacon}/impression2</Impression>
<Creatives><Creative id="fake-creative"><Linear><Duration>{duration}</Duration><TrackingEvents>
<Tracking event="start">{beacon}/start</Tracking><Tracking event="firstQuartile">{beacon}/firstQuartile</Tracking>
<Tracking event="midpoint">{beacon}/midpoint</Tracking><Tracking event="thirdQuartile">{beacon}/thirdQuartile</Tracking>
<Tracking event="complete">{beacon}/complete</Tracking></TrackingEvents>
<VideoClicks><ClickThrough>https://example.com/fake</ClickThrough></VideoClicks>
<MediaFiles><MediaFile delivery="{delivery}" type="{type}" width="640" height="360">{media}</MediaFile>
</MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>
"""


def vast_document(duration: str, beacon: str, media: str, *, mp4: bool = False) -> str:
    """The fake ad: `media` an HLS master (streamed) or, with `mp4`, a video file (progressive, to transcode)."""
    delivery, kind = ("progressive", "video/mp4") if mp4 else ("streaming", "application/x-mpegURL")
    return VAST.format(duration=duration, beacon=beacon, media=media, delivery=delivery, type=kind)


VMAP = """<vmap:VMAP xmlns:vmap="http://www.iab.net/videosuite/vmap" version="1.0">
<vmap:AdBreak timeOffset="#1" repeatAfter="00:00:01" breakType="linear" breakId="mid"><vmap:AdSource id="mid-ads">
<vmap:VASTAdData>{vast}</vmap:VASTAdData></vmap:AdSource><vmap:TrackingEvents>
<vmap:Tracking event="breakStart">{beacon}/breakStart</vmap:Tracking>
<vmap:Tracking event="breakEnd">{beacon}/breakEnd</vmap:Tracking></vmap:TrackingEvents></vmap:AdBreak></vmap:VMAP>
"""


class FakeOrigin:
    """Segment n spans [epoch + n·td, epoch + (n+1)·td); a break of `break_segments` starts every `every`."""

    def __init__(
        self,
        td: int = 2,
        window: int = 6,
        every: int = 10,
        break_segments: int = 3,
        epoch: float | None = None,
        mp4: bytes | None = None,
    ) -> None:
        """`mp4`: a video file served at /media/ad.mp4, the creative of `vast?media=mp4` (one to transcode)."""
        self.td, self.window, self.every, self.break_segments = td, window, every, break_segments
        self.mp4 = mp4
        self.epoch = time.time() - window * td if epoch is None else epoch
        self.mode = "ok"  # "ok", "error" (HTTP 500) or "timeout" (answers after 5 s)
        self.beacon_mode = "ok"  # the same for the beacon endpoint, and "slow" (answers after 1 s)
        # Every beacon received: (path after /beacon/, query, headers), in arrival order.
        self.beacons: list[tuple[str, str, dict[str, str]]] = []
        self.requests: Counter[str] = Counter()
        self.vast_times: list[float] = []
        self.vast_queries: list[str] = []  # the query string of every ad request (ad tag variables)
        self.app = Starlette(
            routes=[
                Route("/master.m3u8", self.master),
                Route("/stats", self.stats),
                Route("/vast", self.vast),
                Route("/beacon/{event}", self.beacon, name="beacon"),
                Route("/ad/master.m3u8", self.ad_master, name="ad_master"),
                Route("/media/ad.mp4", self.ad_mp4, name="ad_mp4"),
                Route("/ad/{name}.m3u8", self.ad_media),
                Route("/{name}.m3u8", self.media),
            ]
        )

    async def master(self, request: Request) -> Response:
        self.requests["master"] += 1
        return PlainTextResponse(MASTER, media_type="application/vnd.apple.mpegurl")

    def playlist(self, name: str, edge: int) -> str:
        first = max(0, edge - self.window + 1)
        lines = [EXTM3U, f"{EXT_X_VERSION}:3", f"{EXT_X_TARGETDURATION}:{self.td}", f"{EXT_X_MEDIA_SEQUENCE}:{first}"]
        for msn in range(first, edge + 1):
            lines += self.markers(msn) if name != "audio" else []
            lines += [f"{EXTINF}:{self.td:.3f},", f"{name}/{msn}.ts"]
        return "\n".join(lines) + "\n"

    def markers(self, msn: int) -> list[str]:
        """The break markers on segment `msn` of a video playlist (audio playlists carry none)."""
        offset = msn % self.every
        if msn >= self.every and offset == 0:
            return [f"{EXT_X_CUE_OUT}:{self.break_segments * self.td:.3f}"]
        if msn >= self.every and offset == self.break_segments:
            return [EXT_X_CUE_IN]
        return []

    async def stats(self, request: Request) -> Response:
        body = json.dumps({"requests": dict(self.requests), "vast_times": self.vast_times})
        return PlainTextResponse(body, media_type="application/json")

    def edge(self, now: float | None = None) -> int:
        """The last segment published at `now` (default: the current time)."""
        return int(((now or time.time()) - self.epoch) // self.td) - 1

    def next_break_seen_at(self, after: float) -> float:
        """When the first segment of the first break starting after `after` is published."""
        msn = self.edge(after) + 1
        start = max(self.every, -(-msn // self.every) * self.every)
        return self.epoch + (start + 1) * self.td

    async def vast(self, request: Request) -> Response:
        """One 4-segment HLS ad (demuxed like the content: two variants and an audio rendition)."""
        self.requests["vast"] += 1
        self.vast_times.append(time.monotonic())
        self.vast_queries.append(request.url.query)
        latency = float(request.query_params.get("latency", "0"))
        if latency > 0:
            await asyncio.sleep(min(latency, 10.0))  # a busy ad server's answer time
        beacon = str(request.url_for("beacon", event="x")).removesuffix("/x")
        duration = f"00:00:{4 * self.td:02d}.000"
        if request.query_params.get("media") == "mp4":
            body = vast_document(duration, beacon, str(request.url_for("ad_mp4")), mp4=True)
        else:
            body = vast_document(duration, beacon, str(request.url_for("ad_master")))
        if request.query_params.get("mode") == "vmap":  # the ad inline in a VMAP mid-roll with break tracking
            body = VMAP.format(beacon=beacon, vast=body.strip())
        return PlainTextResponse(body, media_type="application/xml")

    async def ad_mp4(self, request: Request) -> Response:
        if self.mp4 is None:
            return PlainTextResponse("no MP4 creative here", status_code=404)
        return Response(self.mp4, media_type="video/mp4")

    async def beacon(self, request: Request) -> Response:
        self.beacons.append((request.path_params["event"], request.url.query, dict(request.headers)))
        if self.beacon_mode == "error":
            return PlainTextResponse("broken", status_code=500)
        if self.beacon_mode == "timeout":
            await asyncio.sleep(5)
        if self.beacon_mode == "slow":
            await asyncio.sleep(1)
        return Response(status_code=204)

    async def ad_master(self, request: Request) -> Response:
        return PlainTextResponse(MASTER, media_type="application/vnd.apple.mpegurl")

    async def ad_media(self, request: Request) -> Response:
        name = request.path_params["name"]
        lines = [EXTM3U, f"{EXT_X_VERSION}:3", f"{EXT_X_TARGETDURATION}:{self.td}", f"{EXT_X_PLAYLIST_TYPE}:VOD"]
        for index in range(4):
            lines += [f"{EXTINF}:{self.td:.3f},", f"{name}/{index}.ts"]
        return PlainTextResponse("\n".join([*lines, EXT_X_ENDLIST]) + "\n", media_type="application/vnd.apple.mpegurl")

    async def media(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.requests[name] += 1
        if self.mode == "error":
            return PlainTextResponse("broken", status_code=500)
        if self.mode == "timeout":
            await asyncio.sleep(5)
        edge = self.edge()
        return PlainTextResponse(self.playlist(name, edge), media_type="application/vnd.apple.mpegurl")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def run_server(app: Starlette, port: int) -> Iterator[str]:
    # Keep-alive as `ssai-proxy serve` (30 s): uvicorn's 5 s default races a client reusing a connection after
    # a 5 s pause (a reset on the next request).
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on", timeout_keep_alive=30
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main() -> None:
    """`python -m proxy.demo.testing PORT TD EVERY BREAK_SEGMENTS EPOCH`: a FakeOrigin in a process of its own."""
    import sys

    port, td, every, segments = (int(value) for value in sys.argv[1:5])
    origin = FakeOrigin(td=td, window=6, every=every, break_segments=segments, epoch=float(sys.argv[5]))
    uvicorn.run(origin.app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
