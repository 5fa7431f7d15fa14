"""`detect()` on every real playlist and fragment of ../shared/testdata/real/hls, and on each marker form
and lexical quirk seen in vendor documents and real playlists.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from proxy.hls import markers
from proxy.hls.attributes import parse_attributes, parse_date, parse_iso8601_duration, parse_seconds
from proxy.hls.cues import Cue
from proxy.hls.markers import SKIPPED, detect
from tests.conftest import sample
from tests.hls.scte35_stand_ins import stand_ins

HLS_DIR = Path(__file__).parents[2].parent / "shared" / "testdata" / "real" / "hls"

# (kind, dialect, duration, elapsed, break_id, closes, carries SCTE-35 bytes)
Exp = tuple[str, str, float | None, float | None, str | None, bool, bool]
Golden = dict[int, tuple[Exp, ...]]

CUE_OUT, DR, SPAN, SC, SP, OAT, ADOBE = "cue-out", "daterange", "cue-span", "scte35", "splicepoint", "oatcls", "adobe"


def out(duration: float | None = None, *, id: str | None = None, d: str = CUE_OUT, sc: bool = False) -> Exp:
    return ("out", d, duration, None, id, False, sc)


def cont(
    elapsed: float | None = None,
    duration: float | None = None,
    *,
    id: str | None = None,
    d: str = CUE_OUT,
    sc: bool = False,
) -> Exp:
    return ("cont", d, duration, elapsed, id, False, sc)


def in_(
    duration: float | None = None, *, id: str | None = None, d: str = CUE_OUT, sc: bool = False, closes: bool = False
) -> Exp:
    return ("in", d, duration, None, id, closes, sc)


def seq(start: int, *cues: Exp) -> Golden:
    """One cue per segment on consecutive segments from `start`."""
    return {start + offset: (cue,) for offset, cue in enumerate(cues)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def project(cue: Cue) -> Exp:
    return (
        cue.kind,
        cue.dialect,
        _round(cue.duration),
        _round(cue.elapsed),
        cue.break_id,
        cue.closes,
        cue.scte35 is not None,
    )


def normal(expected: tuple[Exp, ...]) -> tuple[Exp, ...]:
    return tuple((k, d, _round(du), _round(el), i, c, s) for k, d, du, el, i, c, s in expected)


def segments(text: str) -> list[list[str]]:
    """The non-URI lines before each URI line; tags after the last URI form one more group (§1.8)."""
    groups: list[list[str]] = []
    current: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            current.append(line)
        else:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


SPLICE = "splice-6FFFFFF0"
ENVIVIO = "16777323"
V27 = "/DAlAAAAAAAAAP/wFAUAAAABf+//wpiQkv4ARKogAAEBAQAAQ6sodg=="  # splice_insert OUT 50 s, event 0x1
V28 = "/DA5AAAAAAAA/wCABQb+aDhDgAAjAhdDVUVJQAAAV3+fCAgAAAAAIxDjqDUCAAAIQ1VFSQAAAABSV+PX"  # 0x35 PPO End
V29 = "/DAqAAAAAyiYAP/wBQb/FuaKGAAUAhJDVUVJAAAFp3+/EQMCRgIMAQF7Ny4D"  # reserved type 0x0C: no avail
V30 = "/DAlAAAENOOQAP/wFAUBAABrf+//N25XDf4B9p/gAAEBAQAAxKni9A=="  # Envivio OUT 366 s
V34 = "/DAnAAAAAAAAAP/wBQb+ADbugAARAg9DVUVJAAAAAX+HCQA1AAA3v5+Q"  # MediaConvert 0x35 at 40 s
V38 = "/DA9AAAAAAAAAP/wBQb+uYbZqwAnAiVDVUVJAAAKqX//AAEjW4AMEU1EU05CMDAxMTMyMjE5M19ONAAAmXz5JA=="
V39 = "/DA4AAAAAAAAAP/wBQb+tTeaawAiAiBDVUVJAAAKqH+/DBFNRFNOQjAwMTEzMjIxOTJfTjUAAIiGK1s="
V42 = "/DAlAAAAAAAAAP/wFAVhB/69f+/+DtpcAP4ApPWwAAEBAQAA5C+fWA=="
V43 = "/DA2AAAAAAAAAP/wBQb+D39F9QAgAh5DVUVJ05v41X+/DA9XVVJMRDAwMDAwMzU4NjkQAAA8dWxB"
V44 = "0xFC302500000003289800FFF01405000000C67FEFFECA4EF5BDFE010BC8DC0EAC000000002B9AD333"
V46 = "/DAlAAAAAAAAAP/wFAUAAAABf+/+ANgNkv4AFJlwAAEBAQAA5xULLA=="
V47 = "0xFC301100000000000000FFFFFF0000004F253396"  # splice_null
V48 = "0xFC302000000000000000FFF00F05000000017FFFFE000000000000000000007A3D9BBD"
V49 = "/DAgAAAAAAAAAP/wDwUAAAAAf/9+AAAAAAAAAAAAAD4xJP8="
RFC_OUT = "0xFC002F0000000000FF000014056FFFFFF000E011622DCAFF000052636200000000000A0008029896F50000008700000000"


def b64(value: str) -> bytes:
    return base64.b64decode(value)


# --- golden expectations, one entry per file -------------------------------------------------------

KUU_DR_OUT = out(194.994, id="198", d=DR, sc=True)
KUU_DR_IN = in_(194.995, id="198", d=DR, closes=True)
KUU_DR_OUT_199 = out(194.994, id="199", d=DR, sc=True)
KUU_DR_IN_199 = in_(194.995, id="199", d=DR, closes=True)
KUU_OUT = out(29.997, sc=True)


def kuu_cont(elapsed: float) -> Exp:
    return cont(elapsed, 29.997, sc=True)


C1, C2, C3, C4 = kuu_cont(3.770), kuu_cont(7.774), kuu_cont(23.790), kuu_cont(27.794)

GOLDEN: dict[str, Golden] = {
    "eyevinn_hls_splice_daterange_splice_insert_cue_out_0.m3u8": {
        # DATERANGE outranks CUE-OUT:0 for "out"; the CUE-IN is the only "in" (DATERANGE has precedence).
        5: (out(0.0, id="1-804", d=DR, sc=True), in_()),
    },
    "eyevinn_vodtolive_cmaf_usp_preroll_pod_discontinuities.m3u8": {0: (out(83.0),), 24: (in_(),)},
    # The CUE-IN is the last line, after the last URI: group 6.
    "eyevinn_vodtolive_cue_out_cont_slash_dup_cue_in_last_line.m3u8": seq(
        0, out(28.0), cont(2, 28), cont(4, 28), cont(4, 28), cont(8, 28), cont(18, 28), in_()
    ),
    "eyevinn_vodtolive_stitched_preroll_cue_out_pdt.m3u8": {0: (out(15.120000000000001),), 2: (in_(),)},
    "grafov_ext_scte35_scte67_style.m3u8": {},  # its CUE is not decodable (section_length 8): skipped
    "grafov_oatcls_cue_out_cont_attrs.m3u8": seq(0, out(15.0, sc=True), cont(8.844, 15.0, sc=True), in_()),
    "grafov_usp_live_bare_cue_out_and_cue_out_180.m3u8": {
        2: (in_(),),
        5: (out(),),
        9: (in_(),),
        30: (out(180.0),),
        60: (in_(),),
    },
    "hlsjs_live_cue_out_duration_breakid.m3u8": {2: (out(150.0, id="0x0"),), 4: (in_(),)},
    "hlsjs_live_stitched_fmp4_discontinuities_pdt_cue_in.m3u8": {17: (in_(),)},
    "hlsjs_vod_daterange_scte35_out_in_truncated_hex.m3u8": {
        1: (out(20.0, id=SPLICE, d=DR, sc=True),),
        3: (in_(30.0, id=SPLICE, d=DR, closes=True, sc=True),),
    },
    "kuu_mediapackage_live_daterange_readme.m3u8": {
        1: (out(22.087, id="198", d=DR, sc=True),),
        5: (in_(22.089, id="198", d=DR, closes=True),),
    },
    "kuu_mediapackage_live_scte35_enhanced_readme.m3u8": seq(
        1,
        out(22.087, sc=True),
        cont(4.438, 22.087, sc=True),
        cont(10.444, 22.087, sc=True),
        cont(16.450, 22.087, sc=True),
        in_(),
    ),
    "m3u8lib_cue_out_bare_no_duration.m3u8": {0: (out(),), 2: (in_(),)},
    "m3u8lib_cue_out_bare_number_duration.m3u8": {0: (out(11.52),), 2: (in_(),)},
    "m3u8lib_cue_out_cont_bare_pdt_oatcls_live.m3u8": seq(1, cont(), cont(), in_(sc=True)),
    "m3u8lib_cue_out_cont_slash_form_live.m3u8": seq(0, out(119.987), cont(2, 120), cont(8, 120), cont(14.001, 120)),
    "m3u8lib_cue_out_duration_attr.m3u8": {0: (out(11.52),), 2: (in_(),)},
    "m3u8lib_cue_out_invalid_value_negative.m3u8": seq(0, out(), cont()),
    "m3u8lib_daterange_scte35_out_in_rfc8216_adapted.m3u8": {
        0: (out(59.993, id=SPLICE, d=DR, sc=True),),
        6: (in_(59.993, id=SPLICE, d=DR, closes=True, sc=True),),
    },
    "m3u8lib_elemental_oatcls_without_cue_out_live.m3u8": {},  # OATCLS with a non-avail 0x0C message
    "m3u8lib_elemental_scte35_enhanced_live.m3u8": seq(
        3,
        out(50.0, sc=True),
        cont(7.96, 50, sc=True),
        cont(17.96, 50, sc=True),
        cont(27.96, 50, sc=True),
        cont(37.96, 50, sc=True),
        cont(47.96, 50, sc=True),
        in_(),
    ),
    "m3u8lib_envivio_cue_out_cue_span_live.m3u8": seq(
        3,
        out(366.0, id=ENVIVIO, sc=True),
        cont(10.0, id=ENVIVIO, d=SPAN),
        cont(20.0, id=ENVIVIO, d=SPAN),
        cont(30.0, id=ENVIVIO, d=SPAN),
        in_(id=ENVIVIO),
    ),
    "m3u8lib_mediaconvert_esam_vod_dai_params.m3u8": {1: (out(4.0),), 2: (cont(10.0, 4.0),), 4: (in_(),)},
    "mediaconvert_elemental_style_vod.m3u8": {
        **seq(1, out(30.0), cont(2, 30), cont(14, 30), cont(26, 30), in_()),
        **seq(9, out(30.0), cont(9, 30), cont(21, 30), in_()),
    },
    "mediaconvert_scte35_enhanced_vod.m3u8": {
        **seq(1, out(30.0, sc=True), cont(2, 30, sc=True), cont(14, 30, sc=True), cont(26, 30, sc=True), in_(sc=True)),
        **seq(9, out(30.0, sc=True), cont(9, 30, sc=True), cont(21, 30, sc=True), in_(sc=True)),
    },
    "mediatailor_origin_master.m3u8": {},
    "mediatailor_origin_media_live_scte35_enhanced.m3u8": seq(
        3,
        out(20.02, sc=True),
        cont(0.634, 21, sc=True),
        cont(6.640, 21, sc=True),
        cont(12.646, 21, sc=True),
        cont(18.652, 21, sc=True),
        in_(),
    ),
    "mediatailor_personalized_master.m3u8": {},
    "mediatailor_personalized_media_live_stitched.m3u8": {},
    # CUE=”...” is not a payload (curly quotes from the PDF); TYPE=0x36/0x37/0x10/0x11/0x50 lines have no
    # CUE-OUT / CUE-IN attribute and are informational (SCTE 35 §12.2).
    "scte35_2022b_sec12_2_4_ext_x_scte35_example.m3u8": {
        4: (out(60.06, id="f6UrRd", d=SC),),
        10: (in_(id="f6UrRd", d=SC),),
    },
    "kuu_mediapackage_windows/daterange_A1.m3u8": {2: (KUU_DR_OUT,), 7: (KUU_DR_IN,)},
    "kuu_mediapackage_windows/daterange_A2.m3u8": {1: (KUU_DR_OUT,), 6: (KUU_DR_IN,)},
    "kuu_mediapackage_windows/daterange_A3.m3u8": {0: (KUU_DR_OUT,), 5: (KUU_DR_IN,)},
    "kuu_mediapackage_windows/daterange_B1.m3u8": {2: (KUU_DR_OUT,)},
    "kuu_mediapackage_windows/daterange_B2.m3u8": {1: (KUU_DR_OUT,)},
    "kuu_mediapackage_windows/daterange_B3.m3u8": {0: (KUU_DR_OUT,)},
    "kuu_mediapackage_windows/daterange_C1.m3u8": {4: (KUU_DR_IN,)},
    "kuu_mediapackage_windows/daterange_C2.m3u8": {4: (KUU_DR_IN,)},
    "kuu_mediapackage_windows/daterange_C3.m3u8": {4: (KUU_DR_IN,)},
    "kuu_mediapackage_windows/daterange_D1.m3u8": {2: (KUU_DR_OUT,), 5: (KUU_DR_IN,)},
    "kuu_mediapackage_windows/daterange_D2.m3u8": {2: (KUU_DR_OUT,), 4: (KUU_DR_IN,)},
    "kuu_mediapackage_windows/daterange_D3.m3u8": {2: (KUU_DR_OUT,), 3: (KUU_DR_IN,)},
    "kuu_mediapackage_windows/daterange_E.m3u8": {},
    "kuu_mediapackage_windows/daterange_F1.m3u8": {
        2: (KUU_DR_OUT,),
        7: (KUU_DR_IN,),
        10: (KUU_DR_OUT_199,),
        15: (KUU_DR_IN_199,),
    },
    "kuu_mediapackage_windows/daterange_F2.m3u8": {2: (KUU_DR_OUT,), 7: (KUU_DR_IN,), 10: (KUU_DR_OUT_199,)},
    "kuu_mediapackage_windows/daterange_F3.m3u8": {4: (KUU_DR_IN,), 7: (KUU_DR_OUT_199,), 12: (KUU_DR_IN_199,)},
    "kuu_mediapackage_windows/scte35_enhanced_A1.m3u8": seq(2, KUU_OUT, C1, C2, C3, C4, in_()),
    "kuu_mediapackage_windows/scte35_enhanced_A2.m3u8": seq(1, KUU_OUT, C1, C2, C3, C4, in_()),
    "kuu_mediapackage_windows/scte35_enhanced_A3.m3u8": seq(0, KUU_OUT, C1, C2, C3, C4, in_()),
    "kuu_mediapackage_windows/scte35_enhanced_B1.m3u8": seq(2, KUU_OUT, C1, C2, C3, C4),
    "kuu_mediapackage_windows/scte35_enhanced_B2.m3u8": seq(1, KUU_OUT, C1, C2, C3, C4),
    "kuu_mediapackage_windows/scte35_enhanced_B3.m3u8": seq(0, KUU_OUT, C1, C2, C3, C4),
    "kuu_mediapackage_windows/scte35_enhanced_C1.m3u8": seq(0, C1, C2, C3, C4, in_()),
    "kuu_mediapackage_windows/scte35_enhanced_C2.m3u8": seq(0, C1, C2, C3, C4, in_()),
    "kuu_mediapackage_windows/scte35_enhanced_C3.m3u8": seq(0, C1, C2, C3, C4, in_()),
    "kuu_mediapackage_windows/scte35_enhanced_D1.m3u8": seq(2, KUU_OUT, C1, C4, in_()),
    "kuu_mediapackage_windows/scte35_enhanced_D2.m3u8": seq(2, KUU_OUT, C4, in_()),
    "kuu_mediapackage_windows/scte35_enhanced_D3.m3u8": seq(2, KUU_OUT, in_()),
    "kuu_mediapackage_windows/scte35_enhanced_E.m3u8": seq(0, C2, C3, C4),
    "kuu_mediapackage_windows/scte35_enhanced_F1.m3u8": {
        **seq(2, KUU_OUT, C1, C2, C3, C4, in_()),
        **seq(10, KUU_OUT, C1, C2, C3, C4, in_()),
    },
    "kuu_mediapackage_windows/scte35_enhanced_F2.m3u8": {
        **seq(2, KUU_OUT, C1, C2, C3, C4, in_()),
        **seq(10, KUU_OUT, C1, C2, C3, C4),
    },
    "kuu_mediapackage_windows/scte35_enhanced_F3.m3u8": {
        **seq(0, C1, C2, C3, C4, in_()),
        **seq(7, KUU_OUT, C1, C2, C3, C4, in_()),
    },
    # Fragments: `.` and `. . .` lines count as URIs; files without any URI are one group, where the
    # precedence of proxy.hls.markers applies to all their lines at once.
    "fragments/adobe_primetime_ext_x_cue_forms.txt": {0: (out(177.1), cont(5.005, 177.1), in_())},
    "fragments/elemental_live_doc_daterange_out_in.txt": {
        0: (out(30.0, id="999", d=DR, sc=True),),
        1: (in_(30.03, id="999", d=DR, closes=True),),  # its SCTE35-IN hex has an odd length: dropped
    },
    "fragments/elemental_live_service_excerpt_m3u8_pr398.txt": seq(
        1, out(120.12, sc=True), cont(5.873, 120.12, sc=True), cont(120.087, 120.12, sc=True), in_()
    ),
    "fragments/google_admanager_dai_cue_out_in_before_after.txt": {
        2: (out(30.0),),
        6: (in_(),),
        11: (out(30.0),),
        14: (in_(),),
    },
    "fragments/mediaconvert_esam_mcc_tag_templates.txt": {0: (out(4.0), cont(None, 4.0), in_())},
    "fragments/medialive_doc_adobe_style_ext_x_cue.txt": {0: (out(201.467, id="0", d=ADOBE),)},
    "fragments/medialive_doc_elemental_style_verbatim_with_typos.txt": {0: (out(30.0),)},
    "fragments/medialive_doc_scte35_enhanced_style.txt": {
        0: (out(201.467, sc=True),),
        3: (cont(5.939, 201.467),),  # SCTE35= holds "…" from the doc: dropped
        6: (in_(),),
    },
    "fragments/mediatailor_channel_assembly_daterange_time_signal.txt": {0: (out(300.0, id="1", d=DR, sc=True),)},
    # `SCTE35-OUT=0xF` is truncated; the DATERANGE cues borrow the SPLICEPOINT bytes of their kind.
    "fragments/mediatailor_doc_supported_markers.txt": {
        0: (out(60.0, id=SPLICE, d=DR, sc=True), out(None, id=SPLICE, d=DR, sc=True), in_(id=SPLICE, d=DR, sc=True)),
    },
    "fragments/threefive_issue51_wowza_style_excerpts.txt": {
        0: (out(90.023267), cont(6.006, 90.023267), cont(78.078, 90.023267), cont(84.084, 90.023267), in_()),
        2: (out(30.0, id="splice-67114940", d=DR),),  # OATCLS and SCTE35-OUT are not SCTE-35 at all
        3: (cont(7.0, 30.0),),
        4: (cont(11.0, 30.0),),
        5: (cont(15.0, 30.0),),
    },
    # Templates: `{break_duration}`, `%.3f` are not numbers; the real x9k3 line lends its bytes.
    "fragments/x9k3_and_ovenmediaengine_emitted_forms.txt": {
        0: (cont(), out(None, id="{n}", d=DR, sc=True), in_(id="{n}", d=DR, closes=True), cont()),
    },
}


# The project's playlists in the MediaTailor, MediaConvert and SCTE 35 §12.2 dialects (tests/data/dialects,
# README.md there): every marker behaviour the vendor files of ../shared show, proven without ../shared.
DIALECTS = Path(__file__).parents[1] / "data" / "dialects"
OWN_GOLDEN: dict[str, Golden] = {
    "own_mediaconvert_elemental_style_vod.m3u8": {
        **seq(1, out(30.0), cont(10, 30), cont(20, 30), in_()),
        **seq(7, out(30.0), cont(10, 30), cont(20, 30), in_()),
    },
    "own_mediaconvert_scte35_enhanced_vod.m3u8": {  # the OATCLS before CUE-IN lends CUE-IN its bytes
        **seq(1, out(30.0, sc=True), cont(10, 30, sc=True), cont(20, 30, sc=True), in_(sc=True)),
        **seq(7, out(30.0, sc=True), cont(10, 30, sc=True), cont(20, 30, sc=True), in_(sc=True)),
    },
    "own_mediatailor_origin_live_scte35_enhanced.m3u8": seq(  # CONT's Duration=21 is its own, not CUE-OUT's
        2, out(20.02, sc=True), cont(2.002, 21, sc=True), cont(8.008, 21, sc=True), cont(14.014, 21, sc=True), in_()
    ),
    "own_mediatailor_origin_master.m3u8": {},
    "own_mediatailor_personalized_master.m3u8": {},
    "own_mediatailor_personalized_live_stitched.m3u8": {},  # stitched output: no markers left
    # The TYPE=0x10 line has no CUE-OUT / CUE-IN attribute: informational (SCTE 35 §12.2).
    "own_scte35_2022_ext_x_scte35_live.m3u8": {
        2: (out(120.12, id="brk-42", d=SC, sc=True),),
        4: (cont(id="brk-42", d=SC),),
        5: (in_(id="brk-42", d=SC, sc=True),),
    },
}


def test_every_own_dialect_file_has_golden_expectations() -> None:
    assert {path.name for path in DIALECTS.glob("*.m3u8")} == set(OWN_GOLDEN)


@pytest.mark.parametrize("name", sorted(OWN_GOLDEN))
def test_own_dialect_golden(name: str) -> None:
    check_detected((DIALECTS / name).read_text("utf-8"), OWN_GOLDEN[name])


def test_own_golden_bytes_come_from_the_right_tag() -> None:
    def cues(name: str, index: int) -> tuple[Cue, ...]:
        return detect(segments((DIALECTS / name).read_text("utf-8"))[index])

    vectors = stand_ins()
    (cue_in,) = cues("own_mediaconvert_scte35_enhanced_vod.m3u8", 4)
    assert cue_in.scte35 == b64(vectors["34"]["value"])  # the OATCLS IN message before CUE-IN
    (second_out,) = cues("own_mediaconvert_scte35_enhanced_vod.m3u8", 7)
    assert second_out.scte35 == b64(vectors["35"]["value"])
    (out_cue,) = cues("own_scte35_2022_ext_x_scte35_live.m3u8", 2)
    assert out_cue.scte35 == b64(vectors["42"]["value"])


def hls_dir() -> Path:
    if not HLS_DIR.is_dir():
        pytest.skip(f"shared HLS fixtures not found at {HLS_DIR} (checkout ../shared next to the repo)")
    return HLS_DIR


def test_every_shared_file_has_golden_expectations() -> None:
    root = hls_dir()
    found = {path.relative_to(root).as_posix() for path in root.rglob("*") if path.suffix in (".m3u8", ".txt")}
    assert found == set(GOLDEN)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden(name: str) -> None:
    check_detected(sample("real", "hls", name).read_text("utf-8"), GOLDEN[name])


def check_detected(text: str, golden: Golden) -> None:
    """The cues detected on each segment of a playlist are its golden ones (segments without cues left out)."""
    actual = {index: tuple(project(cue) for cue in detect(lines)) for index, lines in enumerate(segments(text))}
    assert {index: cues for index, cues in actual.items() if cues} == {
        index: normal(cues) for index, cues in golden.items()
    }


def golden_cues(name: str, index: int) -> tuple[Cue, ...]:
    return detect(segments(sample("real", "hls", name).read_text("utf-8"))[index])


def test_golden_bytes_come_from_the_right_tag() -> None:
    (cue_in,) = golden_cues("mediaconvert_scte35_enhanced_vod.m3u8", 5)
    assert cue_in.scte35 == b64(V34)  # the OATCLS IN message before CUE-IN
    (last_cont,) = golden_cues("fragments/elemental_live_service_excerpt_m3u8_pr398.txt", 3)
    assert last_cont.scte35 == b64(V42) != b64(V43)  # the CONT's own SCTE35=, not the Program Start OATCLS
    out_cue, _ = golden_cues("eyevinn_hls_splice_daterange_splice_insert_cue_out_0.m3u8", 5)
    assert out_cue.scte35 == bytes.fromhex(V48[2:])


# --- each vendor form of each dialect ------------------------------------------------------------

FORMS: list[tuple[str, list[str], tuple[Exp, ...]]] = [
    # §1.1 EXT-X-CUE-OUT
    ("number", ["#EXT-X-CUE-OUT:30.000"], (out(30.0),)),
    ("integer", ["#EXT-X-CUE-OUT:28"], (out(28.0),)),
    ("float artefact", ["#EXT-X-CUE-OUT:90.023267"], (out(90.023267),)),
    ("DURATION=", ["#EXT-X-CUE-OUT:DURATION=120"], (out(120.0),)),
    ("DURATION float bug", ["#EXT-X-CUE-OUT:DURATION=15.120000000000001"], (out(15.120000000000001),)),
    ("DURATION+BREAKID", ["#EXT-X-CUE-OUT:DURATION=150,BREAKID=0x0"], (out(150.0, id="0x0"),)),
    ("Envivio", [f'#EXT-X-CUE-OUT:DURATION=366,ID=16777323,CUE="{V30}"'], (out(366.0, id=ENVIVIO, sc=True),)),
    ("bare", ["#EXT-X-CUE-OUT"], (out(),)),
    ("zero then CUE-IN", ["#EXT-X-CUE-OUT:0", "#EXT-X-CUE-IN"], (out(0.0), in_())),
    (
        "ESAM",
        ["#EXT-X-CUE-OUT:4,SpliceType=VOD_DAI,Action=REPLACE, PAID=example.com/2024073010700,Acds=BA"],
        (out(4.0),),
    ),
    ("SignalID", ["#EXT-X-CUE-OUT:177.100,SignalID="], (out(177.1),)),
    ("INVALID", ["#EXT-X-CUE-OUT:INVALID"], (out(),)),
    ("typo EXT-X-OUT", ["#EXT-X-OUT:4,SpliceType=VOD_DAI,Action=REPLACE"], ()),
    # EXT-X-CUE-OUT-CONT
    ("CONT attrs", [f"#EXT-X-CUE-OUT-CONT:ElapsedTime=7.960,Duration=50,SCTE35={V27}"], (cont(7.96, 50.0, sc=True),)),
    ("CONT attrs no SCTE35", ["#EXT-X-CUE-OUT-CONT:ElapsedTime=1.500,Duration=30.000"], (cont(1.5, 30.0),)),
    ("CONT CAID", ["#EXT-X-CUE-OUT-CONT:CAID=0x000000002310E3A8,ElapsedTime=161,Duration=181"], (cont(161, 181),)),
    ("CONT slash", ["#EXT-X-CUE-OUT-CONT:2.000/30"], (cont(2.0, 30.0),)),
    ("CONT slash float", ["#EXT-X-CUE-OUT-CONT:8/120.0"], (cont(8.0, 120.0),)),
    ("CONT slash Wowza", ["#EXT-X-CUE-OUT-CONT:6.006/90.023267"], (cont(6.006, 90.023267),)),
    ("CONT slash ESAM", ["#EXT-X-CUE-OUT-CONT:10/4, SpliceType=VOD_DAI,Action=REPLACE,Acds=BA"], (cont(10.0, 4.0),)),
    ("CONT slash SignalID", ["#EXT-X-CUE-OUT-CONT:5.005/177.100,SignalID="], (cont(5.005, 177.1),)),
    ("CONT lone number", ["#EXT-X-CUE-OUT-CONT:30"], (cont(None, 30.0),)),
    ("CONT bare", ["#EXT-X-CUE-OUT-CONT"], (cont(),)),
    ("CONT doc typo is a comment", ["# EXT-X-CUE-OUT-CONT: 8.308/30 "], ()),
    ("CUE-SPAN", ["#EXT-X-CUE-SPAN:TIMEFROMSIGNAL=PT10S,ID=16777323"], (cont(10.0, id=ENVIVIO, d=SPAN),)),
    ("CUE-SPAN minutes", ["#EXT-X-CUE-SPAN:TIMEFROMSIGNAL=PT1M30.5S"], (cont(90.5, d=SPAN),)),
    # EXT-X-CUE-IN
    ("IN bare", ["#EXT-X-CUE-IN"], (in_(),)),
    ("IN Envivio", ["#EXT-X-CUE-IN:ID=16777323"], (in_(id=ENVIVIO),)),
    ("IN ESAM", ["#EXT-X-CUE-IN:4,SpliceType=VOD_DAI"], (in_(),)),
    ("IN SignalID", ["#EXT-X-CUE-IN:177.100,SignalID="], (in_(),)),
    # §1.2 Elemental companions
    ("OATCLS alone", [f"#EXT-OATCLS-SCTE35:{V27}"], (out(50.0, id="0x1", d=OAT, sc=True),)),
    ("OATCLS alone IN", [f"#EXT-OATCLS-SCTE35:{V28}"], (in_(id="0x40000057", d=OAT, sc=True),)),
    ("OATCLS non-avail", [f"#EXT-OATCLS-SCTE35:{V29}"], ()),
    ("OATCLS before CUE-IN", [f"#EXT-OATCLS-SCTE35:{V28}", "#EXT-X-CUE-IN"], (in_(sc=True),)),
    ("ASSET", ["#EXT-X-ASSET:CAID=0x0000000020FB6501"], ()),
    # §1.3 Adobe
    (
        "Adobe MediaLive",
        ['#EXT-X-CUE:DURATION="201.467",ID="0",TYPE="SpliceOut",TIME="414.171"'],
        (out(201.467, id="0", d=ADOBE),),
    ),
    ("Adobe Primetime", ["#EXT-X-CUE:TYPE=SpliceOut,ID=1,DURATION=60.0,TIME=266.198"], (out(60.0, id="1", d=ADOBE),)),
    ("Adobe no duration", ["#EXT-X-CUE:TYPE=SpliceOut,ID=1,TIME=266.198"], (out(None, id="1", d=ADOBE),)),
    ("Adobe duration 0 unknown", ["#EXT-X-CUE:TYPE=SpliceOut,ID=1,DURATION=0"], (out(None, id="1", d=ADOBE),)),
    ("Adobe SpliceIn", ["#EXT-X-CUE:TYPE=SpliceIn,ID=1"], (in_(id="1", d=ADOBE),)),
    ("Adobe CONT", ["#EXT-X-CUE-CONT:ID=1,AVAIL-DUR-ELAPSED=5.8"], (cont(5.8, id="1", d=ADOBE),)),
    ("Adobe CONT id only", ["#EXT-X-CUE-CONT:ID=a2"], (cont(id="a2", d=ADOBE),)),
    ("Adobe SpliceInsert", ["#EXT-X-CUE:TYPE=SpliceInsert,ID=a1,TIME=10.5"], ()),
    # §1.4 EXT-X-SCTE35 / EXT-SCTE35
    (
        "SCTE35 standard curly quotes",
        [
            '#EXT-X-SCTE35:TYPE=0x34,DURATION=60.060,CUE-OUT=YES,UPID="0x08:0x9425BC",CUE=\u201d...\u201d,ID=\u201df6UrRd\u201d'
        ],
        (out(60.06, id="f6UrRd", d=SC),),
    ),
    (
        "SCTE35 CUE-IN",
        ["#EXT-X-SCTE35:TYPE=0x35,CUE-IN=YES,CUE=\u201d...\u201d,ID=\u201df6UrRd\u201d"],
        (in_(id="f6UrRd", d=SC),),
    ),
    ("SCTE35 informational", ['#EXT-X-SCTE35:TYPE=0x10,ELAPSED=0.0, UPID="0x08:0x9425",BLACKOUT=MAYBE,CUE="..."'], ()),
    ("x9k3 real", [f'#EXT-X-SCTE35:CUE="{V49}",CUE-OUT=YES'], (out(0.0, id="0x0", d=SC, sc=True),)),
    ("x9k3 spacing", [f'#EXT-X-SCTE35:CUE="{V27}" ,CUE-OUT=YES '], (out(50.0, id="0x1", d=SC, sc=True),)),
    ("x9k3 CONT", [f'#EXT-X-SCTE35:CUE="{V27}" ,CUE-OUT=CONT'], (cont(id="0x1", d=SC, sc=True),)),
    ("SCTE35 CONT ELAPSED", ["#EXT-X-SCTE35:CUE-OUT=CONT,ELAPSED=10.0,DURATION=50"], (cont(10.0, 50.0, d=SC),)),
    ("SCTE-67", [f'#EXT-SCTE35: CUE="{V46}", ID="123", TIME=123.12'], (out(15.0, id="123", d=SC, sc=True),)),
    ("SCTE-67 undecodable", ['#EXT-SCTE35: CUE="/DAIAAAAAAAAAAAQAAZ/I0VniQAQAgBDVUVJQAAAAH+cAAAAAA==", ID="123"'], ()),
    # §1.5 EXT-X-DATERANGE
    (
        "RFC OUT",
        [
            f'#EXT-X-DATERANGE:ID="{SPLICE}",START-DATE="2014-03-05T11:15:00Z",PLANNED-DURATION=59.993,SCTE35-OUT={RFC_OUT}'
        ],
        (out(59.993, id=SPLICE, d=DR, sc=True),),
    ),
    (
        "RFC IN with DURATION",
        [f'#EXT-X-DATERANGE:ID="{SPLICE}",DURATION=59.993,SCTE35-IN=0xFC002A00'],
        (in_(59.993, id=SPLICE, d=DR, closes=True, sc=True),),
    ),
    (
        "MediaPackage close",
        [
            '#EXT-X-DATERANGE:ID="198",START-DATE="2023-01-31T06:28:53.331Z",'
            'END-DATE="2023-01-31T06:32:08.326Z",DURATION=194.995'
        ],
        (in_(194.995, id="198", d=DR, closes=True),),
    ),
    (
        "close from END-DATE",
        ['#EXT-X-DATERANGE:ID="198",START-DATE="2023-01-31T06:28:53.331Z",END-DATE="2023-01-31T06:32:08.326Z"'],
        (in_(194.995, id="198", d=DR, closes=True),),
    ),
    (
        "x9k3 IN END-DATE only",
        ['#EXT-X-DATERANGE:ID="7",END-DATE="2024-01-01T00:00:30Z",SCTE35-IN=0xFC'],
        (in_(id="7", d=DR, closes=True, sc=True),),
    ),
    ("SCTE35-IN alone", [f'#EXT-X-DATERANGE:ID="7",SCTE35-IN={V44}'], (in_(id="7", d=DR, sc=True),)),
    (
        "Elemental space after comma",
        [f'#EXT-X-DATERANGE:ID="999",START-DATE="2018-08-22T21:54:00.079Z",PLANNED-DURATION=30.000, SCTE35-OUT={V44}'],
        (out(30.0, id="999", d=DR, sc=True),),
    ),
    (
        "duration from payload",
        [f'#EXT-X-DATERANGE:ID="198",SCTE35-OUT={V44}'],
        (out(194.9948, id="198", d=DR, sc=True),),
    ),
    (
        "OUT with DURATION",
        [f'#EXT-X-DATERANGE:ID="1",DURATION=300.0,PLANNED-DURATION=9,SCTE35-OUT={V44}'],
        (out(300.0, id="1", d=DR, sc=True),),
    ),
    (
        "Eyevinn zero",
        [f'#EXT-X-DATERANGE:ID="1-804",PLANNED-DURATION=0,SCTE35-OUT={V48}'],
        (out(0.0, id="1-804", d=DR, sc=True),),
    ),
    ("SCTE35-CMD", ['#EXT-X-DATERANGE:ID="c",START-DATE="2024-01-01T00:00:00Z",DURATION=10,SCTE35-CMD=0x00000000'], ()),
    (
        "interstitial",
        [
            '#EXT-X-DATERANGE:ID="mid1",CLASS="com.apple.hls.interstitial",CUE="ONCE",'
            'START-DATE="2024-01-12T10:00:10.000Z",DURATION=15.0,X-ASSET-URI="b.m3u8",X-RESTRICT="SKIP,JUMP"'
        ],
        (),
    ),
    (
        "numeric CLASS closes",
        ['#EXT-X-DATERANGE:ID="9",CLASS="0x34",DURATION=60'],
        (in_(60.0, id="9", d=DR, closes=True),),
    ),
    ("no duration, no SCTE35", ['#EXT-X-DATERANGE:ID="x",START-DATE="2024-01-01T00:00:00Z",X-CUSTOM="Hi!"'], ()),
    # §1.6 EXT-X-SPLICEPOINT-SCTE35
    ("SPLICEPOINT out", [f"#EXT-X-SPLICEPOINT-SCTE35:{V38}"], (out(212.16, id="0xaa9", d=SP, sc=True),)),
    ("SPLICEPOINT in", [f"#EXT-X-SPLICEPOINT-SCTE35:{V39}"], (in_(id="0xaa8", d=SP, sc=True),)),
    ("SPLICEPOINT splice_null", [f"#EXT-X-SPLICEPOINT-SCTE35:{V47}"], ()),
]


@pytest.mark.parametrize(("lines", "expected"), [pytest.param(lines, exp, id=name) for name, lines, exp in FORMS])
def test_forms(lines: list[str], expected: tuple[Exp, ...]) -> None:
    assert tuple(project(cue) for cue in detect(lines)) == normal(expected)


# --- precedence (proxy.hls.markers) -----------------------------------------------------------------

PRECEDENCE: list[tuple[str, list[str], tuple[Exp, ...]]] = [
    (
        "DATERANGE over CUE-OUT",
        [f'#EXT-X-DATERANGE:ID="1",PLANNED-DURATION=30,SCTE35-OUT={V44}', "#EXT-X-CUE-OUT:20"],
        (out(30.0, id="1", d=DR, sc=True),),
    ),
    (
        "CUE-OUT over EXT-X-SCTE35, keeping its bytes",
        ["#EXT-X-CUE-OUT:50", f'#EXT-X-SCTE35:CUE="{V27}",CUE-OUT=YES'],
        (out(50.0, sc=True),),
    ),
    (
        "EXT-X-SCTE35 over SPLICEPOINT",
        [f"#EXT-X-SPLICEPOINT-SCTE35:{V38}", "#EXT-X-SCTE35:CUE-OUT=YES,DURATION=10"],
        (out(10.0, d=SC, sc=True),),
    ),
    (
        "SPLICEPOINT over OATCLS",
        [f"#EXT-OATCLS-SCTE35:{V27}", f"#EXT-X-SPLICEPOINT-SCTE35:{V38}"],
        (out(212.16, id="0xaa9", d=SP, sc=True),),
    ),
    (
        "OATCLS over Adobe",
        ["#EXT-X-CUE:TYPE=SpliceOut,ID=1,DURATION=60", f"#EXT-OATCLS-SCTE35:{V27}"],
        (out(50.0, id="0x1", d=OAT, sc=True),),
    ),
    ("Adobe alone", ["#EXT-X-CUE:TYPE=SpliceOut,ID=1,DURATION=60"], (out(60.0, id="1", d=ADOBE),)),
    (
        "OATCLS never adds a cue next to a CUE-OUT-family tag",
        ["#EXT-X-CUE-OUT-CONT:ElapsedTime=5,Duration=50", f"#EXT-OATCLS-SCTE35:{V27}"],
        (cont(5.0, 50.0),),
    ),
    (
        "per kind: DATERANGE out, CUE-OUT family in",
        [f'#EXT-X-DATERANGE:ID="1-804",PLANNED-DURATION=0,SCTE35-OUT={V48}', "#EXT-X-CUE-OUT:0", "#EXT-X-CUE-IN"],
        (out(0.0, id="1-804", d=DR, sc=True), in_()),
    ),
    (
        "bytes of a lower family fill a higher cue",
        ['#EXT-X-DATERANGE:ID="9",PLANNED-DURATION=30,SCTE35-OUT=0xF', f'#EXT-X-CUE-OUT:DURATION=30,CUE="{V30}"'],
        (out(30.0, id="9", d=DR, sc=True),),
    ),
    ("cues keep line order", ["#EXT-X-CUE-IN", "#EXT-X-CUE-OUT:30"], (in_(), out(30.0))),
]


@pytest.mark.parametrize(("lines", "expected"), [pytest.param(lines, exp, id=name) for name, lines, exp in PRECEDENCE])
def test_precedence(lines: list[str], expected: tuple[Exp, ...]) -> None:
    assert tuple(project(cue) for cue in detect(lines)) == normal(expected)


def test_lent_bytes_are_the_lower_tags_bytes() -> None:
    (cue,) = detect(['#EXT-X-DATERANGE:ID="9",SCTE35-OUT=0xF', f'#EXT-X-CUE-OUT:DURATION=30,CUE="{V30}"'])
    assert cue.scte35 == b64(V30)
    (cue,) = detect([f"#EXT-OATCLS-SCTE35:{V28}", "#EXT-X-CUE-IN"])
    assert cue.scte35 == b64(V28) and cue.dialect == CUE_OUT


# --- lexical quirks of real playlists ---------------------------------------------------------------

QUIRKS: list[tuple[str, list[str], tuple[Exp, ...]]] = [
    ("trailing spaces", ["#EXT-X-CUE-OUT:30.000 ", "#EXTINF:6.000,  "], (out(30.0),)),
    ("trailing space on bare tag", ["#EXT-X-CUE-IN "], (in_(),)),
    ("CRLF", ["#EXT-X-CUE-OUT:30\r"], (out(30.0),)),
    ("attribute names in any case", ["#EXT-X-CUE-OUT-CONT:elapsedtime=4,DURATION=8"], (cont(4.0, 8.0),)),
    ("quoted and unquoted values", ['#EXT-X-CUE:TYPE=SpliceOut,DURATION="12.5",ID=3'], (out(12.5, id="3", d=ADOBE),)),
    (
        "backslash-escaped quotes",
        [f'#EXT-X-DATERANGE:ID=\\"1\\",START-DATE=\\"2020-09-25T02:13:20Z\\",DURATION=300.0,SCTE35-OUT={V44}'],
        (out(300.0, id="1", d=DR, sc=True),),
    ),
    ("base64 without padding", [f"#EXT-OATCLS-SCTE35:{V27.rstrip('=')}"], (out(50.0, id="0x1", d=OAT, sc=True),)),
    (
        "ellipsis inside base64",
        ["#EXT-X-CUE-OUT-CONT:ElapsedTime=5.939,Duration=201.467,SCTE35=/DA0AAAA+\u2026AAg+2UBNAAANvrtoQ=="],
        (cont(5.939, 201.467),),
    ),
    ("hex 0X", [f'#EXT-X-DATERANGE:ID="a",SCTE35-OUT=0X{V44[2:]}'], (out(194.9948, id="a", d=DR, sc=True),)),
    ("bare hex", [f"#EXT-X-SPLICEPOINT-SCTE35:{V44[2:]}"], (out(194.9948, id="0xc6", d=SP, sc=True),)),
    ("integer durations", ["#EXT-X-CUE-OUT-CONT:ElapsedTime=7,Duration=21"], (cont(7.0, 21.0),)),
    ("EXTINF without comma and with title", ["#EXTINF:5.76", "#EXTINF:6, no desc"], ()),
    (
        "PDT, MAP, KEY around markers",
        [
            "#EXT-X-KEY:METHOD=NONE",
            "#EXT-X-CUE-OUT:10",
            '#EXT-X-MAP:URI="i.mp4"',
            "#EXT-X-PROGRAM-DATE-TIME:2021-11-10T03:27:04Z",
        ],
        (out(10.0),),
    ),
    ("comments", ["## splice_insert(auto_return)", "# Splice Point @ 10.0", "# EXT-X-CUE-IN"], ()),
    (
        "duplicate CONT lines",
        ["#EXT-X-CUE-OUT-CONT:4/28", "#EXT-X-CUE-OUT-CONT:4/28"],
        (cont(4.0, 28.0), cont(4.0, 28.0)),
    ),
    ("tag names are case-sensitive", ["#ext-x-cue-out:30", "#EXT-X-Cue-In"], ()),
    (
        "negative, NaN and infinite numbers are dropped",
        ["#EXT-X-CUE-OUT:-5", "#EXT-X-CUE-OUT-CONT:nan/inf"],
        (out(), cont()),
    ),
]


@pytest.mark.parametrize(("lines", "expected"), [pytest.param(lines, exp, id=name) for name, lines, exp in QUIRKS])
def test_quirks(lines: list[str], expected: tuple[Exp, ...]) -> None:
    assert tuple(project(cue) for cue in detect(lines)) == normal(expected)


# --- the lexer and value helpers ---------------------------------------------------------------------


def test_attribute_lexer() -> None:
    attrs = parse_attributes('4,SpliceType=VOD_DAI, PAID=example.com/2024,SignalID=,CUE="a,b" ,X=\u201cq\u201d ')
    assert attrs.positional == ("4",)
    assert attrs.named == {"SPLICETYPE": "VOD_DAI", "PAID": "example.com/2024", "SIGNALID": "", "CUE": "a,b", "X": "q"}
    assert attrs.get("splicetype") == "VOD_DAI" and "Cue" in attrs and 3 not in attrs
    assert parse_attributes("").named == {} and parse_attributes(" , ,").positional == ()
    assert parse_attributes('ID="unterminated').named == {"ID": "unterminated"}
    assert parse_attributes("A=1,A=2").named == {"A": "1"}
    assert parse_attributes("SCTE35=/DAl+Q==").named == {"SCTE35": "/DAl+Q=="}


def test_value_helpers() -> None:
    assert parse_seconds("20.020") == 20.02 and parse_seconds(" 7 ") == 7.0 and parse_seconds(".5") == 0.5
    for bad in ("", "-1", "nan", "inf", "1e3", "1" * 400, "${x}"):
        with pytest.raises(ValueError, match="expected"):
            parse_seconds(bad)
    assert parse_iso8601_duration("PT10S") == 10.0
    assert parse_iso8601_duration("P1DT1H1M1.5S") == 90061.5
    assert parse_iso8601_duration("12.5") == 12.5
    with pytest.raises(ValueError, match="expected e.g. PT10S"):
        parse_iso8601_duration("PT")
    assert parse_date("2022-02-22T04:33:38.99782700Z").microsecond == 997827
    with pytest.raises(ValueError, match="no time zone"):
        parse_date("2024-01-01T00:00:00")
    with pytest.raises(ValueError, match="expected ISO 8601"):
        parse_date("2019-01T00:15:00Z")


# --- bad markers never raise -------------------------------------------------------------------------


def test_bad_value_is_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    before = SKIPPED["bad-number"]
    with caplog.at_level(logging.WARNING, logger="proxy.hls.markers"):
        assert detect(["#EXT-X-CUE-OUT:INVALID"]) == (Cue("out", "cue-out"),)
    assert SKIPPED["bad-number"] == before + 1
    (record,) = caplog.records
    assert "#EXT-X-CUE-OUT" in record.getMessage() and "INVALID" in record.getMessage()


def test_undecodable_payload_is_skipped_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    before = SKIPPED["bad-scte35"]
    with caplog.at_level(logging.WARNING, logger="proxy.hls.markers"):
        assert detect(["#EXT-X-SPLICEPOINT-SCTE35:c3BsaWNlLTY3MTE0OTQw"]) == ()
    assert SKIPPED["bad-scte35"] == before + 1
    assert "c3BsaWNlLTY3MTE0OTQw" in caplog.records[0].getMessage()


def test_parser_bug_costs_one_cue(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(tag: str, value: str) -> Cue | None:
        raise RuntimeError("boom")

    monkeypatch.setitem(markers._PARSERS, "#EXT-X-CUE-OUT", broken)
    before = SKIPPED["parser-error"]
    with caplog.at_level(logging.WARNING, logger="proxy.hls.markers"):
        assert detect(["#EXT-X-CUE-OUT:30", "#EXT-X-CUE-IN"]) == (Cue("in", "cue-out"),)
    assert SKIPPED["parser-error"] == before + 1


def test_fast_exit_without_marker_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(line: str) -> Cue | None:
        raise AssertionError(f"parsed {line!r}")

    monkeypatch.setattr(markers, "_parse_line", fail)
    lines = [
        "#EXTINF:6.006,",
        "#EXT-X-PROGRAM-DATE-TIME:2023-01-31T06:28:53.331Z",
        "#EXT-X-ASSET:CAID=1",
        "# EXT-X-CUE-IN",
    ]
    assert detect(lines) == ()
    assert detect([]) == ()


MARKER_TAGS = [
    "#EXT-X-CUE-OUT:",
    "#EXT-X-CUE-OUT-CONT:",
    "#EXT-X-CUE-IN:",
    "#EXT-X-CUE-SPAN:",
    "#EXT-X-CUE:",
    "#EXT-X-CUE-CONT:",
    "#EXT-X-DATERANGE:",
    "#EXT-OATCLS-SCTE35:",
    "#EXT-X-SPLICEPOINT-SCTE35:",
    "#EXT-X-SCTE35:",
    "#EXT-SCTE35:",
]
VALUE_PIECES = st.sampled_from(
    ["DURATION=", "ID=", "CUE=", "SCTE35-OUT=", "SCTE35-IN=", "END-DATE=", "START-DATE=", "TYPE=SpliceOut",
     "CUE-OUT=YES", "CUE-IN=YES", "CUE-OUT=CONT", "ELAPSED=", "ElapsedTime=", "TIMEFROMSIGNAL=PT", "0x", "FC",
     "/DA", V27, V38, V44, ",", ", ", '"', "\u201d", '\\"', "/", "=", "-1", "1e999", "2023-01-31T06:28:53Z", "P"]
)  # fmt: skip
VALUES = st.lists(VALUE_PIECES | st.text(max_size=8), max_size=10).map("".join)
LINES = st.builds(str.__add__, st.sampled_from(MARKER_TAGS), VALUES) | st.text(max_size=40)


@settings(database=None, max_examples=400)
@given(st.lists(LINES, max_size=6))
def test_detect_never_raises(lines: list[str]) -> None:
    before = SKIPPED["parser-error"]
    cues = detect(lines)
    assert all(isinstance(cue, Cue) for cue in cues)
    assert SKIPPED["parser-error"] == before  # no parser fell back on the safety net
    parse_attributes(lines[0] if lines else "")
