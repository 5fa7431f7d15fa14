"""CRC-32/MPEG-2 (SCTE 35 §9.6): catalogue vectors, a bitwise reference, and the round trip through the SCTE-35
encoder and decoder that both use it."""

from __future__ import annotations

from hypothesis import given, strategies as st

from proxy.hls import scte35
from proxy.hls.crc import crc32_mpeg2
from proxy.hls.scte35_encode import encode_splice_insert, encode_time_signal


def _bitwise_crc(data: bytes) -> int:
    """CRC-32/MPEG-2 computed bit by bit, independent of the table-driven implementation under test."""
    crc = 0xFFFFFFFF
    for byte in data:
        for bit in range(7, -1, -1):
            top = (crc >> 31) ^ ((byte >> bit) & 1)
            crc = ((crc << 1) & 0xFFFFFFFF) ^ (0x04C11DB7 if top else 0)
    return crc


def test_crc32_mpeg2_check_value() -> None:
    assert crc32_mpeg2(b"123456789") == 0x0376E6E7  # the catalogue check value of CRC-32/MPEG-2


def test_crc_matches_a_bitwise_reference() -> None:
    assert crc32_mpeg2(b"123456789") == _bitwise_crc(b"123456789") == 0x0376E6E7
    assert crc32_mpeg2(b"") == 0xFFFFFFFF


def test_known_vectors() -> None:
    assert crc32_mpeg2(b"\x00") == 0x4E08BFB4
    assert crc32_mpeg2(b"\xff\xff\xff\xff") == 0
    assert crc32_mpeg2(b"The quick brown fox jumps over the lazy dog") == 0xBA62119E


@given(st.binary(max_size=200))
def test_table_agrees_with_the_bitwise_reference(data: bytes) -> None:
    assert crc32_mpeg2(data) == _bitwise_crc(data)


@given(st.binary(max_size=200))
def test_appending_the_crc_gives_zero(data: bytes) -> None:
    """The property the decoder checks: a section followed by its own CRC_32 has CRC 0."""
    assert crc32_mpeg2(data + crc32_mpeg2(data).to_bytes(4, "big")) == 0


def test_published_cue_carries_its_crc() -> None:
    cue = bytes.fromhex("FC302500000000000000FFF01405000003E77FEFFE0011FB9EFE002932E00001010100004D192A59")
    assert int.from_bytes(cue[-4:], "big") == crc32_mpeg2(cue[:-4]) == 0x4D192A59


def test_round_trip_through_encoder_and_decoder() -> None:
    for cue in (
        encode_splice_insert(7, out=True, pts_time=123_456, duration_s=30.0),
        encode_time_signal(90_000, segmentation_event_id=9, segmentation_type_id=0x34, duration_s=60.0),
    ):
        info = scte35.decode(cue)
        assert info.crc_ok and info.crc32 == crc32_mpeg2(cue[:-4])


def test_decoder_flags_a_corrupted_crc() -> None:
    cue = bytearray(encode_splice_insert(7, out=True, pts_time=123_456, duration_s=30.0))
    cue[-1] ^= 0x01
    assert not scte35.decode(bytes(cue)).crc_ok
