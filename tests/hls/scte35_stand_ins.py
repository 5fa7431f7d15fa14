"""The project's stand-ins for the SCTE-35 vectors only ../shared may carry (31–43, 49): sections built with
`proxy.hls.scte35_encode` from recipes in tests/data/scte35/stand_ins.json, with the same command, types,
durations and UPIDs as the vector each stands for, so the decoder is proven on those shapes without ../shared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from proxy.hls.scte35_encode import encode_splice_insert, encode_time_signal, to_base64, to_hex

STAND_INS = Path(__file__).parents[1] / "data" / "scte35" / "stand_ins.json"


def stand_ins() -> dict[str, dict[str, Any]]:
    """Vector number → {value, encoding, recipe, defect, …} of tests/data/scte35/stand_ins.json."""
    loaded: dict[str, dict[str, Any]] = json.loads(STAND_INS.read_text("utf-8"))
    return loaded


def build(recipe: dict[str, Any]) -> bytes:
    """The section a recipe describes; `upid` is [type, hex of its bytes]."""
    kwargs = {key: value for key, value in recipe.items() if key != "command"}
    if recipe["command"] == "splice_insert":
        return encode_splice_insert(**kwargs)
    if "upid" in kwargs:
        kwargs["upid"] = (kwargs["upid"][0], bytes.fromhex(kwargs["upid"][1]))
    return encode_time_signal(**kwargs)


def with_defect(section: bytes, defect: str | None) -> bytes:
    """The defects the published vectors carry: a section one byte short of its section_length (RFC 8216
    §8.10's example cues), or a CRC_32 left at zero (a lenient parse keeps the cue, SCTE 35 §9.6 says a
    decoder must check it)."""
    if defect == "truncated":
        return section[:-1]
    if defect == "zero_crc":
        return section[:-4] + bytes(4)
    assert defect is None, f"defect {defect!r}: expected 'truncated', 'zero_crc' or null"
    return section


def text_of(stand_in: dict[str, Any]) -> str:
    section = with_defect(build(stand_in["recipe"]), stand_in.get("defect"))
    return to_hex(section) if stand_in["encoding"] == "hex" else to_base64(section)
