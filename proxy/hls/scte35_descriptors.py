"""SCTE-35 splice descriptors (ANSI/SCTE 35 2022b §10) and the bit reader the decoder shares.

Import the public names from `proxy.hls.scte35`; this module only keeps that one under ~400 lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

TICKS_PER_SECOND = 90_000
_CUEI = b"CUEI"

# SCTE 35 2022b §10.3.3 Table 23 (segmentation_type_id).
SEGMENTATION_TYPE_NAMES: dict[int, str] = {
    0x00: "Not Indicated",
    0x01: "Content Identification",
    0x10: "Program Start",
    0x11: "Program End",
    0x12: "Program Early Termination",
    0x13: "Program Breakaway",
    0x14: "Program Resumption",
    0x15: "Program Runover Planned",
    0x16: "Program Runover Unplanned",
    0x17: "Program Overlap Start",
    0x18: "Program Blackout Override",
    0x19: "Program Join",
    0x20: "Chapter Start",
    0x21: "Chapter End",
    0x22: "Break Start",
    0x23: "Break End",
    0x24: "Opening Credit Start",
    0x25: "Opening Credit End",
    0x26: "Closing Credit Start",
    0x27: "Closing Credit End",
    0x30: "Provider Advertisement Start",
    0x31: "Provider Advertisement End",
    0x32: "Distributor Advertisement Start",
    0x33: "Distributor Advertisement End",
    0x34: "Provider Placement Opportunity Start",
    0x35: "Provider Placement Opportunity End",
    0x36: "Distributor Placement Opportunity Start",
    0x37: "Distributor Placement Opportunity End",
    0x38: "Provider Overlay Placement Opportunity Start",
    0x39: "Provider Overlay Placement Opportunity End",
    0x3A: "Distributor Overlay Placement Opportunity Start",
    0x3B: "Distributor Overlay Placement Opportunity End",
    0x3C: "Provider Promo Start",
    0x3D: "Provider Promo End",
    0x3E: "Distributor Promo Start",
    0x3F: "Distributor Promo End",
    0x40: "Unscheduled Event Start",
    0x41: "Unscheduled Event End",
    0x42: "Alternate Content Opportunity Start",
    0x43: "Alternate Content Opportunity End",
    0x44: "Provider Ad Block Start",
    0x45: "Provider Ad Block End",
    0x46: "Distributor Ad Block Start",
    0x47: "Distributor Ad Block End",
    0x50: "Network Start",
    0x51: "Network End",
}

# Start types that may carry sub_segment_num / sub_segments_expected (§10.3.3). The standard's own
# §14.1 example omits them on a 0x34 while vector 18 has them on a 0x30, so they are read only when
# descriptor_length leaves two bytes for them.
_SUB_SEGMENT_TYPES = frozenset({0x30, 0x32, 0x34, 0x36, 0x38, 0x3A, 0x44, 0x46})
# UPID types whose value is text (§10.3.3 Table 22); others print as hex.
_TEXT_UPIDS = frozenset({0x01, 0x02, 0x03, 0x07, 0x09, 0x0C, 0x0E, 0x0F, 0x11})


class Scte35Error(ValueError):
    """A value that is not a decodable SCTE-35 splice_info_section; the message quotes it."""


class BitReader:
    """MSB-first reader over `data[start:end]` (bytes), raising Scte35Error instead of reading past the end."""

    __slots__ = ("_data", "_end", "_pos")

    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self._data = data
        self._pos = start * 8
        self._end = (len(data) if end is None else end) * 8

    @property
    def remaining_bytes(self) -> int:
        return (self._end - self._pos) // 8

    def bits(self, count: int) -> int:
        stop = self._pos + count
        if stop > self._end:
            raise Scte35Error(
                f"ran out of data at byte {self._pos // 8}: {count} more bits expected, {self._end - self._pos} left"
            )
        first, last = self._pos >> 3, (stop + 7) >> 3
        chunk = int.from_bytes(self._data[first:last], "big")
        self._pos = stop
        return (chunk >> ((last << 3) - stop)) & ((1 << count) - 1)

    def flag(self) -> bool:
        return self.bits(1) == 1

    def skip(self, count: int) -> None:
        self.bits(count)

    def raw(self, count: int) -> bytes:
        """`count` whole bytes (the reader is byte-aligned wherever SCTE 35 has byte fields)."""
        start = self._pos // 8
        self.skip(count * 8)
        return self._data[start : start + count]

    def take(self, count: int, what: str) -> BitReader:
        """A reader over the next `count` bytes, which this reader skips; `what` names the length field."""
        if count > self.remaining_bytes:
            raise Scte35Error(f"{what} {count} overruns the section: at most {self.remaining_bytes} bytes expected")
        start = self._pos // 8
        self._pos += count * 8
        return BitReader(self._data, start, start + count)


@dataclass(frozen=True, slots=True)
class AvailDescriptor:
    """§10.3.1: identifies the avail within the provider's schedule."""

    provider_avail_id: int


@dataclass(frozen=True, slots=True)
class DtmfDescriptor:
    """§10.3.2: DTMF tones for legacy analogue cueing."""

    preroll: int  # tenths of a second
    chars: str


@dataclass(frozen=True, slots=True)
class TimeDescriptor:
    """§10.3.4: TAI time of the splice."""

    tai_seconds: int
    tai_ns: int
    utc_offset: int


@dataclass(frozen=True, slots=True)
class UnknownDescriptor:
    """A non-CUEI private descriptor (vector 14 "SAPS"), an unhandled tag, or a malformed body."""

    tag: int
    identifier: str
    data: bytes


@dataclass(frozen=True, slots=True)
class SegmentationDescriptor:
    """§10.3.3. A cancelled descriptor carries only its event id; the other fields keep their defaults."""

    segmentation_event_id: int
    cancel: bool = False
    program_segmentation: bool = True
    duration_ticks: int | None = None
    delivery_not_restricted: bool = True
    web_delivery_allowed: bool | None = None
    no_regional_blackout: bool | None = None
    archive_allowed: bool | None = None
    device_restrictions: int | None = None
    upid_type: int = 0
    upid: bytes = b""
    upids: tuple[tuple[int, str], ...] = ()  # (type, text); a MID (0x0D) is expanded into its parts
    segmentation_type_id: int = 0
    segment_num: int = 0
    segments_expected: int = 0
    sub_segment_num: int | None = None
    sub_segments_expected: int | None = None
    components: tuple[tuple[int, int], ...] = ()  # (component_tag, pts_offset) when not program-wide

    @property
    def duration_seconds(self) -> float | None:
        return None if self.duration_ticks is None else self.duration_ticks / TICKS_PER_SECOND

    @property
    def segmentation_type_name(self) -> str:
        name = SEGMENTATION_TYPE_NAMES.get(self.segmentation_type_id)
        return name if name is not None else f"Reserved (0x{self.segmentation_type_id:02X})"


SpliceDescriptor = AvailDescriptor | DtmfDescriptor | SegmentationDescriptor | TimeDescriptor | UnknownDescriptor


def read_descriptors(reader: BitReader) -> tuple[SpliceDescriptor, ...]:
    """The descriptor loop (§9.6: descriptor_loop_length then splice_descriptor()s)."""
    loop = reader.take(reader.bits(16), "descriptor_loop_length")
    found: list[SpliceDescriptor] = []
    while loop.remaining_bytes:
        tag, length = loop.bits(8), loop.bits(8)
        found.append(_descriptor(tag, loop.take(length, "descriptor_length").raw(length)))
    return tuple(found)


def _descriptor(tag: int, body: bytes) -> SpliceDescriptor:
    identifier = body[:4]
    if identifier != _CUEI or tag > 0x03:
        return UnknownDescriptor(tag, printable(identifier), body[4:])
    reader = BitReader(body, 4)
    try:
        return _PARSERS[tag](reader)
    except Scte35Error:
        # A broken descriptor must not hide the splice command (be lenient: real payloads bend the spec).
        return UnknownDescriptor(tag, "CUEI", body[4:])


def _avail(reader: BitReader) -> AvailDescriptor:
    return AvailDescriptor(reader.bits(32))


def _dtmf(reader: BitReader) -> DtmfDescriptor:
    preroll, count = reader.bits(8), reader.bits(3)
    reader.skip(5)
    return DtmfDescriptor(preroll, reader.raw(count).decode("latin-1"))


def _time(reader: BitReader) -> TimeDescriptor:
    return TimeDescriptor(reader.bits(48), reader.bits(32), reader.bits(16))


def _segmentation(reader: BitReader) -> SegmentationDescriptor:
    event_id, cancel = reader.bits(32), reader.flag()
    reader.skip(7)
    if cancel:
        return SegmentationDescriptor(event_id, cancel=True)
    program, has_duration, not_restricted = reader.flag(), reader.flag(), reader.flag()
    web, blackout, archive, devices = _restrictions(reader, not_restricted)
    components = () if program else _segmentation_components(reader)
    duration = reader.bits(40) if has_duration else None
    upid_type = reader.bits(8)
    upid = reader.raw(reader.bits(8))
    type_id, segment_num, segments_expected, sub_num, sub_expected = _numbering(reader)
    return SegmentationDescriptor(
        event_id,
        program_segmentation=program,
        duration_ticks=duration,
        delivery_not_restricted=not_restricted,
        web_delivery_allowed=web,
        no_regional_blackout=blackout,
        archive_allowed=archive,
        device_restrictions=devices,
        upid_type=upid_type,
        upid=upid,
        upids=decode_upids(upid_type, upid),
        segmentation_type_id=type_id,
        segment_num=segment_num,
        segments_expected=segments_expected,
        sub_segment_num=sub_num,
        sub_segments_expected=sub_expected,
        components=components,
    )


def _restrictions(reader: BitReader, not_restricted: bool) -> tuple[bool | None, bool | None, bool | None, int | None]:
    """web_delivery_allowed, no_regional_blackout, archive_allowed, device_restrictions, or 5 reserved bits."""
    if not_restricted:
        reader.skip(5)
        return None, None, None, None
    return reader.flag(), reader.flag(), reader.flag(), reader.bits(2)


def _numbering(reader: BitReader) -> tuple[int, int, int, int | None, int | None]:
    """segmentation_type_id, segment_num, segments_expected and the optional sub-segment pair."""
    type_id, segment_num, segments_expected = reader.bits(8), reader.bits(8), reader.bits(8)
    if type_id in _SUB_SEGMENT_TYPES and reader.remaining_bytes >= 2:
        return type_id, segment_num, segments_expected, reader.bits(8), reader.bits(8)
    return type_id, segment_num, segments_expected, None, None


def _segmentation_components(reader: BitReader) -> tuple[tuple[int, int], ...]:
    found = []
    for _ in range(reader.bits(8)):
        tag = reader.bits(8)
        reader.skip(7)
        found.append((tag, reader.bits(33)))
    return tuple(found)


_PARSERS: dict[int, Callable[[BitReader], SpliceDescriptor]] = {
    0x00: _avail,
    0x01: _dtmf,
    0x02: _segmentation,
    0x03: _time,
}


def decode_upids(upid_type: int, upid: bytes) -> tuple[tuple[int, str], ...]:
    """segmentation_upid() as text (§10.3.3 Table 22); MID (0x0D) is a list of type/length/value."""
    if upid_type == 0x0D:
        return _mid(upid)
    if upid_type == 0 and not upid:
        return ()
    return ((upid_type, _upid_text(upid_type, upid)),)


def _mid(upid: bytes) -> tuple[tuple[int, str], ...]:
    found: list[tuple[int, str]] = []
    pos = 0
    while pos + 2 <= len(upid):
        kind, length = upid[pos], upid[pos + 1]
        found.append((kind, _upid_text(kind, upid[pos + 2 : pos + 2 + length])))
        pos += 2 + length
    return tuple(found)


def _upid_text(upid_type: int, value: bytes) -> str:
    if upid_type == 0x08:  # Turner Identifier / AiringID: a 64-bit number
        return f"0x{int.from_bytes(value, 'big'):016x}"
    if upid_type == 0x0A and len(value) == 12:  # EIDR compact binary: 10.<prefix>/<5 hex groups>
        groups = "-".join(value[i : i + 2].hex().upper() for i in range(2, 12, 2))
        return f"10.{int.from_bytes(value[:2], 'big')}/{groups}"
    if upid_type in _TEXT_UPIDS:
        return printable(value)
    return "0x" + value.hex()


def printable(value: bytes) -> str:
    """ASCII text when every byte is printable, else `0x` + hex."""
    if all(0x20 <= byte < 0x7F for byte in value):
        return value.decode("ascii")
    return "0x" + value.hex()
