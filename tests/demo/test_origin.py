"""The simulated live origin: a sliding window driven by the clock, markers of every dialect, real segments."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from proxy.demo import tsshift
from proxy.demo.media import DemoMedia, prepare_media
from proxy.demo.origin import MARKER_DIALECTS, BreakSchedule, breaks_between, create_origin_app
from proxy.hls import scte35

TD = 2
EPOCH = 1_700_000_000.0


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> DemoMedia:
    # Same folder in every test module: prepare_media's disk cache makes the later calls instant.
    return prepare_media(tmp_path_factory.getbasetemp() / "demo", TD)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Segment:
    msn: int
    uri: str
    extinf: str
    pdt: str
    tags: list[str] = field(default_factory=list)


@dataclass
class Window:
    headers: dict[str, str]
    segments: list[Segment]


def parse(text: str) -> Window:
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U" and "#EXT-X-ENDLIST" not in lines
    headers = dict(line[1:].split(":", 1) for line in lines[1:4])
    msn = int(headers["EXT-X-MEDIA-SEQUENCE"])
    segments: list[Segment] = []
    pending: list[str] = []
    for line in lines[4:]:
        if line.startswith("#"):
            pending.append(line)
            continue
        pdt = next(p for p in pending if p.startswith("#EXT-X-PROGRAM-DATE-TIME:"))[25:]
        extinf = next(p for p in pending if p.startswith("#EXTINF:"))[8:]
        tags = [p for p in pending if not p.startswith(("#EXT-X-PROGRAM-DATE-TIME:", "#EXTINF:"))]
        segments.append(Segment(msn + len(segments), line, extinf, pdt, tags))
        pending = []
    assert pending == []
    return Window(headers, segments)


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def client(media: DemoMedia, clock: Clock, **options: object) -> TestClient:
    return TestClient(create_origin_app(media, clock=clock, epoch=EPOCH, **options))  # type: ignore[arg-type]


# --- the window -----------------------------------------------------------------------------------------


def test_master_lists_the_ladder_with_relative_uris(media: DemoMedia) -> None:
    outer = Starlette(routes=[Mount("/demo/origin", app=create_origin_app(media, clock=Clock(EPOCH + 100)))])
    text = TestClient(outer).get("/demo/origin/master.m3u8").text
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        "360p/live.m3u8",
        "270p/live.m3u8",
        "180p/live.m3u8",
    ]
    assert text.count('CODECS="avc1.42C01E,mp4a.40.2"') == 3 and "RESOLUTION=480x270" in text


def test_window_at_one_moment(media: DemoMedia) -> None:
    clock = Clock(EPOCH + 40 * TD + 0.9)  # 40 whole segments since the epoch: 0..39 exist
    response = client(media, clock, window_segments=6).get("/270p/live.m3u8")
    assert response.headers["content-type"] == "application/vnd.apple.mpegurl"
    window = parse(response.text)
    assert window.headers == {
        "EXT-X-VERSION": "3",
        "EXT-X-TARGETDURATION": str(TD),
        "EXT-X-MEDIA-SEQUENCE": "34",
    }
    assert [s.uri for s in window.segments] == [f"seg-{n}.ts" for n in range(34, 40)]
    assert all(s.extinf == f"{TD}.000," for s in window.segments)
    assert [s.pdt for s in window.segments] == [iso(EPOCH + n * TD) for n in range(34, 40)]


def test_window_slides_with_the_clock(media: DemoMedia) -> None:
    clock = Clock(EPOCH + 0.5)
    http = client(media, clock, window_segments=5)
    assert http.get("/360p/live.m3u8").status_code == 503  # nothing complete yet
    clock.now = EPOCH + TD
    seen: dict[int, str] = {}
    last_msn = -1
    for _ in range(150):
        clock.now += 0.7
        window = parse(http.get("/360p/live.m3u8").text)
        first = window.segments[0].msn
        assert first >= last_msn  # MEDIA-SEQUENCE never decreases
        last_msn = first
        edge = int((clock.now - EPOCH) // TD) - 1
        assert window.segments[-1].msn == edge and len(window.segments) == min(5, edge + 1)
        for segment in window.segments:
            assert seen.setdefault(segment.msn, segment.uri + segment.pdt) == segment.uri + segment.pdt
        assert http.get("/180p/live.m3u8").text == http.get("/360p/live.m3u8").text


def test_default_epoch_starts_with_a_full_window(media: DemoMedia) -> None:
    clock = Clock(EPOCH + 0.3)
    window = parse(TestClient(create_origin_app(media, clock=clock)).get("/360p/live.m3u8").text)
    assert len(window.segments) == 10 and window.segments[0].msn == 0


# --- segments ---------------------------------------------------------------------------------------------


def test_segments_are_the_loop_shifted_by_whole_loops(media: DemoMedia) -> None:
    loop = media.loop_segments
    http = client(media, Clock(EPOCH + (2 * loop + 5) * TD))
    first = http.get("/360p/seg-3.ts")
    assert first.headers["content-type"] == "video/mp2t"
    assert first.content == media.content_segment_path("360p", 3).read_bytes()
    later = http.get(f"/360p/seg-{2 * loop + 3}.ts").content
    assert later == tsshift.shift_timestamps(first.content, 2 * media.loop_duration * 90_000)
    seam_before = tsshift.first_video_pts(http.get(f"/180p/seg-{loop - 1}.ts").content)
    seam_after = tsshift.first_video_pts(http.get(f"/180p/seg-{loop}.ts").content)
    assert seam_before is not None and seam_after == seam_before + TD * 90_000  # continuous across the seam


def test_missing_segments_are_404(media: DemoMedia) -> None:
    http = client(media, Clock(EPOCH + 10 * TD + 0.1))  # segments 0..9 exist
    assert http.get("/360p/seg-9.ts").status_code == 200
    assert http.get("/360p/seg-10.ts").status_code == 404  # beyond the live edge
    assert http.get("/360p/seg--1.ts").status_code == 404
    assert http.get("/999p/seg-1.ts").status_code == 404
    assert http.get("/999p/live.m3u8").status_code == 404


# --- break schedule -------------------------------------------------------------------------------------


def test_schedule_rounds_to_whole_segments() -> None:
    assert BreakSchedule.from_seconds(6, 60, 30) == BreakSchedule(6, 10, 5)
    assert BreakSchedule.from_seconds(2, 7, 3) == BreakSchedule(2, 4, 2)  # half-up: 3.5 -> 4, 1.5 -> 2
    assert BreakSchedule.from_seconds(6, 10, 30) == BreakSchedule(6, 2, 1)  # one content segment between
    assert BreakSchedule.from_seconds(6, 1, 0.1) == BreakSchedule(6, 2, 1)


def test_breaks_between() -> None:
    assert breaks_between(0, 9, interval_segments=5, duration_segments=2) == [(5, 2)]
    assert breaks_between(6, 10, interval_segments=5, duration_segments=2) == [(5, 2), (10, 2)]
    assert breaks_between(7, 9, interval_segments=5, duration_segments=2) == []
    assert breaks_between(0, 4, interval_segments=5, duration_segments=2) == []  # no break at 0
    assert BreakSchedule(2, 30, 15).breaks_between(100, 200) == [(90, 15), (120, 15), (150, 15), (180, 15)]


# --- markers ----------------------------------------------------------------------------------------------

# interval 10 s = 5 segments, duration 4 s = 2 segments: break 2 covers msn 10-11, msn 12 is the return.
BREAK = {"ad_interval": 10.0, "ad_duration": 4.0, "window_segments": 8}
AT = EPOCH + 15 * TD + 0.5  # window 7..14: break 1's return (7), all of break 2 (10, 11, 12)


def tagged(media: DemoMedia, marker: str) -> dict[int, list[str]]:
    window = parse(client(media, Clock(AT), marker=marker, **BREAK).get("/360p/live.m3u8").text)
    assert [s.msn for s in window.segments] == list(range(7, 15))
    return {s.msn: s.tags for s in window.segments if s.tags}


def video_pts(media: DemoMedia, msn: int) -> int:
    content = client(media, Clock(AT), **BREAK).get(f"/360p/seg-{msn}.ts").content
    pts = tsshift.first_video_pts(content)
    assert pts is not None
    return pts


def cue(text: str) -> scte35.SpliceInfo:
    return scte35.decode(text)


def test_cue_out_dialects(media: DemoMedia) -> None:
    tags = tagged(media, "cue-out")
    out = tags[10][0]
    assert tags == {
        7: ["#EXT-X-CUE-IN"],
        10: ["#EXT-X-CUE-OUT:4.000"],
        11: [f"#EXT-X-CUE-OUT-CONT:ElapsedTime=2.000,Duration=4,SCTE35={tags[11][0].split('SCTE35=')[1]}"],
        12: ["#EXT-X-CUE-IN"],
    }
    assert out == "#EXT-X-CUE-OUT:4.000"
    info = cue(tags[11][0].split("SCTE35=")[1])
    assert scte35.break_signal(info) == ("out", 4.0, "0x2")
    assert isinstance(info.command, scte35.SpliceInsert) and info.command.pts_time == video_pts(media, 10)
    assert tagged(media, "cue-out-slash") == {
        7: ["#EXT-X-CUE-IN"],
        10: ["#EXT-X-CUE-OUT:4.000"],
        11: ["#EXT-X-CUE-OUT-CONT:2.000/4"],
        12: ["#EXT-X-CUE-IN"],
    }
    assert tagged(media, "cue-out-bare") == {7: ["#EXT-X-CUE-IN"], 10: ["#EXT-X-CUE-OUT"], 12: ["#EXT-X-CUE-IN"]}
    duration = tagged(media, "cue-out-duration")
    assert duration == {7: ["#EXT-X-CUE-IN"], 10: ["#EXT-X-CUE-OUT:DURATION=4"], 12: ["#EXT-X-CUE-IN"]}


def test_scte35_enhanced(media: DemoMedia) -> None:
    tags = tagged(media, "scte35-enhanced")
    oatcls, asset, cue_out = tags[10]
    payload = oatcls.removeprefix("#EXT-OATCLS-SCTE35:")
    assert base64.b64decode(payload) and asset == "#EXT-X-ASSET:CAID=0x0000000000000002"
    assert cue_out == "#EXT-X-CUE-OUT:4.000"
    assert tags[11] == [f"#EXT-X-CUE-OUT-CONT:ElapsedTime=2.000,Duration=4,SCTE35={payload}"]
    assert tags[12] == ["#EXT-X-CUE-IN"] and tags[7] == ["#EXT-X-CUE-IN"]
    assert scte35.break_signal(cue(payload)) == ("out", 4.0, "0x2")


def attributes(tag: str) -> dict[str, str]:
    body = tag.split(":", 1)[1]
    pairs = [part.split("=", 1) for part in body.split(",")]
    return {key: value.strip('"') for key, value in pairs}


def test_daterange(media: DemoMedia) -> None:
    tags = tagged(media, "daterange")
    assert sorted(tags) == [7, 10, 12]
    out, back = attributes(tags[10][0]), attributes(tags[12][0])
    assert out["ID"] == back["ID"] == "2" and out["START-DATE"] == back["START-DATE"] == iso(EPOCH + 10 * TD)
    assert out["PLANNED-DURATION"] == back["DURATION"] == "4.000" and back["END-DATE"] == iso(EPOCH + 12 * TD)
    assert out["SCTE35-OUT"].startswith("0xFC") and back["SCTE35-IN"].startswith("0xFC")
    assert scte35.break_signal(cue(out["SCTE35-OUT"])) == ("out", 4.0, "0x2")
    back_info = cue(back["SCTE35-IN"])
    assert scte35.break_signal(back_info) == ("in", None, "0x2")
    assert isinstance(back_info.command, scte35.SpliceInsert) and back_info.command.pts_time == video_pts(media, 12)
    assert attributes(tags[7][0])["END-DATE"] == iso(EPOCH + 7 * TD)  # break 1 closing, its start slid out


def test_splicepoint(media: DemoMedia) -> None:
    tags = tagged(media, "splicepoint")
    assert sorted(tags) == [7, 10, 12]
    start = cue(tags[10][0].removeprefix("#EXT-X-SPLICEPOINT-SCTE35:"))
    end = cue(tags[12][0].removeprefix("#EXT-X-SPLICEPOINT-SCTE35:"))
    assert [d.segmentation_type_id for d in start.segmentation] == [0x34]
    assert [d.segmentation_type_id for d in end.segmentation] == [0x35]
    assert scte35.break_signal(start) == ("out", 4.0, "0x2") and scte35.break_signal(end) == ("in", None, "0x2")
    assert isinstance(start.command, scte35.TimeSignal) and start.command.pts_time == video_pts(media, 10)


def test_ext_x_scte35(media: DemoMedia) -> None:
    tags = tagged(media, "scte35")
    out, cont, back = attributes(tags[10][0]), attributes(tags[11][0]), attributes(tags[12][0])
    assert (out["TYPE"], out["CUE-OUT"], out["DURATION"], out["ID"]) == ("0x34", "YES", "4.000", "2")
    assert (cont["CUE-OUT"], cont["ELAPSED"], cont["CUE"]) == ("CONT", "2.000", out["CUE"])
    assert (back["TYPE"], back["CUE-IN"], back["ID"]) == ("0x35", "YES", "2")
    assert scte35.break_signal(cue(back["CUE"])) == ("in", None, "0x2")
    assert tags[7][0].startswith("#EXT-X-SCTE35:TYPE=0x35,CUE-IN=YES")


def test_adobe(media: DemoMedia) -> None:
    tags = tagged(media, "adobe")
    assert list(tags) == [10]  # start only
    fields = attributes(tags[10][0])
    assert fields == {"TYPE": "SpliceOut", "ID": "2", "DURATION": "4.000", "TIME": fields["TIME"]}
    assert round(float(fields["TIME"]) * 90_000) == video_pts(media, 10)


def test_every_dialect_marks_only_break_segments(media: DemoMedia) -> None:
    assert len(MARKER_DIALECTS) == 9
    for dialect in MARKER_DIALECTS:
        assert set(tagged(media, dialect)) <= {7, 10, 11, 12}, dialect


def test_rejects_bad_options(media: DemoMedia) -> None:
    with pytest.raises(ValueError, match="marker='nope'"):
        create_origin_app(media, marker="nope")
    with pytest.raises(ValueError, match="window_segments=0"):
        create_origin_app(media, window_segments=0)
