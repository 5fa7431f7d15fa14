"""Demo media: a looping live-content ladder, three ad creatives and a slate, encoded once with ffmpeg.

Everything in HLS shares one ladder (same resolutions, H.264 profile/level, AAC-LC stereo 48 kHz in MPEG-TS)
because players stall or reset decoders when an ad's tracks differ from the content's. Each creative and the
slate also exist as a plain "mezzanine" MP4, as a real ad server serves them, deliberately shaped unlike the
ladder (854x480, 30 fps, AAC 44.1 kHz, H.264 High) so a proxy given them has to transcode. The result is
cached under `data_dir/demo-media/td{N}-v{FORMAT_VERSION}/`, built in a temporary folder and renamed
into place so a crash or a concurrent run never leaves a half-written cache behind.

`prepare_media` blocks for a few seconds (it runs ffmpeg): call it through `asyncio.to_thread`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from proxy.hls.tags import (
    EXT_X_ENDLIST,
    EXT_X_INDEPENDENT_SEGMENTS,
    EXT_X_MEDIA_SEQUENCE,
    EXT_X_PLAYLIST_TYPE,
    EXT_X_STREAM_INF,
    EXT_X_TARGETDURATION,
    EXT_X_VERSION,
    EXTINF,
    EXTM3U,
)

FORMAT_VERSION = 2  # 2: mezzanine MP4s
MARKER = "media.json"  # written last, inside the temporary folder, before the atomic rename
FPS = 25
AUDIO_RATE = 48_000
MIN_LOOP_SECONDS = 60
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


@dataclass(frozen=True, slots=True)
class Rendition:
    """One rung of the ladder; `bandwidth` is the peak segment bit rate measured over all demo media."""

    name: str
    width: int
    height: int
    bandwidth: int
    codecs: str

    @property
    def resolution(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True, slots=True)
class VodAsset:
    """A creative or the slate: a VOD HLS with one media playlist per rendition, same segment list in each."""

    id: str
    relpath: str  # folder under DemoMedia.root
    duration: float
    segment_durations: tuple[float, ...]

    def segment_names(self) -> tuple[str, ...]:
        return tuple(segment_name(i) for i in range(len(self.segment_durations)))


@dataclass(frozen=True, slots=True)
class Mp4Asset:
    """A creative or the slate as one progressive MP4 (H.264 + AAC, moov first), as ad servers serve them."""

    id: str
    relpath: str  # file under DemoMedia.root
    duration: float
    width: int
    height: int
    kbps: int  # average bit rate of the whole file, for VAST MediaFile@bitrate

    @property
    def name(self) -> str:
        return Path(self.relpath).name


@dataclass(frozen=True, slots=True)
class DemoMedia:
    root: Path
    target_duration: int
    ladder: tuple[Rendition, ...]
    loop_segments: int
    creatives: tuple[VodAsset, ...]
    slate: VodAsset
    text_overlay: bool  # whether ffmpeg's drawtext could burn labels in with this build
    mp4s: tuple[Mp4Asset, ...]  # one per creative, same order
    slate_mp4: Mp4Asset

    @property
    def loop_duration(self) -> int:
        return self.loop_segments * self.target_duration

    @property
    def creative_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.creatives)

    def rendition(self, name: str) -> Rendition:
        for rendition in self.ladder:
            if rendition.name == name:
                return rendition
        raise KeyError(name)

    def creative(self, creative_id: str) -> VodAsset:
        for creative in self.creatives:
            if creative.id == creative_id:
                return creative
        raise KeyError(creative_id)

    def content_segment_path(self, rendition: str, index: int) -> Path:
        """Loop segment `index` (0 <= index < loop_segments) of one rendition."""
        if not 0 <= index < self.loop_segments:
            raise IndexError(index)
        return self.root / "content" / self.rendition(rendition).name / segment_name(index)

    def asset_dir(self, asset: VodAsset) -> Path:
        return self.root / asset.relpath

    def master_path(self, asset: VodAsset) -> Path:
        return self.asset_dir(asset) / "master.m3u8"

    def media_playlist_path(self, asset: VodAsset, rendition: str) -> Path:
        return self.asset_dir(asset) / self.rendition(rendition).name / "index.m3u8"

    def segment_path(self, asset: VodAsset, rendition: str, index: int) -> Path:
        return self.asset_dir(asset) / self.rendition(rendition).name / segment_name(index)

    def mp4(self, asset_id: str) -> Mp4Asset:
        """The MP4 of a creative, or of the slate for "slate"."""
        for mp4 in (*self.mp4s, self.slate_mp4):
            if mp4.id == asset_id:
                return mp4
        raise KeyError(asset_id)

    def mp4_path(self, asset_id: str) -> Path:
        return self.root / self.mp4(asset_id).relpath

    @property
    def slate_mp4_path(self) -> Path:
        return self.root / self.slate_mp4.relpath

    def mp4_files(self) -> dict[str, Path]:
        """Every MP4 by file name (`{creative_id}.mp4`, `slate.mp4`): the allow-list the ad server serves."""
        return {mp4.name: self.root / mp4.relpath for mp4 in (*self.mp4s, self.slate_mp4)}

    def vod_files(self, asset: VodAsset) -> dict[str, Path]:
        """Every servable file of a VOD by its URL path relative to the asset's master (an allow-list)."""
        files = {"master.m3u8": self.master_path(asset)}
        for rendition in self.ladder:
            files[f"{rendition.name}/index.m3u8"] = self.media_playlist_path(asset, rendition.name)
            for index, name in enumerate(asset.segment_names()):
                files[f"{rendition.name}/{name}"] = self.segment_path(asset, rendition.name, index)
        return files


def segment_name(index: int) -> str:
    return f"seg-{index:03d}.ts"


def loop_segments_for(target_duration: int) -> int:
    """Segments in the content loop: at least 60 s and 6 segments, and a multiple of 8 s.

    8 s is the shortest span holding whole AAC frames at 48 kHz (375 x 1024 samples) and whole video
    frames, so loop copies butt together with no audio gap or overlap at the seam.
    """
    step = math.lcm(target_duration, 8)
    return step * math.ceil(max(MIN_LOOP_SECONDS, 6 * target_duration) / step) // target_duration


def render_master(ladder: tuple[Rendition, ...], uri_suffix: str) -> str:
    """A master playlist with one variant per rendition at `{name}/{uri_suffix}`."""
    lines = [EXTM3U, f"{EXT_X_VERSION}:3", EXT_X_INDEPENDENT_SEGMENTS]
    for r in ladder:
        lines.append(
            f'{EXT_X_STREAM_INF}:BANDWIDTH={r.bandwidth},RESOLUTION={r.resolution},CODECS="{r.codecs}",'
            f"FRAME-RATE={FPS:.3f}"
        )
        lines.append(f"{r.name}/{uri_suffix}")
    return "\n".join(lines) + "\n"


def render_vod_playlist(segment_durations: tuple[float, ...]) -> str:
    target = max(1, max(round(d) for d in segment_durations))
    lines = [EXTM3U, f"{EXT_X_VERSION}:3", f"{EXT_X_TARGETDURATION}:{target}", f"{EXT_X_MEDIA_SEQUENCE}:0"]
    lines += [f"{EXT_X_PLAYLIST_TYPE}:VOD", EXT_X_INDEPENDENT_SEGMENTS]
    for index, duration in enumerate(segment_durations):
        lines += [f"{EXTINF}:{duration:.3f},", segment_name(index)]
    lines.append(EXT_X_ENDLIST)
    return "\n".join(lines) + "\n"


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
        media = _build(work, target_duration, ffmpeg or _default_ffmpeg())
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


def _build(out: Path, target_duration: int, exe: str) -> DemoMedia:
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


# --- ffmpeg ---------------------------------------------------------------------------------------


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
