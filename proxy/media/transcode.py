"""Transcode an ad's MP4 MediaFile into HLS renditions matching a channel's profile (issue #4).

Blocking: every function here runs ffmpeg (the imageio-ffmpeg binary) and waits for it, so callers run them
in a worker thread or process. One ffmpeg invocation decodes the source once and writes every rendition;
keyframes are forced at the same times in all of them (`-force_key_frames`, no scene-cut keyframes), so the
HLS muxer cuts every rendition at the same instants and the stitcher can number them as one (ARCHITECTURE.md
§4.4). The output folder holds a `master.m3u8` that `proxy.media.creatives.CreativeLoader` loads like any
preconditioned creative.

Every rendition carries audio, silent if the source has none: a player switching from content with audio to an
ad without stalls (hls.js#1081).
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from proxy.errors import ProxyError
from proxy.hls.playlist import MediaPlaylist, Segment, parse_media
from proxy.hls.profile import AudioProfile, TranscodeProfile, VariantProfile
from proxy.hls.tags import EXT_X_INDEPENDENT_SEGMENTS, EXT_X_MEDIA, EXT_X_STREAM_INF, EXT_X_VERSION, EXTINF, EXTM3U

Stage = Literal["probe", "transcode", "verify"]
SAMPLE_RATE = 48_000
AAC_FRAME = 1024  # samples per AAC-LC frame
LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
PROBE_TIMEOUT = 30.0
# x264's -profile is only a ceiling: it signals the lowest profile the tools in use need, so fast presets
# (no CABAC, no 8x8 transform) would label every stream Constrained Baseline. Turn on what the profile needs.
_X264_FEATURES = {"main": ("-x264-params", "cabac=1"), "high": ("-x264-params", "cabac=1:8x8dct=1")}
_STDERR_LINES = 4
_DUST_SECONDS = 0.25


class TranscodeError(Exception):
    def __init__(self, stage: Stage, message: str) -> None:
        super().__init__(f"{stage}: {message}")
        self.stage: Stage = stage
        self.message = message


@dataclass(frozen=True, slots=True)
class SourceInfo:
    duration: float
    width: int
    height: int
    frame_rate: float | None
    audio: bool


@dataclass(frozen=True, slots=True)
class RenditionResult:
    name: str  # v0, a0 … as in the profile
    playlist: Path
    segments: int
    codecs: str  # RFC 6381, read back from the encoded stream
    resolution: str | None  # None for audio-only renditions
    peak_bandwidth: int  # measured over the segments (bits/s)


@dataclass(frozen=True, slots=True)
class TranscodeResult:
    master: Path
    renditions: tuple[RenditionResult, ...]
    duration: float
    seconds: float  # wall time
    warnings: tuple[str, ...] = ()


def default_ffmpeg() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


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
    plan = _Plan(profile, info, out_dir, seg, preset, cut=frames is not None)
    argv = [exe, "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats", *plan.argv(source)]
    _run_with_progress(argv, timeout, info.duration, progress or (lambda _: None), nice)
    fold_audio_dust(profile, out_dir)
    renditions = verify(profile, out_dir)
    master = out_dir / "master.m3u8"
    master.write_text(render_master(profile, renditions))
    return TranscodeResult(master, renditions, info.duration, time.monotonic() - started, plan.warnings)


# --- probe -----------------------------------------------------------------------------------------------

_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\d+:\d+.*?: Video: .*?, (\d{2,5})x(\d{2,5})")
_FPS = re.compile(r"(\d+(?:\.\d+)?) fps")
_AUDIO = re.compile(r"Stream #\d+:\d+.*?: Audio: ")


def probe(source: Path, ffmpeg: str | None = None, *, timeout: float = PROBE_TIMEOUT) -> SourceInfo:
    """Duration, size, frame rate and audio presence from `ffmpeg -i` (imageio-ffmpeg ships no ffprobe)."""
    argv = [ffmpeg or default_ffmpeg(), "-nostdin", "-hide_banner", "-i", str(source)]
    _, stderr = _spawn(argv, timeout, "probe")  # exits 1 ("no output file"): the report is all we want
    duration, video = _DURATION.search(stderr), _VIDEO.search(stderr)
    if duration is None or video is None:
        raise TranscodeError("probe", f"{source.name} has no duration or no video stream: {_tail(stderr)}")
    hours, minutes, seconds = duration.groups()
    total = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    if total <= 0:
        raise TranscodeError("probe", f"{source.name} lasts {total} s")
    video_line = stderr[video.start() :].splitlines()[0]
    fps = _FPS.search(video_line)
    return SourceInfo(
        total,
        int(video.group(1)),
        int(video.group(2)),
        float(fps.group(1)) if fps else None,
        bool(_AUDIO.search(stderr)),
    )


# --- the ffmpeg command ----------------------------------------------------------------------------------


class _Plan:
    """The argv of the one ffmpeg run: a filter graph splitting video and audio, then one HLS output per rendition."""

    def __init__(
        self, profile: TranscodeProfile, info: SourceInfo, out_dir: Path, seg: float, preset: str, *, cut: bool
    ) -> None:
        self.profile, self.info, self.out_dir, self.seg, self.preset = profile, info, out_dir, seg, preset
        self.cut = cut  # the first `info.duration` seconds only, cut on frames
        # Variants with an AUDIO group are video-only, like the content's (the group's renditions carry audio).
        self.muxed = [v for v in profile.variants if v.audio_group is None or not profile.audio]
        self.warnings: tuple[str, ...] = tuple(
            f"{v.name}: {v.audio_codec} needs an HE-AAC encoder this ffmpeg lacks; encoding AAC-LC"
            for v in profile.variants
            if v.audio_codec not in (None, "mp4a.40.2")
        )

    def argv(self, source: Path) -> list[str]:
        args = ["-i", str(source)]
        if not self.info.audio:  # silent track: hls.js#1081
            args += ["-f", "lavfi", "-t", f"{self.info.duration:.3f}", "-i", f"anullsrc=r={SAMPLE_RATE}:cl=stereo"]
        args += ["-filter_complex", self.graph()]
        for index, variant in enumerate(self.profile.variants):
            audio = [f"[a{self.muxed.index(variant)}]"] if variant in self.muxed else []
            args += self._output(variant.name, [f"[v{index}]", *audio], self._video_args(variant), 2 if audio else 0)
        for index, rendition in enumerate(self.profile.audio):
            args += self._output(rendition.name, [f"[a{len(self.muxed) + index}]"], ["-vn"], rendition.channels)
        return args

    def graph(self) -> str:
        variants = self.profile.variants
        chains = [f"[0:v:0]split={len(variants)}" + "".join(f"[s{i}]" for i in range(len(variants)))]
        chains += [f"[s{i}]{self._video_filter(v)}[v{i}]" for i, v in enumerate(variants)]
        layouts = [2] * len(self.muxed) + [a.channels for a in self.profile.audio]
        if layouts:
            source = "[0:a:0]" if self.info.audio else "[1:a:0]"
            chains.append(f"{source}asplit={len(layouts)}" + "".join(f"[b{i}]" for i in range(len(layouts))))
            samples = audio_samples(self.info.duration)
            chains += [f"[b{i}]{_audio_filter(n, samples)}[a{i}]" for i, n in enumerate(layouts)]
        return ";".join(chains)

    def _video_filter(self, variant: VariantProfile) -> str:
        w, h = variant.width, variant.height
        # Scale inside the box keeping the aspect ratio, then pad (letter/pillar-box) to the exact size.
        filters = [
            f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2",
            f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2",
            "setsar=1",
            "format=yuv420p",
        ]
        if self.cut:  # a frame count is only exact at a known rate; `trim` ends the stream there, not `-t`
            rate = frame_rate(variant, self.info)
            filters = [f"fps={rate:g}", *filters, f"trim=end_frame={max(1, round(self.info.duration * rate))}"]
        elif variant.frame_rate:
            filters.insert(0, f"fps={variant.frame_rate:g}")
        return ",".join(filters)

    def _video_args(self, variant: VariantProfile) -> list[str]:
        audio_bps = _audio_bitrate(2) if variant in self.muxed else self._group_bitrate(variant)
        target = (variant.average_bandwidth or int(variant.bandwidth * 0.85)) - audio_bps
        peak = int(variant.bandwidth * 0.9) - audio_bps  # ~10% for TS/fMP4 overhead
        video_bps, max_bps = max(target, 64_000), max(peak, target, 64_000)
        fps = frame_rate(variant, self.info)
        gop = str(max(1, math.ceil(self.seg * fps)))
        return [
            *("-c:v", "libx264", "-preset", self.preset, "-profile:v", variant.h264_profile),
            *("-level:v", variant.h264_level, "-b:v", str(video_bps), "-maxrate", str(max_bps)),
            *("-bufsize", str(2 * max_bps), "-g", gop, "-sc_threshold", "0"),
            *_X264_FEATURES.get(variant.h264_profile, ()),
            # A keyframe at every segment boundary, the same instants in every rendition.
            *("-force_key_frames", f"expr:gte(t,n_forced*{self.seg:g})"),
        ]

    def _group_bitrate(self, variant: VariantProfile) -> int:
        group = [a.channels for a in self.profile.audio if a.group_id == variant.audio_group]
        return _audio_bitrate(max(group, default=2))

    def _output(self, name: str, pads: list[str], codec_args: list[str], channels: int) -> list[str]:
        folder = self.out_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        fmp4 = self.profile.packaging == "fmp4"
        args = [arg for pad in pads for arg in ("-map", pad)] + codec_args
        if channels:
            args += ["-c:a", "aac", "-b:a", str(_audio_bitrate(channels)), "-ar", str(SAMPLE_RATE)]
        if not self.cut:  # a cut's filters end each stream on its last frame (`-t` could drop the audio's last)
            args += ["-t", f"{self.info.duration:.3f}"]
        args += ["-f", "hls", "-hls_time", f"{self.seg:g}"]
        args += ["-hls_list_size", "0", "-hls_playlist_type", "vod", "-hls_flags", "independent_segments"]
        args += ["-hls_segment_type", "fmp4" if fmp4 else "mpegts"]
        if fmp4:
            args += ["-hls_fmp4_init_filename", "init.mp4"]
        args += ["-hls_segment_filename", str(folder / ("seg-%03d.m4s" if fmp4 else "seg-%03d.ts"))]
        return [*args, str(folder / "index.m3u8")]


def frame_rate(variant: VariantProfile, info: SourceInfo) -> float:
    """The rate a variant is encoded at: the channel's, else the source's."""
    return variant.frame_rate or info.frame_rate or 30.0


def audio_samples(duration: float) -> int:
    """How many samples of audio an ad of `duration` seconds carries: whole AAC frames, the encoder's priming
    frame included, ending no later than the video (see `_audio_filter`), but at least one after the priming
    frame: a track without a packet is no track (a one-frame slate piece's audio then ends < 10 ms late)."""
    frames = math.floor(duration * SAMPLE_RATE / AAC_FRAME)  # including the priming frame
    return max(frames - 1, 1) * AAC_FRAME


def _audio_filter(channels: int, samples: int) -> str:
    """Audio that starts and ends with the video, as content audio does. MPEG-TS has no edit list to hide
    the AAC encoder's priming frame, which is stamped one frame before the first sample: shifting the samples
    one frame later puts that frame at the video's start. Padded then cut to `samples`, the audio never runs
    past the video (it would overlap the content after the ad: clients joining the timelines at the
    discontinuity, like ffmpeg's HLS demuxer, see audio going backwards) nor stops much short of it (audio-only
    renditions get the video's segment count)."""
    layout = LAYOUTS.get(channels, "stereo")
    return (
        f"aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts={layout},"
        f"apad=whole_len={samples},atrim=end_sample={samples},asetpts=PTS+{AAC_FRAME}/{SAMPLE_RATE}/TB"
    )


def _audio_bitrate(channels: int) -> int:
    return min(64_000 * max(channels, 2), 384_000)


# --- verification and the master -------------------------------------------------------------------------


def verify(profile: TranscodeProfile, out_dir: Path) -> tuple[RenditionResult, ...]:
    """Every rendition has the same segment count, none longer than the target duration (RFC 8216bis §4.4.3.1)."""
    names = [v.name for v in profile.variants] + [a.name for a in profile.audio]
    playlists = {name: _read_playlist(out_dir / name / "index.m3u8") for name in names}
    counts = {name: len(p.segments) for name, p in playlists.items()}
    if len(set(counts.values())) != 1 or 0 in counts.values():
        raise TranscodeError("verify", f"renditions have different segment counts: {counts}")
    for name, playlist in playlists.items():
        longest = max(s.duration for s in playlist.segments)
        if round(longest) > profile.target_duration:
            raise TranscodeError("verify", f"{name} has a {longest:g} s segment; target {profile.target_duration} s")
    sizes = {v.name: v.resolution for v in profile.variants}
    return tuple(_rendition(name, out_dir / name, playlists[name], sizes.get(name)) for name in names)


def fold_audio_dust(profile: TranscodeProfile, out_dir: Path) -> None:
    """Audio-only renditions are cut on AAC frames (21.3 ms at 48 kHz), not on the forced video keyframes, and
    the encoder's priming frame makes them a frame longer than the video: the HLS muxer then opens one more
    segment holding a frame or two. Fold that dust into the previous segment so all counts match."""
    counts = {len(_read_playlist(out_dir / v.name / "index.m3u8").segments) for v in profile.variants}
    if len(counts) != 1:
        return  # verify() reports it
    (count,) = counts
    for audio in profile.audio:
        path = out_dir / audio.name / "index.m3u8"
        segments = _read_playlist(path).segments
        if len(segments) == count + 1 and segments[-1].duration < _DUST_SECONDS:
            _fold_last(path, segments[-2], segments[-1])


def _fold_last(path: Path, previous: Segment, last: Segment) -> None:
    # TS packets and fMP4 fragments (moof+mdat) both concatenate into one valid segment.
    with (path.parent / previous.uri).open("ab") as segment:
        segment.write((path.parent / last.uri).read_bytes())
    (path.parent / last.uri).unlink()
    lines = path.read_text().splitlines()
    at = lines.index(last.uri)
    del lines[at - 1 : at + 1]  # ffmpeg writes each EXTINF right above its URI
    lines[lines.index(previous.uri) - 1] = f"{EXTINF}:{previous.duration + last.duration:.6f},"
    path.write_text("\n".join(lines) + "\n")


def _read_playlist(path: Path) -> MediaPlaylist:
    try:
        return parse_media(path.read_bytes(), path.as_uri())
    except (OSError, ProxyError) as error:
        raise TranscodeError("verify", f"{path}: {error}") from None


def _rendition(name: str, folder: Path, playlist: MediaPlaylist, resolution: str | None) -> RenditionResult:
    peak = max((folder / s.uri).stat().st_size * 8 / max(s.duration, 0.001) for s in playlist.segments)
    first = playlist.segments[0]
    header = folder / _map_uri(first.map_line) if first.map_line else folder / first.uri
    codecs = stream_codecs(header.read_bytes(), video=resolution is not None)
    return RenditionResult(name, folder / "index.m3u8", len(playlist.segments), codecs, resolution, math.ceil(peak))


def _map_uri(line: str) -> str:
    start = line.index('URI="') + 5
    return line[start : line.index('"', start)]


def stream_codecs(data: bytes, *, video: bool) -> str:
    """RFC 6381 CODECS of an encoded segment: avc1 from the SPS (TS) or avcC box (fMP4), plus AAC-LC."""
    if not video:
        return "mp4a.40.2"
    at = data.find(b"avcC")
    if at >= 0 and len(data) >= at + 8:
        sps = data[at + 5 : at + 8]
    else:
        at = data.find(b"\x00\x00\x01\x67")
        if at < 0 or len(data) < at + 7:
            raise TranscodeError("verify", "no H.264 SPS in the first segment")
        sps = data[at + 4 : at + 7]
    return f"avc1.{sps.hex().upper()},mp4a.40.2"


def render_master(profile: TranscodeProfile, renditions: tuple[RenditionResult, ...]) -> str:
    """The creative's master. BANDWIDTH is the profile's own, so CreativeLoader's nearest-bandwidth match pairs
    each content variant with the rendition encoded for it (the measured peak is in the result)."""
    by_name = {r.name: r for r in renditions}
    version = 7 if profile.packaging == "fmp4" else 3
    lines = [EXTM3U, f"{EXT_X_VERSION}:{version}", EXT_X_INDEPENDENT_SEGMENTS]
    lines += [_media_line(a, index == 0) for index, a in enumerate(profile.audio)]
    for variant in profile.variants:
        rendition = by_name[variant.name]
        grouped = variant.audio_group is not None and bool(profile.audio)
        attrs = [f"BANDWIDTH={variant.bandwidth}", f"RESOLUTION={variant.resolution}", f'CODECS="{rendition.codecs}"']
        if variant.frame_rate:
            attrs.append(f"FRAME-RATE={variant.frame_rate:.3f}")
        if grouped:
            attrs.append(f'AUDIO="{variant.audio_group}"')
        lines += [f"{EXT_X_STREAM_INF}:" + ",".join(attrs), f"{variant.name}/index.m3u8"]
    return "\n".join(lines) + "\n"


def _media_line(audio: AudioProfile, default: bool) -> str:
    flag = "YES" if default else "NO"
    language = f',LANGUAGE="{audio.language}"' if audio.language else ""
    return (
        f'{EXT_X_MEDIA}:TYPE=AUDIO,GROUP-ID="{audio.group_id}",NAME="{audio.name}"{language},DEFAULT={flag},'
        f'AUTOSELECT=YES,CHANNELS="{audio.channels}",URI="{audio.name}/index.m3u8"'
    )


# --- running ffmpeg --------------------------------------------------------------------------------------


def _spawn(argv: list[str], timeout: float, stage: Stage) -> tuple[int, str]:
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as error:
        raise TranscodeError(stage, f"cannot run {argv[0]}: {error}") from None
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        raise TranscodeError(stage, f"ffmpeg ran over {timeout:g} s and was killed: {_tail(stderr)}") from None
    return process.returncode, stderr.decode("utf-8", errors="replace")


def _run_with_progress(
    argv: list[str], timeout: float, duration: float, progress: Callable[[float], None], nice: int
) -> None:
    """Run ffmpeg, reading its `-progress` key=value lines from stdout (stderr goes to a file, so neither
    pipe can fill up and block ffmpeg)."""
    with tempfile.TemporaryFile() as stderr:
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)
        except OSError as error:
            raise TranscodeError("transcode", f"cannot run {argv[0]}: {error}") from None
        with process:  # closes the stdout pipe whatever happens
            if nice:
                os.setpriority(os.PRIO_PROCESS, process.pid, nice)
            timer = threading.Timer(timeout, process.kill)
            timer.start()
            try:
                _read_progress(process, duration, progress)
                code = process.wait()
            except BaseException:  # the progress callback cancels the job by raising: ffmpeg must not run on
                process.kill()
                raise
            finally:
                timer.cancel()
        stderr.seek(0)
        report = stderr.read()
    if code != 0:
        killed = f"ffmpeg ran over {timeout:g} s and was killed" if code == -9 else f"ffmpeg exited with {code}"
        raise TranscodeError("transcode", f"{killed}: {_tail(report)}")


def _read_progress(process: subprocess.Popen[bytes], duration: float, progress: Callable[[float], None]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        key, _, value = line.decode("ascii", errors="replace").strip().partition("=")
        if key == "out_time_us" and value.isdigit():
            progress(min(1.0, int(value) / 1e6 / duration))


def _tail(stderr: str | bytes) -> str:
    """The first lines (ffmpeg names the cause there) and the last ones (what it gave up on), on one line."""
    text = stderr.decode("utf-8", errors="replace") if isinstance(stderr, bytes) else stderr
    lines = text.strip().splitlines()
    if len(lines) > 2 * _STDERR_LINES:
        lines = [*lines[:_STDERR_LINES], "…", *lines[-_STDERR_LINES:]]
    return " | ".join(lines)
