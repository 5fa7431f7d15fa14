"""Shift the clock of an MPEG-TS segment without touching anything else.

The demo origin plays a short encoded loop forever. Re-serving loop segment k unchanged would make
timestamps jump back at every loop seam, which players treat as a broken stream unless the origin
signals a discontinuity. Adding (loop number x loop duration) to every PTS, DTS and PCR instead makes
the looped content one continuous live timeline. Only those timestamp fields are rewritten; every
other byte (continuity counters, PSI, payload) stays identical.
"""

from __future__ import annotations

from collections.abc import Iterator

PACKET_SIZE = 188
SYNC_BYTE = 0x47
WRAP = 1 << 33  # PTS, DTS and the PCR base are 33-bit counters of a 90 kHz clock
_NULL_PID = 0x1FFF
# Stream ids whose PES header has no optional fields, hence no PTS/DTS (ISO/IEC 13818-1 Table 2-21).
_NO_PES_HEADER = frozenset({0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF})


def _read_ts(buf: bytes | bytearray, at: int) -> int:
    """The 33-bit value of a 5-byte PTS/DTS field (4-bit prefix and marker bits around it)."""
    return (
        ((buf[at] >> 1) & 0x07) << 30
        | buf[at + 1] << 22
        | (buf[at + 2] >> 1) << 15
        | buf[at + 3] << 7
        | buf[at + 4] >> 1
    )


def _write_ts(buf: bytearray, at: int, value: int) -> None:
    """Store a 33-bit value into a PTS/DTS field, keeping its prefix nibble and marker bits."""
    buf[at] = (buf[at] & 0xF1) | ((value >> 29) & 0x0E)
    buf[at + 1] = (value >> 22) & 0xFF
    buf[at + 2] = (buf[at + 2] & 0x01) | ((value >> 14) & 0xFE)
    buf[at + 3] = (value >> 7) & 0xFF
    buf[at + 4] = (buf[at + 4] & 0x01) | ((value << 1) & 0xFE)


def _read_pcr_base(buf: bytes | bytearray, at: int) -> int:
    return buf[at] << 25 | buf[at + 1] << 17 | buf[at + 2] << 9 | buf[at + 3] << 1 | buf[at + 4] >> 7


def _write_pcr_base(buf: bytearray, at: int, value: int) -> None:
    """Store a PCR base; the 6 reserved bits and the 9-bit extension in the low bits stay as they were."""
    buf[at : at + 4] = (value >> 1).to_bytes(4, "big")
    buf[at + 4] = (buf[at + 4] & 0x7F) | ((value & 1) << 7)


def _pes_timestamp_offsets(buf: bytes | bytearray, start: int, end: int) -> tuple[int, ...]:
    """Offsets of the PTS (and DTS) fields of a PES header starting at `start`, if it has them."""
    if end - start < 9 or buf[start : start + 3] != b"\x00\x00\x01" or buf[start + 3] in _NO_PES_HEADER:
        return ()
    flags = buf[start + 7] >> 6
    if flags == 2 and start + 14 <= end:
        return (start + 9,)
    if flags == 3 and start + 19 <= end:
        return (start + 9, start + 14)
    return ()


def _fields(buf: bytes | bytearray) -> Iterator[tuple[str, int, int]]:
    """Every timestamp field as (kind, offset, pid); kind is "pcr", "opcr", "pts" or "dts"."""
    if len(buf) % PACKET_SIZE:
        raise ValueError(f"MPEG-TS length {len(buf)} is not a multiple of {PACKET_SIZE}")
    for pos in range(0, len(buf), PACKET_SIZE):
        if buf[pos] != SYNC_BYTE:
            raise ValueError(f"no MPEG-TS sync byte at offset {pos}")
        pid = (buf[pos + 1] & 0x1F) << 8 | buf[pos + 2]
        control = buf[pos + 3] >> 4 & 0x03
        payload = pos + 4
        if control & 0x02:
            af_length = buf[pos + 4]
            payload += 1 + af_length
            if af_length and pid != _NULL_PID:
                flags = buf[pos + 5]
                if flags & 0x10:
                    yield "pcr", pos + 6, pid
                if flags & 0x08:
                    yield "opcr", pos + (12 if flags & 0x10 else 6), pid
        if control & 0x01 and buf[pos + 1] & 0x40 and pid > 0x1F and pid != _NULL_PID:
            offsets = _pes_timestamp_offsets(buf, payload, pos + PACKET_SIZE)
            for kind, at in zip(("pts", "dts"), offsets, strict=False):
                yield kind, at, pid


def shift_timestamps(ts: bytes, offset_90k: int) -> bytes:
    """Return `ts` with `offset_90k` added (mod 2**33) to every PES PTS/DTS and every PCR/OPCR base.

    Raises ValueError when `ts` is not a whole number of 188-byte packets starting with 0x47.
    """
    offset = offset_90k % WRAP
    buf = bytearray(ts)
    for kind, at, _pid in _fields(ts):
        if offset == 0:
            continue  # still walk the packets so malformed input is reported either way
        if kind in ("pts", "dts"):
            _write_ts(buf, at, (_read_ts(buf, at) + offset) % WRAP)
        else:
            _write_pcr_base(buf, at, (_read_pcr_base(buf, at) + offset) % WRAP)
    return bytes(buf)


def read_timestamps(ts: bytes) -> list[tuple[str, int, int]]:
    """Every timestamp in packet order as (kind, pid, value): kinds "pcr" (base only), "opcr", "pts", "dts"."""
    result = []
    for kind, at, pid in _fields(ts):
        value = _read_ts(ts, at) if kind in ("pts", "dts") else _read_pcr_base(ts, at)
        result.append((kind, pid, value))
    return result


def first_video_pts(ts: bytes) -> int | None:
    """The PTS of the first video PES (stream_id 0xE0-0xEF) in the segment, or None."""
    for kind, at, _pid in _fields(ts):
        # A PTS field sits 9 bytes into its PES header, whose stream_id is byte 3.
        if kind == "pts" and 0xE0 <= ts[at - 6] <= 0xEF:
            return _read_ts(ts, at)
    return None
