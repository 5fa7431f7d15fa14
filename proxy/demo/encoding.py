"""Encoding of the demo media with ffmpeg: the content loop, the creatives and the slate to one HLS ladder (H.264
baseline, AAC-LC stereo 48 kHz in MPEG-TS), cut at exact segment boundaries, and each creative and the slate again
as a mezzanine MP4 shaped unlike the ladder. `encode_media` writes it all under one folder (blocking: it runs ffmpeg);
proxy/demo/media.py caches the result."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from proxy.demo.catalogue import (
    FPS,
    DemoMedia,
    Mp4Asset,
    Rendition,
    VodAsset,
    loop_segments_for,
    render_master,
    render_vod_playlist,
    segment_name,
)
from proxy.hls.tags import EXTINF

AUDIO_RATE = 48_000
_FFMPEG_TIMEOUT = 900.0
# The mezzanine MP4s: a common web ad shape that matches no rung of the ladder in size, rate or audio.
MP4_WIDTH, MP4_HEIGHT, MP4_FPS, MP4_AUDIO_RATE = 854, 480, 30, 44_100
MP4_SLATE_SECONDS = 10


@dataclass(frozen=True, slots=True)
class _Rung:
    name: str
    width: int
    height: int
    video_kbps: int


@dataclass(frozen=True, slots=True)
class _CreativeSpec:
    id: str
    duration: int
    colour: str
    tone_hz: int
    label: str


LADDER = (_Rung("360p", 640, 360, 800), _Rung("270p", 480, 270, 400), _Rung("180p", 320, 180, 200))
CREATIVES = (
    _CreativeSpec("ad-red-10s", 10, "0xB71C1C", 880, "RED"),
    _CreativeSpec("ad-green-15s", 15, "0x1B5E20", 660, "GREEN"),
    _CreativeSpec("ad-blue-6s", 6, "0x0D47A1", 990, "BLUE"),
)


def encode_media(out: Path, target_duration: int, exe: str) -> DemoMedia:
    """Every demo asset encoded under `out` with the ffmpeg at `exe`, its playlists written, and described."""
    text = _drawtext_works(exe)
    loop = loop_segments_for(target_duration)
    _encode_content(exe, out / "content", target_duration, loop, text=text)
    creatives = tuple(_encode_creative(exe, out, spec, min(target_duration, 4), text=text) for spec in CREATIVES)
    slate = _encode_slate(exe, out, target_duration, text=text)
    timings = {"content": (float(target_duration),) * loop}
    timings |= {asset.relpath: asset.segment_durations for asset in (*creatives, slate)}
    ladder = tuple(
        Rendition(
            r.name, r.width, r.height, _peak_bandwidth(out, r.name, timings), _codecs_of(out / "content" / r.name)
        )
        for r in LADDER
    )
    media = DemoMedia(out, target_duration, ladder, loop, creatives, slate, text, *_encode_mp4s(exe, out, text=text))
    for asset in (*creatives, slate):
        media.master_path(asset).write_text(render_master(ladder, "index.m3u8"))
        for rendition in ladder:
            media.media_playlist_path(asset, rendition.name).write_text(render_vod_playlist(asset.segment_durations))
    return media


def _run(exe: str, args: list[str]) -> None:
    cmd = [exe, "-hide_banner", "-nostdin", "-v", "error", "-y", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=_FFMPEG_TIMEOUT, check=False)
    if done.returncode:
        raise RuntimeError(f"ffmpeg exited with {done.returncode}: {done.stderr.strip()[-2000:]}")


def _drawtext_works(exe: str) -> bool:
    """drawtext needs libfreetype and a font fontconfig can find; labels are optional, so probe once."""
    probe = ["-f", "lavfi", "-i", "color=s=64x64:d=0.04", "-vf", "drawtext=text=X", "-frames:v", "1", "-f", "null", "-"]
    try:
        _run(exe, probe)
    except (RuntimeError, subprocess.TimeoutExpired):
        return False
    return True


def _label(text: str, *, size: int, y: str) -> str:
    return (
        f"drawtext=text='{text}':fontsize={size}:fontcolor=white:x=(w-text_w)/2:y={y}"
        ":box=1:boxcolor=black@0.55:boxborderw=8"
    )


def _encode_audio(exe: str, exprs: str, seconds: float, path: Path) -> None:
    """Encode AAC-LC stereo to ADTS, then drop the encoder's priming frame.

    The encoder emits one extra leading frame of priming; without it, N seconds of input become exactly
    N x 48000 / 1024 frames, so a loop of them repeats with no gap or overlap.
    """
    source = f"aevalsrc=exprs='{exprs}|{exprs}':s={AUDIO_RATE}:c=stereo:d={seconds}"
    _run(exe, ["-f", "lavfi", "-i", source, "-c:a", "aac", "-b:a", "96k", "-f", "adts", str(path)])
    data = path.read_bytes()
    if len(data) < 7 or data[0] != 0xFF or data[1] & 0xF6 != 0xF0:
        raise RuntimeError(f"ffmpeg wrote no ADTS stream to {path}")
    first = (data[3] & 0x03) << 11 | data[4] << 3 | data[5] >> 5
    path.write_bytes(data[first:])


def _video_args(rung: _Rung, gop_seconds: int) -> list[str]:
    gop = str(gop_seconds * FPS)
    rate = f"{rung.video_kbps}k"
    return [
        *("-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-level:v", "3.0"),
        *("-pix_fmt", "yuv420p", "-b:v", rate, "-maxrate", rate, "-bufsize", rate),
        # A keyframe exactly at every segment start and nowhere else, so every cut is clean.
        *("-g", gop, "-keyint_min", gop, "-sc_threshold", "0"),
        *("-force_key_frames", f"expr:gte(t,n_forced*{gop_seconds})"),
    ]


def _encode_ladder(exe: str, out: Path, source: str, audio: Path, segment_seconds: int) -> tuple[float, ...]:
    """Encode the `[src]` pad of the `source` graph to every rung as HLS; returns the segment durations."""
    splits = "".join(f"[t{i}]" for i in range(len(LADDER)))
    graph = [source, f"[src]split={len(LADDER)}{splits}"]
    graph += [f"[t{i}]scale={r.width}:{r.height}[v{i}]" for i, r in enumerate(LADDER)]
    args = ["-i", str(audio), "-filter_complex", ";".join(graph)]
    for i, rung in enumerate(LADDER):
        folder = out / rung.name
        folder.mkdir(parents=True)
        args += ["-map", f"[v{i}]", "-map", "0:a", *_video_args(rung, segment_seconds), "-c:a", "copy"]
        args += ["-f", "hls", "-hls_time", str(segment_seconds), "-hls_list_size", "0"]
        args += ["-hls_playlist_type", "vod", "-hls_segment_filename", str(folder / "seg-%03d.ts")]
        args.append(str(folder / "ffmpeg.m3u8"))
    _run(exe, args)
    durations = {_pop_extinfs(out / r.name / "ffmpeg.m3u8") for r in LADDER}
    if len(durations) != 1:
        raise RuntimeError(f"renditions under {out} were cut differently: {durations}")
    return durations.pop()


def _pop_extinfs(playlist: Path) -> tuple[float, ...]:
    """Segment durations ffmpeg measured; its own playlist is then removed (ours replace it)."""
    lines = playlist.read_text().splitlines()
    playlist.unlink()
    prefix = f"{EXTINF}:"
    return tuple(round(float(line[len(prefix) :].split(",")[0]), 3) for line in lines if line.startswith(prefix))


def _encode_content(exe: str, out: Path, target_duration: int, loop: int, *, text: bool) -> None:
    seconds = target_duration * loop
    audio = out / "audio.aac"
    out.mkdir(parents=True)
    # A tone stepping at every segment start marks segment changes by ear; integer Hz and steps on whole
    # seconds keep its phase continuous, so neither the steps nor the loop seam click.
    _encode_audio(exe, f"0.15*sin(2*PI*(330+110*mod(floor(t/{target_duration}),4))*t)", seconds, audio)
    source = f"testsrc2=s=640x360:r={FPS}:d={seconds}"
    if text:
        source += "," + _label("CONTENT", size=44, y="24") + "," + _label("%{pts\\:hms}", size=28, y="h-60")
    durations = _encode_ladder(exe, out, source + "[src]", audio, target_duration)
    audio.unlink()
    if durations != (float(target_duration),) * loop:
        raise RuntimeError(f"content loop cut into {durations}, want {loop} x {target_duration} s")


def _creative_source(spec: _CreativeSpec, width: int, height: int, fps: int, *, text: bool) -> str:
    """The creative's picture at any size: its colour, a moving test pattern, its label and a countdown."""
    d, k = spec.duration, height / 360  # sizes and offsets are laid out for 360 lines, then scaled
    source = (
        f"color=c={spec.colour}:s={width}x{height}:r={fps}:d={d}[bg];"
        f"testsrc2=s={_even(width / 2)}x{_even(height / 2)}:r={fps}:d={d}[fg];"
        f"[bg][fg]overlay=x=(W-w)/2:y=(H-h)/2+{round(40 * k)}:shortest=1"
    )
    if text:
        source += "," + _label(f"AD {spec.label} {d}s", size=round(40 * k), y=str(round(20 * k)))
        source += "," + _label(f"%{{eif\\:{d}-t\\:d}}", size=round(32 * k), y=f"h-{round(56 * k)}")  # seconds left
    return source


def _creative_tone(spec: _CreativeSpec) -> str:
    # A pulsed tone, different per creative, so an ad is heard as well as seen.
    return f"0.2*sin(2*PI*{spec.tone_hz}*t)*lt(mod(t,1),0.5)"


def _slate_source(width: int, height: int, fps: int, seconds: int, *, text: bool) -> str:
    if not text:
        return f"smptebars=s={width}x{height}:r={fps}:d={seconds}"
    k = height / 360
    source = f"color=c=0x263238:s={width}x{height}:r={fps}:d={seconds},"
    source += _label("SLATE", size=round(72 * k), y=f"(h-text_h)/2-{round(30 * k)}")
    return source + "," + _label("we will be right back", size=round(28 * k), y=f"h-{round(80 * k)}")


def _even(value: float) -> int:
    return 2 * round(value / 2)  # 4:2:0 chroma needs even sizes


def _encode_creative(exe: str, root: Path, spec: _CreativeSpec, seg: int, *, text: bool) -> VodAsset:
    d, relpath = spec.duration, f"creatives/{spec.id}"
    source = _creative_source(spec, 640, 360, FPS, text=text)
    return VodAsset(spec.id, relpath, float(d), _encode_vod(exe, root / relpath, source, _creative_tone(spec), d, seg))


def _encode_slate(exe: str, root: Path, target_duration: int, *, text: bool) -> VodAsset:
    d = 2 * target_duration
    source = _slate_source(640, 360, FPS, d, text=text)
    return VodAsset("slate", "slate", float(d), _encode_vod(exe, root / "slate", source, "0", d, target_duration))


def _encode_mp4s(exe: str, root: Path, *, text: bool) -> tuple[tuple[Mp4Asset, ...], Mp4Asset]:
    """The creatives' MP4s, same picture and sound as their HLS, and the slate's."""
    shape = (MP4_WIDTH, MP4_HEIGHT, MP4_FPS)
    creatives = tuple(
        _encode_mp4(exe, root, spec.id, _creative_source(spec, *shape, text=text), _creative_tone(spec), spec.duration)
        for spec in CREATIVES
    )
    source = _slate_source(*shape, MP4_SLATE_SECONDS, text=text)
    return creatives, _encode_mp4(exe, root, "slate", source, "0", MP4_SLATE_SECONDS)


def _encode_mp4(exe: str, root: Path, asset_id: str, source: str, tone: str, seconds: int) -> Mp4Asset:
    """One progressive MP4 as an ad server would hold it: the moov box first (`+faststart`), so a client
    reading it over HTTP without range requests, like ffmpeg, can start before the end of the file."""
    relpath = f"mp4/{asset_id}.mp4"
    path = root / relpath
    path.parent.mkdir(exist_ok=True)
    audio = f"aevalsrc=exprs='{tone}|{tone}':s={MP4_AUDIO_RATE}:c=stereo:d={seconds}"
    args = ["-f", "lavfi", "-i", audio, "-filter_complex", source + "[v]", "-map", "[v]", "-map", "0:a"]
    # ultrafast keeps the build cheap but would signal Constrained Baseline; CABAC and 8x8dct make it the High
    # profile real mezzanines use, so a transcoder sees a profile the ladder does not have.
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "high", "-x264-params", "cabac=1:8x8dct=1"]
    args += ["-pix_fmt", "yuv420p", "-b:v", "1500k", "-maxrate", "1500k", "-bufsize", "3000k"]
    args += ["-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(path)]
    _run(exe, args)
    kbps = round(path.stat().st_size * 8 / seconds / 1000)
    return Mp4Asset(asset_id, relpath, float(seconds), MP4_WIDTH, MP4_HEIGHT, kbps)


def _encode_vod(exe: str, out: Path, source: str, tone: str, duration: int, seg: int) -> tuple[float, ...]:
    out.mkdir(parents=True)
    _encode_audio(exe, tone, duration, out / "audio.aac")
    durations = _encode_ladder(exe, out, source + "[src]", out / "audio.aac", seg)
    (out / "audio.aac").unlink()
    if abs(sum(durations) - duration) > 0.1 or any(d > seg + 0.001 for d in durations):
        raise RuntimeError(f"{out.name} cut into {durations}, want {duration} s in segments <= {seg} s")
    return durations


def _codecs_of(folder: Path) -> str:
    """RFC 6381 CODECS from the stream's own SPS (profile_idc, constraint flags, level_idc) + AAC-LC."""
    segment = folder / segment_name(0)
    data = segment.read_bytes()
    at = data.find(b"\x00\x00\x01\x67")
    if at < 0 or len(data) < at + 7:
        raise RuntimeError(f"no H.264 SPS found in {segment}")
    return f"avc1.{data[at + 4 : at + 7].hex().upper()},mp4a.40.2"


def _peak_bandwidth(root: Path, rendition: str, timings: Mapping[str, tuple[float, ...]]) -> int:
    """BANDWIDTH must be the peak segment bit rate (RFC 8216 4.3.4.2): measure it over every asset."""
    peak = 0.0
    for relpath, durations in timings.items():
        for index, duration in enumerate(durations):
            size = (root / relpath / rendition / segment_name(index)).stat().st_size
            peak = max(peak, size * 8 / duration)
    return int(math.ceil(peak / 1000) * 1000)
