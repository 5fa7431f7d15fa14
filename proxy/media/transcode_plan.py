"""The argv of a transcode's one ffmpeg run (`Plan`): a filter graph that decodes the source once and splits its
video and audio, then one HLS output per rendition of the channel's profile, keyframes forced at the same instants
in every one, and audio aligned on the video as content audio is."""

from __future__ import annotations

import math
from pathlib import Path

from proxy.hls.profile import TranscodeProfile, VariantProfile
from proxy.media.ffmpeg import SourceInfo

SAMPLE_RATE = 48_000
AAC_FRAME = 1024  # samples per AAC-LC frame
LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
# x264's -profile is only a ceiling: it signals the lowest profile the tools in use need, so fast presets
# (no CABAC, no 8x8 transform) would label every stream Constrained Baseline. Turn on what the profile needs.
_X264_FEATURES = {"main": ("-x264-params", "cabac=1"), "high": ("-x264-params", "cabac=1:8x8dct=1")}


class Plan:
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
