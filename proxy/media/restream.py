"""Re-segment an HLS creative for a channel without re-encoding it: ffmpeg's stream copy (`-c copy`).

Used when the creative's renditions are already what the channel's master promises (same resolution, H.264
profile, a level no higher, AAC audio) but its segments are longer than the channel's target duration. A
stream copy can only cut at keyframes (RFC 8216bis §6.2.3: a segment starting elsewhere does not decode on
its own), so a creative whose keyframes are further apart than the target duration gives segments too long:
`verify` refuses them and the caller transcodes instead. Blocking, like proxy.media.transcode: run in a thread.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Mapping
from pathlib import Path

from proxy.hls.profile import TranscodeProfile, VariantProfile, h264_profile_level
from proxy.media.transcode import (
    PROBE_TIMEOUT,
    Stage,
    TranscodeError,
    fold_audio_dust,
    probe,
    render_master,
    stream_codecs,
    verify,
)

log = logging.getLogger("proxy.media.restream")
HEADER_BYTES = 1 << 20  # an SPS (TS) or avcC box (fMP4) is within the first segment's start


def restream(
    sources: Mapping[str, Path], profile: TranscodeProfile, out_dir: Path, *, ffmpeg: str, timeout: float
) -> bool:
    """Copy each rendition of `sources` (by channel track name) into `out_dir` in segments of at most the
    target duration, with a master; False (and `out_dir` to be discarded) when the media does not allow it."""
    unlike = _media_mismatch(sources, profile, ffmpeg)
    if unlike is not None:
        log.info("no stream copy into %s: %s", out_dir, unlike)
        return False
    try:
        for variant in profile.variants:
            _copy(ffmpeg, sources[variant.name], out_dir / variant.name, profile, _maps(profile, variant), timeout)
        for audio in profile.audio:
            _copy(ffmpeg, sources[audio.name], out_dir / audio.name, profile, ["-map", "0:a:0"], timeout)
        fold_audio_dust(profile, out_dir)
        renditions = verify(profile, out_dir)
    except TranscodeError as error:
        log.info("no stream copy into %s: %s", out_dir, error)
        return False
    (out_dir / "master.m3u8").write_text(render_master(profile, renditions))
    return True


def _muxed(profile: TranscodeProfile, variant: VariantProfile) -> bool:
    """A variant with an AUDIO group is video only, like the content's; otherwise it carries its audio."""
    return variant.audio_group is None or not profile.audio


def _maps(profile: TranscodeProfile, variant: VariantProfile) -> list[str]:
    return ["-map", "0:v:0", *(["-map", "0:a:0"] if _muxed(profile, variant) else [])]


def _media_mismatch(sources: Mapping[str, Path], profile: TranscodeProfile, ffmpeg: str) -> str | None:
    """What the media themselves (not their master's declarations) have unlike the channel's variants."""
    for variant in profile.variants:
        path = sources[variant.name]
        try:
            info = probe(path, ffmpeg, timeout=PROBE_TIMEOUT)
            with path.open("rb") as file:
                codec = stream_codecs(file.read(HEADER_BYTES), video=True).split(",")[0]
        except TranscodeError as error:
            return error.message
        found = h264_profile_level(codec)
        if (info.width, info.height) != (variant.width, variant.height):
            return f"{variant.name}: {info.width}x{info.height}, expected {variant.resolution}"
        if found[0] != variant.h264_profile or float(found[1] or 0) > float(variant.h264_level):
            return f"{variant.name}: {codec}, expected {variant.h264_profile} at level {variant.h264_level} at most"
        if _muxed(profile, variant) and not info.audio:
            return f"{variant.name}: no audio, expected audio muxed with the video"
    return None


def _copy(ffmpeg: str, source: Path, folder: Path, profile: TranscodeProfile, maps: list[str], timeout: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fmp4 = profile.packaging == "fmp4"
    argv = [ffmpeg, "-nostdin", "-y", "-loglevel", "error", "-i", str(source), *maps, "-c", "copy"]
    argv += ["-f", "hls", "-hls_time", str(profile.target_duration), "-hls_list_size", "0"]
    argv += ["-hls_playlist_type", "vod", "-hls_segment_type", "fmp4" if fmp4 else "mpegts"]
    if fmp4:
        argv += ["-hls_fmp4_init_filename", "init.mp4"]
    argv += ["-hls_segment_filename", str(folder / ("seg-%03d.m4s" if fmp4 else "seg-%03d.ts"))]
    run([*argv, str(folder / "index.m3u8")], timeout, "transcode")


def remux(ffmpeg: str, video: Path, audio: Path | None, out: Path, timeout: float) -> Path:
    """The transcode's one source: the video rendition (with the separate audio one) in a Matroska file, whose
    header states the duration the transcoder reads (concatenated fMP4 fragments do not)."""
    inputs = ["-i", str(video), *(["-i", str(audio)] if audio is not None else [])]
    maps = ["-map", "0:v:0", "-map", "1:a:0" if audio is not None else "0:a:0?"]
    run([ffmpeg, "-nostdin", "-y", "-loglevel", "error", *inputs, *maps, "-c", "copy", str(out)], timeout, "probe")
    return out


def run(argv: list[str], timeout: float, stage: Stage) -> None:
    """Run ffmpeg to its end (killed past `timeout`): `TranscodeError` at `stage` when it fails."""
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise TranscodeError(stage, f"{argv[0]} failed: {error.__class__.__name__}: {error}") from None
    if done.returncode != 0:
        report = " | ".join(done.stderr.decode("utf-8", errors="replace").strip().splitlines()[-3:])
        raise TranscodeError(stage, f"ffmpeg exited with {done.returncode}: {report}")
