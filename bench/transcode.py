"""Wall time of `proxy.media.transcode.transcode`: a 30 s 1080p MP4 creative into a 1080p/720p/360p TS ladder.

The source (H.264 + AAC stereo, 30 fps, made here with ffmpeg; its encoding is not timed) stands for a
typical ad server MediaFile. Run: `python -m bench.transcode [SECONDS] [PRESET]`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from proxy.hls.profile import TranscodeProfile, VariantProfile
from proxy.media.transcode import default_ffmpeg, transcode

LADDER = (
    ("v0", 1920, 1080, 6_000_000, "avc1.640028", "high", "4.0"),
    ("v1", 1280, 720, 3_000_000, "avc1.64001F", "high", "3.1"),
    ("v2", 640, 360, 900_000, "avc1.4D401E", "main", "3.0"),
)


def profile() -> TranscodeProfile:
    variants = tuple(
        VariantProfile(name, w, h, bw, None, codec, prof, level, "mp4a.40.2", 30.0, None)
        for name, w, h, bw, codec, prof, level in LADDER
    )
    return TranscodeProfile(variants, (), 6, "ts")


def make_source(path: Path, seconds: int) -> None:
    subprocess.run(
        [
            *(default_ffmpeg(), "-nostdin", "-y", "-loglevel", "error"),
            *("-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}"),
            *("-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"),
            *("-c:v", "libx264", "-preset", "ultrafast", "-b:v", "8M", "-pix_fmt", "yuv420p"),
            *("-c:a", "aac", "-ac", "2", "-b:a", "128k", str(path)),
        ],
        check=True,
    )


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    preset = sys.argv[2] if len(sys.argv) > 2 else "veryfast"
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source.mp4"
        make_source(source, seconds)
        result = transcode(source, profile(), Path(tmp) / "out", preset=preset, timeout=1800)
        report = {
            "source_seconds": seconds,
            "preset": preset,
            "cpus": os.cpu_count(),
            "wall_seconds": round(result.seconds, 2),
            "realtime_factor": round(result.seconds / result.duration, 2),
            "segments": result.renditions[0].segments,
            "renditions": {r.name: [r.resolution, r.codecs, r.peak_bandwidth] for r in result.renditions},
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
