"""The in-house SCTE-35 decoder against the 50 vectors of ../shared/testdata/real/scte35.

`EXPECTED` restates what each vector's `source_states` says (the trusted expectation); the
`independent_decode` cross-check is compared field by field on top. The vectors whose licence keeps them in
../shared have project-made stand-ins (tests/data/scte35, built with proxy.hls.scte35_encode) that carry the
same facts, so every expectation is checked without ../shared.
"""

from __future__ import annotations

import base64
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from proxy.hls.crc import crc32_mpeg2
from proxy.hls.scte35 import (
    AvailDescriptor,
    DtmfDescriptor,
    OpaqueCommand,
    PrivateCommand,
    Scte35Error,
    SegmentationDescriptor,
    SpliceInfo,
    SpliceInsert,
    SpliceNull,
    TimeDescriptor,
    TimeSignal,
    UnknownDescriptor,
    break_signal,
    decode,
    to_bytes,
    try_decode,
)
from tests.hls.scte35_stand_ins import build, stand_ins, text_of


def shared_dir() -> Path:
    return Path(__file__).parents[2].parent / "shared"


VECTOR_DIR = shared_dir() / "testdata" / "real" / "scte35"
OWN_VECTOR_DIR = Path(__file__).parents[1] / "data" / "samples" / "real" / "scte35"  # the openly licensed ones
FAIL = "must fail"


@cache
def vectors() -> dict[str, dict[str, Any]]:
    """Vector number ("01".."50") → its JSON: the project's copies, and every vector of ../shared when present;
    without ../shared, the project's stand-in for each vector only ../shared carries."""
    found = {path.name[:2]: path for folder in (OWN_VECTOR_DIR, VECTOR_DIR) for path in sorted(folder.glob("*.json"))}
    loaded = {number: json.loads(path.read_text("utf-8")) for number, path in found.items()}
    return dict(sorted((stand_ins() | loaded).items()))


def vector_of(number: str) -> dict[str, Any]:
    return vectors()[number]


def airing(value: int) -> tuple[tuple[int, str], ...]:
    return ((0x08, f"0x{value:016x}"),)


# Vector → the facts its `source_states` gives (paths are read by `resolve`; `signal` = break_signal()).
EXPECTED: dict[str, dict[str, Any] | str] = {
    "01": {
        "command": TimeSignal, "command.pts_time": 0x072BD0050, "pts_seconds": 21388.766756, "tier": 0xFFF,
        "seg[0].segmentation_event_id": 0x4800008E, "seg[0].segmentation_type_id": 0x34,
        "seg[0].duration_ticks": 0x0001A599B0, "seg[0].duration_seconds": 307.0, "seg[0].upids": airing(0x2CA0A18A),
        "seg[0].segment_num": 2, "seg[0].segments_expected": 0, "seg[0].web_delivery_allowed": False,
        "seg[0].no_regional_blackout": True, "seg[0].archive_allowed": True, "seg[0].device_restrictions": 3,
        "crc32": 0x9AC9D17E, "crc_ok": True, "signal": ("out", 307.0, "0x4800008e"),
    },
    "02": {
        "command": SpliceInsert, "command.splice_event_id": 0x4800008F, "command.out_of_network": True,
        "command.program_splice": True, "command.duration_flag": True, "command.splice_immediate": False,
        "command.pts_time": 0x07369C02E, "pts_seconds": 21514.559089, "command.auto_return": True,
        "command.break_duration": 0x00052CCF5, "command.break_duration_seconds": 60.293567,
        "command.unique_program_id": 0, "command.avail_num": 0, "command.avails_expected": 0,
        "descriptors[0]": AvailDescriptor(0x135), "crc32": 0x62DBA30A, "crc_ok": True,
        "signal": ("out", 60.293567, "0x4800008f"),
    },
    "03": {
        "command": TimeSignal, "command.pts_time": 0x0746290A0, "pts_seconds": 21695.740089,
        "seg[0].segmentation_event_id": 0x4800008E, "seg[0].segmentation_type_id": 0x35,
        "seg[0].duration_ticks": None, "seg[0].upids": airing(0x2CA0A18A), "seg[0].segment_num": 2,
        "seg[0].web_delivery_allowed": True, "crc32": 0xA9CC6758, "signal": ("in", None, "0x4800008e"),
    },
    "04": {
        "pts_seconds": 22798.906911, "seg[0].segmentation_event_id": 0x48000018, "seg[0].segmentation_type_id": 0x11,
        "seg[0].upids": airing(0x2CCBC344), "seg[1].segmentation_event_id": 0x48000019,
        "seg[1].segmentation_type_id": 0x10, "seg[1].upids": airing(0x2CA4DBA0), "crc32": 0x9972E343,
        "signal": (None, None, None),
    },
    "05": {
        "pts_seconds": 32575.759333, "seg[0].segmentation_event_id": 0x48000008, "seg[0].segmentation_type_id": 0x17,
        "seg[0].upids": airing(0x2CA56CF5), "crc32": 0x951DB0A8, "signal": (None, None, None),
    },
    "06": {
        "pts_seconds": 27436.441722, "seg[0].segmentation_event_id": 0x4800000A, "seg[0].segmentation_type_id": 0x18,
        "seg[0].upids": airing(0x2CA0A1E3), "seg[1].segmentation_event_id": 0x48000009,
        "seg[1].segmentation_type_id": 0x11, "seg[1].upids": airing(0x2CA0A18A), "crc32": 0xB4217EB0,
        "signal": (None, None, None),
    },
    "07": {
        "pts_seconds": 32611.795333, "seg[0].segmentation_event_id": 0x48000007, "seg[0].segmentation_type_id": 0x11,
        "seg[0].upids": airing(0x2CA56C97), "crc32": 0xC4876A2E, "signal": (None, None, None),
    },
    "08": {
        "pts_seconds": 31466.942367, "len(seg)": 3, "seg[0].segmentation_event_id": 0x480000AD,
        "seg[0].segmentation_type_id": 0x35, "seg[0].segment_num": 2, "seg[1].segmentation_event_id": 0x48000026,
        "seg[1].segmentation_type_id": 0x11, "seg[2].segmentation_event_id": 0x48000027,
        "seg[2].segmentation_type_id": 0x10, "crc32": 0x8A18869F, "signal": ("in", None, "0x480000ad"),
    },
    "09": {
        "command.splice_event_id": 1073776558, "command.out_of_network": True, "command.pts_time": 3490025771,
        "command.auto_return": True, "command.break_duration": 5400000, "command.unique_program_id": 45,
        "command.avail_num": 0, "command.avails_expected": 127, "descriptors[0]": DtmfDescriptor(80, "519*"),
        "signal": ("out", 60.0, "0x400087ae"),
    },
    "10": {
        "command.pts_time": 7316880262, "seg[0].segmentation_event_id": 1073742098, "seg[0].segmentation_type_id": 53,
        "seg[0].upids": airing(791755781), "seg[1].segmentation_event_id": 1073741893,
        "seg[1].segmentation_type_id": 35, "seg[1].upids": airing(791755998), "signal": ("in", None, "0x40000112"),
    },
    "11": {
        "command.splice_event_id": 31230, "command.out_of_network": True, "command.pts_time": 1122420281,
        "command.break_duration": None, "descriptors[0]": AvailDescriptor(0), "signal": ("out", None, "0x79fe"),
    },
    "12": {
        "command.pts_time": 4294967296, "seg[0].segmentation_event_id": 2, "seg[0].segmentation_type_id": 0x37,
        "seg[0].segmentation_type_name": "Distributor Placement Opportunity End", "seg[0].segment_num": 1,
        "seg[0].segments_expected": 3, "seg[0].upid_type": 0x0D,
        "seg[0].upids": (
            (0x0A, "10.5239/8BE5-E3F6-0000-0000-0000"),
            (0x0A, "10.5239/8BE5-E3F6-0000-0000-0000"),
            (0x09, "SIGNAL:Ly9EMGxKR0hFZUtpMHdCUVZnRUFnZz1"),
        ),
        "signal": ("in", None, "0x2"),
    },
    "13": {
        "splice_command_length": 0xFFF, "command.pts_time": 3550479013, "seg[0].segmentation_event_id": 39965,
        "seg[0].segmentation_type_id": 0x31, "seg[0].duration_ticks": 10800000, "seg[0].duration_seconds": 120.0,
        "seg[0].upid_type": 0x0C, "seg[0].upid": b"DISC" + base64.b64decode("WU1XRjA0NTIwMDBI"),
        "seg[0].segment_num": 1, "seg[0].segments_expected": 1, "signal": ("in", None, "0x9c1d"),
    },
    "14": {
        "command.pts_time": 4742663042, "descriptors[0]": UnknownDescriptor(0, "SAPS", bytes([11])),
        "seg[0].segmentation_event_id": 4294967295, "seg[0].segmentation_type_id": 0x31,
        "seg[0].duration_ticks": 1347087, "seg[0].upids": ((0x0F, "urn:nbcuni.com:brc:499866434"),),
        "seg[0].segment_num": 10, "seg[0].segments_expected": 1, "signal": ("in", None, "0xffffffff"),
    },
    "15": {"command": SpliceNull, "descriptors": (), "tier": 4095, "signal": (None, None, None)},
    # Source: "expected error ErrCRC32Invalid". Here a bad CRC is a flag, never fatal (real payloads often carry CRC 0).
    "16": {"crc_ok": False, "command": SpliceInsert},
    "17": {
        "command.splice_event_id": 1644171239, "command.splice_immediate": True, "command.program_splice": True,
        "command.unique_program_id": 9, "command.pts_time": None, "splice_command_length": 0xFFF, "crc_ok": True,
    },
    "18": {
        "command.pts_time": 8432094736, "seg[0].segmentation_event_id": 156, "seg[0].segmentation_type_id": 0x31,
        "seg[0].segment_num": 7, "seg[0].segments_expected": 10,
        "seg[0].upids": ((0x0E, "availid=914866065&bitmap=&inactivity=3120"),), "seg[1].segmentation_event_id": 157,
        "seg[1].segmentation_type_id": 0x30, "seg[1].duration_ticks": 3600000, "seg[1].duration_seconds": 40.0,
        "seg[1].segment_num": 8, "seg[1].segments_expected": 10, "seg[1].sub_segment_num": 0,
        "seg[1].sub_segments_expected": 0, "seg[1].upids": ((0x0E, "availid=910901389&bitmap=&inactivity=3120"),),
        "signal": ("out", 40.0, "0x9d"),
    },
    "19": {"command.out_of_network": True, "descriptors[0]": DtmfDescriptor, "crc_ok": True},
    "20": {"command.out_of_network": False, "descriptors[0]": DtmfDescriptor, "crc_ok": True},
    "21": {
        "splice_command_length": 0xFFF, "command.pts_time": 411455496, "seg[0].duration_ticks": 22950000,
        "seg[0].duration_seconds": 255.0, "seg[0].segmentation_type_id": 48, "signal": ("out", 255.0, "0xbfd2f"),
    },
    "22": {
        "splice_command_length": 0xFFF, "command.splice_event_id": 8766031, "command.pts_time": 3423909934,
        "command.break_duration": 5400000, "len(descriptors)": 1, "signal": ("out", 60.0, "0x85c24f"),
    },
    "23": {"command.pts_time": 0, "pts_seconds": 0.0, "command.break_duration": 5400000},
    "24": {"command": PrivateCommand(1, b"ewogIm1lc3NhZ2UiOiAiYWRkV2lkZ2V0Igp9"), "signal": (None, None, None)},
    "25": {"pts_adjustment": 4629503913, "command.pts_time": 0, "pts_seconds": 4629503913 / 90000},
    "26": {"len(descriptors)": 2},
    "27": {"signal": ("out", 50.0, "0x1")},  # with CUE-OUT:50.000 / Duration=50
    "28": {"signal.0": "in"},  # the OATCLS right before CUE-IN
    "29": {"command": TimeSignal, "signal": (None, None, None)},  # non-avail message outside a break
    "30": {"command.splice_event_id": 16777323, "signal": ("out", 366.0, "0x100006b")},
    "31": FAIL,
    "32": FAIL,
    "33": {"pts_seconds": 10.0, "seg[0].segmentation_type_id": 0x34, "seg[0].upids": ((0x09, ""),), "signal.0": "out"},
    "34": {"pts_seconds": 40.0, "seg[0].segmentation_type_id": 0x35, "seg[0].upids": ((0x09, ""),), "signal.0": "in"},
    "35": {"pts_seconds": 75.0, "seg[0].segmentation_type_id": 0x34, "seg[0].upids": ((0x09, ""),), "signal.0": "out"},
    "36": {
        "seg[0].segmentation_type_id": 0x34, "seg[0].duration_seconds": 201.467133,
        "seg[0].upids": airing(0x20FB6501), "signal.0": "out",
    },
    "37": {"command.out_of_network": True, "signal.0": "out"},  # with CUE-OUT:20.020
    "38": {
        "seg[0].segmentation_type_id": 0x34, "seg[0].duration_seconds": 212.16,
        "seg[0].upids": ((0x0C, "MDSNB0011322193_N"),), "signal": ("out", 212.16, "0xaa9"),
    },
    "39": {"seg[0].segmentation_type_id": 0x35, "signal": ("in", None, "0xaa8")},
    "40": {
        "command.pts_time": 0, "seg[0].segmentation_type_id": 0x30, "seg[0].duration_seconds": 300.0,
        "seg[0].upid_type": 0x0E, "crc32": 0, "crc_ok": False, "signal": ("out", 300.0, "0x1"),
    },
    "41": {"command.splice_event_id": 999, "signal": ("out", 30.0, "0x3e7")},
    "42": {"signal": ("out", 120.12, "0x6107febd")},  # with CUE-OUT:120.120
    "43": {"seg[0].segmentation_type_id": 0x10, "seg[0].upid_type": 0x0C, "signal": (None, None, None)},
    "44": {"command.splice_event_id": 198, "command.break_duration_seconds": 194.9948, "signal.0": "out"},
    "45": {"command.out_of_network": True, "signal.0": "out"},  # with CUE-OUT:22.087 / 29.997
    "46": {"signal": ("out", 15.0, "0x1")},  # with CUE-OUT:15.000
    "47": {"command": SpliceNull, "splice_command_length": 0xFFF},
    "48": {"command.out_of_network": True, "command.splice_immediate": True, "signal": ("out", 0.0, "0x1")},
    "49": {"command.out_of_network": True, "command.splice_immediate": True, "signal": ("out", 0.0, "0x0")},
    "50": {"command": TimeSignal},
}  # fmt: skip


def resolve(info: SpliceInfo, path: str) -> Any:
    """`command.pts_time`, `seg[1].upids`, `len(descriptors)`, `signal.0` … on a decoded section."""
    length = re.fullmatch(r"len\((\w+)\)", path)
    if length:
        return len(resolve(info, length.group(1)))
    value: Any = info
    for part in path.split("."):
        name, _, index = part.partition("[")
        if name == "seg":
            value = info.segmentation
        elif name == "signal":
            value = break_signal(info)
        elif name.isdigit():
            value = value[int(name)]
        else:
            value = getattr(value, name)
        if index:
            value = value[int(index.rstrip("]"))]
    return value


def facts_of(number: str) -> dict[str, Any]:
    facts = EXPECTED[number]
    assert isinstance(facts, dict), f"vector {number} is expected to fail"
    return facts


def check(info: SpliceInfo, facts: dict[str, Any]) -> None:
    for path, expected in facts.items():
        actual = resolve(info, path)
        if isinstance(expected, type):
            assert isinstance(actual, expected), path
        else:
            assert actual == approx(expected), path


def approx(expected: Any) -> Any:
    if isinstance(expected, float):
        return pytest.approx(expected, abs=1e-6)
    if isinstance(expected, tuple) and any(isinstance(item, float) for item in expected):
        return tuple(approx(item) for item in expected)
    return expected


# --- the 50 shared vectors ------------------------------------------------------------------------


def test_every_vector_has_an_expectation() -> None:
    assert sorted(vectors()) == sorted(EXPECTED)
    if VECTOR_DIR.is_dir():  # ../shared's inventory: its vectors are exactly those expected
        assert sorted(path.name[:2] for path in VECTOR_DIR.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("number", sorted(EXPECTED))
def test_source_states(number: str) -> None:
    vector = vector_of(number)
    if EXPECTED[number] == FAIL:
        assert try_decode(vector["value"]) is None
        with pytest.raises(Scte35Error, match=re.escape(vector["value"][:20])):
            decode(vector["value"])
        return
    check(decode(vector["value"]), facts_of(number))


@pytest.mark.parametrize("number", sorted(EXPECTED))
def test_independent_decode(number: str) -> None:
    vector = vector_of(number)
    if "recipe" in vector:  # a stand-in: what was encoded is the independent statement of its meaning
        if EXPECTED[number] == FAIL:
            assert try_decode(vector["value"]) is None
        else:
            check_recipe(decode(vector["value"]), vector["recipe"], vector["defect"])
        return
    other = vector.get("independent_decode")
    if other is None:
        assert EXPECTED[number] == FAIL  # the cross-check failed exactly where the source says it must
        return
    info = decode(vector["value"])
    assert other["len"] == info.section_length + 3
    for name in ("sap_type", "section_length", "protocol_version", "encrypted_packet", "encryption_algorithm"):
        assert getattr(info, name) == other[name], name
    for name in ("pts_adjustment", "cw_index", "crc_ok"):
        assert getattr(info, name) == other[name], name
    for name in ("table_id", "tier", "splice_command_length", "splice_command_type", "crc32"):
        assert getattr(info, name) == int(other[name], 16), name
    compare_command(info, other["command"])
    assert len(info.descriptors) == len(other["descriptors"])
    for mine, theirs in zip(info.descriptors, other["descriptors"], strict=True):
        compare_descriptor(mine, theirs)


COMMAND_NAMES = {
    "splice_null": SpliceNull,
    "splice_insert": SpliceInsert,
    "time_signal": TimeSignal,
    "private_command": PrivateCommand,
}


def compare_command(info: SpliceInfo, theirs: dict[str, Any]) -> None:
    command = info.command
    assert isinstance(command, COMMAND_NAMES[theirs["name"]])
    if isinstance(command, TimeSignal | SpliceInsert):
        assert command.pts_time == theirs.get("pts_time")
    if not isinstance(command, SpliceInsert):
        return
    assert command.splice_event_id == int(theirs["splice_event_id"], 16)
    assert command.cancel == theirs["cancel"]
    assert command.out_of_network == theirs["out_of_network_indicator"]
    assert command.program_splice == theirs["program_splice_flag"]
    assert command.duration_flag == theirs["duration_flag"]
    assert command.splice_immediate == theirs["splice_immediate_flag"]
    assert (command.unique_program_id, command.avail_num) == (theirs["unique_program_id"], theirs["avail_num"])
    assert command.avails_expected == theirs["avails_expected"]
    duration = theirs.get("break_duration")
    assert command.break_duration == (duration and duration["duration_ticks"])
    assert command.auto_return == (duration and duration["auto_return"])


def compare_descriptor(mine: Any, theirs: dict[str, Any]) -> None:
    tag = theirs["tag"]
    if tag == "avail_descriptor":
        assert mine == AvailDescriptor(int(theirs["provider_avail_id"], 16))
    elif tag == "dtmf_descriptor":
        assert mine == DtmfDescriptor(theirs["preroll"], theirs["chars"])
    elif tag == "segmentation_descriptor":
        compare_segmentation(mine, theirs)
    else:
        assert isinstance(mine, UnknownDescriptor)
        assert mine.identifier == theirs["identifier"]


def compare_segmentation(mine: Any, theirs: dict[str, Any]) -> None:
    assert isinstance(mine, SegmentationDescriptor)
    assert mine.segmentation_event_id == int(theirs["segmentation_event_id"], 16)
    assert mine.cancel == theirs["cancel"]
    assert mine.delivery_not_restricted == theirs["delivery_not_restricted"]
    for name in ("web_delivery_allowed", "no_regional_blackout", "archive_allowed", "device_restrictions"):
        assert getattr(mine, name) == theirs.get(name), name
    assert mine.duration_ticks == theirs.get("segmentation_duration_ticks")
    assert mine.segmentation_type_id == int(theirs["segmentation_type_id"], 16)
    if theirs["segmentation_type"] != "?":
        assert mine.segmentation_type_name == theirs["segmentation_type"]
    assert (mine.segment_num, mine.segments_expected) == (theirs["segment_num"], theirs["segments_expected"])
    upid = theirs["upid"]
    assert mine.upid_type == upid["type"]
    parts = upid.get("upids", [upid])
    assert mine.upids == tuple((part["type"], part["value"]) for part in parts)


# --- project-owned fixtures (run without ../shared) -------------------------------------------------


@pytest.mark.parametrize("number", sorted(stand_ins()))
def test_stand_in_is_the_encoders_and_carries_the_vectors_facts(number: str) -> None:
    stand_in = stand_ins()[number]
    assert stand_in["value"] == text_of(stand_in), "the stored section is what the encoder builds from the recipe"
    if EXPECTED[number] == FAIL:
        with pytest.raises(Scte35Error, match=re.escape(stand_in["value"][:20])):
            decode(stand_in["value"])
        assert try_decode(build(stand_in["recipe"])) is not None, "the defect, not the recipe, makes it fail"
        return
    info = decode(stand_in["value"])
    check(info, facts_of(number))
    check_recipe(info, stand_in["recipe"], stand_in["defect"])


def check_recipe(info: SpliceInfo, recipe: dict[str, Any], defect: str | None) -> None:
    """The decoded section says what the encoder was asked to write (and its defect shows as a bad CRC)."""
    assert info.crc_ok is (defect is None)
    assert info.pts_adjustment == recipe.get("pts_adjustment", 0)
    pts = recipe["pts_time"]
    if recipe["command"] == "splice_insert":
        duration = recipe["duration_s"]
        assert info.command == SpliceInsert(
            recipe["event_id"], out_of_network=recipe["out"], duration_flag=duration is not None,
            splice_immediate=pts is None, pts_time=pts,
            auto_return=None if duration is None else recipe.get("auto_return", True),
            break_duration=None if duration is None else round(duration * 90_000),
            unique_program_id=recipe.get("unique_program_id", 0), avail_num=recipe.get("avail_num", 0),
            avails_expected=recipe.get("avails_expected", 0),
        )  # fmt: skip
        return
    assert info.command == TimeSignal(pts)
    (descriptor,) = info.segmentation
    assert descriptor.segmentation_event_id == recipe["segmentation_event_id"]
    assert descriptor.segmentation_type_id == recipe["segmentation_type_id"]
    duration = recipe["duration_s"]
    assert descriptor.duration_ticks == (None if duration is None else round(duration * 90_000))
    upid_type, upid_hex = recipe.get("upid", [0, ""])
    assert (descriptor.upid_type, descriptor.upid) == (upid_type, bytes.fromhex(upid_hex))


V01 = "/DA0AAAAAAAA///wBQb+cr0AUAAeAhxDVUVJSAAAjn/PAAGlmbAICAAAAAAsoKGKNAIAmsnRfg=="
V02 = "/DAvAAAAAAAA///wFAVIAACPf+/+c2nALv4AUsz1AAAAAAAKAAhDVUVJAAABNWLbowo="
V02_HEX = "0xFC302F000000000000FFFFF014054800008F7FEFFE7369C02EFE0052CCF500000000000A0008435545490000013562DBA30A"
V13 = "/DA8AAAAAAAAAP///wb+06ACpQAmAiRDVUVJAACcHX//AACky4AMEERJU0NZTVdGMDQ1MjAwMEgxAQEMm4c0"
V16 = "/DA4AAAAAAAAAP/wFAUABDEAf+//mWEhzP4Azf5gAQAAAAATAhFDVUVJAAAAAX+/AQIwNAEAAKeYO3Q="
V17 = "/DAeAAAAAAAAAP///wViAA/nf18ACQAAAAAskJv+YPtE"
V21 = "/DA6AAAAAAAAAP///wb+GIZQCAAkAiJDVUVJAAv9L3//AAFeMHAMDkRJU0M2NzQ5NjNfOTk4MAEBsXXbjg"
V31 = "0xFC002F0000000000FF000014056FFFFFF000E011622DCAFF000052636200000000000A0008029896F50000008700000000"
V40 = "0xFC002C00000000000000FFF00506800000000000160214435545490000000100E000019BFCC00E0030000000000000"
V41 = "0xFC302500000000000000FFF01405000003E77FEFFE0011FB9EFE002932E00001010100004D192A59"


def test_fixture_time_signal_ppo_start() -> None:
    info = decode(V01)
    check(info, facts_of("01"))
    assert info.segmentation[0].segmentation_type_name == "Provider Placement Opportunity Start"


def test_fixture_splice_insert_base64_and_hex_agree() -> None:
    assert decode(V02) == decode(V02_HEX) == decode(V02_HEX[2:]) == decode(V02_HEX.lower()) == decode(to_bytes(V02))
    check(decode(V02), facts_of("02"))


def test_fixture_legacy_command_length_and_stuffing() -> None:
    check(decode(V13), facts_of("13"))
    info = decode(V17)
    assert info.splice_command_length == 0xFFF and info.crc_ok
    assert isinstance(info.command, SpliceInsert) and info.command.splice_immediate


def test_fixture_bad_crc_is_a_flag() -> None:
    info = decode(V16)
    assert not info.crc_ok
    assert break_signal(info) == ("out", 150.0, "0x43100")


def test_fixture_crc_zero_and_reserved_bits_zero() -> None:
    info = decode(V40)
    assert (info.crc32, info.crc_ok, info.sap_type) == (0, False, 0)
    assert break_signal(info) == ("out", 300.0, "0x1")


def test_fixture_missing_padding_and_url_safe_alphabet() -> None:
    info = decode(V21)
    assert break_signal(info) == ("out", 255.0, "0xbfd2f")
    assert decode(V21.replace("/", "_").replace("+", "-")) == info
    assert decode(V02.rstrip("=")) == decode(V02)


def test_fixture_rfc8216_example_is_not_decodable() -> None:
    with pytest.raises(Scte35Error, match=r"section_length 47 needs 50 bytes.*0xFC002F"):
        decode(V31)
    assert try_decode(V31) is None


def test_fixture_hex_daterange_payload() -> None:
    assert break_signal(decode(V41)) == ("out", 30.0, "0x3e7")
    assert decode(V41) == decode("0X" + V41[2:]) == decode(f"  {V41}  ")


# --- the wire format ---------------------------------------------------------------------------------


def section(command_type: int, command: bytes, descriptors: bytes = b"", *, encrypted: bool = False) -> bytes:
    """A splice_info_section with a correct CRC around `command` and `descriptors`."""
    body = bytes([0x00, 0x80 if encrypted else 0x00, 0, 0, 0, 0, 0xFF, 0xFF, 0xF0 | len(command) >> 8])
    body += bytes([len(command) & 0xFF, command_type]) + command + len(descriptors).to_bytes(2, "big") + descriptors
    length = len(body) + 4
    head = bytes([0xFC, 0x30 | length >> 8, length & 0xFF]) + body
    return head + crc32_mpeg2(head).to_bytes(4, "big")


def segmentation(type_id: int, *, event: int = 7, cancel: bool = False, ticks: int | None = None) -> bytes:
    body = b"CUEI" + event.to_bytes(4, "big") + bytes([0xFF if cancel else 0x7F])
    if not cancel:
        body += bytes([0xBF | (0x40 if ticks is not None else 0) | 0x20])
        body += ticks.to_bytes(5, "big") if ticks is not None else b""
        body += bytes([0, 0, type_id, 0, 0])
    return bytes([0x02, len(body)]) + body


TIME_SIGNAL = bytes([0xFE, 0, 0, 0, 0])  # time_specified, pts 0


def test_time_signal_start_wins_over_end() -> None:
    both = section(6, TIME_SIGNAL, segmentation(0x35, event=1) + segmentation(0x36, event=2, ticks=900000))
    assert break_signal(decode(both)) == ("out", 10.0, "0x2")


def test_cancelled_events_mean_nothing() -> None:
    cancelled = section(6, TIME_SIGNAL, segmentation(0x34, cancel=True))
    info = decode(cancelled)
    assert info.segmentation[0].cancel and break_signal(info) == (None, None, None)
    insert_cancel = section(5, (5).to_bytes(4, "big") + b"\xff")
    assert decode(insert_cancel).command == SpliceInsert(5, cancel=True)
    assert break_signal(decode(insert_cancel)) == (None, None, None)


def test_encrypted_packet_keeps_the_command_opaque() -> None:
    info = decode(section(5, b"\x01\x02\x03", b"", encrypted=True))
    assert info.encrypted_packet and info.crc_ok
    assert isinstance(info.command, OpaqueCommand) and info.descriptors == ()
    assert break_signal(info) == (None, None, None)


def test_unknown_command_types_are_opaque() -> None:
    info = decode(section(0x04, b"\x00\x01"))
    assert info.command == OpaqueCommand(0x04, b"\x00\x01")
    assert info.pts_seconds is None


def test_time_and_audio_descriptors() -> None:
    time_body = b"CUEI" + (1_700_000_000).to_bytes(6, "big") + (500).to_bytes(4, "big") + (37).to_bytes(2, "big")
    audio = bytes([0x04, 0x05]) + b"CUEI\x00"
    info = decode(section(6, TIME_SIGNAL, bytes([0x03, len(time_body)]) + time_body + audio))
    assert info.descriptors == (TimeDescriptor(1_700_000_000, 500, 37), UnknownDescriptor(4, "CUEI", b"\x00"))


def test_component_splice_insert() -> None:
    # §9.7.3: program_splice_flag 0 → component_count, then per component a tag and a splice_time().
    flags = bytes([0x7F, 0b1000_1111])  # not cancelled; out_of_network, component splice, no duration
    components = bytes([2, 0x10, 0xFE, 0, 0, 0x03, 0xE8, 0x11, 0x7F])  # tag 0x10 @ 1000 ticks, tag 0x11 no time
    info = decode(section(5, (9).to_bytes(4, "big") + flags + components + bytes([0, 1, 2, 3])))
    assert info.command == SpliceInsert(
        9, out_of_network=True, program_splice=False, components=((0x10, 1000), (0x11, None)),
        unique_program_id=1, avail_num=2, avails_expected=3,
    )  # fmt: skip
    assert info.pts_seconds is None and break_signal(info) == ("out", None, "0x9")


def test_component_segmentation_descriptor() -> None:
    body = b"CUEI" + (3).to_bytes(4, "big") + bytes([0x7F, 0x3F])  # program_segmentation 0, no duration
    body += bytes([1, 0x20, 0xFE]) + (90000).to_bytes(4, "big")  # component 0x20, pts_offset 90000
    body += bytes([0x0F, 3]) + b"a:b" + bytes([0x34, 1, 2])
    (descriptor,) = decode(section(6, TIME_SIGNAL, bytes([0x02, len(body)]) + body)).descriptors
    assert isinstance(descriptor, SegmentationDescriptor)
    assert descriptor.components == ((0x20, 90000),) and descriptor.upids == ((0x0F, "a:b"),)
    assert (descriptor.segment_num, descriptor.sub_segment_num) == (1, None)


def test_malformed_cuei_descriptor_does_not_hide_the_command() -> None:
    info = decode(section(6, TIME_SIGNAL, bytes([0x02, 0x05]) + b"CUEI\x00"))
    assert info.descriptors == (UnknownDescriptor(2, "CUEI", b"\x00"),)
    assert isinstance(info.command, TimeSignal)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", r"table_id nothing: expected 0xFC"),
        ("0x4700", r"table_id 0x47: expected 0xFC .*'0x4700'"),
        ("0xFC3005" + "00" * 8, r"section_length 5: expected at least 17"),
        ("0xFC3011" + "00" * 4, r"section_length 17 needs 20 bytes: only 7 given"),
        ("splice-67114940", r"'splice-67114940' is neither base64 nor hex"),
        ("0xF", r"'0xF' is not hex after 0x"),
        ("c3BsaWNlLTY3MTE0OTQw", r"expected a splice_info_section starting with 0xFC"),
    ],
)
def test_errors_quote_the_value_and_say_what_was_expected(value: str, message: str) -> None:
    with pytest.raises(Scte35Error, match=message):
        decode(value)
    assert try_decode(value) is None


def test_command_length_overrunning_the_section() -> None:
    raw = bytearray(section(5, b"\x00" * 4))
    raw[12] = 0x40  # splice_command_length 0x040
    with pytest.raises(Scte35Error, match="splice_command_length 64 overruns the section"):
        decode(bytes(raw))


def test_legacy_length_needs_a_known_command_type() -> None:
    raw = bytearray(section(0xFF, b"\x00" * 4))
    raw[11], raw[12] = 0xFF, 0xFF
    with pytest.raises(Scte35Error, match="0xFF with legacy length 0xFFF"):
        decode(bytes(raw))


def test_decode_rejects_other_types() -> None:
    with pytest.raises(Scte35Error, match="int value; expected str or bytes"):
        decode(42)  # type: ignore[arg-type]


# --- property tests ------------------------------------------------------------------------------

SEEDS = [base64.b64decode(value + "=" * (-len(value) % 4)) for value in (V01, V02, V13, V17, V21)]


@settings(database=None, max_examples=300)
@given(st.binary(max_size=200))
def test_decode_random_bytes_raises_only_scte35_error(data: bytes) -> None:
    for candidate in (data, b"\xfc" + data):
        try:
            decode(candidate)
        except Scte35Error:
            pass
        try_decode(candidate)


@settings(database=None, max_examples=300)
@given(st.sampled_from(SEEDS), st.integers(0, 10_000), st.integers(0, 255))
def test_decode_mutated_sections_raises_only_scte35_error(seed: bytes, where: int, byte: int) -> None:
    mutated = bytearray(seed)
    mutated[where % len(mutated)] = byte
    for candidate in (bytes(mutated), bytes(mutated[: where % (len(mutated) + 1)])):
        try:
            decode(candidate)
        except Scte35Error:
            pass


@settings(database=None, max_examples=300)
@given(st.text(max_size=120) | st.from_regex(r"(0[xX])?[0-9A-Fa-f ]{0,80}|[A-Za-z0-9+/=_-]{0,80}", fullmatch=True))
def test_decode_random_text_raises_only_scte35_error(text: str) -> None:
    try:
        decode(text)
    except Scte35Error:
        pass
    try_decode(text)
