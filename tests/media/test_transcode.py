"""proxy.media.transcode: MP4 creatives into HLS renditions matching a channel profile.

The slow tests run the real ffmpeg of imageio-ffmpeg on tiny generated sources (2-3 s, <= 320x240) against a
3-variant muxed TS profile and a 2-variant fMP4 profile with demuxed audio, then load the result with
proxy.media.creatives.CreativeLoader exactly as a preconditioned creative.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from proxy.hls.master import MasterPlaylist, Track
from proxy.hls.playlist import parse_media
from proxy.hls.profile import TranscodeProfile
from proxy.media.creatives import CreativeLoader
from proxy.media.transcode import TranscodeError, TranscodeResult, default_ffmpeg, probe, transcode, verify
from tests.mediafiles import CHANNELS, SOURCES, channel, make_source

BASE = "http://ads.test/creative/"
FFMPEG_PROFILES = {"baseline": "Constrained Baseline", "main": "Main", "high": "High"}


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sources")
    return {name: make_source(folder, name) for name in SOURCES}


def ffmpeg_report(*paths: Path) -> str:
    """`ffmpeg -i` stderr of a segment (after its init section for fMP4: the stream info lives there)."""
    data = b"".join(path.read_bytes() for path in paths)
    scratch = paths[-1].with_suffix(".probe" + paths[-1].suffix)
    scratch.write_bytes(data)
    done = subprocess.run(
        [default_ffmpeg(), "-nostdin", "-hide_banner", "-i", str(scratch)], capture_output=True, timeout=30, check=False
    )
    scratch.unlink()
    return done.stderr.decode(errors="replace")


def first_segment(playlist: Path) -> tuple[Path, ...]:
    media = parse_media(playlist.read_bytes())
    first = media.segments[0]
    init = (playlist.parent / "init.mp4",) if first.map_line else ()
    return (*init, playlist.parent / first.uri)


class FolderFetcher:
    """A Fetcher serving BASE from the transcode's output folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.urls: list[str] = []

    async def get(self, url: str, *, timeout: float, headers: Mapping[str, str] | None = None) -> bytes:
        self.urls.append(url)
        assert url.startswith(BASE)
        return (self.root / urlsplit(url).path.removeprefix("/creative/")).read_bytes()


def check_renditions(profile: TranscodeProfile, result: TranscodeResult) -> None:
    counts = {r.name: r.segments for r in result.renditions}
    assert len(set(counts.values())) == 1, counts
    by_name = {r.name: r for r in result.renditions}
    for variant in profile.variants:
        rendition = by_name[variant.name]
        report = ffmpeg_report(*first_segment(rendition.playlist))
        video = re.search(r"Video: h264 \(([^)]+)\).*?, (\d{2,5})x(\d{2,5})", report)
        assert video is not None, report
        assert video.group(1) == FFMPEG_PROFILES[variant.h264_profile]
        assert f"{video.group(2)}x{video.group(3)}" == variant.resolution
        produced = rendition.codecs.split(",")[0].upper()
        wanted = variant.video_codec.upper()
        assert (produced[5:7], produced[9:11]) == (wanted[5:7], wanted[9:11])  # profile_idc, level_idc
        if variant.frame_rate:
            assert f"{variant.frame_rate:g} fps" in report
        assert ("Audio:" in report) == (not profile.audio)  # demuxed channels: audio lives in the group
    audio_playlists = [by_name[a.name].playlist for a in profile.audio] or [by_name["v0"].playlist]
    for playlist in audio_playlists:
        report = ffmpeg_report(*first_segment(playlist))
        assert re.search(r"Audio: aac \(LC\).*48000 Hz, stereo", report), report
    for rendition in result.renditions:
        for segment in parse_media(rendition.playlist.read_bytes()).segments:
            assert segment.duration <= profile.target_duration + 0.05


async def check_loads(master: MasterPlaylist, profile: TranscodeProfile, out: Path) -> None:
    loader = CreativeLoader(FolderFetcher(out), timeout=5)
    creative = await loader.load("ad-1", BASE + "master.m3u8", master.tracks, profile.target_duration)
    assert set(creative.uris) == {track.name for track in master.tracks}
    assert len({len(uris) for uris in creative.uris.values()}) == 1
    assert creative.uris["v0"][0].startswith(BASE + "v0/")  # nearest bandwidth: each variant its own rendition
    assert creative.uris["v1"][0].startswith(BASE + "v1/")
    assert bool(creative.map_lines) == (profile.packaging == "fmp4")


@pytest.mark.slow
@pytest.mark.parametrize("packaging", sorted(CHANNELS))
@pytest.mark.parametrize("source", sorted(SOURCES))
async def test_transcode_matches_the_profile(
    sources: dict[str, Path], tmp_path: Path, packaging: str, source: str
) -> None:
    master, profile = channel(*CHANNELS[packaging])
    result = transcode(sources[source], profile, tmp_path / "out", preset="ultrafast", timeout=60)
    assert result.master == tmp_path / "out" / "master.m3u8"
    assert result.duration == pytest.approx(SOURCES[source][2], abs=0.1)
    assert 0 < result.seconds < 60
    assert sorted(r.name for r in result.renditions) == sorted(t.name for t in master.tracks)
    check_renditions(profile, result)
    await check_loads(master, profile, tmp_path / "out")


@pytest.mark.slow
def test_shorter_segments_than_the_target(sources: dict[str, Path], tmp_path: Path) -> None:
    _, profile = channel(*CHANNELS["ts"])
    result = transcode(sources["4x3-30fps-mono-44k"], profile, tmp_path, segment_seconds=1, preset="ultrafast")
    assert {r.segments for r in result.renditions} == {3}


@pytest.mark.slow
def test_probe(sources: dict[str, Path]) -> None:
    info = probe(sources["4x3-30fps-mono-44k"])
    assert (info.width, info.height, info.frame_rate, info.audio) == (320, 240, 30.0, True)
    assert info.duration == pytest.approx(3, abs=0.1)
    assert probe(sources["square-video-only"]).audio is False


def test_broken_file_fails_at_probe(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    _, profile = channel(*CHANNELS["ts"])
    with pytest.raises(TranscodeError) as caught:
        transcode(broken, profile, tmp_path / "out")
    assert caught.value.stage == "probe"
    assert "broken.mp4" in caught.value.message


def test_missing_file_and_timeout_fail_at_probe(tmp_path: Path) -> None:
    _, profile = channel(*CHANNELS["ts"])
    with pytest.raises(TranscodeError, match="probe: .*no duration"):
        transcode(tmp_path / "absent.mp4", profile, tmp_path / "out")
    with pytest.raises(TranscodeError, match="killed"):
        probe(tmp_path / "absent.mp4", timeout=0.000_001)


@pytest.mark.slow
def test_ffmpeg_failure_carries_its_stderr(sources: dict[str, Path], tmp_path: Path) -> None:
    _, profile = channel(*CHANNELS["ts"])
    with pytest.raises(TranscodeError) as caught:
        transcode(sources["square-video-only"], profile, tmp_path, preset="no-such-preset")
    assert caught.value.stage == "transcode"
    assert "exited with" in caught.value.message and "preset" in caught.value.message.lower()


def test_segment_seconds_over_the_target_is_refused(tmp_path: Path) -> None:
    _, profile = channel(*CHANNELS["ts"])
    with pytest.raises(ValueError, match="segment_seconds"):
        transcode(tmp_path / "x.mp4", profile, tmp_path, segment_seconds=3)


def write_playlist(folder: Path, durations: list[float]) -> None:
    folder.mkdir(parents=True)
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:2"]
    for index, duration in enumerate(durations):
        lines += [f"#EXTINF:{duration},", f"seg-{index}.ts"]
        (folder / f"seg-{index}.ts").write_bytes(b"\x00\x00\x01\x67\x42\xc0\x0d" + bytes(100))
    (folder / "index.m3u8").write_text("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n")


@pytest.mark.parametrize(
    ("durations", "error"),
    [([[2, 1], [2], [2, 1]], "segment counts"), ([[2, 1], [2.6, 0.4], [2, 1]], "2.6 s segment")],
)
def test_verify_refuses_misaligned_or_long_segments(tmp_path: Path, durations: list[list[float]], error: str) -> None:
    _, profile = channel(*CHANNELS["ts"])
    for variant, segments in zip(profile.variants, durations, strict=True):
        write_playlist(tmp_path / variant.name, segments)
    with pytest.raises(TranscodeError, match=error) as caught:
        verify(profile, tmp_path)
    assert caught.value.stage == "verify"


def test_verify_reads_codecs_back(tmp_path: Path) -> None:
    _, profile = channel(*CHANNELS["ts"])
    for variant in profile.variants:
        write_playlist(tmp_path / variant.name, [2, 1])
    renditions = verify(profile, tmp_path)
    assert [r.codecs for r in renditions] == ["avc1.42C00D,mp4a.40.2"] * 3
    assert [r.resolution for r in renditions] == ["320x180", "256x144", "160x90"]


def test_tracks_are_what_the_loader_gets() -> None:
    master, _ = channel(*CHANNELS["fmp4"])
    assert [t.name for t in master.tracks] == ["a0", "a1", "v0", "v1"]
    assert all(isinstance(t, Track) for t in master.tracks)


@pytest.mark.slow
def test_progress_is_reported_and_a_raising_callback_kills_ffmpeg(sources: dict[str, Path], tmp_path: Path) -> None:
    _, profile = channel(*CHANNELS["ts"])
    seen: list[float] = []
    transcode(sources["4x3-30fps-mono-44k"], profile, tmp_path / "a", preset="ultrafast", progress=seen.append, nice=5)
    assert seen and seen == sorted(seen) and 0.9 <= seen[-1] <= 1.0

    def cancel(fraction: float) -> None:
        raise TranscodeError("transcode", "cancelled")

    with pytest.raises(TranscodeError, match="cancelled"):
        transcode(sources["4x3-30fps-mono-44k"], profile, tmp_path / "b", preset="ultrafast", progress=cancel)
    assert not (tmp_path / "b" / "master.m3u8").exists()


@pytest.mark.slow
def test_ad_audio_starts_and_ends_with_its_video(sources: dict[str, Path], tmp_path: Path) -> None:
    """No audio before the video or past its end: it would overlap the content around the ad (see _audio_filter)."""
    _, profile = channel(*CHANNELS["ts"])
    result = transcode(sources["4x3-30fps-mono-44k"], profile, tmp_path, preset="ultrafast")
    playlist = result.renditions[0].playlist
    joined = tmp_path / "all.ts"
    joined.write_bytes(
        b"".join((playlist.parent / s.uri).read_bytes() for s in parse_media(playlist.read_bytes()).segments)
    )
    spans = {}
    for stream in ("v", "a"):
        done = subprocess.run(
            [
                default_ffmpeg(),
                "-v",
                "error",
                "-copyts",
                "-i",
                str(joined),
                "-map",
                f"0:{stream}",
                "-c",
                "copy",
                "-f",
                "framecrc",
                "-",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        packets = [
            [int(field) for field in line.split(",")[1:4]] for line in done.stdout.splitlines() if line[:1].isdigit()
        ]
        spans[stream] = (packets[0][1], packets[-1][1] + packets[-1][2])  # (first pts, last pts + duration), 90 kHz
    assert spans["a"][0] == spans["v"][0], spans
    assert spans["v"][1] - 1920 <= spans["a"][1] <= spans["v"][1], spans  # within one AAC frame of the end
