"""CRC-32/MPEG-2, the checksum closing every splice_info_section (SCTE 35 §9.6, ISO/IEC 13818-1 Annex A).

Written once here: the decoder checks it, the encoder writes it.
"""

from __future__ import annotations

_POLYNOMIAL = 0x04C11DB7
_INITIAL = 0xFFFFFFFF


def _table() -> tuple[int, ...]:
    """The remainder of each byte value shifted through eight steps of the polynomial division."""
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ _POLYNOMIAL) if crc & 0x80000000 else (crc << 1)
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_TABLE = _table()


def crc32_mpeg2(data: bytes) -> int:
    """CRC-32/MPEG-2: poly 0x04C11DB7, init 0xFFFFFFFF, no reflection, no final xor.

    Over a whole section, its CRC_32 included, the result is 0 when the CRC matches.
    """
    crc = _INITIAL
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _TABLE[(crc >> 24) ^ byte]
    return crc
