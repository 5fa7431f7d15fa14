"""Transcode an ad's MP4 MediaFile into HLS renditions matching a channel's profile.

Blocking: every function here runs ffmpeg (the imageio-ffmpeg binary) and waits for it, so callers run them
in a worker thread or process. One ffmpeg invocation decodes the source once and writes every rendition;
keyframes are forced at the same times in all of them (`-force_key_frames`, no scene-cut keyframes), so the
HLS muxer cuts every rendition at the same instants and the stitcher can number them as one (RFC 8216bis
§6.2.4). The output folder holds a `master.m3u8` that `proxy.media.creatives.CreativeLoader` loads like any
preconditioned creative.

Every rendition carries audio, silent if the source has none: a player switching from content with audio to an
ad without stalls (hls.js#1081).

The steps have their own modules: running ffmpeg and probing (ffmpeg.py), the command (transcode_plan.py), the
output's checks and master (transcode_output.py); this one runs them in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from proxy.hls.profile import TranscodeProfile
from proxy.media.ffmpeg import (
    PROBE_TIMEOUT,
    Stage,
    TranscodeError,
    default_ffmpeg,
    probe,
    run_with_progress,
)
from proxy.media.transcode_output import (
    RenditionResult,
    fold_audio_dust,
    render_master,
    stream_codecs,
    verify,
)
from proxy.media.transcode_plan import AAC_FRAME, SAMPLE_RATE, Plan, frame_rate

__all__ = [
    "AAC_FRAME",
    "PROBE_TIMEOUT",
    "SAMPLE_RATE",
    "RenditionResult",
    "Stage",
    "TranscodeError",
    "TranscodeResult",
    "default_ffmpeg",
    "fold_audio_dust",
    "frame_rate",
    "probe",
    "render_master",
    "stream_codecs",
    "transcode",
    "verify",
]


@dataclass(frozen=True, slots=True)
class TranscodeResult:
    master: Path
    renditions: tuple[RenditionResult, ...]
    duration: float
    seconds: float  # wall time
    warnings: tuple[str, ...] = ()


def transcode(
    source: Path,
    profile: TranscodeProfile,
    out_dir: Path,
    *,
    ffmpeg: str | None = None,
    segment_seconds: float | None = None,
    timeout: float = 300.0,
    preset: str = "veryfast",
    progress: Callable[[float], None] | None = None,
    nice: int = 0,
    frames: int | None = None,
) -> TranscodeResult:
    """Encode `source` into `out_dir` (best empty: files are overwritten, not cleaned) for `profile`.

    `progress` is called from this thread with the fraction of the source encoded so far; `nice` lowers
    ffmpeg's CPU priority so a transcode never starves the playlist hot path of its core. With `frames`, only
    the source's first `frames` frames (at the first variant's rate) are encoded, with as much audio: a piece
    of one segment shorter than the target duration (a slate piece, `proxy.media.slatepieces`)."""
    started = time.monotonic()
    exe = ffmpeg or default_ffmpeg()
    # RFC 8216bis §4.4.3.1: every EXTINF, rounded, must be <= TARGETDURATION; cutting at it keeps us within.
    seg = segment_seconds if segment_seconds is not None else float(profile.target_duration)
    if not 0 < seg <= profile.target_duration:
        raise ValueError(f"segment_seconds={seg} must be in (0, {profile.target_duration}]")
    info = probe(source, exe, timeout=min(timeout, PROBE_TIMEOUT))
    if frames is not None:
        info = replace(info, duration=frames / frame_rate(profile.variants[0], info))
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = Plan(profile, info, out_dir, seg, preset, cut=frames is not None)
    argv = [exe, "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats", *plan.argv(source)]
    run_with_progress(argv, timeout, info.duration, progress or (lambda _: None), nice)
    fold_audio_dust(profile, out_dir)
    renditions = verify(profile, out_dir)
    master = out_dir / "master.m3u8"
    master.write_text(render_master(profile, renditions))
    return TranscodeResult(master, renditions, info.duration, time.monotonic() - started, plan.warnings)
