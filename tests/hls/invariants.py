"""The invariants every playlist served to a session must hold (RFC 8216bis §6.2.1-§6.2.4), checked on outputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from proxy.hls.fill import Fill
from tests.hls.independent import parse_independently


@dataclass(frozen=True)
class Seen:
    identity: str  # what the segment is, the same in every track
    uri: str
    extinf: float
    dsn: int


def identity(uri: str) -> str:
    if "origin.test" in uri:
        return "content:" + uri.rsplit("/", 1)[1].removesuffix(".ts")
    key, _track, index = uri.removeprefix("https://ads.test/").split("/")
    return f"ad:{key}:{index.removesuffix('.ts')}"


def _source(ident: str) -> tuple[str, int]:
    kind, *rest = ident.split(":")
    if kind == "content":
        return "content", int(rest[0][1:])
    return rest[0], int(rest[1])


def _needs_discontinuity(before: str, after: str) -> bool:
    (a_key, a_i), (b_key, b_i) = _source(before), _source(after)
    if a_key != b_key:
        return True
    return a_key != "content" and b_i != a_i + 1


def check_track(
    bodies: Sequence[bytes],
    td: int,
    fills: Sequence[Fill],
    origin_edges: Sequence[int],
    identify: Callable[[str], str] = identity,
) -> dict[int, Seen]:
    """`origin_edges[i]` is the origin's last msn when body i was rendered (or a large number when unknown)."""
    numbered: dict[int, Seen] = {}
    previous, previous_edge = None, None
    for body, edge in zip(bodies, origin_edges, strict=True):
        playlist = parse_independently(body)  # m3u8 must read the same timeline
        assert playlist.target_duration == td, "§4.5 TARGETDURATION changed"
        dsn = playlist.discontinuity_sequence
        segments = playlist.segments
        assert segments, "an empty playlist was served"
        for index, segment in enumerate(segments):
            dsn += segment.discontinuity
            assert round(segment.duration) <= td, f"§4.5 EXTINF {segment.duration} > TARGETDURATION {td}"
            seen = Seen(identify(segment.uri), segment.uri, segment.duration, dsn)
            assert numbered.setdefault(segment.msn, seen) == seen, (
                f"§4.2/§4.3 msn {segment.msn} changed: {numbered[segment.msn]} -> {seen}"
            )
            if index:
                if _needs_discontinuity(identify(segments[index - 1].uri), seen.identity):
                    assert segment.discontinuity, f"§4.6 no DISCONTINUITY at msn {segment.msn} ({seen.identity})"
            _check_content_outside_breaks(seen.identity, fills)
            if seen.identity.startswith("content"):
                assert int(seen.identity[9:]) <= edge, "§4.8 ran ahead of the origin"
        if previous is not None:
            assert playlist.media_sequence >= previous.media_sequence, "§4.1 MEDIA-SEQUENCE decreased"
            if previous_edge is not None and edge - previous_edge <= 2:
                assert playlist.media_sequence <= previous.last_msn + 1, "§4.1 segments vanished from the middle"
        if previous is not None and playlist.media_sequence <= previous.last_msn + 1:
            dropped = [s for s in previous.segments if s.msn < playlist.media_sequence]
            expected = previous.discontinuity_sequence + sum(s.discontinuity for s in dropped)
            assert playlist.discontinuity_sequence == expected, (
                f"§4.3 DSEQ {playlist.discontinuity_sequence} != {expected} (edge {edge}, {playlist.media_sequence})"
            )
        previous, previous_edge = playlist, edge
    return numbered


def _check_content_outside_breaks(ident: str, fills: Sequence[Fill]) -> None:
    if not ident.startswith("content"):
        return
    msn = int(ident[9:])
    for fill in fills:
        end = fill.end_msn()
        if fill.brk.start_msn <= msn and (end is None or msn < end):
            raise AssertionError(f"§4.7 content msn {msn} inside the filled break at {fill.brk.start_msn}")


def check_tracks_agree(per_track: dict[str, dict[int, Seen]]) -> None:
    tracks = list(per_track)
    for track in tracks[1:]:
        for msn, seen in per_track[track].items():
            other = per_track[tracks[0]].get(msn)
            if other is not None:
                assert (other.identity, other.dsn) == (seen.identity, seen.dsn), f"§4.4 msn {msn}: {other} vs {seen}"
