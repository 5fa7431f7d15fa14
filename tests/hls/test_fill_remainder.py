"""A break with slate is filled to its end within one frame, whatever the durations of its content segments,
its ads and the slate: ads, whole slate segments while they fit, then the slate's pieces (its first 2^k
frames) that sum to what is left, so PROGRAM-DATE-TIME after the break goes on without a hole. What was
published while the break was open is never taken back (RFC 8216bis §6.2.1)."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from proxy.hls.breaks import Break
from proxy.hls.cues import Cue
from proxy.hls.fill import Fill, FillPlan, Item
from tests.hls.simulation import creative, slate_with_pieces

START = 100


@st.composite
def fills(draw: st.DrawFn) -> tuple[Fill, list[float], float]:
    """A fill of a break not yet seen (its content segments are returned), and one frame of its slate."""
    td = draw(st.sampled_from([1, 2, 4, 6, 10]))
    fps = draw(st.sampled_from([24.0, 25.0, 30000 / 1001, 30.0, 50.0, 60.0]))
    content = [round(draw(st.floats(0.5 * td, td)), 3) for _ in range(draw(st.integers(1, 15)))]
    ads, left = [], sum(content)
    for number in range(draw(st.integers(0, 4))):
        durations = [round(draw(st.floats(0.2, td)), 3) for _ in range(draw(st.integers(1, 8)))]
        if sum(durations) <= left:  # what `proxy.ads.fit` lets into the break
            ads.append(creative(f"ad{number}", durations, ("v0",)))
            left -= sum(durations)
    frames = round(td * fps)  # slate segments are whole frames, the last one maybe shorter
    last = draw(st.integers(1, frames))
    slate = [frames / fps] * draw(st.integers(0, 3)) + [last / fps]
    plan = FillPlan("plan", tuple(ads), slate_with_pieces("slate", slate, fps, ("v0",)))
    brk = Break(START, 0.0, 0.0, sum(content), True, Cue("out", "cue-out", sum(content)), 1.7e9, None, None)
    return Fill(brk, plan), content, 1 / fps


def play(fill: Fill, content: list[float]) -> list[list[Item]]:
    """The origin publishes the break's segments one by one, then the segment after it (which closes the
    break); what the fill published after each."""
    brk, published = fill.brk, []
    for duration in content:
        brk.durations.append(duration)
        brk.disc_flags.append(False)
        published.append(fill.items[: fill.published(brk.elapsed)])
    brk.end_msn = START + len(content)
    settled = fill.settled()
    assert settled is not None
    published.append(fill.items[: settled[0]])
    return published


@settings(max_examples=400, deadline=None)
@given(case=fills())
def test_a_break_is_filled_to_its_end_within_one_frame(case: tuple[Fill, list[float], float]) -> None:
    fill, content, frame = case
    published = play(fill, content)
    final = published[-1]
    filled = sum(item.end - item.start for item in final)
    assert abs(filled - sum(content)) <= frame, f"{filled} s of fill for a {sum(content)} s break"
    shift = fill.shift()
    assert shift is not None and abs(shift[2]) <= frame, "the timeline after the break moves by under a frame"
    for earlier in published:
        assert final[: len(earlier)] == earlier, "an item once published stays"


@settings(max_examples=200, deadline=None)
@given(case=fills())
def test_the_remainder_takes_a_few_pieces_each_with_a_discontinuity(case: tuple[Fill, list[float], float]) -> None:
    fill, content, _ = case
    final = play(fill, content)[-1]
    slate = fill.plan.slate
    assert slate is not None
    pieces = [item for item in final if item.creative in slate.pieces]
    assert len(pieces) <= len(slate.pieces) and len({item.creative.key for item in pieces}) == len(pieces)
    assert all(item.disc for item in pieces), "a piece restarts the slate's timestamps"
    assert final[len(final) - len(pieces) :] == pieces, "pieces end the break"


def test_a_24_s_break_with_23_s_of_ads_ends_with_a_1_s_piece_sum() -> None:
    """The reported case: 2 s content and slate segments at 25 fps, one 23 s ad."""
    ad = creative("ad", [2.0] * 11 + [1.0], ("v0",))
    slate = slate_with_pieces("slate", [2.0, 2.0], 25.0, ("v0",))
    brk = Break(START, 0.0, 0.0, 24.0, True, Cue("out", "cue-out", 24.0), 1.7e9, None, None)
    fill = Fill(brk, FillPlan("plan", (ad,), slate))
    final = play(fill, [2.0] * 12)[-1]
    assert [item.creative.key for item in final[12:]] == ["slate-16", "slate-8", "slate-1"]
    assert sum(item.end - item.start for item in final) == 24.0
