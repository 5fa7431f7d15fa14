"""The MPEG-TS timestamp shifter, on hand-built packets and on a real ffmpeg segment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from proxy.demo import tsshift
from proxy.demo.media import DemoMedia, prepare_media

WRAP = 2**33


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> DemoMedia:
    # Same folder in every test module: prepare_media's disk cache makes the later calls instant.
    return prepare_media(tmp_path_factory.getbasetemp() / "demo", 2)


# --- an independent writer/reader for the fields, via bit strings --------------------------------


def _ts_field(prefix: int, value: int) -> bytes:
    bits = f"{prefix:04b}{value >> 30:03b}1{(value >> 15) & 0x7FFF:015b}1{value & 0x7FFF:015b}1"
    return int(bits, 2).to_bytes(5, "big")


def _parse_ts_field(field: bytes) -> int:
    bits = f"{int.from_bytes(field, 'big'):040b}"
    return int(bits[4:7] + bits[8:23] + bits[24:39], 2)


def _pcr_field(base: int, extension: int) -> bytes:
    return int(f"{base:033b}111111{extension:09b}", 2).to_bytes(6, "big")


def _parse_pcr(field: bytes) -> tuple[int, int]:
    bits = f"{int.from_bytes(field, 'big'):048b}"
    return int(bits[:33], 2), int(bits[39:], 2)


def _packet(pid: int, *, pusi: bool, payload: bytes, pcr: bytes | None = None, cc: int = 0) -> bytes:
    header = bytes((0x47, (0x40 if pusi else 0) | pid >> 8, pid & 0xFF))
    if pcr is None:
        body = payload
        control = 0x10
    else:
        adaptation = bytes((0x10,)) + pcr
        body = bytes((len(adaptation),)) + adaptation + payload
        control = 0x30
    body = body.ljust(184, b"\xff")
    return header + bytes((control | cc,)) + body


def _pes(stream_id: int, pts: int, dts: int | None) -> bytes:
    if dts is None:
        return b"\x00\x00\x01" + bytes((stream_id, 0, 0, 0x80, 0x80, 5)) + _ts_field(2, pts) + b"\x00\x00\x00\x01\x09"
    fields = _ts_field(3, pts) + _ts_field(1, dts)
    return b"\x00\x00\x01" + bytes((stream_id, 0, 0, 0x80, 0xC0, 10)) + fields + b"\x00\x00\x00\x01\x09"


def _stream(pts: int, dts: int, pcr: int, audio_pts: int) -> bytes:
    pat = _packet(0, pusi=True, payload=b"\x00\x00\xb0\x0d\x00\x01\xc1\x00\x00\x00\x01\xf0\x00\x2a\xb1\x04\xb2")
    video = _packet(0x100, pusi=True, payload=_pes(0xE0, pts, dts), pcr=_pcr_field(pcr, 123))
    more = _packet(0x100, pusi=False, payload=b"\x00\x00\x01\xe0" + bytes(20), cc=1)  # not a PES start
    audio = _packet(0x101, pusi=True, payload=_pes(0xC0, audio_pts, None))
    padding = _packet(0x102, pusi=True, payload=b"\x00\x00\x01\xbe\x00\x10" + bytes(16))  # no PES header
    null = _packet(0x1FFF, pusi=False, payload=b"")
    return pat + video + more + audio + padding + null


def test_shifts_pts_dts_and_pcr_only() -> None:
    before = _stream(pts=1000, dts=900, pcr=800, audio_pts=950)
    after = tsshift.shift_timestamps(before, 90_000)
    video, audio = after[188:376], after[564:752]
    assert _parse_ts_field(video[4 + 8 + 9 : 4 + 8 + 14]) == 91_000
    assert _parse_ts_field(video[4 + 8 + 14 : 4 + 8 + 19]) == 90_900
    assert _parse_pcr(video[6:12]) == (90_800, 123)
    assert _parse_ts_field(audio[4 + 9 : 4 + 14]) == 90_950
    changed = {i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b}
    allowed = set(range(188 + 6, 188 + 12)) | set(range(188 + 21, 188 + 31)) | set(range(564 + 13, 564 + 18))
    assert changed and changed <= allowed


def test_wraps_at_33_bits_and_negative_offsets() -> None:
    after = tsshift.shift_timestamps(_stream(pts=WRAP - 10, dts=5, pcr=WRAP - 1, audio_pts=0), 20)
    kinds = [(kind, value) for kind, _pid, value in tsshift.read_timestamps(after)]
    assert kinds == [("pcr", 19), ("pts", 10), ("dts", 25), ("pts", 20)]
    back = tsshift.shift_timestamps(after, -20)
    assert back == _stream(pts=WRAP - 10, dts=5, pcr=WRAP - 1, audio_pts=0)


def test_zero_offset_is_identity_and_helpers() -> None:
    data = _stream(pts=1, dts=0, pcr=0, audio_pts=2)
    assert tsshift.shift_timestamps(data, 0) == data
    assert tsshift.shift_timestamps(data, WRAP) == data
    assert tsshift.first_video_pts(data) == 1
    assert tsshift.first_video_pts(data[376:]) is None  # only audio and padding left


def test_rejects_what_is_not_mpeg_ts() -> None:
    with pytest.raises(ValueError, match="multiple of 188"):
        tsshift.shift_timestamps(b"\x47" * 100, 1)
    with pytest.raises(ValueError, match="sync byte at offset 188"):
        tsshift.shift_timestamps(b"\x47" + bytes(187) + b"\x00" * 188, 1)


@given(pts=st.integers(0, WRAP - 1), dts=st.integers(0, WRAP - 1), pcr=st.integers(0, WRAP - 1), offset=st.integers())
def test_any_value_any_offset(pts: int, dts: int, pcr: int, offset: int) -> None:
    shifted = tsshift.shift_timestamps(_stream(pts, dts, pcr, pts), offset)
    expected = [(pcr + offset) % WRAP, (pts + offset) % WRAP, (dts + offset) % WRAP, (pts + offset) % WRAP]
    assert [value for _kind, _pid, value in tsshift.read_timestamps(shifted)] == expected


def test_real_segment_every_timestamp_moves_and_ffmpeg_still_reads_it(media: DemoMedia, tmp_path: Path) -> None:
    original = media.content_segment_path("360p", 3).read_bytes()
    offset = media.loop_duration * 90_000
    shifted = tsshift.shift_timestamps(original, offset)
    before, after = tsshift.read_timestamps(original), tsshift.read_timestamps(shifted)
    assert len(before) > 50 and {kind for kind, _pid, _v in before} >= {"pcr", "pts"}
    assert [(k, p, (v + offset) % WRAP) for k, p, v in before] == after
    assert len(shifted) == len(original) and shifted[:4] == original[:4]
    target = tmp_path / "shifted.ts"
    target.write_bytes(shifted)
    import imageio_ffmpeg

    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(target), "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == ""
