"""Demo media: a looping live-content ladder, three ad creatives and a slate, encoded once with ffmpeg.

Everything in HLS shares one ladder (same resolutions, H.264 profile/level, AAC-LC stereo 48 kHz in MPEG-TS)
because players stall or reset decoders when an ad's tracks differ from the content's. Each creative and the
slate also exist as a plain "mezzanine" MP4, as a real ad server serves them, deliberately shaped unlike the
ladder (854x480, 30 fps, AAC 44.1 kHz, H.264 High) so a proxy given them has to transcode. The result is
cached under `data_dir/demo-media/td{N}-v{FORMAT_VERSION}/`, built in a temporary folder and renamed
into place so a crash or a concurrent run never leaves a half-written cache behind.

`prepare_media` blocks for a few seconds (it runs ffmpeg): call it through `asyncio.to_thread`. What the media
is: catalogue.py; how it is encoded: encoding.py; here, the cache (its types are re-exported for the callers).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from proxy.demo.catalogue import DemoMedia, Mp4Asset, Rendition, VodAsset, loop_segments_for, render_master
from proxy.demo.encoding import CREATIVES, encode_media

__all__ = [
    "CREATIVES",
    "FORMAT_VERSION",
    "MARKER",
    "DemoMedia",
    "Mp4Asset",
    "Rendition",
    "VodAsset",
    "loop_segments_for",
    "prepare_media",
    "render_master",
]

FORMAT_VERSION = 2  # 2: mezzanine MP4s
MARKER = "media.json"  # written last, inside the temporary folder, before the atomic rename


def prepare_media(data_dir: Path, target_duration: int, *, ffmpeg: str | None = None) -> DemoMedia:
    """Encode the demo media once per target duration and return its description (blocking)."""
    if not 1 <= target_duration <= 30:
        raise ValueError(f"target_duration={target_duration} is outside 1..30 seconds")
    final = Path(data_dir) / "demo-media" / f"td{target_duration}-v{FORMAT_VERSION}"
    if (final / MARKER).is_file():
        return _load(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".td{target_duration}-", dir=final.parent))
    try:
        media = encode_media(work, target_duration, ffmpeg or _default_ffmpeg())
        (work / MARKER).write_text(_dump(media))
        work.chmod(0o755)  # mkdtemp made it private; the cache is meant to be readable like any data folder
        _commit(work, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _load(final)


def _default_ffmpeg() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _commit(work: Path, final: Path) -> None:
    """Move the finished folder into place; a concurrent run that finished first wins."""
    if final.exists() and not (final / MARKER).is_file():
        shutil.rmtree(final)  # without its marker it was not made by a finished run: not trustworthy
    try:
        os.rename(work, final)
    except OSError:
        if not (final / MARKER).is_file():
            raise


def _dump(media: DemoMedia) -> str:
    meta = {"format_version": FORMAT_VERSION} | {k: v for k, v in asdict(media).items() if k != "root"}
    return json.dumps(meta, indent=2) + "\n"


def _load(root: Path) -> DemoMedia:
    """Rebuild the DemoMedia that `_dump` wrote; a cache from another format version is an error."""
    meta = json.loads((root / MARKER).read_text())
    if meta.pop("format_version", None) != FORMAT_VERSION:
        raise RuntimeError(f"{root / MARKER} is not format version {FORMAT_VERSION}")

    def asset(raw: dict[str, Any]) -> VodAsset:
        return VodAsset(raw["id"], raw["relpath"], float(raw["duration"]), tuple(raw["segment_durations"]))

    def mp4(raw: dict[str, Any]) -> Mp4Asset:
        return Mp4Asset(**raw)

    return DemoMedia(
        root=root,
        target_duration=int(meta["target_duration"]),
        ladder=tuple(Rendition(**r) for r in meta["ladder"]),
        loop_segments=int(meta["loop_segments"]),
        creatives=tuple(asset(c) for c in meta["creatives"]),
        slate=asset(meta["slate"]),
        text_overlay=bool(meta["text_overlay"]),
        mp4s=tuple(mp4(m) for m in meta["mp4s"]),
        slate_mp4=mp4(meta["slate_mp4"]),
    )
