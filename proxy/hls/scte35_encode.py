"""SCTE-35 splice_info_section encoders (ANSI/SCTE 35 §9).

Pure and small: the demo origin signals its ad breaks with these, and tests build cues with them.
Only the shapes an origin needs are written: splice_insert (OUT/IN) and time_signal with one
segmentation_descriptor (optionally carrying a segmentation_upid, §10.3.3.1 Table 21). Nothing is
encrypted, tier is 0xFFF (all tiers), pts_adjustment defaults to 0.
"""

from __future__ import annotations

import base64

from proxy.hls.crc import crc32_mpeg2

TICKS_PER_SECOND = 90_000
_MAX_33 = (1 << 33) - 1
_MAX_40 = (1 << 40) - 1
_CUEI = b"CUEI"
# Types whose descriptor carries sub_segment_num / sub_segments_expected (SCTE 35 2019+, Table 22 note).
_SUB_SEGMENT_TYPES = frozenset({0x34, 0x36, 0x38, 0x3A})


def to_base64(b: bytes) -> str:
    """Standard padded base64, the form CUE-OUT-CONT SCTE35=, OATCLS and SPLICEPOINT carry."""
    return base64.b64encode(b).decode("ascii")


def to_hex(b: bytes) -> str:
    """`0x` + upper-case hex, the form DATERANGE SCTE35-OUT / SCTE35-IN carry."""
    return "0x" + b.hex().upper()


def _check(name: str, value: int, maximum: int) -> int:
    if not 0 <= value <= maximum:
        raise ValueError(f"{name}={value} is outside 0..{maximum}")
    return value


def _ticks(name: str, seconds: float, maximum: int) -> int:
    if seconds < 0:
        raise ValueError(f"{name}={seconds} is negative")
    return _check(name, round(seconds * TICKS_PER_SECOND), maximum)


def _splice_time(pts_time: int | None) -> bytes:
    """splice_time(): time_specified_flag, 6 reserved bits set, 33-bit pts_time; or 0x7F when unspecified."""
    if pts_time is None:
        return b"\x7f"
    _check("pts_time", pts_time, _MAX_33)
    return (0xFE00000000 | pts_time).to_bytes(5, "big")


def _section(command_type: int, command: bytes, descriptors: bytes, pts_adjustment: int) -> bytes:
    """Wrap a command and its descriptor loop into a splice_info_section with its CRC."""
    _check("pts_adjustment", pts_adjustment, _MAX_33)
    body = b"".join(
        (
            b"\x00",  # protocol_version
            pts_adjustment.to_bytes(5, "big"),  # encrypted_packet 0, encryption_algorithm 0, pts_adjustment
            b"\x00",  # cw_index
            (0xFFF000 | len(command)).to_bytes(3, "big"),  # tier 0xFFF, splice_command_length
            bytes((command_type,)),
            command,
            len(descriptors).to_bytes(2, "big"),
            descriptors,
        )
    )
    section_length = len(body) + 4  # everything after the length field, CRC included
    # table_id 0xFC; section_syntax_indicator 0, private_indicator 0, sap_type 3 (not specified).
    head = bytes((0xFC, 0x30 | (section_length >> 8), section_length & 0xFF))
    section = head + body
    return section + crc32_mpeg2(section).to_bytes(4, "big")


def encode_splice_insert(
    event_id: int,
    *,
    out: bool,
    pts_time: int | None,
    duration_s: float | None,
    auto_return: bool = True,
    unique_program_id: int = 0,
    avail_num: int = 0,
    avails_expected: int = 0,
    pts_adjustment: int = 0,
) -> bytes:
    """A program-level splice_insert; `pts_time=None` makes it splice_immediate.

    `out=True` is the cue-out (out_of_network_indicator 1), `out=False` the return. A duration adds a
    break_duration with `auto_return`.
    """
    _check("event_id", event_id, 0xFFFFFFFF)
    flags = (0x80 if out else 0) | 0x40 | (0x20 if duration_s is not None else 0)
    flags |= (0x10 if pts_time is None else 0) | 0x0F  # program_splice_flag 1; low 4 bits reserved
    parts = [event_id.to_bytes(4, "big"), b"\x7f", bytes((flags,))]  # cancel 0 + 7 reserved bits
    if pts_time is not None:
        parts.append(_splice_time(pts_time))
    if duration_s is not None:
        ticks = _ticks("duration_s", duration_s, _MAX_33)
        parts.append(((0x80 if auto_return else 0) << 32 | 0x7E00000000 | ticks).to_bytes(5, "big"))
    parts.append(_check("unique_program_id", unique_program_id, 0xFFFF).to_bytes(2, "big"))
    parts.append(bytes((_check("avail_num", avail_num, 0xFF), _check("avails_expected", avails_expected, 0xFF))))
    return _section(0x05, b"".join(parts), b"", pts_adjustment)


def _segmentation_descriptor(event_id: int, type_id: int, duration_s: float | None, upid: tuple[int, bytes]) -> bytes:
    """One CUEI segmentation_descriptor, program-level, delivery not restricted."""
    _check("segmentation_event_id", event_id, 0xFFFFFFFF)
    _check("segmentation_type_id", type_id, 0xFF)
    # program_segmentation_flag 1, duration flag, delivery_not_restricted_flag 1, 5 reserved bits set.
    flags = 0xBF | (0x40 if duration_s is not None else 0)
    parts = [_CUEI, event_id.to_bytes(4, "big"), b"\x7f", bytes((flags,))]
    if duration_s is not None:
        parts.append(_ticks("duration_s", duration_s, _MAX_40).to_bytes(5, "big"))
    upid_type, upid_bytes = _check("upid_type", upid[0], 0xFF), upid[1]
    _check("upid length", len(upid_bytes), 0xFF)
    parts.append(bytes((upid_type, len(upid_bytes))) + upid_bytes)
    parts.append(bytes((type_id, 0x00, 0x00)))  # segmentation_type_id, segment_num, segments_expected
    if type_id in _SUB_SEGMENT_TYPES:
        parts.append(b"\x00\x00")  # sub_segment_num, sub_segments_expected
    payload = b"".join(parts)
    return bytes((0x02, len(payload))) + payload


def encode_time_signal(
    pts_time: int | None,
    *,
    segmentation_event_id: int,
    segmentation_type_id: int,
    duration_s: float | None,
    pts_adjustment: int = 0,
    upid: tuple[int, bytes] = (0, b""),
) -> bytes:
    """A time_signal carrying one segmentation_descriptor (e.g. 0x34 PPO start / 0x35 PPO end); `upid` is
    (segmentation_upid_type, its bytes), none by default."""
    descriptor = _segmentation_descriptor(segmentation_event_id, segmentation_type_id, duration_s, upid)
    return _section(0x06, _splice_time(pts_time), descriptor, pts_adjustment)
