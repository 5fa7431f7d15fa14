"""What an origin playlist says about ad breaks, one segment at a time.

`proxy.hls.markers.detect()` turns the tag lines attached to one media segment into a tuple of
`Cue`s; `proxy.hls.breaks` pairs them into breaks across polls. Both are pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CueKind = Literal["out", "cont", "in"]

# The ad-marker families seen in real origins (vendor tags, RFC 8216bis §4.4.5.1.1, SCTE 35 §12.2), named as
# `Cue.dialect` reports them.
Dialect = Literal[
    "cue-out",  # EXT-X-CUE-OUT / EXT-X-CUE-OUT-CONT / EXT-X-CUE-IN (Elemental, Envivio, ESAM, Adobe SignalID)
    "cue-span",  # Envivio EXT-X-CUE-SPAN continuation
    "daterange",  # EXT-X-DATERANGE SCTE35-OUT / SCTE35-IN / SCTE35-CMD, DURATION / END-DATE closes
    "scte35",  # EXT-X-SCTE35 (SCTE 35 §12.2) and EXT-SCTE35 (SCTE 67 style)
    "splicepoint",  # EXT-X-SPLICEPOINT-SCTE35
    "oatcls",  # EXT-OATCLS-SCTE35 alone (decoded)
    "adobe",  # EXT-X-CUE / EXT-X-CUE-CONT
    "cuepoint",  # a manual cue point inserted through the control API, not an origin marker
]


@dataclass(frozen=True, slots=True)
class Cue:
    """One ad-break signal found on a segment.

    kind: "out" starts a break at this segment, "cont" says this segment is inside one,
    "in" says this segment is the first one back in the programme.
    duration: the planned break duration in seconds when the marker gives one.
    elapsed: seconds of the break already played at the start of this segment ("cont" only).
    break_id: an identifier to pair OUT with IN when the marker has one (DATERANGE ID, Envivio ID,
    Adobe ID, SCTE-35 splice/segmentation event id as "0x…"), else None.
    end_date: for a DATERANGE that closes a break with END-DATE or DURATION, the actual duration is in
    `duration` and this is True.
    """

    kind: CueKind
    dialect: Dialect
    duration: float | None = None
    elapsed: float | None = None
    break_id: str | None = None
    closes: bool = False
    scte35: bytes | None = None  # the raw splice_info_section when the marker carried one
