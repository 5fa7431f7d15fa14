"""VMAP 1.0 and Google ad rules into an AdSchedule, and the AdBreaks a live break plays.

Every VMAP sample of ../shared/testdata/ads parses to the AdBreaks its SOURCES.md inventory lists (read from
SOURCES.md itself), the spec-example copies leniently (unbound `xsi:`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from proxy.ads.chain import resolve
from proxy.ads.errors import AdParseError, ErrorCode
from proxy.ads.models import AdSchedule, BreakPosition, TimeOffset
from proxy.ads.vast import response_of
from proxy.ads.vmap import live_break, parse_time_offset, parse_vmap, slots
from proxy.errors import OriginError
from tests.conftest import sample, sample_dir, shared_dir

DATA = Path(__file__).parents[1] / "data" / "vast"
VMAP_SAMPLES = [
    "google_dfp/ima_ad_rules_premidpostpodbumper_vmap.xml",
    "ooyala_html5_ad_plugins/vmap_adtag_pre.xml",
    "ooyala_html5_ad_plugins/vmap_inline_podded.xml",
    "ooyala_html5_ad_plugins/vmap_inline_pre_adtag_post.xml",
    "ooyala_html5_ad_plugins/vmap_inline_repeatad.xml",
    "ooyala_html5_ad_plugins/vmap_inline_repeatad_bad_input1.xml",
    "ooyala_html5_ad_plugins/vmap_inline_repeatad_bad_input2.xml",
    "vmap_js/correct-vmap-with-extension.xml",
    "vmap_js/correct-vmap.xml",
]
REJECTED = {
    "vmap_js/incorrect-vmap.xml": "root element <WRONG>: expected <VMAP>",
    "vmap_js/parsing-example.xml": "root element <Extension>: expected <VMAP>",
}


def describe(schedule: AdSchedule) -> str:
    """A schedule in SOURCES.md's words: `VMAP 1.0 · n AdBreak(s) · breakId@timeOffset:source-kind; …`."""
    kinds = ["VASTAdData" if b.vast is not None else "AdTagURI" if b.ad_tag_uri else "none" for b in schedule.breaks]
    listed = "; ".join(f"{b.break_id}@{b.offset.raw}:{kind}" for b, kind in zip(schedule.breaks, kinds, strict=True))
    return f"VMAP {schedule.version} · {len(schedule.breaks)} AdBreak(s) · {listed}"


def inventory(name: str) -> str:
    sources = (sample_dir("ads") / "SOURCES.md").read_text()
    match = re.search(rf"^\| `{re.escape(name)}` \| (.*) \|$", sources.split("## Per-file inventory")[1], re.M)
    assert match, f"{name} is not in SOURCES.md's inventory"
    row = match.group(1)
    lenient = re.fullmatch(r"NOT well-formed \(recover mode: (.*)\)", row)
    return lenient.group(1) if lenient else row


def test_every_vmap_sample_is_covered() -> None:
    root = shared_dir("testdata", "ads")
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*.xml") if b"<vmap:" in p.read_bytes()}
    assert on_disk == set(VMAP_SAMPLES) | set(REJECTED)


@pytest.mark.parametrize("name", VMAP_SAMPLES)
def test_shared_vmap_sample_matches_sources_md(name: str) -> None:
    schedule = parse_vmap(sample("ads", name).read_bytes())
    assert describe(schedule) == inventory(name)


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_shared_non_vmap_is_rejected(name: str) -> None:
    with pytest.raises(AdParseError, match=re.escape(REJECTED[name])):
        parse_vmap(sample("ads", name).read_bytes())


def test_inline_pod_in_vmap_parses_like_vast() -> None:
    schedule = parse_vmap(sample("ads", "ooyala_html5_ad_plugins/vmap_inline_podded.xml").read_bytes())
    (brk,) = schedule.breaks
    assert brk.vast is not None and (brk.allow_multiple_ads, brk.follow_redirects) == (False, True)
    response = response_of(brk.vast)
    assert [(ad.ad_id, ad.sequence, ad.duration) for ad in response.ads] == [
        ("6654646", 1, 52.0),
        ("6654645", 2, 52.0),
        ("6654644", 3, 52.0),
    ]
    assert [ad.ad_id for ad in response.buffet] == ["6654600"]


def test_repeat_after_valid_and_invalid_values() -> None:
    root = sample_dir("ads", "ooyala_html5_ad_plugins")
    assert [b.repeat_after for b in parse_vmap((root / "vmap_inline_repeatad.xml").read_bytes()).breaks] == [
        5.0,
        10.0,
        None,
    ]
    for name in ("vmap_inline_repeatad_bad_input1.xml", "vmap_inline_repeatad_bad_input2.xml"):  # 00:00: 1337 apple ""
        assert [b.repeat_after for b in parse_vmap((root / name).read_bytes()).breaks] == [None, None]


AD_RULES = {  # the project's ad rules, and Google's captured ones (no licence: ../shared only)
    "own": lambda: DATA / "ad_rules_pod_bumpers_vmap.xml",
    "google": lambda: sample("ads", "google_dfp/ima_ad_rules_premidpostpodbumper_vmap.xml"),
}


def test_own_ad_rules_fixture_lists_every_slot() -> None:
    schedule = parse_vmap(AD_RULES["own"]().read_bytes())
    slot = "preroll@start:AdTagURI; " * 2 + "midroll-1@00:00:15.000:AdTagURI; " * 5 + "postroll@end:AdTagURI; " * 2
    assert describe(schedule) == "VMAP 1.0 · 9 AdBreak(s) · " + slot.removesuffix("; ")
    assert [b.bumper for b in schedule.breaks] == [False, True, True, False, False, False, True, True, False]


@pytest.mark.parametrize("source", sorted(AD_RULES))
def test_ad_rules_slots_and_the_live_break(source: str) -> None:
    body = AD_RULES[source]().read_bytes()
    schedule = parse_vmap(body)
    assert [(slot[0].break_id, len(slot)) for slot in slots(schedule)] == [
        ("preroll", 2),
        ("midroll-1", 5),
        ("postroll", 2),
    ]
    chosen = live_break(schedule, BreakPosition(index=2, start=20.0, previous=5.0))  # the first break after 15 s
    assert [b.source_id for b in chosen] == [
        "midroll-1-pre-bumper",
        "midroll-1-ad-1",
        "midroll-1-ad-2",
        "midroll-1-ad-3",
        "midroll-1-post-bumper",
    ]
    assert [b.bumper for b in chosen] == [True, False, False, False, True]
    assert chosen[1].offset == TimeOffset("time", 15.0, "00:00:15.000") and chosen[1].template_type == "vast3"
    assert "ppos=1" in chosen[1].ad_tag_uri and chosen[1].allow_multiple_ads is False


# -- own fixture and rules ----------------------------------------------------------------------------------


def test_own_vmap_fixture() -> None:
    schedule = parse_vmap((DATA / "vmap_midroll.xml").read_bytes())
    assert describe(schedule) == (
        "VMAP 1.0 · 3 AdBreak(s) · preroll@start:AdTagURI; midroll-1@00:10:00.000:VASTAdData; postroll@end:AdTagURI"
    )
    mid = schedule.breaks[1]
    assert mid.repeat_after == 900.0 and mid.tracking[0] == ("breakStart", "https://mid.example.com/break-start")
    assert mid.vast is not None and [type(entry).__name__ for entry in mid.vast.entries] == ["Ad", "Wrapper"]
    assert live_break(schedule, BreakPosition(index=3, start=600.0, previous=300.0)) == (mid,)


@pytest.mark.parametrize(
    "namespace",
    ['xmlns:vmap="http://www.iab.net/vmap-1.0"', 'xmlns:vmap="https://www.iab.net/videosuite/vmap"', ""],
)
def test_every_vmap_namespace_and_none(namespace: str) -> None:
    body = (DATA / "vmap_midroll.xml").read_text()
    changed = body.replace('xmlns:vmap="http://www.iab.net/videosuite/vmap"', namespace)
    if not namespace:
        changed = changed.replace("vmap:", "")
    assert changed != body
    assert parse_vmap(changed.encode()) == parse_vmap(body.encode())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("start", TimeOffset("start", 0.0, "start")),
        ("end", TimeOffset("end", 0.0, "end")),
        (" 00:10:23.125 ", TimeOffset("time", 623.125, "00:10:23.125")),
        ("50%", TimeOffset("percent", 50.0, "50%")),
        ("#2", TimeOffset("position", 2.0, "#2")),
    ],
)
def test_time_offsets(value: str, expected: TimeOffset) -> None:
    assert parse_time_offset(value) == expected


@pytest.mark.parametrize("value", ["", "middle", "101%", "-5%", "#0", "#x", "10:00", "00:00:-1"])
def test_bad_time_offsets_name_the_value(value: str) -> None:
    with pytest.raises(AdParseError, match=re.escape(repr(value))) as caught:
        parse_time_offset(value)
    assert caught.value.code == ErrorCode.VMAP_SCHEMA


def vmap(*breaks: tuple[str, str], version: str = "1.0") -> bytes:
    body = "".join(
        f'<vmap:AdBreak timeOffset="{offset}" breakType="{kind}" breakId="{offset}-{kind}">'
        f"<vmap:AdSource><vmap:AdTagURI><![CDATA[https://own.test/{offset}]]></vmap:AdTagURI></vmap:AdSource>"
        "</vmap:AdBreak>"
        for offset, kind in breaks
    )
    return f'<vmap:VMAP xmlns:vmap="http://www.iab.net/videosuite/vmap" version="{version}">{body}</vmap:VMAP>'.encode()


@pytest.mark.parametrize(
    ("breaks", "chosen"),
    [
        ([("start", "linear"), ("00:05:00", "linear"), ("00:10:00", "linear"), ("end", "linear")], ["00:05:00"]),
        ([("start", "linear"), ("end", "linear")], []),  # a break 6 min in is no pre-roll; live has no end
        ([("0%", "linear"), ("50%", "linear"), ("100%", "linear")], ["50%"]),
        ([("00:00:00", "linear"), ("#1", "linear"), ("#2", "linear")], ["#2"]),
        ([("00:05:00", "nonlinear"), ("00:06:00", "linear,nonlinear")], ["00:06:00"]),
    ],
)
def test_live_break_rule(breaks: list[tuple[str, str]], chosen: list[str]) -> None:
    position = BreakPosition(index=2, start=360.0, previous=120.0)  # a session's 2nd break, 6 min in
    assert [b.offset.raw for b in live_break(parse_vmap(vmap(*breaks)), position)] == chosen


async def test_a_break_without_a_usable_offset_is_left_out_and_reported() -> None:
    body = vmap(("00:05:00", "linear"), ("later", "linear")).replace(
        b'breakId="later-linear">',
        b'breakId="later-linear"><vmap:TrackingEvents><vmap:Tracking event="error">https://e.example.com/[ERROR_CODE]'
        b"</vmap:Tracking></vmap:TrackingEvents>",
    )
    schedule = parse_vmap(body)
    assert [b.break_id for b in schedule.breaks] == ["00:05:00-linear"]
    (skip,) = schedule.skipped
    assert (skip.ad_id, skip.code, skip.error_urls) == ("later-linear", 1000, ("https://e.example.com/[ERROR_CODE]",))

    async def fetch(url: str) -> bytes:
        return body if url == "https://own.test/v" else (DATA / "inline_vast2.xml").read_bytes()

    response = await resolve("https://own.test/v", fetch, position=BreakPosition(start=300.0))
    assert [ad.ad_id for ad in response.ads] == ["ad-42"] and response.skipped == (skip,)


def test_version_and_root_are_checked() -> None:
    with pytest.raises(AdParseError, match="VMAP version '2.0': expected 1.0"):
        parse_vmap(vmap(("start", "linear"), version="2.0"))
    with pytest.raises(AdParseError, match="root element <VAST>: expected <VMAP>"):
        parse_vmap(b'<VAST version="3.0"/>')


CUSTOM = b"""<vmap:VMAP xmlns:vmap="http://www.iab.net/videosuite/vmap" version="1.0">
<vmap:AdBreak timeOffset="#1" breakType="linear" breakId="b1"><vmap:AdSource id="s1">
<vmap:CustomAdData templateType="proprietary"><![CDATA[{"ads": []}]]></vmap:CustomAdData></vmap:AdSource>
<vmap:TrackingEvents><vmap:Tracking event="error"><![CDATA[https://b1.example.com/e?c=[ERROR_CODE]]]></vmap:Tracking>
</vmap:TrackingEvents></vmap:AdBreak>
<vmap:AdBreak timeOffset="#1" breakType="linear" breakId="b1"><vmap:AdSource id="s2"><vmap:VASTAdData>
<VideoAdServingTemplate/></vmap:VASTAdData></vmap:AdSource></vmap:AdBreak>
<vmap:AdBreak timeOffset="#1" breakType="linear" breakId="b1"><vmap:AdSource id="s3">
<vmap:AdTagURI><![CDATA[missing.xml]]></vmap:AdTagURI></vmap:AdSource></vmap:AdBreak>
<vmap:AdBreak timeOffset="#1" breakType="linear" breakId="b1"/>
</vmap:VMAP>"""


async def test_unusable_sources_are_reported_with_vmap_codes() -> None:
    schedule = parse_vmap(CUSTOM)
    assert [b.skip.code if b.skip else 0 for b in schedule.breaks] == [1005, 1006, 0, 0]
    requested: list[str] = []

    async def fetch(url: str) -> bytes:
        requested.append(url)
        if url == "https://own.test/vmap":
            return CUSTOM
        raise OriginError(f"GET {url}: 404")

    response = await resolve("https://own.test/vmap", fetch)
    assert response.ads == ()
    assert [(skip.ad_id, skip.code) for skip in response.skipped] == [("s1", 1005), ("s2", 1006), ("s3", 1008)]
    assert response.skipped[0].error_urls == ("https://b1.example.com/e?c=[ERROR_CODE]",)
    assert requested == ["https://own.test/vmap", "https://own.test/missing.xml"]
