"""What the demo media is once encoded: its ladder (`Rendition`), the content loop, the creatives and the slate as
VOD HLS (`VodAsset`) and as mezzanine MP4s (`Mp4Asset`), all under one root (`DemoMedia`), with the names of their
segments and the playlists that list them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

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

FPS = 25
MIN_LOOP_SECONDS = 60


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
