"""Slate pieces: the first 1, 2, 4, … frames of a slate, cut when the slate is prepared for a channel profile.

A break rarely lasts a whole number of slate segments: whatever its ads and whole slate segments leave is
filled by the pieces whose frame counts sum to it (its binary digits), so the break's fill ends within half
a frame of the content it replaces and the timeline after it (PROGRAM-DATE-TIME) has no hole. Cut ahead,
with the slate, they are there for the first break, and the playlist request only adds up durations.

Each piece is its own encode (`transcode(frames=n)`): one segment per rendition that starts on a keyframe,
with audio from the same first instant, ending with the video (`audio_samples`). They live in the slate's
asset folder (`pieces/{n}/…`), published with it, so a slate is ready only with its pieces.

Blocking, like `proxy.media.transcode`: run in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from proxy.hls.profile import TranscodeProfile
from proxy.media.transcode import frame_rate, probe

PIECES = "pieces"


def piece_frames(segment_frames: int) -> list[int]:
    """Powers of two below `segment_frames`: their sums are every count from 1 to at least segment_frames - 1,
    all a remainder shorter than a slate segment can need."""
    counts, n = [], 1
    while n < segment_frames:
        counts.append(n)
        n *= 2
    return counts


def cut_pieces(
    source: Path, profile: TranscodeProfile, out_dir: Path, ffmpeg: str | None, encode: Callable[[Path, int], None]
) -> list[int]:
    """Cut every piece of `source` for `profile` into `out_dir/pieces/{n}` with `encode(folder, n)` (a
    `transcode(frames=n)`); the frame counts cut. A slate segment lasts at most the target duration and the source."""
    info = probe(source, ffmpeg)
    counts = piece_frames(round(min(profile.target_duration, info.duration) * frame_rate(profile.variants[0], info)))
    for n in counts:
        encode(out_dir / PIECES / str(n), n)
    return counts


def piece_folders(folder: Path) -> list[Path]:
    """The pieces of a slate's asset folder, longest first (what `Fill` expects); none for an asset built
    before pieces existed, or for a creative."""
    root = folder / PIECES
    found = [path for path in root.iterdir() if path.name.isdigit()] if root.is_dir() else []
    return sorted(found, key=lambda path: int(path.name), reverse=True)
