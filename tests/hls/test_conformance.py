"""proxy.hls.conformance: an ad rendition's declared attributes against the channel variant it is paired with."""

from __future__ import annotations

import pytest

from proxy.hls.conformance import mismatch
from proxy.hls.master import Track, parse_master
from proxy.hls.playlist import parse_media
from proxy.hls.profile import TranscodeProfile, derive_profile

CHANNEL = """#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",CHANNELS="2",URI="a.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,FRAME-RATE=25.000,CODECS="avc1.64001F,mp4a.40.2",AUDIO="aud"
v0.m3u8
"""


def profile() -> TranscodeProfile:
    master = parse_master(CHANNEL.encode(), "http://origin.test/m.m3u8", "/s")
    media = parse_media(b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n")
    return derive_profile(master, {track.name: media for track in master.tracks})


def variant(attributes: str) -> Track:
    return Track("v0", "ad/v0.m3u8", 3_000_000, f"#EXT-X-STREAM-INF:BANDWIDTH=3000000,{attributes}")


@pytest.mark.parametrize(
    "attributes",
    [
        'RESOLUTION=1280x720,FRAME-RATE=25.000,CODECS="avc1.64001F,mp4a.40.2"',
        'RESOLUTION=1280x720,CODECS="avc1.64001E"',  # a lower level: decodable wherever the channel is
        "",  # nothing declared: no evidence of a mismatch
    ],
)
def test_declared_attributes_like_the_channel_fit(attributes: str) -> None:
    assert mismatch(profile(), {"v0": variant(attributes)}) is None


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ("RESOLUTION=640x360", "RESOLUTION 640x360, expected 1280x720"),
        ('CODECS="avc1.42C01E,mp4a.40.2"', "video codec avc1.42C01E, expected high at level 3.1 at most"),
        ('CODECS="avc1.640028"', "video codec avc1.640028, expected high at level 3.1 at most"),
        ('CODECS="hvc1.1.6.L93.B0"', "video codec hvc1.1.6.L93.B0, expected high"),
        ('CODECS="avc1.64001F,mp4a.40.5"', "audio codec mp4a.40.5, expected mp4a.40.2"),
        ("FRAME-RATE=29.970", "FRAME-RATE 29.970, expected 25.000"),
    ],
)
def test_a_declared_attribute_unlike_the_channel_is_named(attributes: str, expected: str) -> None:
    found = mismatch(profile(), {"v0": variant(attributes)})
    assert found is not None and found.startswith("ad rendition ad/v0.m3u8 for v0: ") and expected in found


def test_audio_renditions_are_compared_by_their_channel_count() -> None:
    six = Track("a0", "ad/a.m3u8", 0, '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="x",NAME="en",CHANNELS="6",URI="a.m3u8"')
    two = Track("a0", "ad/a.m3u8", 0, '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="x",NAME="en",CHANNELS="2",URI="a.m3u8"')
    assert mismatch(profile(), {"a0": six}) == "ad rendition ad/a.m3u8 for a0: CHANNELS 6, expected 2"
    assert mismatch(profile(), {"a0": two}) is None
