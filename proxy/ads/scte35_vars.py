"""The scte.* and scte35_* ad tag variables: their values from a break's SCTE-35 splice_info_section
(ANSI/SCTE 35 §9.7.3 splice_insert, §10.3.3 segmentation_descriptor).

Sources: AWS MediaTailor "ADS dynamic variables" (scte.*), Brightcove Live API (scte35_*).
"""

from __future__ import annotations

import json

from proxy.hls.scte35 import SegmentationDescriptor, SpliceInfo, SpliceInsert, TimeSignal

# The names a section may give a value to; scte.segmentation_upid.private_data.N are open (PRIVATE_DATA).
SCTE_NAMES = (
    "scte35_eventID scte35_programID scte35_availNum scte35_breakDuration scte35_spliceTime "  # Brightcove Live API
    "scte.archive_allowed_flag scte.avail_num scte.avails_expected scte.delivery_not_restricted_flag "
    "scte.device_restrictions scte.event_id scte.no_regional_blackout_flag scte.segment_num "
    "scte.segmentation_event_id scte.segmentation_type_id scte.segmentation_upid "
    "scte.segmentation_upid.assetId scte.segmentation_upid.cueData.key scte.segmentation_upid.cueData.value "
    "scte.segments_expected scte.sub_segment_num scte.sub_segments_expected scte.unique_program_id"
).split()
_AVAIL_STARTS = frozenset({0x22, 0x30, 0x32, 0x34, 0x36})
_MPU = 0x0C  # Managed Private UPID: 4-byte format_identifier + private_data (SCTE 35 §10.3.3.3)
PRIVATE_DATA = "scte.segmentation_upid.private_data."
_PTS_WRAP = 1 << 33


def scte_values(info: SpliceInfo) -> dict[str, str]:
    """Every scte.* / scte35_* value a section gives, as decimal text; absent fields are left out.

    splice_insert gives the event id, program id and avail numbers; the segmentation fields come from
    the descriptor that opens the avail (else the first one not cancelled). Flags are "1"/"0".
    """
    values: dict[str, str] = {}
    descriptor = _chosen(info)
    if descriptor is not None:
        values.update(_segmentation(descriptor))
    command = info.command
    if isinstance(command, SpliceInsert):
        values.update(_insert(command))
    if isinstance(command, SpliceInsert | TimeSignal) and command.pts_time is not None:
        values["scte35_spliceTime"] = str((command.pts_time + info.pts_adjustment) % _PTS_WRAP)
    return values


def _chosen(info: SpliceInfo) -> SegmentationDescriptor | None:
    live = [d for d in info.segmentation if not d.cancel]
    starts = [d for d in live if d.segmentation_type_id in _AVAIL_STARTS]
    chosen = starts or live
    return chosen[0] if chosen else None


def _insert(command: SpliceInsert) -> dict[str, str]:
    values = {
        "scte.event_id": str(command.splice_event_id),
        "scte35_eventID": str(command.splice_event_id),
        "scte.unique_program_id": str(command.unique_program_id),
        "scte35_programID": str(command.unique_program_id),
        "scte.avail_num": str(command.avail_num),
        "scte35_availNum": str(command.avail_num),
        "scte.avails_expected": str(command.avails_expected),
    }
    if command.break_duration is not None:
        values["scte35_breakDuration"] = str(command.break_duration)
    return values


def _segmentation(d: SegmentationDescriptor) -> dict[str, str]:
    optional = {
        "scte.archive_allowed_flag": _flag(d.archive_allowed),
        "scte.no_regional_blackout_flag": _flag(d.no_regional_blackout),
        "scte.device_restrictions": d.device_restrictions,
        "scte.sub_segment_num": d.sub_segment_num,
        "scte.sub_segments_expected": d.sub_segments_expected,
        "scte35_breakDuration": d.duration_ticks,
    }
    values = {name: str(value) for name, value in optional.items() if value is not None}
    event = str(d.segmentation_event_id)
    values |= {"scte.event_id": event, "scte35_eventID": event, "scte.segmentation_event_id": event}
    values["scte.segmentation_type_id"] = str(d.segmentation_type_id)
    values["scte.segment_num"] = str(d.segment_num)
    values["scte.segments_expected"] = str(d.segments_expected)
    values["scte.delivery_not_restricted_flag"] = _flag(d.delivery_not_restricted) or ""
    if d.upids:
        values["scte.segmentation_upid"] = ",".join(text for _, text in d.upids)
    if d.upid_type == _MPU and len(d.upid) > 4:
        values.update(_managed_private(d.upid[4:].decode("utf-8", "replace")))
    return values


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("1" if value else "0")


def _managed_private(data: str) -> dict[str, str]:
    """MPU private data: colon-separated tokens (`private_data.N`, one leading colon ignored) and, when it
    is a JSON object, its `assetId` and `cueData.key` / `cueData.value` (MediaTailor's podbuster form)."""
    values = {f"{PRIVATE_DATA}{n}": token for n, token in enumerate(data.removeprefix(":").split(":"))}
    try:
        document = json.loads(data)
    except ValueError:
        return values
    if isinstance(document, dict):
        cue = document.get("cueData")
        fields = {"assetId": document.get("assetId")}
        if isinstance(cue, dict):
            fields |= {"cueData.key": cue.get("key"), "cueData.value": cue.get("value")}
        for name, value in fields.items():
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                values[f"scte.segmentation_upid.{name}"] = str(value)
    return values
