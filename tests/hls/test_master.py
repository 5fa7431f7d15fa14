"""`parse_master`: tracks named by position, I-frame and subtitle playlists dropped, URIs rewritten per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.errors import PlaylistParseError
from proxy.hls.master import SESSION_SLOT, MasterPlaylist, parse_master
from tests.conftest import sample

DATA = Path(__file__).parents[1] / "data" / "master"
URL = "https://origin.example.com/live/master.m3u8"
PATH = f"/v1/ssai/media/chan/{SESSION_SLOT}"


def demuxed() -> MasterPlaylist:
    return parse_master((DATA / "demuxed_master.m3u8").read_bytes(), URL, PATH)


def test_demuxed_tracks_in_origin_order() -> None:
    master = demuxed()
    assert [(t.name, t.uri, t.bandwidth) for t in master.tracks] == [
        ("a0", "audio/en/index.m3u8", 0),
        ("a1", "audio/fr/index.m3u8", 0),
        ("v0", "video/1080p/index.m3u8", 5400000),
        ("v1", "https://cdn.example.com/live/video/720p/index.m3u8?token=abc", 2800000),
        ("v2", "video/360p/index.m3u8", 1100000),  # BANDWIDTH, not AVERAGE-BANDWIDTH written before it
    ]
    assert [t.name for t in master.variants] == ["v0", "v1", "v2"]
    assert "RESOLUTION=1920x1080" in master.tracks[2].attributes and 'LANGUAGE="fr"' in master.tracks[1].attributes


def test_demuxed_render() -> None:
    text = demuxed().render("s1").decode()
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U" and text.endswith("\n")
    assert "#EXT-X-VERSION:6" in lines and "#EXT-X-INDEPENDENT-SEGMENTS" in lines
    uris = [line for line in lines if line and not line.startswith("#")]
    assert uris == [f"/v1/ssai/media/chan/s1/v{i}.m3u8" for i in range(3)]
    audio = [line for line in lines if line.startswith("#EXT-X-MEDIA:TYPE=AUDIO")]
    assert [line.rsplit("URI=", 1)[1] for line in audio] == [
        '"/v1/ssai/media/chan/s1/a0.m3u8"',
        '"/v1/ssai/media/chan/s1/a1.m3u8"',
    ]
    assert 'NAME="Français"' in audio[1]  # UTF-8 passes through
    # Dropped: I-frame playlists, the SUBTITLES rendition and the variants' reference to it.
    assert "I-FRAME" not in text and "TYPE=SUBTITLES" not in text and "SUBTITLES=" not in text
    assert "iframes" not in text and "subs/en" not in text
    # Kept: closed captions (in the video, no URI of their own) and the variants' reference to them.
    assert 'TYPE=CLOSED-CAPTIONS,GROUP-ID="cc"' in text
    stream_infs = [line for line in lines if line.startswith("#EXT-X-STREAM-INF:")]
    assert len(stream_infs) == 3
    assert all(line.endswith('AUDIO="aud",CLOSED-CAPTIONS="cc"') for line in stream_infs)
    # No origin URI is left in the output.
    assert "index.m3u8" not in text and "cdn.example.com" not in text


def test_render_puts_each_session_in_its_own_uris() -> None:
    master = demuxed()
    assert SESSION_SLOT in master.template
    one, two = master.render("aaa").decode(), master.render("bbb").decode()
    assert SESSION_SLOT not in one
    assert one.replace("/aaa/", "/bbb/") == two
    assert one.count("/aaa/") == 5  # 3 variants + 2 audio renditions


DIALECTS = Path(__file__).parents[1] / "data" / "dialects"  # the project's vendor-dialect playlists


def test_own_mediatailor_style_origin_master() -> None:
    body = (DIALECTS / "own_mediatailor_origin_master.m3u8").read_bytes()
    master = parse_master(body, "https://origin.example.com/out/v1/index.m3u8", PATH)
    assert [(t.name, t.uri, t.bandwidth) for t in master.tracks] == [
        ("v0", "live_720.m3u8", 3100000),
        ("v1", "live_480.m3u8", 1600000),
        ("v2", "live_360.m3u8", 700000),
    ]
    assert master.render("0123abcd").decode().splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-STREAM-INF:BANDWIDTH=3100000,AVERAGE-BANDWIDTH=2900000,RESOLUTION=1280x720,FRAME-RATE=25.000,"
        'CODECS="avc1.64001f,mp4a.40.2"',
        "/v1/ssai/media/chan/0123abcd/v0.m3u8",
        "#EXT-X-STREAM-INF:BANDWIDTH=1600000,AVERAGE-BANDWIDTH=1500000,RESOLUTION=854x480,FRAME-RATE=25.000,"
        'CODECS="avc1.4d401e,mp4a.40.2"',
        "/v1/ssai/media/chan/0123abcd/v1.m3u8",
        "#EXT-X-STREAM-INF:BANDWIDTH=700000,AVERAGE-BANDWIDTH=650000,RESOLUTION=640x360,FRAME-RATE=25.000,"
        'CODECS="avc1.42c01e,mp4a.40.2"',
        "/v1/ssai/media/chan/0123abcd/v2.m3u8",
    ]


def test_own_personalized_master_subtitles_first_middle_and_last() -> None:
    master = parse_master((DIALECTS / "own_mediatailor_personalized_master.m3u8").read_bytes(), URL, PATH)
    assert [(t.name, t.bandwidth) for t in master.tracks] == [("v0", 3100000), ("v1", 1600000), ("v2", 700000)]
    text = master.render("x").decode()
    assert "SUBTITLES" not in text and ",," not in text and ":," not in text and not text.count(",\n")
    assert '#EXT-X-STREAM-INF:CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,BANDWIDTH=3100000' in text


def test_mediatailor_origin_master() -> None:
    body = sample("real", "hls", "mediatailor_origin_master.m3u8").read_bytes()
    master = parse_master(body, "https://origin.example.com/out/v1/index.m3u8", PATH)
    assert [(t.name, t.uri, t.bandwidth) for t in master.tracks] == [
        ("v0", "index_1.m3u8", 2665726),
        ("v1", "index_2.m3u8", 3956044),
        ("v2", "index_3.m3u8", 995315),
    ]
    text = master.render("0123abcd").decode()
    assert text.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-STREAM-INF:BANDWIDTH=2665726,AVERAGE-BANDWIDTH=2526299,RESOLUTION=960x540,FRAME-RATE=29.970,"
        'CODECS="avc1.640029,mp4a.40.2"',
        "/v1/ssai/media/chan/0123abcd/v0.m3u8",
        "#EXT-X-STREAM-INF:BANDWIDTH=3956044,AVERAGE-BANDWIDTH=3736264,RESOLUTION=1280x720,FRAME-RATE=29.970,"
        'CODECS="avc1.640029,mp4a.40.2"',
        "/v1/ssai/media/chan/0123abcd/v1.m3u8",
        "#EXT-X-STREAM-INF:BANDWIDTH=995315,AVERAGE-BANDWIDTH=951107,RESOLUTION=640x360,FRAME-RATE=29.970,"
        'CODECS="avc1.4D401E,mp4a.40.2"',
        "/v1/ssai/media/chan/0123abcd/v2.m3u8",
    ]


def test_mediatailor_personalized_master_subtitles_first_in_the_media_tag() -> None:
    body = sample("real", "hls", "mediatailor_personalized_master.m3u8").read_bytes()
    master = parse_master(body, URL, PATH)
    assert [t.name for t in master.tracks] == ["v0", "v1", "v2"]
    text = master.render("x").decode()
    assert "SUBTITLES" not in text and ",," not in text and ":," not in text


@pytest.mark.parametrize(
    ("stream_inf", "expected"),
    [
        ('SUBTITLES="s",BANDWIDTH=1', "BANDWIDTH=1"),
        ('BANDWIDTH=1,SUBTITLES="s",AUDIO="a"', 'BANDWIDTH=1,AUDIO="a"'),
        ('BANDWIDTH=1, SUBTITLES="s"', "BANDWIDTH=1"),
        ('BANDWIDTH=1,X-SUBTITLES="keep"', 'BANDWIDTH=1,X-SUBTITLES="keep"'),
    ],
)
def test_subtitles_attribute_removed_leaving_a_valid_attribute_list(stream_inf: str, expected: str) -> None:
    body = f"#EXTM3U\n#EXT-X-STREAM-INF:{stream_inf}\nv.m3u8\n".encode()
    master = parse_master(body, URL, PATH)
    assert master.render("s").decode().splitlines()[1] == f"#EXT-X-STREAM-INF:{expected}"
    assert master.tracks[0].bandwidth == 1


def test_audio_rendition_without_uri_is_muxed_and_kept_untouched() -> None:
    line = '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="main",DEFAULT=YES'
    body = f'#EXTM3U\n{line}\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO="aud"\nv.m3u8\n'.encode()
    master = parse_master(body, URL, PATH)
    assert [t.name for t in master.tracks] == ["v0"]
    assert line in master.render("s").decode().splitlines()


@pytest.mark.parametrize(
    ("body", "where", "expected"),
    [
        (b"", "line 1: ''", "#EXTM3U as the first line"),
        (b"not a playlist\n", "line 1: 'not a playlist'", "#EXTM3U"),
        (b"#EXTM3U\n#EXT-X-VERSION:3\n\nv0.m3u8\n", "line 4: 'v0.m3u8'", "#EXT-X-STREAM-INF before a variant URI"),
        (b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n", "line 4: 'a.ts'", "#EXT-X-STREAM-INF"),
        (b"#EXTM3U\n#EXT-X-VERSION:3\n", "line 0", "at least one #EXT-X-STREAM-INF variant"),
    ],
)
def test_errors_name_the_line_and_the_expectation(body: bytes, where: str, expected: str) -> None:
    with pytest.raises(PlaylistParseError) as caught:
        parse_master(body, URL, PATH)
    line, _, excerpt = where.partition(": ")
    assert caught.value.message.startswith(f"{URL} {line}: expected")
    assert not excerpt or repr(caught.value.excerpt) == excerpt  # for the log, never in the message
    assert f"expected {expected}" in caught.value.message


def test_session_data_uris_become_absolute_and_video_renditions_are_dropped() -> None:
    body = (
        b"#EXTM3U\n"
        b'#EXT-X-SESSION-DATA:DATA-ID="com.example.lyrics",URI="lyrics.json"\n'
        b'#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID="cam",NAME="angle 2",URI="angle2/index.m3u8"\n'
        b'#EXT-X-STREAM-INF:BANDWIDTH=800000,VIDEO="cam"\n'
        b"v/index.m3u8\n"
    )
    master = parse_master(body, "https://origin.example/live/master.m3u8", "/s/{session}")
    text = master.render("abc").decode()
    assert 'URI="https://origin.example/live/lyrics.json"' in text
    assert "angle2" not in text
    assert [t.name for t in master.tracks] == ["v0"]
