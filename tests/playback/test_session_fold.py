"""A long session holds only the breaks still in some window (proxy/playback/sessions.py `Session.fold`): breaks
whose content played (no fill) go once the next decided break starts before the oldest segment any window shows,
and the session's avail index counts every break it decided, those folded away included."""

from __future__ import annotations

from proxy.ads.context import BreakInfo, ChannelInfo
from proxy.playback.decisions import _context
from proxy.playback.sessions import Decided, Session
from proxy.playback.store import codec


def a_session(*starts: int) -> Session:
    session = Session("news", 0, 0.0, {}, 10**9)
    for start in starts:
        session.decide(str(start), start, Decided(None, ()))
    return session


def test_a_break_without_a_fill_goes_once_the_next_one_started_out_of_every_window() -> None:
    session = a_session(8, 16, 24)
    session.once = {("8", 0, "impression"): 1.0, ("16", 0, "impression"): 1.0}
    assert session.fold(16) == [], "break 16 is the oldest segment shown: break 8 may still be in a window"
    assert session.fold(17) == ["8"]
    assert session.decided is not None and sorted(session.decided) == ["16", "24"]
    assert list(session.once) == [("16", 0, "impression")] and session.folded_through == 8
    assert session.fold(10**6) == ["16"], "the latest decided break stays: where it ends is not known here"
    assert list(session.decided or ()) == ["24"] and session.folded_count == 2


def test_the_avail_index_counts_the_breaks_folded_away() -> None:
    session = a_session(8, 16, 24)
    session.fold(10**6)
    context = _context(BreakInfo(30.0), session, ChannelInfo(), None)
    assert context.avail_index == 4, "the session's fourth break, though it holds one decision"


def test_a_process_loading_the_session_learns_how_many_were_folded() -> None:
    session = a_session(8, 16, 24)
    session.fold(10**6)
    there = Session("news", 0, 0.0, {}, 10**9)
    codec.decode_shift(there, codec.encode_shift(session))
    assert (there.folded_count, there.folded_through, there.last_start) == (2, 16, 16)
    old = Session("news", 0, 0.0, {}, 10**9)
    codec.decode_shift(old, b"[4,1,2.0,20]")  # written before the count was kept
    assert (old.shift, old.folded_count) == ((4, 1, 2.0), 0)
