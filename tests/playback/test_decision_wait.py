"""A session's break waits for its decision from the session's own first request after the break was seen
(proxy/playback/break_decisions.py): a player polling late in the break's first seconds has its window held, not its
break given up, and is late only when its own wait has passed. A clock the test moves; the decision never comes."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any, cast

from proxy.hls.breaks import Break
from proxy.hls.cues import Cue
from proxy.hls.render import Window
from proxy.playback.break_decisions import BreakDecisions
from proxy.playback.decisions import DecisionService
from proxy.playback.sessions import Session
from proxy.playback.store import SessionStore
from proxy.settings import ChannelConfig, Settings

SEEN = 100.0  # when the break was seen
WAIT = 1.0  # the decision wait: min(decision_wait 3 s, TD/2) with TD 2


class PendingDecisions:
    """A decision service whose decisions never come: every due break is held or late."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.started = 0

    def peek(self, session_id: str, brk: Break) -> None:
        return None

    def start(self, *args: Any) -> None:
        self.started += 1

    def forget(self, session_id: str, brk: Break) -> None:
        pass

    def count(self, channel: str, key: str, n: int = 1) -> None:
        self.counts[key] += n


def decisions_at(clock: list[float]) -> tuple[BreakDecisions, PendingDecisions, Break]:
    brk = Break(10, 20.0, SEEN, 8.0, True, Cue("out", "cue-out", 8.0), None, None, None)
    pending = PendingDecisions()
    channel = SimpleNamespace(target_duration=2, slate=None, profile=lambda: None)
    store = SimpleNamespace(decided=lambda session, break_id: None)
    deciding = BreakDecisions(
        cast(Any, channel),
        ChannelConfig("news", "https://origin.example/master.m3u8"),
        Settings(),
        cast(DecisionService, pending),
        cast(SessionStore, store),
        cast(Any, SimpleNamespace(breaks=[brk])),
        lambda: clock[0],
    )
    deciding.position = lambda session, brk: cast(Any, None)  # type: ignore[method-assign]
    return deciding, pending, brk


WINDOW = cast(Window, SimpleNamespace(first_msn=5, last_msn=11))


def test_a_session_first_asking_after_the_wait_is_held_then_late_after_its_own_wait() -> None:
    clock = [SEEN + 1.5]  # its first request since the break was seen comes after the channel's wait
    deciding, pending, brk = decisions_at(clock)
    session = Session("news", 0, 0.0, {}, 10**9)
    assert deciding.due(session, WINDOW) == (brk.start_msn, []), "held before the break, not late"
    assert pending.counts["DECISION_LATE"] == 0 and pending.started == 1
    clock[0] += WAIT / 2
    assert deciding.due(session, WINDOW)[0] == brk.start_msn, "still within its own wait"
    clock[0] += WAIT / 2
    hold, ready = deciding.due(session, WINDOW)
    assert hold is None and [b for b, _decided in ready] == [brk] and pending.counts["DECISION_LATE"] == 1


def test_each_session_waits_from_its_own_first_request() -> None:
    clock = [SEEN + 0.2]
    deciding, pending, brk = decisions_at(clock)
    early, late_comer = Session("news", 0, 0.0, {}, 10**9), Session("news", 0, 0.0, {}, 10**9)
    assert deciding.due(early, WINDOW)[0] == brk.start_msn
    clock[0] = SEEN + 1.3
    assert deciding.due(early, WINDOW)[0] is None, "its wait (from 0.2 s) is over"
    assert deciding.due(late_comer, WINDOW)[0] == brk.start_msn, "its wait starts now"
    assert pending.counts["DECISION_LATE"] == 1
