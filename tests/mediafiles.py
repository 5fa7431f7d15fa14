"""Small generated MP4 creatives and the channel profiles of tests/data/profile, for the media pipeline tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

from proxy.hls.master import MasterPlaylist, parse_master
from proxy.hls.playlist import parse_media
from proxy.hls.profile import TranscodeProfile, derive_profile
from proxy.media.transcode import default_ffmpeg

DATA = Path(__file__).parent / "data" / "profile"


def channel(master_file: str, media_file: str) -> tuple[MasterPlaylist, TranscodeProfile]:
    master = parse_master((DATA / master_file).read_bytes(), "https://origin.test/master.m3u8", "/s/{session}")
    playlist = parse_media((DATA / media_file).read_bytes())
    return master, derive_profile(master, {track.name: playlist for track in master.tracks})


CHANNELS = {"ts": ("ts_channel.m3u8", "media_ts.m3u8"), "fmp4": ("fmp4_channel.m3u8", "media_fmp4.m3u8")}

# name: (lavfi video, lavfi audio or None, seconds); the audio layouts are what the ads are not.
SOURCES = {
    "4x3-30fps-mono-44k": ("testsrc2=size=320x240:rate=30", "sine=frequency=440:sample_rate=44100", 3),
    "wide-24fps-5.1": ("testsrc2=size=256x108:rate=24", "sine=frequency=300:sample_rate=48000", 2),
    "square-video-only": ("testsrc2=size=200x200:rate=25", None, 2),
}


def make_source(folder: Path, name: str) -> Path:
    video, audio, seconds = SOURCES[name]
    path = folder / f"{name}.mp4"
    argv = [
        default_ffmpeg(),
        "-nostdin",
        "-y",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"{video}:duration={seconds}",
    ]
    if audio is not None:
        layout = "mono" if "mono" in name else "5.1"
        argv += ["-f", "lavfi", "-i", f"{audio}:duration={seconds}", "-af", f"aformat=channel_layouts={layout}"]
        argv += ["-c:a", "aac"]
    argv += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(argv, check=True, timeout=60)
    return path
