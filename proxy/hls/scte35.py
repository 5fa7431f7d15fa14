"""In-house SCTE-35 splice_info_section decoder (ANSI/SCTE 35 2022b §9), pure and small.

We do not depend on threefive: its 3.x wheels ship a GNU GPL v2 LICENSE (metadata says Sleepycat),
both copyleft, and it neither sniffs input predictably nor checks the CRC_32 (SCTE 35 §9.6).

`decode()` is lenient the way real playlists need (a bad cue must never fail the playlist): the CRC is reported in
`crc_ok`, never fatal (CRC 0 is common); reserved bits are not checked; base64 may lack padding or
use the URL-safe alphabet; hex may have a `0x` prefix; splice_command_length 0xFFF (legacy
"unknown") is handled by parsing the command by type; alignment stuffing before the CRC is skipped;
an encrypted packet decodes its clear header and keeps the command opaque. Anything else that does
not fit raises `Scte35Error` quoting the value. `break_signal()` says what a section means for ad
breaks.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Literal

from proxy.hls.crc import crc32_mpeg2
from proxy.hls.scte35_descriptors import (
    SEGMENTATION_TYPE_NAMES,
    TICKS_PER_SECOND,
    AvailDescriptor,
    BitReader,
    DtmfDescriptor,
    Scte35Error,
    SegmentationDescriptor,
    SpliceDescriptor,
    TimeDescriptor,
    UnknownDescriptor,
    read_descriptors,
)

__all__ = [
    "SEGMENTATION_TYPE_NAMES",
    "AvailDescriptor",
    "DtmfDescriptor",
    "OpaqueCommand",
    "PrivateCommand",
    "Scte35Error",
    "SegmentationDescriptor",
    "SpliceCommand",
    "SpliceDescriptor",
    "SpliceInfo",
    "SpliceInsert",
    "SpliceNull",
    "TimeDescriptor",
    "TimeSignal",
    "UnknownDescriptor",
    "break_signal",
    "decode",
    "to_bytes",
    "try_decode",
]

TABLE_ID = 0xFC
_PTS_WRAP = 1 << 33
_LEGACY_LENGTH = 0xFFF  # splice_command_length "unknown", still sent by legacy encoders (§9.6)
_HEADER_BYTES = 14  # table_id .. splice_command_type
_MIN_SECTION = _HEADER_BYTES + 2 + 4  # + descriptor_loop_length + CRC_32
# segmentation_type_ids that open / close an avail (§10.3.3 Table 23).
_STARTS = frozenset({0x22, 0x30, 0x32, 0x34, 0x36})
_ENDS = frozenset({0x23, 0x31, 0x33, 0x35, 0x37})


@dataclass(frozen=True, slots=True)
class SpliceNull:
    """§9.7.1: a heartbeat."""


@dataclass(frozen=True, slots=True)
class SpliceInsert:
    """§9.7.3. Times are 90 kHz ticks; `pts_time` is None when immediate or not program-wide."""

    splice_event_id: int
    cancel: bool = False
    out_of_network: bool = False
    program_splice: bool = True
    duration_flag: bool = False
    splice_immediate: bool = False
    pts_time: int | None = None
    break_duration: int | None = None
    auto_return: bool | None = None
    unique_program_id: int = 0
    avail_num: int = 0
    avails_expected: int = 0
    components: tuple[tuple[int, int | None], ...] = ()  # (component_tag, pts_time)

    @property
    def break_duration_seconds(self) -> float | None:
        return None if self.break_duration is None else self.break_duration / TICKS_PER_SECOND


@dataclass(frozen=True, slots=True)
class TimeSignal:
    """§9.7.4: a time whose meaning comes from the segmentation descriptors."""

    pts_time: int | None


@dataclass(frozen=True, slots=True)
class PrivateCommand:
    """§9.7.6."""

    identifier: int
    data: bytes


@dataclass(frozen=True, slots=True)
class OpaqueCommand:
    """splice_schedule (§9.7.2), bandwidth_reservation (§9.7.5), unknown types, or an encrypted command."""

    command_type: int
    data: bytes


SpliceCommand = SpliceNull | SpliceInsert | TimeSignal | PrivateCommand | OpaqueCommand


@dataclass(frozen=True, slots=True)
class SpliceInfo:
    """splice_info_section() (§9.6). `crc_ok` is False for a wrong CRC, including the common CRC 0."""

    table_id: int
    sap_type: int
    section_length: int
    protocol_version: int
    encrypted_packet: bool
    encryption_algorithm: int
    pts_adjustment: int
    cw_index: int
    tier: int
    splice_command_length: int
    splice_command_type: int
    command: SpliceCommand
    descriptors: tuple[SpliceDescriptor, ...]
    crc32: int
    crc_ok: bool

    @property
    def pts_seconds(self) -> float | None:
        """The splice time: (pts_time + pts_adjustment) mod 2**33 in seconds (§9.6.1), or None."""
        command = self.command
        pts = command.pts_time if isinstance(command, SpliceInsert | TimeSignal) else None
        if pts is None:
            return None
        return ((pts + self.pts_adjustment) % _PTS_WRAP) / TICKS_PER_SECOND

    @property
    def segmentation(self) -> tuple[SegmentationDescriptor, ...]:
        return tuple(d for d in self.descriptors if isinstance(d, SegmentationDescriptor))


def to_bytes(data: str) -> bytes:
    """The section bytes of a base64 or hex string (the forms playlists and vendor docs use).

    `0x`/`0X` → hex. Otherwise base64 (standard or URL-safe, padding optional) when it yields 0xFC
    first; a hex string such as `FC3025…` is valid base64 too but then starts with 0x14, so the
    0xFC check tells the two apart. Otherwise hex.
    """
    text = data.strip()
    if text[:2] in ("0x", "0X"):
        return _hex(text[2:], data, "is not hex after 0x; expected an even number of hex digits")
    decoded = _base64(text)
    if decoded is not None and decoded[:1] == b"\xfc":
        return decoded
    return _hex(text, data, "is neither base64 nor hex; expected a splice_info_section starting with 0xFC")


def _base64(text: str) -> bytes | None:
    body = text.rstrip("=").replace("-", "+").replace("_", "/")
    if len(body) % 4 == 1:
        return None
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _hex(digits: str, original: str, problem: str) -> bytes:
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise Scte35Error(f"{_preview(original)} {problem}") from None


def _preview(data: str | bytes) -> str:
    if isinstance(data, str):
        return repr(data[:48] + ("…" if len(data) > 48 else ""))
    return f"bytes {data[:24].hex()}{'…' if len(data) > 24 else ''}"


def decode(data: str | bytes) -> SpliceInfo:
    """Decode a splice_info_section given as base64/hex text or raw bytes; raises Scte35Error."""
    if isinstance(data, str):
        raw = to_bytes(data)
    elif isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
    else:
        raise Scte35Error(f"{type(data).__name__} value; expected str or bytes")
    try:
        return _section(raw)
    except Scte35Error as exc:
        raise Scte35Error(f"{exc} in {_preview(data)}") from None


def try_decode(data: str | bytes) -> SpliceInfo | None:
    """`decode()`, or None for anything it cannot decode."""
    try:
        return decode(data)
    except Scte35Error:
        return None


def _section(raw: bytes) -> SpliceInfo:
    section = _framed(raw)
    reader = BitReader(section, 1, len(section) - 4)  # the CRC_32 is read separately
    reader.skip(2)  # section_syntax_indicator, private_indicator: often 0 in the wild (vector 40)
    sap_type = reader.bits(2)
    reader.skip(12)  # section_length, checked by _framed
    header = (reader.bits(8), reader.flag(), reader.bits(6), reader.bits(33), reader.bits(8), reader.bits(12))
    command_length, command_type = reader.bits(12), reader.bits(8)
    if header[1]:  # encrypted_packet: everything after splice_command_type is ciphertext (§9.6)
        command: SpliceCommand = OpaqueCommand(command_type, section[_HEADER_BYTES:-4])
        descriptors: tuple[SpliceDescriptor, ...] = ()
    else:
        command = _command(reader, command_type, command_length)
        descriptors = read_descriptors(reader)
    # Alignment stuffing (§9.6) may sit between the descriptors and the CRC: nothing to read.
    crc = int.from_bytes(section[-4:], "big")
    ok = crc32_mpeg2(section) == 0  # the CRC over the whole section, CRC included, is 0 when it matches
    return SpliceInfo(
        TABLE_ID, sap_type, len(section) - 3, *header, command_length, command_type, command, descriptors, crc, ok
    )


def _framed(raw: bytes) -> bytes:
    """The section's bytes: table_id 0xFC and as many bytes as section_length says (§9.6)."""
    if len(raw) < 3 or raw[0] != TABLE_ID:
        first = f"0x{raw[0]:02X}" if raw else "nothing"
        raise Scte35Error(f"table_id {first}: expected 0xFC (splice_info_section)")
    section_length = ((raw[1] & 0x0F) << 8) | raw[2]
    total = section_length + 3
    if total < _MIN_SECTION:
        raise Scte35Error(f"section_length {section_length}: expected at least {_MIN_SECTION - 3}")
    if len(raw) < total:
        raise Scte35Error(f"section_length {section_length} needs {total} bytes: only {len(raw)} given")
    return raw[:total]  # bytes after the section (TS stuffing, a second section) are not ours


def _command(reader: BitReader, command_type: int, length: int) -> SpliceCommand:
    if length == _LEGACY_LENGTH:
        if command_type not in _SIZED_BY_TYPE:
            raise Scte35Error(f"splice_command_type 0x{command_type:02X} with legacy length 0xFFF: cannot size it")
        return _SIZED_BY_TYPE[command_type](reader)
    body = reader.take(length, "splice_command_length")
    if command_type == 0xFF:
        return PrivateCommand(body.bits(32), body.raw(body.remaining_bytes))
    parse = _SIZED_BY_TYPE.get(command_type)
    if parse is None:
        return OpaqueCommand(command_type, body.raw(body.remaining_bytes))
    return parse(body)  # bytes the command does not use are ignored


def _splice_null(reader: BitReader) -> SpliceCommand:
    return SpliceNull()


def _time_signal(reader: BitReader) -> SpliceCommand:
    return TimeSignal(_splice_time(reader))


def _splice_time(reader: BitReader) -> int | None:
    """§9.8.1 splice_time(): time_specified_flag, then 6 reserved bits + pts_time, or 7 reserved bits."""
    if reader.flag():
        reader.skip(6)
        return reader.bits(33)
    reader.skip(7)
    return None


def _splice_insert(reader: BitReader) -> SpliceCommand:
    event_id, cancel = reader.bits(32), reader.flag()
    reader.skip(7)
    if cancel:
        return SpliceInsert(event_id, cancel=True)
    oon, program, has_duration, immediate = reader.flag(), reader.flag(), reader.flag(), reader.flag()
    reader.skip(4)  # event_id_compliance_flag + reserved
    pts = _splice_time(reader) if program and not immediate else None
    components = () if program else _insert_components(reader, immediate)
    auto_return, duration = _break_duration(reader) if has_duration else (None, None)
    return SpliceInsert(
        event_id,
        out_of_network=oon,
        program_splice=program,
        duration_flag=has_duration,
        splice_immediate=immediate,
        pts_time=pts,
        break_duration=duration,
        auto_return=auto_return,
        unique_program_id=reader.bits(16),
        avail_num=reader.bits(8),
        avails_expected=reader.bits(8),
        components=components,
    )


def _insert_components(reader: BitReader, immediate: bool) -> tuple[tuple[int, int | None], ...]:
    found = []
    for _ in range(reader.bits(8)):
        tag = reader.bits(8)
        found.append((tag, None if immediate else _splice_time(reader)))
    return tuple(found)


def _break_duration(reader: BitReader) -> tuple[bool, int]:
    """§9.8.2 break_duration(): auto_return, 6 reserved bits, duration in ticks."""
    auto_return = reader.flag()
    reader.skip(6)
    return auto_return, reader.bits(33)


_SIZED_BY_TYPE = {0x00: _splice_null, 0x05: _splice_insert, 0x06: _time_signal}


BreakDirection = Literal["out", "in"]
_AVAIL_TYPES: tuple[tuple[BreakDirection, frozenset[int]], ...] = (("out", _STARTS), ("in", _ENDS))


def break_signal(info: SpliceInfo) -> tuple[BreakDirection | None, float | None, str | None]:
    """What a section means for ad breaks: (direction, planned seconds, event id as "0x…").

    splice_insert (§9.7.3): out_of_network 1 → "out" with break_duration, 0 → "in" (RFC 8216bis
    §4.4.5.1.1 maps them to SCTE35-OUT / SCTE35-IN). time_signal: every non-cancelled segmentation
    descriptor is evaluated; if any is an avail start (0x22 Break, 0x30/0x32 Provider/Distributor
    Advertisement, 0x34/0x36 Placement Opportunity) the section is "out" with that descriptor's
    duration, else if any is the matching end (0x23/0x31/0x33/0x35/0x37) it is "in". A start wins
    because sections that close one avail and open the next (vector 18: 0x31 + 0x30) leave us in a
    break. Cancelled events, splice_null, private and opaque commands mean nothing.
    """
    command = info.command
    if isinstance(command, SpliceInsert):
        if command.cancel:
            return None, None, None
        event = f"0x{command.splice_event_id:x}"
        if command.out_of_network:
            return "out", command.break_duration_seconds, event
        return "in", None, event
    if not isinstance(command, TimeSignal):
        return None, None, None
    live = [d for d in info.segmentation if not d.cancel]
    for direction, types in _AVAIL_TYPES:
        for found in live:
            if found.segmentation_type_id in types:
                seconds = found.duration_seconds if direction == "out" else None
                return direction, seconds, f"0x{found.segmentation_event_id:x}"
    return None, None, None
