"""Golden tests: real origin playlists (../shared/testdata/real/hls) stitched with a fixed pod.

Each output is compared byte for byte with tests/data/golden/NAME.m3u8 (`UPDATE_GOLDEN=1 pytest …` rewrites
them; review the diff). Structural checks run beside the bytes: numbering, discontinuities and every
content segment outside the breaks passed through unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proxy.hls.breaks import BreakTracker
from proxy.hls.fill import Fill, FillPlan
from proxy.hls.playlist import parse_media
from proxy.hls.render import Window, render
from tests.conftest import sample
from tests.hls.simulation import creative

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
# Live windows and VOD playlists with at least one break this proxy fills.
PLAYLISTS = [
    "m3u8lib_elemental_scte35_enhanced_live.m3u8",
    "m3u8lib_cue_out_cont_slash_form_live.m3u8",
    "m3u8lib_envivio_cue_out_cue_span_live.m3u8",
    "mediatailor_origin_media_live_scte35_enhanced.m3u8",
    "mediaconvert_scte35_enhanced_vod.m3u8",
    "mediaconvert_elemental_style_vod.m3u8",
    "kuu_mediapackage_live_daterange_readme.m3u8",
    "kuu_mediapackage_live_scte35_enhanced_readme.m3u8",
    "hlsjs_live_cue_out_duration_breakid.m3u8",
    "grafov_usp_live_bare_cue_out_and_cue_out_180.m3u8",
    "scte35_2022b_sec12_2_4_ext_x_scte35_example.m3u8",
]


def stitch(body: bytes, url: str) -> tuple[bytes, list[Fill]]:
    playlist = parse_media(body, url)
    td = playlist.target_duration
    seg = float(min(td, 5))
    plan = FillPlan("golden", (creative("golden-ad", [seg, seg], ("v0",)),), creative("slate", [seg], ("v0",)))
    tracker = BreakTracker()
    tracker.feed(playlist)
    fills = [Fill(brk, plan) for brk in tracker.breaks if brk.from_start]
    return render(Window(playlist, url), "v0", fills), fills


OWN = Path(__file__).parents[1] / "data" / "playlists"


@pytest.mark.parametrize("name", PLAYLISTS)
def test_real_playlist_stitches_to_its_golden_output(name: str) -> None:
    check_golden(name, sample("real", "hls", name).read_bytes())


@pytest.mark.parametrize("name", sorted(p.name for p in OWN.glob("*.m3u8")))
def test_own_copy_stitches_to_the_same_golden_output(name: str) -> None:
    check_golden(name, (OWN / name).read_bytes())


DIALECTS = Path(__file__).parents[1] / "data" / "dialects"  # the project's vendor-dialect playlists


@pytest.mark.parametrize(
    "name",
    [
        "own_mediatailor_origin_live_scte35_enhanced.m3u8",
        "own_mediaconvert_scte35_enhanced_vod.m3u8",
        "own_mediaconvert_elemental_style_vod.m3u8",
        "own_scte35_2022_ext_x_scte35_live.m3u8",
    ],
)
def test_own_dialect_playlist_stitches_to_its_golden_output(name: str) -> None:
    check_golden(name, (DIALECTS / name).read_bytes())


def check_golden(name: str, body: bytes) -> None:
    out, fills = stitch(body, f"https://origin.example/live/{name}")
    assert fills, f"{name}: expected at least one break"
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_bytes(out)
    assert out == golden.read_bytes()
    origin, stitched = parse_media(body), parse_media(out)
    assert stitched.target_duration == origin.target_duration
    assert stitched.media_sequence == origin.media_sequence, (
        "a session joined before the window keeps the origin's numbers"
    )
    replaced = {m for f in fills for m in range(f.brk.start_msn, f.end_msn() or origin.last_msn + 1)}
    kept = {s.uri.rsplit("/", 1)[-1]: s for s in stitched.segments if "ads.test" not in s.uri}
    for segment in origin.segments:
        if segment.msn not in replaced and segment.msn not in {f.end_msn() for f in fills}:
            assert kept[segment.uri.rsplit("/", 1)[-1]].lines == segment.lines, "§4.9 tags pass through byte for byte"
    ads = [s for s in stitched.segments if "ads.test" in s.uri]
    assert ads and ads[0].discontinuity, "§4.6 DISCONTINUITY before the first ad"
