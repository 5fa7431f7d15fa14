"""`parse_media`: what the stitcher reads from an origin media playlist, on hand-written and real playlists."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from proxy.errors import PlaylistParseError
from proxy.hls.playlist import MediaPlaylist, parse_media
from tests.conftest import SHARED, sample, sample_dir

URL = "https://origin.example.com/live/v0.m3u8"


def parse(text: str) -> MediaPlaylist:
    return parse_media(text.encode(), URL)


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


LIVE = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:100
#EXT-X-DISCONTINUITY-SEQUENCE:7
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T10:00:00.000Z
#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example.com/1"
#EXT-X-MAP:URI="init-1.mp4"
#EXTINF:6.000,
a100.m4s
#EXT-OATCLS-SCTE35:/DAlAAAAAsvhAP/wFAXwAAAGf+/+AdLfiP4AG3dAAAEBAQAAXytxmQ==
#EXT-X-CUE-OUT:12.000
#EXTINF:5.5
a101.m4s
#EXT-X-DISCONTINUITY
#EXT-X-KEY:METHOD=NONE
#EXT-X-MAP:URI="ad-init.mp4"
#EXTINF:6.000,Ad title, with a comma
ad/0.m4s
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T10:01:00Z
#EXTINF:4,
ad/1.m4s
#EXT-X-CUE-IN
"""


def test_header_numbers_and_segments() -> None:
    playlist = parse(LIVE)
    assert playlist.header == ("#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS")
    assert (playlist.version, playlist.target_duration) == (6, 6)
    assert (playlist.media_sequence, playlist.discontinuity_sequence, playlist.last_msn) == (100, 7, 103)
    assert [(s.msn, s.duration, s.uri) for s in playlist.segments] == [
        (100, 6.0, "a100.m4s"),
        (101, 5.5, "a101.m4s"),
        (102, 6.0, "ad/0.m4s"),
        (103, 4.0, "ad/1.m4s"),
    ]
    assert playlist.trailer == ("#EXT-X-CUE-IN",)
    assert playlist.endlist is False


def test_segment_tags_stay_with_their_segment_in_order() -> None:
    segments = parse(LIVE).segments
    assert segments[0].lines == (
        "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T10:00:00.000Z",
        '#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example.com/1"',
        '#EXT-X-MAP:URI="init-1.mp4"',
        "#EXTINF:6.000,",
    )
    assert segments[1].lines[:2] == ("#EXT-OATCLS-SCTE35:/DAlAAAAAsvhAP/wFAXwAAAGf+/+AdLfiP4AG3dAAAEBAQAAXytxmQ==",) + (
        "#EXT-X-CUE-OUT:12.000",
    )
    assert segments[2].lines[-1] == "#EXTINF:6.000,Ad title, with a comma"


def test_extinf_without_comma_and_with_titles() -> None:
    text = "#EXTM3U\n#EXT-X-TARGETDURATION:7\n#EXTINF:5.76\na.ts\n#EXTINF:6, no desc\nb.ts\n#EXTINF:6.5,t,i,t\nc.ts\n"
    assert [s.duration for s in parse(text).segments] == [5.76, 6.0, 6.5]


def test_discontinuity_key_and_map_in_effect_per_segment() -> None:
    segments = parse(LIVE).segments
    assert [s.discontinuity for s in segments] == [False, False, True, False]
    key = '#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example.com/1"'
    assert [s.key_line for s in segments] == [key, key, "#EXT-X-KEY:METHOD=NONE", "#EXT-X-KEY:METHOD=NONE"]
    assert [s.map_line for s in segments] == ['#EXT-X-MAP:URI="init-1.mp4"'] * 2 + ['#EXT-X-MAP:URI="ad-init.mp4"'] * 2


def test_program_date_time_carried_forward_until_the_next_one() -> None:
    start = epoch("2024-05-01T10:00:00+00:00")
    assert [s.pdt for s in parse(LIVE).segments] == [start, start + 6, start + 11.5, start + 60]


def test_no_pdt_means_none() -> None:
    playlist = parse("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n")
    assert playlist.segments[0].pdt is None and playlist.segments[0].key_line is None


def test_low_latency_tags_are_dropped() -> None:
    text = """#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0,CAN-SKIP-UNTIL=24
#EXT-X-PART-INF:PART-TARGET=0.333
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-SKIP:SKIPPED-SEGMENTS=3
#EXT-X-PART:DURATION=0.333,URI="p10.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.333,URI="p10.1.m4s"
#EXTINF:4.0,
s10.m4s
#EXT-X-PART:DURATION=0.333,URI="p11.0.m4s"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p11.1.m4s"
#EXT-X-RENDITION-REPORT:URI="../a0.m3u8",LAST-MSN=11,LAST-PART=0
"""
    playlist = parse(text)
    assert [(s.msn, s.uri, s.lines) for s in playlist.segments] == [(10, "s10.m4s", ("#EXTINF:4.0,",))]
    assert playlist.header == () and playlist.trailer == ()


def test_dangling_extinf_is_dropped_and_its_other_tags_kept_in_the_trailer() -> None:
    playlist = parse("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n#EXT-X-CUE-IN\n#EXTINF:6, no desc\n")
    assert [s.uri for s in playlist.segments] == ["a.ts"]
    assert playlist.trailer == ("#EXT-X-CUE-IN",)


def test_endlist() -> None:
    playlist = parse("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n#EXT-X-ENDLIST\n")
    assert playlist.endlist is True
    assert playlist.trailer == ()
    assert playlist.header == ("#EXT-X-PLAYLIST-TYPE:VOD",)


def test_crlf_bom_blank_lines_and_trailing_spaces() -> None:
    plain = parse(LIVE)
    messy = "\ufeff" + LIVE.replace("\n", "  \r\n").replace("#EXTINF:4,", "\r\n\r\n#EXTINF:4,")
    assert parse_media(messy.encode("utf-8"), URL) == plain


def test_header_tag_after_a_segment_is_a_segment_tag() -> None:
    playlist = parse(
        "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXTINF:6,\nb.ts\n"
    )
    assert playlist.header == ()
    assert playlist.segments[1].lines == ("#EXT-X-INDEPENDENT-SEGMENTS", "#EXTINF:6,")


# -- errors: PlaylistParseError names the line and what was expected; the line's text is kept out of the
# message (it reaches players) in `excerpt`, for the log ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where", "expected"),
    [
        ("", "line 1: ''", "expected #EXTM3U as the first line"),
        ("<html>oops</html>\n", "line 1: '<html>oops</html>'", "expected #EXTM3U"),
        ("#EXTM3U\n#EXTINF:6,\na.ts\n", "line 0", "expected an #EXT-X-TARGETDURATION tag"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:6\na.ts\n", "line 3: 'a.ts'", "expected #EXTINF before the segment URI"),
        ("#EXTM3U\n\n#EXT-X-TARGETDURATION:6\n\nb.ts\n", "line 5: 'b.ts'", "expected #EXTINF"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:six\n", "line 2: '#EXT-X-TARGETDURATION:six'", "a decimal integer"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:-\n", "line 3", "a decimal integer"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:abc,\na.ts\n", "line 3: '#EXTINF:abc,'", "in seconds"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:-1,\na.ts\n", "line 3", "a non-negative finite duration"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:inf,\na.ts\n", "line 3", "a non-negative finite duration"),
        (
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv0.m3u8\n",
            "line 3: '#EXT-X-STREAM-INF:BANDWIDTH=1'",
            "expected a media playlist, not a master playlist",
        ),
    ],
)
def test_errors_name_the_line_and_the_expectation(text: str, where: str, expected: str) -> None:
    with pytest.raises(PlaylistParseError) as caught:
        parse(text)
    message = caught.value.message
    line, _, excerpt = where.partition(": ")
    assert message.startswith(f"{URL} {line}: expected")
    assert not excerpt or repr(caught.value.excerpt) == excerpt
    assert not caught.value.excerpt or caught.value.excerpt not in message
    assert expected in message
    assert caught.value.status_code == 502


# -- every real playlist of ../shared ------------------------------------------------------------------------

NO_TARGET_DURATION = "m3u8lib_daterange_scte35_out_in_rfc8216_adapted.m3u8"  # the RFC 8216 §8.10 excerpt


def test_every_real_playlist_parses() -> None:
    wider = SHARED / "testdata" / "real" / "hls"  # more playlists than the project's copy, when present
    folder = wider if wider.is_dir() else sample_dir("real", "hls")
    files = sorted(folder.glob("*.m3u8")) + sorted((folder / "kuu_mediapackage_windows").glob("*.m3u8"))
    media = [p for p in files if b"#EXT-X-STREAM-INF" not in p.read_bytes()]
    assert len(media) >= 40
    for path in media:
        if path.name == NO_TARGET_DURATION:
            with pytest.raises(PlaylistParseError, match="EXT-X-TARGETDURATION"):
                parse_media(path.read_bytes(), path.name)
            continue
        playlist = parse_media(path.read_bytes(), path.name)
        assert playlist.segments, path.name
        assert [s.msn for s in playlist.segments] == list(range(playlist.media_sequence, playlist.last_msn + 1))
        assert all(s.uri and not s.uri.startswith("#") for s in playlist.segments), path.name


@pytest.mark.parametrize(
    ("name", "count", "first_msn", "discontinuities", "endlist"),
    [
        ("grafov_usp_live_bare_cue_out_and_cue_out_180.m3u8", 62, 275163116, 0, False),  # + a dangling EXTINF
        ("hlsjs_live_stitched_fmp4_discontinuities_pdt_cue_in.m3u8", 22, 1638262, 4, False),
        ("mediatailor_origin_media_live_scte35_enhanced.m3u8", 12, 8779957, 0, False),
        ("mediatailor_personalized_media_live_stitched.m3u8", 14, 8779957, 2, False),
        ("eyevinn_vodtolive_cmaf_usp_preroll_pod_discontinuities.m3u8", 36, 1, 6, True),
        ("mediaconvert_scte35_enhanced_vod.m3u8", 24, 1, 0, True),
        ("m3u8lib_cue_out_cont_slash_form_live.m3u8", 4, 19980226, 0, False),
        ("kuu_mediapackage_windows/daterange_E.m3u8", 3, 103121, 0, False),
        ("kuu_mediapackage_windows/scte35_enhanced_F1.m3u8", 18, 3663393, 0, False),
    ],
)
def test_real_playlist_counts(name: str, count: int, first_msn: int, discontinuities: int, endlist: bool) -> None:
    check_counts(
        parse_media(sample("real", "hls", name).read_bytes(), name), count, first_msn, discontinuities, endlist
    )


def check_counts(playlist: MediaPlaylist, count: int, first_msn: int, discontinuities: int, endlist: bool) -> None:
    assert len(playlist.segments) == count
    assert playlist.media_sequence == playlist.segments[0].msn == first_msn
    assert sum(s.discontinuity for s in playlist.segments) == discontinuities
    assert playlist.endlist is endlist


DIALECTS = Path(__file__).parents[1] / "data" / "dialects"  # the project's vendor-dialect playlists


@pytest.mark.parametrize(
    ("name", "count", "first_msn", "discontinuities", "endlist"),
    [
        ("own_mediatailor_origin_live_scte35_enhanced.m3u8", 9, 4200100, 0, False),
        ("own_mediatailor_personalized_live_stitched.m3u8", 10, 4200100, 2, False),
        ("own_mediaconvert_scte35_enhanced_vod.m3u8", 12, 1, 0, True),
        ("own_mediaconvert_elemental_style_vod.m3u8", 12, 1, 0, True),
        ("own_scte35_2022_ext_x_scte35_live.m3u8", 7, 900, 0, False),
    ],
)
def test_own_dialect_playlist_counts(
    name: str, count: int, first_msn: int, discontinuities: int, endlist: bool
) -> None:
    check_counts(parse_media((DIALECTS / name).read_bytes(), name), count, first_msn, discontinuities, endlist)


def test_real_stitched_fmp4_window() -> None:
    name = "hlsjs_live_stitched_fmp4_discontinuities_pdt_cue_in.m3u8"
    playlist = parse_media(sample("real", "hls", name).read_bytes(), name)
    assert playlist.discontinuity_sequence == 28141
    first = playlist.segments[0]
    assert (first.uri, first.key_line, first.map_line) == (
        "3.mp4",
        "#EXT-X-KEY:METHOD=NONE",
        '#EXT-X-MAP:URI="init.mp4"',
    )
    assert first.pdt == epoch("2021-11-10T03:25:49.015+00:00")  # a PDT after the EXTINF still belongs to it
    assert playlist.segments[1].pdt == pytest.approx(first.pdt + 5.005)


# -- property: a playlist written from segments parses back to them ----------------------------------------

segment = st.tuples(
    st.integers(min_value=0, max_value=12_000),  # milliseconds
    st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_./=?&-]{0,30}", fullmatch=True),
    st.booleans(),  # discontinuity before it
    st.sampled_from(["", " no desc", "title, with comma"]),
)


@given(
    st.lists(segment, min_size=1, max_size=20),
    st.integers(min_value=0, max_value=2**40),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_written_playlist_parses_back(
    segments: list[tuple[int, str, bool, str]], first: int, newline: str, comma: bool
) -> None:
    target = max(1, round(max(ms for ms, *_ in segments) / 1000))
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    for ms, uri, discontinuity, title in segments:
        lines += ["#EXT-X-DISCONTINUITY"] if discontinuity else []
        lines += [f"#EXTINF:{ms / 1000:.3f}" + ("," + title if comma or title else ""), uri]
    playlist = parse_media(newline.join(lines).encode(), URL)
    assert [(s.msn, s.duration, s.uri, s.discontinuity) for s in playlist.segments] == [
        (first + i, round(ms / 1000, 3), uri, discontinuity) for i, (ms, uri, discontinuity, _) in enumerate(segments)
    ]
    assert playlist.target_duration == target and playlist.header == ("#EXT-X-VERSION:3",)
