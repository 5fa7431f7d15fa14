"""proxy.hls.profile: a channel's transcode profile derived from its master and media playlists."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from proxy.demo.media import Rendition, render_master
from proxy.hls.master import MasterPlaylist, parse_master
from proxy.hls.playlist import MediaPlaylist, parse_media
from proxy.hls.profile import (
    DEFAULT_AUDIO_CODEC,
    DEFAULT_RESOLUTION,
    DEFAULT_VIDEO_CODEC,
    AudioProfile,
    derive_profile,
    h264_profile_level,
)

DATA = Path(__file__).parents[1] / "data" / "profile"
URL = "https://origin.example/live/master.m3u8"


def master(body: bytes | str) -> MasterPlaylist:
    return parse_master(body.encode() if isinstance(body, str) else body, URL, "/s/{session}")


def media(name: str) -> MediaPlaylist:
    return parse_media((DATA / name).read_bytes(), URL)


def demo_master() -> MasterPlaylist:
    """The demo origin's own master, as proxy.demo renders it (codecs as _codecs_of reads them from the SPS)."""
    ladder = (
        Rendition("360p", 640, 360, 950_000, "avc1.42C01E,mp4a.40.2"),
        Rendition("270p", 480, 270, 520_000, "avc1.42C01E,mp4a.40.2"),
        Rendition("180p", 320, 180, 280_000, "avc1.42C00D,mp4a.40.2"),
    )
    return master(render_master(ladder, "live.m3u8"))


def test_demo_master_gives_a_muxed_ts_baseline_ladder() -> None:
    profile = derive_profile(demo_master(), {"v0": media("media_ts.m3u8")})
    assert [(v.name, v.resolution, v.bandwidth) for v in profile.variants] == [
        ("v0", "640x360", 950_000),
        ("v1", "480x270", 520_000),
        ("v2", "320x180", 280_000),
    ]
    first = profile.variants[0]
    assert (first.video_codec, first.h264_profile, first.h264_level) == ("avc1.42C01E", "baseline", "3.0")
    assert profile.variants[2].h264_level == "1.3"
    assert first.audio_codec == "mp4a.40.2"
    assert first.frame_rate == 25.0
    assert first.audio_group is None and first.average_bandwidth is None
    assert profile.audio == ()
    assert (profile.target_duration, profile.packaging, profile.warnings) == (2, "ts", ())


def test_fmp4_demuxed_master() -> None:
    channel = master((DATA / "fmp4_channel.m3u8").read_bytes())
    profile = derive_profile(channel, {"v0": media("media_fmp4.m3u8"), "a0": media("media_fmp4.m3u8")})
    assert profile.packaging == "fmp4"
    assert [(v.resolution, v.h264_profile, v.h264_level, v.frame_rate) for v in profile.variants] == [
        ("320x180", "high", "2.1", 30.0),
        ("160x90", "baseline", "1.2", 30.0),
    ]
    assert profile.variants[0].average_bandwidth == 600_000
    assert all(v.audio_group == "aac" for v in profile.variants)
    assert profile.audio == (
        AudioProfile("a0", "aac", 2, "mp4a.40.2", "en"),
        AudioProfile("a1", "aac", 2, "mp4a.40.2", "de"),
    )
    assert profile.warnings == ()


def test_the_big_demuxed_master_and_its_channels() -> None:
    body = (Path(__file__).parents[1] / "data" / "master" / "demuxed_master.m3u8").read_bytes()
    profile = derive_profile(master(body), {"v0": media("media_ts.m3u8")})
    assert [(v.resolution, v.h264_profile, v.h264_level) for v in profile.variants] == [
        ("1920x1080", "high", "4.0"),
        ("1280x720", "high", "3.1"),
        ("640x360", "main", "3.0"),
    ]
    assert profile.variants[2].average_bandwidth == 900_000 and profile.variants[2].frame_rate is None


def test_missing_resolution_and_codecs_get_defaults_and_warnings() -> None:
    body = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=x\nb.m3u8\n"
    profile = derive_profile(master(body), {"v0": media("media_ts.m3u8")})
    first = profile.variants[0]
    assert (first.width, first.height) == DEFAULT_RESOLUTION
    assert (first.video_codec, first.audio_codec) == (DEFAULT_VIDEO_CODEC, DEFAULT_AUDIO_CODEC)
    assert (first.h264_profile, first.h264_level) == ("main", "3.1")
    assert [w.split(":")[0] for w in profile.warnings] == ["v0", "v0", "v1", "v1"]
    assert all("MediaTailor requires it" in w for w in profile.warnings)
    assert "RESOLUTION" in profile.warnings[0] and "CODECS" in profile.warnings[1]


def test_untranscodable_codecs_and_missing_channels_are_reported() -> None:
    body = (
        '#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="x",URI="a.m3u8"\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="hvc1.1.6.L93.B0,ec-3",AUDIO="a"\nv.m3u8\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.640028"\nw.m3u8\n'
    )
    profile = derive_profile(master(body), {"v0": media("media_ts.m3u8")})
    assert profile.variants[0].video_codec == DEFAULT_VIDEO_CODEC
    assert profile.variants[0].audio_codec == DEFAULT_AUDIO_CODEC
    assert profile.variants[1].audio_codec is None  # CODECS given, and it names no audio: video-only
    assert profile.audio[0].channels == 2
    assert [w.split(":")[0] for w in profile.warnings] == ["v0", "v0", "a0"]


def test_key_is_stable_and_follows_the_content() -> None:
    channel = master((DATA / "fmp4_channel.m3u8").read_bytes())
    one = derive_profile(channel, {"v0": media("media_fmp4.m3u8")})
    again = derive_profile(channel, {"v0": media("media_fmp4.m3u8"), "a0": media("media_fmp4.m3u8")})
    assert one.key == again.key and len(one.key) == 16
    assert dataclasses.replace(one, warnings=("x",)).key == one.key
    assert dataclasses.replace(one, target_duration=6).key != one.key
    assert dataclasses.replace(one, packaging="ts").key != one.key
    assert derive_profile(demo_master(), {"v0": media("media_ts.m3u8")}).key != one.key


def test_target_duration_is_the_largest_and_media_is_required() -> None:
    longer = parse_media(b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n")
    profile = derive_profile(demo_master(), {"v0": media("media_ts.m3u8"), "v1": longer})
    assert profile.target_duration == 6
    with pytest.raises(ValueError, match="media playlist"):
        derive_profile(demo_master(), {})


@pytest.mark.parametrize(
    ("codec", "expected"),
    [
        ("avc1.42C01E", ("baseline", "3.0")),
        ("avc1.4d401f", ("main", "3.1")),
        ("avc3.640028", ("high", "4.0")),
        ("avc1.640033", ("high", "5.1")),
        ("avc1.66.30", ("", "")),  # the old decimal form is not RFC 6381
        ("avc1.FF0028", ("", "")),
        ("avc1.ZZ0028", ("", "")),
        ("mp4a.40.2", ("", "")),
    ],
)
def test_h264_profile_level(codec: str, expected: tuple[str, str]) -> None:
    assert h264_profile_level(codec) == expected
