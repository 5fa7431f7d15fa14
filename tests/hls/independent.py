"""A second opinion on every stitched playlist: the `m3u8` package (globocom/m3u8), a parser written by
other people, must read what the proxy serves the way the proxy's own parser does.

A player is not our parser: a playlist only our parser accepts would pass every invariant and still play
wrong. The fields compared are the ones a player's timeline is built from (RFC 8216bis §4.4.3.2
MEDIA-SEQUENCE, §4.4.3.3 DISCONTINUITY-SEQUENCE, §4.4.4.1 EXTINF, §4.4.2.3 DISCONTINUITY).
"""

from __future__ import annotations

import m3u8

from proxy.hls.playlist import MediaPlaylist, parse_media


def parse_independently(body: bytes) -> MediaPlaylist:
    """Our parse of `body`, after asserting that m3u8 reads the same timeline from it."""
    ours = parse_media(body)
    theirs = m3u8.loads(body.decode("utf-8"))
    assert not theirs.is_variant, "m3u8 read a media playlist as a master"
    assert len(theirs.segments) == len(ours.segments), (
        f"m3u8 counts {len(theirs.segments)} segments, the proxy's parser {len(ours.segments)}"
    )
    assert (theirs.media_sequence or 0) == ours.media_sequence, f"MEDIA-SEQUENCE {theirs.media_sequence}"
    assert (theirs.discontinuity_sequence or 0) == ours.discontinuity_sequence, (
        f"DISCONTINUITY-SEQUENCE {theirs.discontinuity_sequence}"
    )
    assert [s.duration for s in theirs.segments] == [s.duration for s in ours.segments], "EXTINF durations"
    assert [s.discontinuity for s in theirs.segments] == [s.discontinuity for s in ours.segments], "DISCONTINUITY"
    assert [s.uri for s in theirs.segments] == [s.uri for s in ours.segments], "segment URIs"
    assert theirs.target_duration == ours.target_duration and theirs.is_endlist == ours.endlist
    return ours
