"""A live break's position for the VMAP / SmartXML rules of `proxy.ads.vmap`: for a session (its n-th break since
it joined, seconds since it joined) or for the channel (when one decision serves every session)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from proxy.ads.models import BreakPosition
from proxy.hls.breaks import Break
from proxy.playback.sessions import Session

CUEPOINT = "cuepoint:"  # the prefix proxy.hls.breaks.CuePoint gives its breaks' identity


def break_identity(brk: Break) -> str:
    """What the origin calls the break (DATERANGE ID, SCTE-35 event id `0x…`, …), or the control API's cue point
    id; "" when its marker names none."""
    found = brk.cue.break_id or ""
    return found.removeprefix(CUEPOINT)


def channel_position(brk: Break) -> BreakPosition:
    """The channel as one viewer who joined when the proxy started following it: never a pre-roll."""
    return BreakPosition(max(1, brk.number), brk.start_time, brk.previous_start, False, break_identity(brk))


def session_position(breaks: Sequence[Break], session: Session, brk: Break, preroll_window: float) -> BreakPosition:
    """`brk` for a session joined at `session.join_msn`: its breaks are those seen from their start after the
    join (`breaks` is the tracker's, oldest first); the first is a pre-roll when it starts within
    `preroll_window` seconds (a target duration) of the session's start."""
    after = bisect_right(breaks, session.join_msn, key=lambda b: b.start_msn)
    first = next((b.number for b in breaks[after:] if b.number), brk.number)
    index = max(1, brk.number - first + 1)
    start = brk.start_time - session.join_time
    previous = None
    if index > 1 and brk.previous_start is not None:
        previous = brk.previous_start - session.join_time
    return BreakPosition(index, start, previous, index == 1 and start <= preroll_window, break_identity(brk))
