"""The SCTE-35 encoders: byte-exact against published cues, CRC-correct, and readable by our decoder."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, strategies as st

from proxy.hls import scte35
from proxy.hls.crc import crc32_mpeg2
from proxy.hls.scte35_encode import encode_splice_insert, encode_time_signal, to_base64, to_hex


def _assert_well_formed(section: bytes) -> None:
    assert section[0] == 0xFC
    assert ((section[1] & 0x0F) << 8 | section[2]) == len(section) - 3  # section_length
    assert int.from_bytes(section[-4:], "big") == crc32_mpeg2(section[:-4])
    assert crc32_mpeg2(section) == 0  # the CRC over the whole section, CRC included, is zero


def test_reproduces_elemental_splice_insert_vector_27() -> None:
    cue = encode_splice_insert(
        1, out=True, pts_time=0x1C2989092, duration_s=50, unique_program_id=1, avail_num=1, avails_expected=1
    )
    assert to_base64(cue) == "/DAlAAAAAAAAAP/wFAUAAAABf+//wpiQkv4ARKogAAEBAQAAQ6sodg=="


def test_reproduces_elemental_live_daterange_vector_41() -> None:
    cue = encode_splice_insert(
        999, out=True, pts_time=0x0011FB9E, duration_s=30, unique_program_id=1, avail_num=1, avails_expected=1
    )
    assert to_hex(cue) == "0xFC302500000000000000FFF01405000003E77FEFFE0011FB9EFE002932E00001010100004D192A59"


def test_reproduces_mediatailor_vector_37_with_pts_adjustment() -> None:
    cue = encode_splice_insert(
        0xF0000006,
        out=True,
        pts_time=0x01D2DF88,
        duration_s=20,
        unique_program_id=1,
        avail_num=1,
        avails_expected=1,
        pts_adjustment=183265,
    )
    assert to_base64(cue) == "/DAlAAAAAsvhAP/wFAXwAAAGf+/+AdLfiP4AG3dAAAEBAQAAXytxmQ=="


def test_splice_insert_out_decodes() -> None:
    cue = encode_splice_insert(7, out=True, pts_time=123_456, duration_s=30.0)
    _assert_well_formed(cue)
    info = scte35.decode(cue)
    assert info.crc_ok and info.pts_adjustment == 0 and info.tier == 0xFFF
    command = info.command
    assert isinstance(command, scte35.SpliceInsert)
    assert (command.splice_event_id, command.out_of_network, command.splice_immediate) == (7, True, False)
    assert (command.pts_time, command.break_duration, command.auto_return) == (123_456, 30 * 90_000, True)
    assert scte35.break_signal(info) == ("out", 30.0, "0x7")


def test_splice_insert_in_and_immediate() -> None:
    back = scte35.decode(encode_splice_insert(7, out=False, pts_time=999, duration_s=None))
    assert isinstance(back.command, scte35.SpliceInsert)
    assert (back.command.out_of_network, back.command.pts_time, back.command.break_duration) == (False, 999, None)
    assert scte35.break_signal(back) == ("in", None, "0x7")
    now = scte35.decode(encode_splice_insert(8, out=True, pts_time=None, duration_s=6, auto_return=False))
    assert isinstance(now.command, scte35.SpliceInsert)
    assert now.command.splice_immediate and now.command.pts_time is None and now.command.auto_return is False


def test_time_signal_placement_opportunity_pair() -> None:
    start = encode_time_signal(2**33 - 1, segmentation_event_id=42, segmentation_type_id=0x34, duration_s=30)
    end = encode_time_signal(5, segmentation_event_id=42, segmentation_type_id=0x35, duration_s=None)
    for cue in (start, end):
        _assert_well_formed(cue)
    out_info, in_info = scte35.decode(start), scte35.decode(end)
    assert isinstance(out_info.command, scte35.TimeSignal) and out_info.command.pts_time == 2**33 - 1
    (descriptor,) = out_info.segmentation
    assert (descriptor.segmentation_event_id, descriptor.duration_ticks) == (42, 30 * 90_000)
    assert (descriptor.sub_segment_num, descriptor.sub_segments_expected) == (0, 0)  # present for 0x34
    assert scte35.break_signal(out_info) == ("out", 30.0, "0x2a")
    assert scte35.break_signal(in_info) == ("in", None, "0x2a")


def test_time_signal_without_time() -> None:
    cue = encode_time_signal(None, segmentation_event_id=1, segmentation_type_id=0x22, duration_s=None)
    info = scte35.decode(cue)
    assert isinstance(info.command, scte35.TimeSignal) and info.command.pts_time is None
    assert info.splice_command_length == 1


def test_text_forms() -> None:
    cue = encode_splice_insert(1, out=True, pts_time=0, duration_s=1)
    assert to_hex(cue).startswith("0xFC30") and to_hex(cue)[2:] == cue.hex().upper()
    assert base64.b64decode(to_base64(cue)) == cue and to_base64(cue).endswith("=")


@pytest.mark.parametrize(
    ("event_id", "pts_time", "duration_s", "avail_num", "pts_adjustment", "message"),
    [
        (2**32, 0, 1.0, 0, 0, "event_id"),
        (1, 2**33, 1.0, 0, 0, "pts_time"),
        (1, 0, -1.0, 0, 0, "duration_s"),
        (1, 0, 2**33 / 90_000, 0, 0, "duration_s"),
        (1, 0, 1.0, 256, 0, "avail_num"),
        (1, 0, 1.0, 0, -1, "pts_adjustment"),
    ],
)
def test_rejects_out_of_range_fields(
    event_id: int, pts_time: int, duration_s: float, avail_num: int, pts_adjustment: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        encode_splice_insert(
            event_id,
            out=True,
            pts_time=pts_time,
            duration_s=duration_s,
            avail_num=avail_num,
            pts_adjustment=pts_adjustment,
        )


def test_rejects_bad_segmentation_fields() -> None:
    with pytest.raises(ValueError, match="segmentation_type_id"):
        encode_time_signal(0, segmentation_event_id=1, segmentation_type_id=256, duration_s=None)
    with pytest.raises(ValueError, match="segmentation_event_id"):
        encode_time_signal(0, segmentation_event_id=-1, segmentation_type_id=0x34, duration_s=None)


@given(
    event_id=st.integers(0, 2**32 - 1),
    pts=st.one_of(st.none(), st.integers(0, 2**33 - 1)),
    ticks=st.one_of(st.none(), st.integers(0, 2**33 - 1)),
    out=st.booleans(),
)
def test_splice_insert_round_trips(event_id: int, pts: int | None, ticks: int | None, out: bool) -> None:
    duration = None if ticks is None else ticks / 90_000
    info = scte35.decode(encode_splice_insert(event_id, out=out, pts_time=pts, duration_s=duration))
    assert info.crc_ok
    command = info.command
    assert isinstance(command, scte35.SpliceInsert)
    assert (command.splice_event_id, command.out_of_network, command.pts_time) == (event_id, out, pts)
    assert command.break_duration == ticks


@given(
    type_id=st.integers(0, 255),
    ticks=st.one_of(st.none(), st.integers(0, 2**40 - 1)),
    pts=st.integers(0, 2**33 - 1),
)
def test_time_signal_round_trips(type_id: int, ticks: int | None, pts: int) -> None:
    duration = None if ticks is None else ticks / 90_000
    cue = encode_time_signal(pts, segmentation_event_id=9, segmentation_type_id=type_id, duration_s=duration)
    info = scte35.decode(cue)
    assert info.crc_ok and isinstance(info.command, scte35.TimeSignal) and info.command.pts_time == pts
    (descriptor,) = info.segmentation
    assert (descriptor.segmentation_type_id, descriptor.duration_ticks) == (type_id, ticks)
