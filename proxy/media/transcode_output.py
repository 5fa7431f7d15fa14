"""A transcode's output checked and described: every rendition cut alike (`verify`, after `fold_audio_dust`),
its codecs read back from the encoded stream (`stream_codecs`), and the creative's master (`render_master`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from proxy.errors import ProxyError
from proxy.hls.playlist import MediaPlaylist, Segment, parse_media
from proxy.hls.profile import AudioProfile, TranscodeProfile
from proxy.hls.tags import EXT_X_INDEPENDENT_SEGMENTS, EXT_X_MEDIA, EXT_X_STREAM_INF, EXT_X_VERSION, EXTINF, EXTM3U
from proxy.media.ffmpeg import TranscodeError

_DUST_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class RenditionResult:
    name: str  # v0, a0 … as in the profile
    playlist: Path
    segments: int
    codecs: str  # RFC 6381, read back from the encoded stream
    resolution: str | None  # None for audio-only renditions
    peak_bandwidth: int  # measured over the segments (bits/s)


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
