"""HLS creatives made with real ffmpeg, and the edge they are served from: a live origin of any ladder and an ad
server whose VAST names one of them (fakes at the edge; the proxy and its media pipeline are real)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from proxy.demo.testing import FakeOrigin
from proxy.hls.master import MasterPlaylist, parse_master
from proxy.hls.playlist import parse_media
from proxy.hls.profile import TranscodeProfile, derive_profile
from proxy.media.transcode import default_ffmpeg, stream_codecs

M3U8 = "application/vnd.apple.mpegurl"
FPS = 25

# Content ladders the origin serves by name: what each channel's master promises.
LADDERS = {
    # One muxed Baseline variant, level 3.1: a creative at level 3.0 fits it.
    "baseline": ('#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.42C01F,mp4a.40.2"\nv0.m3u8\n'),
    # The baseline variant without its audio, which comes from a stereo rendition of its own.
    "demuxed": (
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",CHANNELS="2",URI="a0.m3u8"\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.42C01F,mp4a.40.2",AUDIO="aud"\nv0.m3u8\n'
    ),
    # High 1280x720 and 640x360 (muxed): a Baseline 640x360 creative matches neither.
    "high": (
        '#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS="avc1.64001F,mp4a.40.2"\nv0.m3u8\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=640x360,CODECS="avc1.64001E,mp4a.40.2"\nv1.m3u8\n'
    ),
}

VAST = """<VAST version="3.0"><Ad id="{name}"><InLine><AdSystem>edge</AdSystem><AdTitle>{name}</AdTitle>
<Impression>{base}/beacon/impression</Impression><Creatives><Creative id="{name}"><Linear>
<Duration>00:00:{seconds:02d}.000</Duration><MediaFiles>
<MediaFile delivery="streaming" type="application/x-mpegURL"
 width="640" height="360">{base}/creatives/{name}/master.m3u8</MediaFile>
</MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>
"""


@dataclass(frozen=True, slots=True)
class CreativeSpec:
    seconds: int
    segment: int  # -hls_time: the creative's own segment length
    gop: float  # seconds between keyframes: where a stream copy can cut
    fmp4: bool = False
    demuxed: bool = False  # video and audio in renditions of their own, as in a demuxed ladder


CREATIVES = {
    "long": CreativeSpec(6, 6, 1),  # 6 s segments, a keyframe every second: re-segmented by a stream copy
    "long-gop": CreativeSpec(6, 6, 6),  # one keyframe per 6 s segment: a stream copy cannot cut it
    "long-fmp4": CreativeSpec(6, 6, 1, fmp4=True),
    "long-demuxed": CreativeSpec(6, 6, 1, demuxed=True),
    "small": CreativeSpec(6, 2, 1),  # 2 s segments: fits a 2 s channel as it is
    "slate": CreativeSpec(2, 2, 1),
}


def make_creative(folder: Path, name: str) -> str:
    """`folder/name/master.m3u8` and its rendition (640x360 Baseline 3.0 with AAC; a demuxed creative has its
    audio in `a0/`): its CODECS."""
    spec = CREATIVES[name]
    argv = [default_ffmpeg(), "-nostdin", "-y", "-loglevel", "error"]
    argv += ["-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={FPS}:duration={spec.seconds}"]
    argv += ["-f", "lavfi", "-i", f"sine=frequency=500:sample_rate=48000:duration={spec.seconds}"]
    argv += ["-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-level:v", "3.0"]
    argv += ["-pix_fmt", "yuv420p", "-g", str(round(spec.gop * FPS)), "-keyint_min", str(round(spec.gop * FPS))]
    argv += ["-sc_threshold", "0", "-c:a", "aac", "-b:a", "96k"]
    if spec.demuxed:
        argv += [
            *_hls_output(folder / name / "v0", spec, ["-map", "0:v"]),
            *_hls_output(folder / name / "a0", spec, ["-map", "1:a"]),
        ]
    else:
        argv += _hls_output(folder / name / "v0", spec, [])
    subprocess.run(argv, check=True, timeout=120)
    header = (folder / name / "v0" / "init.mp4") if spec.fmp4 else (folder / name / "v0" / "seg-000.ts")
    codecs = stream_codecs(header.read_bytes(), video=True)
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{7 if spec.fmp4 else 3}"]
    if spec.demuxed:
        lines.append('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",CHANNELS="2",URI="a0/index.m3u8"')
    audio = ',AUDIO="aud"' if spec.demuxed else ""
    lines += [f'#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="{codecs}"{audio}', "v0/index.m3u8"]
    (folder / name / "master.m3u8").write_text("\n".join(lines) + "\n")
    return codecs


def _hls_output(out: Path, spec: CreativeSpec, maps: list[str]) -> list[str]:
    out.mkdir(parents=True)
    ext = "m4s" if spec.fmp4 else "ts"
    args = [*maps, "-f", "hls", "-hls_time", str(spec.segment), "-hls_playlist_type", "vod"]
    args += ["-hls_segment_type", "fmp4" if spec.fmp4 else "mpegts"]
    return [*args, "-hls_segment_filename", str(out / f"seg-%03d.{ext}"), str(out / "index.m3u8")]


def ladder_profile(ladder: str, target_duration: int = 2) -> tuple[MasterPlaylist, TranscodeProfile]:
    """The master and transcode profile of a channel serving `ladder` with segments of `target_duration`."""
    master = parse_master(f"#EXTM3U\n{LADDERS[ladder]}".encode(), "http://origin.test/master.m3u8", "/s")
    media = parse_media(f"#EXTM3U\n#EXT-X-TARGETDURATION:{target_duration}\n#EXTINF:2,\na.ts\n".encode())
    return master, derive_profile(master, {track.name: media for track in master.tracks})


class Edge:
    """`/{ladder}/master.m3u8` and its live media playlists (FakeOrigin's timeline: a 3-segment break every 5
    segments), `/vast?creative=NAME`, and the creatives of `folder` under `/creatives/`."""

    def __init__(self, folder: Path, td: int = 2, every: int = 5) -> None:
        self.timeline = FakeOrigin(td=td, window=6, every=every, break_segments=3)
        self.app = Starlette(
            routes=[
                Route("/vast", self.vast),
                Route("/beacon/{event}", self.beacon),
                Mount("/creatives", StaticFiles(directory=folder)),
                Route("/{ladder}/master.m3u8", self.master),
                Route("/{ladder}/{name}.m3u8", self.media),
            ]
        )

    async def master(self, request: Request) -> Response:
        ladder = LADDERS.get(request.path_params["ladder"])
        if ladder is None:
            return PlainTextResponse("no such ladder", status_code=404)
        return PlainTextResponse(f"#EXTM3U\n#EXT-X-VERSION:3\n{ladder}", media_type=M3U8)

    async def media(self, request: Request) -> Response:
        timeline = self.timeline
        return PlainTextResponse(timeline.playlist(request.path_params["name"], timeline.edge()), media_type=M3U8)

    async def vast(self, request: Request) -> Response:
        name = request.query_params["creative"]
        base = f"{request.url.scheme}://{request.url.netloc}"
        body = VAST.format(name=name, base=base, seconds=CREATIVES[name].seconds)
        return PlainTextResponse(body, media_type="application/xml")

    async def beacon(self, request: Request) -> Response:
        return Response(status_code=204)
