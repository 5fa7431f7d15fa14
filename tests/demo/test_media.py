"""The demo media: one ladder everywhere, exact segment cuts, a loop that repeats seamlessly, a safe cache."""

from __future__ import annotations

import re
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import imageio_ffmpeg
import pytest

from proxy.demo.media import CREATIVES, DemoMedia, Mp4Asset, VodAsset, loop_segments_for, prepare_media

TD = 2
CODECS = "avc1.42C01E,mp4a.40.2"  # H.264 Constrained Baseline level 3.0 + AAC-LC
LADDER = [("360p", 640, 360), ("270p", 480, 270), ("180p", 320, 180)]


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> DemoMedia:
    # Same folder in every test module: prepare_media's disk cache makes the later calls instant.
    return prepare_media(tmp_path_factory.getbasetemp() / "demo", TD)


# --- a small MPEG-TS demuxer, written for the tests ----------------------------------------------


@dataclass
class Pes:
    stream_id: int
    pts: int
    data: bytearray = field(default_factory=bytearray)


def demux(ts: bytes) -> list[Pes]:
    assert len(ts) % 188 == 0 and all(ts[i] == 0x47 for i in range(0, len(ts), 188))
    open_pes: dict[int, Pes] = {}
    done: list[Pes] = []
    for pos in range(0, len(ts), 188):
        packet = ts[pos : pos + 188]
        pid = (packet[1] & 0x1F) << 8 | packet[2]
        start = 4 + (1 + packet[4] if packet[3] & 0x20 else 0)
        if pid < 0x20 or pid == 0x1FFF or not packet[3] & 0x10:
            continue
        payload = packet[start:]
        if packet[1] & 0x40 and payload[:3] == b"\x00\x00\x01":
            if pid in open_pes:
                done.append(open_pes.pop(pid))
            f = payload[9:14]
            pts = (f[0] >> 1 & 7) << 30 | f[1] << 22 | (f[2] >> 1) << 15 | f[3] << 7 | f[4] >> 1
            open_pes[pid] = Pes(payload[3], pts, bytearray(payload[9 + payload[8] :]))
        elif pid in open_pes:
            open_pes[pid].data += payload
    return sorted(done + list(open_pes.values()), key=lambda p: p.pts)


def video(pes: list[Pes]) -> list[Pes]:
    return [p for p in pes if 0xE0 <= p.stream_id <= 0xEF]


def audio(pes: list[Pes]) -> list[Pes]:
    return [p for p in pes if 0xC0 <= p.stream_id <= 0xDF]


def adts_frames(data: bytes) -> int:
    count, at = 0, 0
    while at < len(data):
        assert data[at] == 0xFF and data[at + 1] & 0xF6 == 0xF0, "ADTS frames must be back to back"
        at += (data[at + 3] & 3) << 11 | data[at + 4] << 3 | data[at + 5] >> 5
        count += 1
    return count


def nal_types(data: bytes) -> list[int]:
    return [data[m.end()] & 0x1F for m in re.finditer(b"\x00\x00\x01", data) if m.end() < len(data)]


def probe(path: Path) -> str:
    done = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True)
    return done.stderr.decode(errors="replace")


def probe_duration(info: str) -> float:
    match = re.search(r"Duration: (\d+):(\d+):(\d+\.\d+)", info)
    assert match is not None, info
    return int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3])


def top_level_boxes(path: Path) -> list[str]:
    """The types of an MP4's top-level boxes, in file order (ISO/IEC 14496-12 §4.2)."""
    data, at, boxes = path.read_bytes(), 0, []
    while at + 8 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        if size == 1:  # a 64-bit size follows the type
            size = int.from_bytes(data[at + 8 : at + 16], "big")
        assert size >= 8, f"{path}: box of size {size} at {at}"
        boxes.append(data[at + 4 : at + 8].decode("latin-1"))
        at += size
    assert at == len(data), f"{path}: boxes end at {at}, file at {len(data)}"
    return boxes


def mean_rgb(source: Path) -> tuple[int, int, int]:
    """The mean colour of a 16x16 patch near the top-left corner of the first frame (the background)."""
    args = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(source)]
    args += ["-vf", "crop=16:16:4:4", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    pixels = subprocess.run(args, capture_output=True, check=True).stdout
    assert len(pixels) == 16 * 16 * 3
    r, g, b = (sum(pixels[c::3]) // 256 for c in range(3))
    return r, g, b


def playlist_tags(text: str, tag: str) -> list[str]:
    return [line.split(":", 1)[1] for line in text.splitlines() if line.startswith(tag + ":")]


# --- the ladder and the files -----------------------------------------------------------------------


def test_ladder_and_codecs(media: DemoMedia) -> None:
    assert [(r.name, r.width, r.height) for r in media.ladder] == LADDER
    assert all(r.codecs == CODECS for r in media.ladder)
    bandwidths = [r.bandwidth for r in media.ladder]
    assert bandwidths == sorted(bandwidths, reverse=True) and bandwidths[-1] > 200_000


def all_first_segments(media: DemoMedia) -> list[tuple[str, Path]]:
    paths = [(r.name, media.content_segment_path(r.name, 0)) for r in media.ladder]
    for asset in (*media.creatives, media.slate):
        paths += [(r.name, media.segment_path(asset, r.name, 0)) for r in media.ladder]
    return paths


def test_every_asset_has_the_same_tracks(media: DemoMedia) -> None:
    sizes = {name: f"{w}x{h}" for name, w, h in LADDER}
    for name, path in all_first_segments(media):
        info = probe(path)
        assert "Video: h264 (Constrained Baseline)" in info and sizes[name] in info and "25 fps" in info, path
        assert "Audio: aac (LC)" in info and "48000 Hz, stereo" in info, path
        sps = bytes(video(demux(path.read_bytes()))[0].data)
        at = sps.find(b"\x00\x00\x01\x67")
        assert f"avc1.{sps[at + 4 : at + 7].hex().upper()}" == CODECS.split(",")[0], path


def test_every_segment_is_mpeg_ts_and_starts_with_a_keyframe(media: DemoMedia) -> None:
    for asset_files in [media.vod_files(a) for a in (*media.creatives, media.slate)]:
        for relpath, path in asset_files.items():
            assert path.is_file(), relpath
            if relpath.endswith(".ts"):
                first = video(demux(path.read_bytes()))
                assert 5 in nal_types(bytes(first[0].data)), f"{path} does not open with an IDR frame"
                assert sum(5 in nal_types(bytes(p.data)) for p in first) == 1, f"{path} has a keyframe inside"


def test_content_loop_cut_exactly(media: DemoMedia) -> None:
    assert media.loop_segments == loop_segments_for(TD) == 32 and media.loop_duration == 64
    base = video(demux(media.content_segment_path("360p", 0).read_bytes()))[0].pts
    for rendition in media.ladder:
        for index in range(media.loop_segments):
            frames = video(demux(media.content_segment_path(rendition.name, index).read_bytes()))
            assert len(frames) == TD * 25
            assert frames[0].pts == base + index * TD * 90_000, (rendition.name, index)
            assert 5 in nal_types(bytes(frames[0].data))


@pytest.mark.parametrize("rendition", ["360p", "180p"])
def test_loop_repeats_with_no_gap_or_overlap(media: DemoMedia, rendition: str) -> None:
    """Copy k+1 of the loop starts exactly where copy k ends, for video and for audio."""
    loop_ticks = media.loop_duration * 90_000
    segments = [demux(media.content_segment_path(rendition, i).read_bytes()) for i in range(media.loop_segments)]
    first_video, last_video = video(segments[0])[0], video(segments[-1])[-1]
    assert last_video.pts + 3600 == first_video.pts + loop_ticks  # one 25 fps frame after the last
    audio_pes = [p for segment in segments for p in audio(segment)]
    frames = [adts_frames(bytes(p.data)) for p in audio_pes]
    assert sum(frames) * 1024 == media.loop_duration * 48_000
    for earlier, later, count in zip(audio_pes, audio_pes[1:], frames, strict=False):
        assert later.pts == earlier.pts + count * 1920  # contiguous AAC frames (1024 samples = 1920 ticks)
    assert audio_pes[-1].pts + frames[-1] * 1920 == audio_pes[0].pts + loop_ticks
    assert audio_pes[0].pts == first_video.pts  # audio and video start together


# --- VOD playlists -----------------------------------------------------------------------------------


def test_creatives_and_slate(media: DemoMedia) -> None:
    assert {c.id: c.duration for c in media.creatives} == {"ad-red-10s": 10, "ad-green-15s": 15, "ad-blue-6s": 6}
    assert media.creative("ad-blue-6s").segment_durations == (2.0, 2.0, 2.0)
    assert media.slate.segment_durations == (TD, TD)
    with pytest.raises(KeyError):
        media.creative("nope")


def check_vod(media: DemoMedia, asset: VodAsset, longest: float) -> None:
    master = media.master_path(asset).read_text()
    variants = playlist_tags(master, "#EXT-X-STREAM-INF")
    uris = [line for line in master.splitlines() if line and not line.startswith("#")]
    assert uris == [f"{name}/index.m3u8" for name, _w, _h in LADDER]
    for attributes, rendition in zip(variants, media.ladder, strict=True):
        assert f"BANDWIDTH={rendition.bandwidth}," in attributes
        assert f"RESOLUTION={rendition.width}x{rendition.height}," in attributes and f'CODECS="{CODECS}"' in attributes
    for rendition in media.ladder:
        text = media.media_playlist_path(asset, rendition.name).read_text()
        durations = tuple(float(v.rstrip(",")) for v in playlist_tags(text, "#EXTINF"))
        assert durations == asset.segment_durations and all(d <= longest for d in durations)
        assert abs(sum(durations) - asset.duration) < 0.1
        assert [u for u in text.splitlines() if u and not u.startswith("#")] == list(asset.segment_names())
        assert int(playlist_tags(text, "#EXT-X-TARGETDURATION")[0]) >= max(round(d) for d in durations)
        assert text.rstrip().endswith("#EXT-X-ENDLIST")


def test_vod_playlists(media: DemoMedia) -> None:
    for creative in media.creatives:
        check_vod(media, creative, min(TD, 4))
    check_vod(media, media.slate, TD)


# --- mezzanine MP4s ------------------------------------------------------------------------------------


def all_mp4s(media: DemoMedia) -> list[Mp4Asset]:
    return [*media.mp4s, media.slate_mp4]


def test_mp4_assets(media: DemoMedia) -> None:
    assert [m.id for m in media.mp4s] == list(media.creative_ids)
    assert [m.duration for m in media.mp4s] == [c.duration for c in media.creatives]
    assert media.slate_mp4.id == "slate" and media.slate_mp4.duration == 10
    assert media.mp4_files() == {
        "ad-red-10s.mp4": media.root / "mp4" / "ad-red-10s.mp4",
        "ad-green-15s.mp4": media.root / "mp4" / "ad-green-15s.mp4",
        "ad-blue-6s.mp4": media.root / "mp4" / "ad-blue-6s.mp4",
        "slate.mp4": media.root / "mp4" / "slate.mp4",
    }
    assert media.mp4_path("ad-blue-6s") == media.root / "mp4" / "ad-blue-6s.mp4"
    assert media.slate_mp4_path == media.mp4_path("slate") == media.root / "mp4" / "slate.mp4"
    with pytest.raises(KeyError):
        media.mp4("nope")


def test_mp4s_are_shaped_unlike_the_ladder(media: DemoMedia) -> None:
    """854x480 at 30 fps with AAC 44.1 kHz: no rung matches, so the proxy has to transcode them."""
    for mp4 in all_mp4s(media):
        path = media.mp4_path(mp4.id)
        info = probe(path)
        assert re.search(r"Video: h264 \(High\).*, 854x480[ ,].*, 30 fps,", info), info
        assert re.search(r"Audio: aac \(LC\).*, 44100 Hz, stereo,", info), info
        assert abs(probe_duration(info) - mp4.duration) <= 0.2, (mp4.id, info)
        assert (mp4.width, mp4.height) == (854, 480)
        assert mp4.kbps == round(path.stat().st_size * 8 / mp4.duration / 1000) and mp4.kbps > 0


def test_mp4s_are_progressive_with_the_moov_first(media: DemoMedia) -> None:
    """`+faststart`: a client reading the file from the start, with no range request, gets the index first."""
    for mp4 in all_mp4s(media):
        boxes = top_level_boxes(media.mp4_path(mp4.id))
        assert boxes[0] == "ftyp" and "moov" in boxes and "mdat" in boxes, boxes
        assert boxes.index("moov") < boxes.index("mdat"), boxes


@pytest.mark.parametrize(("creative_id", "colour"), [(c.id, c.colour) for c in CREATIVES])
def test_mp4_creative_looks_like_its_hls_creative(media: DemoMedia, creative_id: str, colour: str) -> None:
    want = tuple(int(colour[i : i + 2], 16) for i in (2, 4, 6))  # "0xRRGGBB"
    mp4 = mean_rgb(media.mp4_path(creative_id))
    hls = mean_rgb(media.segment_path(media.creative(creative_id), "360p", 0))
    assert all(abs(a - b) <= 12 for a, b in zip(mp4, want, strict=True)), (mp4, want)
    assert all(abs(a - b) <= 12 for a, b in zip(mp4, hls, strict=True)), (mp4, hls)


def test_mp4_slate_looks_like_the_hls_slate(media: DemoMedia) -> None:
    mp4, hls = mean_rgb(media.slate_mp4_path), mean_rgb(media.segment_path(media.slate, "360p", 0))
    assert all(abs(a - b) <= 12 for a, b in zip(mp4, hls, strict=True)), (mp4, hls)


# --- the cache -----------------------------------------------------------------------------------------


def test_second_call_uses_the_cache(media: DemoMedia) -> None:
    started = time.monotonic()
    again = prepare_media(media.root.parent.parent, TD, ffmpeg="/nonexistent/ffmpeg")  # would fail if it ran
    assert again == media and time.monotonic() - started < 1
    assert [p.name for p in media.root.parent.iterdir()] == [media.root.name]  # no temporary folder left
    assert stat.S_IMODE(media.root.stat().st_mode) == 0o755


def test_failed_encode_leaves_nothing(tmp_path: Path) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho 'no encoder here' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(RuntimeError, match="no encoder here"):
        prepare_media(tmp_path / "data", 3, ffmpeg=str(fake))
    assert list((tmp_path / "data" / "demo-media").iterdir()) == []


def test_rejects_bad_target_duration(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="target_duration=0"):
        prepare_media(tmp_path, 0)


@pytest.mark.parametrize(("td", "segments"), [(1, 64), (2, 32), (3, 24), (4, 16), (6, 12), (10, 8), (30, 8)])
def test_loop_length(td: int, segments: int) -> None:
    assert loop_segments_for(td) == segments
    assert (segments * td) % 8 == 0 and segments * td >= 60 and segments >= 6


@pytest.mark.slow
def test_builds_without_drawtext(tmp_path: Path) -> None:
    """An ffmpeg whose drawtext cannot run (no freetype or no font) still yields the full media set."""
    wrapper = tmp_path / "ffmpeg"
    real = imageio_ffmpeg.get_ffmpeg_exe()
    wrapper.write_text(f'#!/bin/sh\ncase "$*" in *drawtext=*) exit 1;; esac\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    plain = prepare_media(tmp_path / "data", 4, ffmpeg=str(wrapper))
    assert plain.text_overlay is False and plain.loop_segments == 16
    assert plain.creative("ad-red-10s").segment_durations == (4.0, 4.0, 2.0)
    assert "h264" in probe(plain.segment_path(plain.slate, "180p", 1))
    assert "854x480" in probe(plain.slate_mp4_path) and "44100 Hz" in probe(plain.mp4_path("ad-red-10s"))
