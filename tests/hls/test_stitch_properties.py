"""Property tests: random live timelines, sessions polled across refreshes and tracks, §4 invariants hold."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from proxy.hls.fill import FillPlan
from proxy.hls.scte35_encode import encode_splice_insert, to_hex
from proxy.playback.sessions import Session
from tests.hls.invariants import check_track, check_tracks_agree
from tests.hls.simulation import TRACKS, OriginSegment, SimSession, Simulation, creative, slate_with_pieces

DIALECTS = ("cue-out", "bare", "slash", "daterange", "adobe", "scte35")


def break_tags(dialect: str, number: int, planned: float, elapsed: float, position: str) -> tuple[str, ...]:
    """Tags for one break segment: position is "out", "cont" or "in"."""
    if dialect == "daterange":
        if position == "out":
            cue = to_hex(encode_splice_insert(number, out=True, pts_time=None, duration_s=planned))
            return (
                f'#EXT-X-DATERANGE:ID="b{number}",START-DATE="2024-01-01T00:00:00Z",PLANNED-DURATION={planned:.3f},SCTE35-OUT={cue}',
            )
        if position == "in":
            cue = to_hex(encode_splice_insert(number, out=False, pts_time=None, duration_s=None))
            return (f'#EXT-X-DATERANGE:ID="b{number}",DURATION={elapsed:.3f},SCTE35-IN={cue}',)
        return ()
    if dialect == "adobe":
        return (f"#EXT-X-CUE:TYPE=SpliceOut,ID={number},DURATION={planned:.3f},TIME=0",) if position == "out" else ()
    if dialect == "scte35":
        flag = {"out": f"CUE-OUT=YES,DURATION={planned:.3f}", "cont": "CUE-OUT=CONT", "in": "CUE-IN=YES"}[position]
        cue = to_hex(
            encode_splice_insert(number, out=position != "in", pts_time=None, duration_s=planned)
        ).removeprefix("0x")
        return (f'#EXT-X-SCTE35:CUE="{cue}",{flag},ID="{number}"',)
    if position == "out":
        return ("#EXT-X-CUE-OUT",) if dialect == "bare" else (f"#EXT-X-CUE-OUT:{planned:.3f}",)
    if position == "in":
        return ("#EXT-X-CUE-IN",)
    if dialect == "cue-out":
        return (f"#EXT-X-CUE-OUT-CONT:ElapsedTime={elapsed:.3f},Duration={planned:.3f}",)
    if dialect == "slash":
        return (f"#EXT-X-CUE-OUT-CONT:{elapsed:.3f}/{planned:.3f}",)
    return ()


@st.composite
def timelines(draw: st.DrawFn) -> tuple[int, list[OriginSegment]]:
    td = draw(st.sampled_from([2, 4, 6]))
    segments: list[OriginSegment] = []
    for number in range(draw(st.integers(1, 4))):
        for _ in range(draw(st.integers(2, 12))):
            duration = round(draw(st.floats(0.75 * td, td)), 3)
            segments.append(OriginSegment(duration, discontinuity=draw(st.booleans()) and draw(st.booleans())))
        dialect = draw(st.sampled_from(DIALECTS))
        durations = [round(draw(st.floats(0.75 * td, td)), 3) for _ in range(draw(st.integers(1, 8)))]
        actual = sum(durations)
        early = dialect not in ("adobe",) and draw(st.booleans())
        planned = actual + (draw(st.floats(1, 20)) if early else 0.0)
        elapsed = 0.0
        for index, duration in enumerate(durations):
            tags = break_tags(dialect, number, planned, elapsed, "out" if index == 0 else "cont")
            segments.append(OriginSegment(duration, tags))
            elapsed += duration
        segments.append(
            OriginSegment(round(draw(st.floats(0.75 * td, td)), 3), break_tags(dialect, number, planned, elapsed, "in"))
        )
    segments += [OriginSegment(float(td)) for _ in range(12)]
    return td, segments


def plans(td: int) -> list[FillPlan]:
    ad_a = creative("adA", [td, td, td / 2])
    ad_b = creative("adB", [td / 2, td])
    slate = creative("slate", [td, td / 2])
    return [
        FillPlan("a+b+slate", (ad_a, ad_b), slate),
        FillPlan("a", (ad_a,), None),
        FillPlan("slate", (), slate),
        FillPlan("empty", (), None),
        FillPlan("b+a", (ad_b, ad_a), None),
        FillPlan("b+pieces", (ad_b,), slate_with_pieces("cut", [td, td], 25)),  # fills to the break's end
    ]


@settings(
    max_examples=200,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example, HealthCheck.data_too_large],
)
@given(timeline=timelines(), data=st.data())
def test_every_session_playlist_keeps_the_invariants(
    timeline: tuple[int, list[OriginSegment]], data: st.DataObject
) -> None:
    td, segments = timeline
    window = data.draw(st.integers(6, 10), label="window")
    pdt0 = data.draw(st.sampled_from([None, 1_700_000_000.0]), label="pdt")
    sim = Simulation(segments, td, window, pdt0)
    sim.fold = data.draw(st.booleans(), label="fold")
    options = plans(td)
    sessions: list[SimSession] = []
    edge = window - 1
    while edge < len(segments) - 1:
        sim.advance(edge)
        if len(sessions) < 3 and data.draw(st.booleans(), label="join"):
            session = Session("ch", sim.tracker.last_msn or 0, sim.tracker.next_time, {}, 0.0)
            salt = len(sessions)
            sessions.append(SimSession(session, lambda bid, salt=salt: options[(int(bid) + salt) % len(options)]))
        for sim_session in sessions:
            ready = data.draw(st.integers(0, 4), label="ready") > 0
            for track in TRACKS:
                if data.draw(st.integers(0, 3), label="poll") > 0:
                    sim.render(sim_session, track, ready)
        edge += data.draw(st.sampled_from([0, 1, 1, 1, 2]), label="step")
    for sim_session in sessions:
        fills = sim.fills_of(sim_session)
        try:
            per_track = {
                track: check_track([b for _, b in outputs], td, fills, [e for e, _ in outputs])
                for track, outputs in sim_session.outputs.items()
            }
        except AssertionError:
            import os

            if os.environ.get("DUMP"):
                with open(os.environ["DUMP"], "w") as f:
                    for track, outputs in sim_session.outputs.items():
                        for e, b in outputs:
                            f.write(
                                f"{track} {e} join={sim_session.session.join_msn} "
                                + b.decode().replace(chr(10), " | ").replace("#EXT-X-", "").replace("https://", "")
                                + chr(10)
                            )
            raise
        check_tracks_agree(per_track)
