"""A channel's transcode profile: what an ad must look like to be stitched into it.

Real ad servers answer with MP4 MediaFiles; the proxy transcodes the best one into HLS renditions that match
each channel's ladder. As in MediaTailor, a transcoded creative is keyed by (creative key, profile key): the
profile holds everything a player could trip over at the content/ad boundary (resolution, codecs and their
profile/level, frame rate, audio layout, segment packaging, target duration) and nothing else.

Pure: derived from an already-parsed master and its media playlists. A missing RESOLUTION or CODECS (which
MediaTailor requires on every variant) gets a documented default, reported in `TranscodeProfile.warnings`
rather than logged, so the caller decides how loud to be.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Literal

from proxy.hls.attributes import AttributeList, parse_attributes
from proxy.hls.master import MasterPlaylist, Track
from proxy.hls.playlist import MediaPlaylist

# Defaults when the master does not say: 720p H.264 Main@3.1 with AAC-LC stereo, the most common
# ladder rung and the codec pair every HLS player decodes.
DEFAULT_RESOLUTION = (1280, 720)
DEFAULT_VIDEO_CODEC = "avc1.4D401F"
DEFAULT_AUDIO_CODEC = "mp4a.40.2"
DEFAULT_CHANNELS = 2
DEFAULT_BANDWIDTH = 2_000_000

H264_PROFILES = {66: "baseline", 77: "main", 88: "extended", 100: "high", 110: "high10", 122: "high422"}
# RFC 6381 §3.3 / ISO 14496-3 audio object types of the common mp4a.40.x strings.
AAC_OBJECT_TYPES = {"mp4a.40.2": "aac_low", "mp4a.40.5": "aac_he", "mp4a.40.29": "aac_he_v2"}


@dataclass(frozen=True, slots=True)
class VariantProfile:
    name: str  # v0, v1, … as in proxy.hls.master
    width: int
    height: int
    bandwidth: int  # BANDWIDTH: the peak bit rate, audio included (RFC 8216bis §4.4.6.2)
    average_bandwidth: int | None
    video_codec: str  # RFC 6381, e.g. avc1.42C01E
    h264_profile: str  # baseline, main, high … (from profile_idc)
    h264_level: str  # "3.0", "3.1", "4.0" … (from level_idc)
    audio_codec: str | None  # muxed or group audio codec, e.g. mp4a.40.2; None when CODECS names none
    frame_rate: float | None
    audio_group: str | None  # AUDIO="…": the variant's audio comes from that group's renditions

    @property
    def resolution(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True, slots=True)
class AudioProfile:
    name: str  # a0, a1, …
    group_id: str
    channels: int
    codec: str  # from the CODECS of the variants using the group
    language: str | None


@dataclass(frozen=True, slots=True)
class TranscodeProfile:
    variants: tuple[VariantProfile, ...]
    audio: tuple[AudioProfile, ...]
    target_duration: int
    packaging: Literal["ts", "fmp4"]
    warnings: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """A short stable hash of everything but the warnings: same ladder, same key, whatever the origin."""
        content = {
            "variants": [asdict(v) for v in self.variants],
            "audio": [asdict(a) for a in self.audio],
            "target_duration": self.target_duration,
            "packaging": self.packaging,
        }
        blob = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def derive_profile(master: MasterPlaylist, media: Mapping[str, MediaPlaylist]) -> TranscodeProfile:
    """The profile of a channel from its master and the media playlists of its tracks (keyed by track name)."""
    if not media:
        raise ValueError("derive_profile needs at least one media playlist (for the target duration)")
    warnings: list[str] = []
    variants = tuple(_variant(track, warnings) for track in master.variants)
    audio = tuple(_audio(track, variants, warnings) for track in master.tracks if track.name.startswith("a"))
    packaging: Literal["ts", "fmp4"] = "fmp4" if any(_has_map(p) for p in media.values()) else "ts"
    target_duration = max(playlist.target_duration for playlist in media.values())
    return TranscodeProfile(variants, audio, target_duration, packaging, tuple(warnings))


def _attrs(track: Track) -> AttributeList:
    return parse_attributes(track.attributes.split(":", 1)[1] if ":" in track.attributes else "")


def _has_map(playlist: MediaPlaylist) -> bool:
    return any(segment.map_line is not None for segment in playlist.segments)


def _variant(track: Track, warnings: list[str]) -> VariantProfile:
    attrs = _attrs(track)
    width, height = _resolution(track.name, attrs.get("RESOLUTION"), warnings)
    video, audio = split_codecs(track.name, attrs.get("CODECS"), warnings)
    profile, level = h264_profile_level(video)
    bandwidth = _int(attrs.get("BANDWIDTH")) or track.bandwidth
    if not bandwidth:
        warnings.append(f"{track.name}: no BANDWIDTH; assuming {DEFAULT_BANDWIDTH}")
        bandwidth = DEFAULT_BANDWIDTH
    return VariantProfile(
        name=track.name,
        width=width,
        height=height,
        bandwidth=bandwidth,
        average_bandwidth=_int(attrs.get("AVERAGE-BANDWIDTH")),
        video_codec=video,
        h264_profile=profile,
        h264_level=level,
        audio_codec=audio,
        frame_rate=_float(attrs.get("FRAME-RATE")),
        audio_group=attrs.get("AUDIO"),
    )


def _audio(track: Track, variants: tuple[VariantProfile, ...], warnings: list[str]) -> AudioProfile:
    attrs = _attrs(track)
    group = attrs.get("GROUP-ID") or ""
    codecs = [v.audio_codec for v in variants if v.audio_group == group and v.audio_codec]
    channels_text = (attrs.get("CHANNELS") or "").split("/")[0]  # "16/JOC" is Atmos: count before the slash
    channels = _int(channels_text)
    if channels is None:
        warnings.append(f"{track.name}: no CHANNELS; assuming {DEFAULT_CHANNELS}")
    return AudioProfile(
        name=track.name,
        group_id=group,
        channels=channels or DEFAULT_CHANNELS,
        codec=codecs[0] if codecs else DEFAULT_AUDIO_CODEC,
        language=attrs.get("LANGUAGE"),
    )


def _resolution(name: str, text: str | None, warnings: list[str]) -> tuple[int, int]:
    width, _, height = (text or "").lower().partition("x")
    if width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0:
        return int(width), int(height)
    default = "x".join(map(str, DEFAULT_RESOLUTION))
    warnings.append(f"{name}: RESOLUTION {text!r} missing or invalid (MediaTailor requires it); assuming {default}")
    return DEFAULT_RESOLUTION


def split_codecs(name: str, text: str | None, warnings: list[str]) -> tuple[str, str | None]:
    """(video, audio) RFC 6381 strings; the video one always an H.264 avc1 string the transcoder can make."""
    entries = [entry.strip() for entry in (text or "").split(",") if entry.strip()]
    video = next((e for e in entries if e.lower().startswith(("avc1.", "avc3.", "hvc1", "hev1", "av01", "vp09"))), None)
    audio = next((e for e in entries if e.lower().startswith(("mp4a", "ac-3", "ec-3", "opus", "fla"))), None)
    if video is None:
        warnings.append(
            f"{name}: no video codec in CODECS {text!r} (MediaTailor requires it); assuming {DEFAULT_VIDEO_CODEC}"
        )
        video = DEFAULT_VIDEO_CODEC
    elif not video.lower().startswith(("avc1.", "avc3.")) or h264_profile_level(video) == ("", ""):
        warnings.append(f"{name}: video codec {video} is not transcodable here; using {DEFAULT_VIDEO_CODEC}")
        video = DEFAULT_VIDEO_CODEC
    if text is None:
        audio = DEFAULT_AUDIO_CODEC  # no CODECS at all: assume the usual muxed AAC-LC
    elif audio is not None and audio.lower() not in AAC_OBJECT_TYPES:
        warnings.append(f"{name}: audio codec {audio} is not transcodable here; using {DEFAULT_AUDIO_CODEC}")
        audio = DEFAULT_AUDIO_CODEC
    return video, audio


def h264_profile_level(codec: str) -> tuple[str, str]:
    """("baseline", "3.0") from avc1.42C01E (profile_idc, constraint flags, level_idc); ("", "") if not H.264."""
    _, _, hexa = codec.partition(".")
    if len(hexa) != 6:
        return "", ""
    try:
        profile_idc, level_idc = int(hexa[:2], 16), int(hexa[4:], 16)
    except ValueError:
        return "", ""
    profile = H264_PROFILES.get(profile_idc, "")
    if not profile or level_idc == 0:
        return "", ""
    return profile, f"{level_idc // 10}.{level_idc % 10}"


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.strip().isdigit() else None


def _float(text: str | None) -> float | None:
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is not None and 0 < value < 1000 else None
