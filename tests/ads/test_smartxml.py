"""FreeWheel SmartXML into an AdSchedule: the synthetic sample of ../shared (SOURCES.md: "ads=3 slots=3") and the
project's own fixture (tests/data/vast/smartxml.xml)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from proxy.ads.errors import AdParseError
from proxy.ads.models import Ad, AdBreak, BreakPosition, MediaFile, TimeOffset, Wrapper
from proxy.ads.smartxml import parse_smartxml
from proxy.ads.vmap import live_break
from tests.conftest import sample_dir

DATA = Path(__file__).parents[1] / "data" / "vast"
SAMPLE = "synthetic/freewheel/smartxml_preroll_midroll_pod.xml"


def entries(brk: AdBreak) -> list[Ad | Wrapper]:
    assert brk.vast is not None
    return list(brk.vast.entries)


def test_shared_sample_has_the_ads_and_slots_sources_md_lists() -> None:
    root = sample_dir("ads")
    row = re.search(rf"^\| `{re.escape(SAMPLE)}` \| (.*) \|$", (root / "SOURCES.md").read_text(), re.M)
    assert row and row.group(1) == "FreeWheel SmartXML · ads=3 slots=3"
    schedule = parse_smartxml((root / SAMPLE).read_bytes())
    assert (schedule.format, schedule.version, len(schedule.breaks)) == ("smartxml", "1", 3)
    assert len({entry.ad_id for brk in schedule.breaks for entry in entries(brk)}) == 3
    pre, mid, post = schedule.breaks
    assert [(b.break_id, b.offset) for b in schedule.breaks] == [
        ("preroll_1", TimeOffset("start", 0.0, "preroll")),
        ("midroll_1", TimeOffset("time", 600.0, "600.000")),
        ("postroll_1", TimeOffset("end", 0.0, "postroll")),
    ]
    assert entries(post) == [] and live_break(schedule, BreakPosition(index=4, start=610.0, previous=590.0)) == (mid,)

    (ad,) = entries(pre)
    assert isinstance(ad, Ad) and (ad.ad_id, ad.creative_id, ad.duration, ad.sequence) == ("10001", "20001", 15.0, 1)
    assert [media.url.rsplit("/", 1)[1] for media in ad.media_files] == ["ad1_720p.mp4", "ad1_360p.mp4"]
    assert ad.media_files[0].bitrate == 1600  # 3 000 000 bytes over 15 s
    assert ad.impressions == (
        "https://fw.example.com/ad/l/1?adid=10001&reid=30001&cn=defaultImpression&et=i&tpos=0",
        "https://3p.example.com/imp?cb=[CACHEBUSTING]",
    )
    assert [event for event, _ in ad.tracking] == ["generic", "firstQuartile", "midpoint", "thirdQuartile", "complete"]
    assert ad.click_through[0].endswith("cr=https%3A%2F%2Fadvertiser.example.com%2F")
    assert ad.errors == ("https://fw.example.com/ad/l/1?adid=10001&cn=_e_unknown&et=e",)
    assert [event for event, _ in pre.tracking] == ["breakStart", "breakEnd"]

    hls, tag = entries(mid)
    assert isinstance(hls, Ad) and (hls.duration, hls.media_files[0].is_hls, hls.sequence) == (30.0, True, 1)
    assert isinstance(tag, Wrapper) and (tag.ad_tag_uri, tag.sequence) == (
        "https://thirdparty.example.com/vast?id=123",
        2,
    )
    assert mid.vast is not None and mid.vast.skipped == ()  # the fallback ad is the selected 10003: not repeated


def test_own_fixture_puts_the_referenced_rendition_first() -> None:
    schedule = parse_smartxml((DATA / "smartxml.xml").read_bytes())
    pre, mid = schedule.breaks
    (first,) = entries(pre)
    assert isinstance(first, Ad) and [m.mime_type for m in first.media_files] == ["application/x-mpegurl", "video/mp4"]
    a1, a2 = entries(mid)
    assert isinstance(a1, Ad) and a1.media_files[0] == MediaFile(
        "https://cdn.example.com/a1/360p.mp4", "video/mp4", "progressive", 1000, 640, 360
    )
    assert a1.impressions == ("https://fw.example.com/imp?ad=a1", "https://3p.example.com/imp")
    assert a1.tracking == (("midpoint", "https://fw.example.com/mid?ad=a1"),)
    assert a1.click_through == ("https://fw.example.com/click?cr=https%3A%2F%2Fshop.example.com",)
    assert isinstance(a2, Wrapper) and a2.ad_tag_uri == "https://own.test/inline_vast2.xml"
    assert mid.tracking == (
        ("breakStart", "https://fw.example.com/slot-start"),
        ("breakEnd", "https://fw.example.com/slot-end"),
    )


def smartxml(creative: str = 'creativeId="c1" duration="10"', reference: str = 'adId="a1" creativeId="c1"') -> bytes:
    return (
        f'<adResponse version="1"><ads><ad adId="a1"><creatives><creative {creative}><creativeRenditions>'
        '<creativeRendition creativeRenditionId="r1"><asset url="https://cdn.example.com/a.mp4" mimeType="video/mp4"/>'
        "</creativeRendition></creativeRenditions></creative></creatives></ad></ads>"
        '<siteSection><videoPlayer><videoAsset><adSlots><temporalAdSlot customId="m" timePositionClass="midroll" '
        f'timePosition="30"><selectedAds><adReference {reference}/></selectedAds></temporalAdSlot></adSlots>'
        "</videoAsset></videoPlayer></siteSection></adResponse>"
    ).encode()


def test_a_minimal_response() -> None:
    ((ad,),) = [entries(brk) for brk in parse_smartxml(smartxml()).breaks]
    assert isinstance(ad, Ad) and (ad.duration, ad.media_files[0].url) == (10.0, "https://cdn.example.com/a.mp4")


@pytest.mark.parametrize(
    ("creative", "reference", "detail"),
    [
        ('creativeId="c1" duration="ten"', 'adId="a1" creativeId="c1"', "creative duration 'ten': expected seconds"),
        ('creativeId="c1" duration="inf"', 'adId="a1" creativeId="c1"', "creative duration 'inf'"),
        ('creativeId="c1" duration="10"', 'adId="a1" creativeId="c9"', "creativeId 'c9': expected an ads/ad"),
    ],
)
def test_unusable_references_are_skipped_naming_the_value(creative: str, reference: str, detail: str) -> None:
    (brk,) = parse_smartxml(smartxml(creative, reference)).breaks
    assert brk.vast is not None and brk.vast.entries == ()
    (skip,) = brk.vast.skipped
    assert detail in skip.detail and skip.code == 101


def test_a_slot_without_a_time_position_is_left_out_and_a_bad_root_refused() -> None:
    schedule = parse_smartxml(smartxml().replace(b'timePosition="30"', b'timePosition="soon"'))
    assert schedule.breaks == ()
    (skip,) = schedule.skipped
    assert (skip.ad_id, skip.code) == ("m", 101) and "timePosition 'soon': expected seconds" in skip.detail
    with pytest.raises(AdParseError, match="root element <VAST>: expected <adResponse>"):
        parse_smartxml(b'<VAST version="3.0"/>')
