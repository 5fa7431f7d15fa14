"""The Wrapper resolver, the format dispatcher and the Error URIs, over a dict-backed async fetch: the fixture URLs
map to local files (tests/data/vast at https://own.test/, ../shared/testdata/ads at https://ads.test/, and the
absolute Wrapper targets of the shared samples to their local copies). No host is ever contacted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from proxy.ads.chain import (
    ResponseFormat,
    parse_response,
    resolve,
    resolve_body,
    response_format,
    unsupported_media,
)
from proxy.ads.errors import AdParseError, error_url, expand, tracking_url
from proxy.ads.models import AdResponse, AdSchedule, BreakPosition, ResolvedResponse
from proxy.errors import ConfigError, OriginError
from tests.conftest import sample_dir, shared_dir

DATA = Path(__file__).parents[1] / "data" / "vast"
OWN, ADS = "https://own.test/", "https://ads.test/"
CHAIN = ADS + "synthetic/wrapper_chain/"
TEN_MINUTES = BreakPosition(index=3, start=600.0, previous=300.0)  # where the own fixtures' mid-rolls are due
ALIASES = {  # absolute VASTAdTagURIs of shared samples -> their local copy
    "http://demo.tremormedia.com/proddev/vast/vast_inline_linear.xml": "iab_vast_samples/vast1-2/tremor/"
    "vast_inline_linear.xml",
    "https://raw.githubusercontent.com/InteractiveAdvertisingBureau/VAST_Samples/master/VAST%203.0%20Samples/"
    "Inline_Companion_Tag-test.xml": "iab_vast_samples/vast3.0/Inline_Companion_Tag-test.xml",
}


class Fetcher:
    """`fetch` for the resolver: a dict of URL -> body; an unknown URL fails as the HTTP client would."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requested: list[str] = []

    async def __call__(self, url: str) -> bytes:
        self.requested.append(url)
        if url not in self.files:
            raise OriginError(f"GET {url}: 404")
        return self.files[url]


def own() -> Fetcher:
    return Fetcher({OWN + path.name: path.read_bytes() for path in DATA.glob("*.xml")})


def shared() -> Fetcher:
    root = sample_dir("ads")
    files = {ADS + str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*.xml")}
    files.update({url: (root / local).read_bytes() for url, local in ALIASES.items()})
    return Fetcher(files)


def codes(response: ResolvedResponse) -> list[tuple[str, int]]:
    return [(skip.ad_id, skip.code) for skip in response.skipped]


# -- own fixtures: a 2-deep chain, a VMAP with an inline mid-roll, a SmartXML -----------------------------------


async def test_two_deep_chain_merges_every_wrapper_url_into_the_inline_ad() -> None:
    fetch = own()
    response = await resolve(OWN + "chain_w1.xml", fetch)
    assert response.skipped == () and response.buffet == () and response.break_tracking == ()
    assert (
        fetch.requested
        == list(response.fetched)
        == [OWN + name for name in ("chain_w1.xml", "chain_w2.xml", "inline_vast2.xml")]
    )
    (ad,) = response.ads
    assert (ad.ad_id, ad.duration, ad.sequence) == ("ad-42", 15.5, 1)  # pod position from the outer Wrapper
    assert ad.impressions == (
        "https://w1.example.com/imp",
        "https://w2.example.com/imp",
        "https://track.example.com/imp/1",
        "https://track.example.com/imp/2",
    )
    assert ad.errors == (
        "https://w1.example.com/error?code=[ERRORCODE]",
        "https://w2.example.com/error?code=[ERRORCODE]",
        "https://track.example.com/error?code=[ERRORCODE]",
    )
    assert [event for event, _ in ad.tracking] == [
        "start",
        "complete",
        "progress@00:00:05",
        "start",
        "firstQuartile",
        "complete",
    ]
    assert ad.click_tracking == ("https://w1.example.com/click", "https://track.example.com/click")
    assert ad.click_through == ("https://shop.example.com/sale",)  # the InLine's wins over a Wrapper's
    assert ad.wrapper_chain == (OWN + "chain_w2.xml", OWN + "inline_vast2.xml")


async def test_the_closest_wrapper_click_through_when_the_inline_has_none() -> None:
    fetch = own()
    inline = fetch.files[OWN + "inline_vast2.xml"]
    fetch.files[OWN + "inline_vast2.xml"] = inline.replace(b"<ClickThrough>", b"<Other>").replace(
        b"</ClickThrough>", b"</Other>"
    )
    (ad,) = (await resolve(OWN + "chain_w1.xml", fetch)).ads
    assert ad.click_through == ("https://w2.example.com/landing",)


async def test_depth_limit_is_a_parameter() -> None:
    fetch = own()
    response = await resolve(OWN + "chain_w1.xml", fetch, max_depth=1)
    assert response.ads == () and codes(response) == [("w2", 302)]
    assert response.skipped[0].error_urls == (
        "https://w1.example.com/error?code=[ERRORCODE]",
        "https://w2.example.com/error?code=[ERRORCODE]",
    )
    assert fetch.requested == [OWN + "chain_w1.xml", OWN + "chain_w2.xml"]


def wrapper(target: str, *, sequence: str = "", attributes: str = "", name: str = "w") -> str:
    return (
        f'<Ad id="{name}"{sequence and f" sequence={sequence!r}"}><Wrapper {attributes}><AdSystem>t</AdSystem>'
        f"<VASTAdTagURI><![CDATA[{target}]]></VASTAdTagURI><Error>https://{name}.example.com/e</Error>"
        "</Wrapper></Ad>"
    )


def inline(name: str, seconds: int, sequence: str = "") -> str:
    return (
        f'<Ad id="{name}"{sequence and f" sequence={sequence!r}"}><InLine><AdSystem>t</AdSystem><AdTitle>t</AdTitle>'
        f"<Error>https://{name}.example.com/e</Error><Creatives><Creative><Linear>"
        f"<Duration>00:00:{seconds:02d}</Duration><MediaFiles><MediaFile delivery='streaming' "
        f"type='application/x-mpegURL'>https://cdn.example.com/{name}.m3u8</MediaFile></MediaFiles></Linear>"
        "</Creative></Creatives></InLine></Ad>"
    )


def vast(*ads: str, version: str = "4.1", errors: str = "") -> bytes:
    return f'<VAST version="{version}">{errors}{"".join(ads)}</VAST>'.encode()


async def test_a_loop_is_302_and_never_spins() -> None:
    fetch = Fetcher({OWN + "a": vast(wrapper("b", name="wa")), OWN + "b": vast(wrapper(OWN + "a", name="wb"))})
    response = await resolve(OWN + "a", fetch)
    assert codes(response) == [("wb", 302)] and fetch.requested == [OWN + "a", OWN + "b"]
    assert "Wrapper loop" in response.skipped[0].detail and len(response.skipped[0].error_urls) == 2


async def test_first_document_failures_raise_for_the_caller() -> None:
    with pytest.raises(OriginError):
        await resolve(OWN + "missing.xml", Fetcher({}))
    with pytest.raises(AdParseError) as caught:
        await resolve(OWN + "x", Fetcher({OWN + "x": b"{ vast: null }"}))
    assert caught.value.code == 100


@pytest.mark.parametrize("target", ["file:///etc/passwd", "gopher://own.test/x", "javascript:alert(1)"])
async def test_only_http_targets_are_fetched(target: str) -> None:
    fetch = Fetcher({OWN + "a": vast(wrapper(target))})
    response = await resolve(OWN + "a", fetch)
    assert codes(response) == [("w", 301)] and fetch.requested == [OWN + "a"]
    assert "expected an http(s) URL" in response.skipped[0].detail


async def test_any_fetch_exception_is_301() -> None:
    async def fetch(url: str) -> bytes:
        if url.endswith("a"):
            return vast(wrapper("b"))
        raise TimeoutError

    response = await resolve(OWN + "a", fetch)
    assert codes(response) == [("w", 301)] and "TimeoutError" in response.skipped[0].detail


async def test_top_level_no_ad_response_is_303_to_its_root_errors() -> None:
    response = await resolve(OWN + "empty.xml", own())
    (skip,) = response.skipped
    assert (skip.reason, skip.code) == ("EMPTY_VAST_RESPONSE", 303)
    assert skip.error_urls == ("https://track.example.com/no-ad?code=[ERRORCODE]",)


async def test_follow_additional_wrappers_false_refuses_the_next_wrapper() -> None:
    fetch = Fetcher(
        {
            OWN + "a": vast(wrapper("b", attributes='followAdditionalWrappers="false"', name="wa")),
            OWN + "b": vast(wrapper("c", name="wb"), inline("kept", 10, "1")),
        }
    )
    response = await resolve(OWN + "a", fetch)
    assert [ad.ad_id for ad in response.ads] == ["kept"]
    assert codes(response) == [("wb", 300)]
    assert response.skipped[0].error_urls == ("https://wa.example.com/e", "https://wb.example.com/e")


@pytest.mark.parametrize(
    ("attributes", "target", "expected"),
    [
        ("", vast(inline("p1", 5, "1"), inline("alone", 6), inline("p2", 7, "2")), ["alone"]),  # default: false
        ("", vast(inline("p2", 5, "2"), inline("p1", 6, "1")), ["p1"]),  # only a pod: its first ad (lenient)
        ('allowMultipleAds="true"', vast(inline("p2", 5, "2"), inline("p1", 6, "1")), ["p1", "p2"]),
        ("", vast(inline("a", 5), inline("b", 6), version="2.0"), ["a", "b"]),  # VAST 2 had no such attribute
    ],
)
async def test_allow_multiple_ads(attributes: str, target: bytes, expected: list[str]) -> None:
    fetch = Fetcher({OWN + "a": vast(wrapper("b", attributes=attributes)), OWN + "b": target})
    assert [ad.ad_id for ad in (await resolve(OWN + "a", fetch)).ads] == expected


@pytest.mark.parametrize(("fallback", "expected"), [("", ["buffet", "p2"]), ('fallbackOnNoAd="false"', ["p2"])])
async def test_a_failed_pod_wrapper_is_replaced_by_a_buffet_ad(fallback: str, expected: list[str]) -> None:
    top = vast(wrapper("gone", sequence="1", attributes=fallback, name="w1"), inline("buffet", 9), inline("p2", 8, "2"))
    response = await resolve(OWN + "top", Fetcher({OWN + "top": top}))
    assert [ad.ad_id for ad in response.ads] == expected
    assert codes(response) == [("w1", 301)]
    assert [ad.ad_id for ad in response.buffet] == ([] if expected[0] == "buffet" else ["buffet"])


# -- VMAP and SmartXML through the resolver ------------------------------------------------------------------


async def test_vmap_plays_its_mid_roll_with_break_tracking_and_errors() -> None:
    fetch = own()
    response = await resolve(OWN + "vmap_midroll.xml", fetch, expected="vmap", position=TEN_MINUTES)
    assert [(ad.ad_id, ad.sequence, ad.duration) for ad in response.ads] == [
        ("mid-inline", 1, 20.0),
        ("ad-42", 2, 15.5),
    ]
    assert OWN + "pre.xml" not in fetch.requested and OWN + "post.xml" not in fetch.requested
    assert response.break_tracking == (
        ("breakStart", "https://mid.example.com/break-start"),
        ("error", "https://mid.example.com/break-error?code=[ERROR_CODE]"),
    )
    wrapped = response.ads[1]
    assert wrapped.errors[0] == "https://mid.example.com/break-error?code=[ERROR_CODE]"  # VMAP 1.0.1 §2.5
    assert wrapped.impressions[0] == "https://mid.example.com/wrapper-imp"
    assert wrapped.wrapper_chain == (OWN + "chain_w2.xml", OWN + "inline_vast2.xml")


async def test_smartxml_mid_roll_with_a_vast_rendition() -> None:
    position = BreakPosition(index=2, start=310.0, previous=100.0)  # its mid-roll slot is at 300 s
    response = await resolve(OWN + "smartxml.xml", own(), expected="smartxml", position=position)
    assert [(ad.ad_id, ad.sequence, ad.duration) for ad in response.ads] == [("a1", 1, 10.0), ("ad-42", 2, 15.5)]
    assert response.ads[1].impressions[0] == "https://fw.example.com/imp?ad=a2"
    assert [event for event, _ in response.break_tracking] == ["breakStart", "breakEnd"]


@pytest.mark.parametrize("expected", ["vast", "vmap", "dfp_ad_rules", "smartxml", "auto"])
async def test_the_root_element_decides_whatever_the_configured_type(expected: ResponseFormat) -> None:
    body = (DATA / "vmap_midroll.xml").read_bytes()
    response = await resolve_body(body, OWN + "vmap_midroll.xml", own(), expected=expected, position=TEN_MINUTES)
    assert len(response.ads) == 2
    with pytest.raises(AdParseError, match=r"root element <html>: expected <VAST>, <VMAP> or <adResponse>"):
        await resolve_body(b"<html/>", OWN + "x", own(), expected=expected)


def test_parse_response_dispatches_on_the_root() -> None:
    assert isinstance(parse_response((DATA / "inline_vast2.xml").read_bytes(), "vast"), AdResponse)
    schedule = parse_response((DATA / "vmap_midroll.xml").read_bytes())
    assert isinstance(schedule, AdSchedule) and schedule.format == "vmap"
    smart = parse_response((DATA / "smartxml.xml").read_bytes(), "smartxml")
    assert isinstance(smart, AdSchedule) and smart.format == "smartxml"
    with pytest.raises(AdParseError, match=r"root element <html>: expected <VAST>, <VMAP> or <adResponse>"):
        parse_response(b"<html/>")
    with pytest.raises(AdParseError) as caught:
        parse_response(b'<VideoAdServingTemplate version="1.0"/>')
    assert caught.value.code == 102


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Dfp", "dfp_ad_rules"), ("Vast", "vast"), ("SmartXML", "smartxml"), ("dfp_vmap", "vmap"), ("vast_3_0", "vast")],
)
def test_response_format_names_of_the_seeds(name: str, expected: str) -> None:
    assert response_format(name) == expected


def test_unknown_response_format_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'json'"):
        response_format("json")


# -- ../shared: synthetic wrapper chains --------------------------------------------------------------------


async def test_five_wrappers_resolve_with_every_wrapper_merged() -> None:
    fetch = shared()
    response = await resolve(CHAIN + "ok_w1.xml", fetch)
    (ad,) = response.ads
    assert (ad.ad_id, ad.duration, len(ad.media_files)) == ("inline-1", 15.0, 2)
    assert [url.split("/")[2] for url in ad.impressions] == [f"w{n}.example.com" for n in range(1, 6)] + [
        "inline.example.com"
    ]
    assert len(ad.errors) == 6 and len(ad.click_tracking) == 6
    assert [url for event, url in ad.tracking if event == "start"][:5] == [
        f"https://w{n}.example.com/start" for n in range(1, 6)
    ]
    assert len(fetch.requested) == 6 and response.skipped == ()


async def test_six_wrappers_give_302_to_every_wrapper() -> None:
    fetch = shared()
    response = await resolve(CHAIN + "deep_w1.xml", fetch)
    assert response.ads == () and codes(response) == [("w6", 302)]
    assert [url.split("/")[2] for url in response.skipped[0].error_urls] == [f"w{n}.example.com" for n in range(1, 7)]
    assert CHAIN + "inline.xml" not in fetch.requested


@pytest.mark.parametrize(
    ("first", "ad_id", "code", "errors"),
    [
        ("loop_a.xml", "wb", 302, ["wa", "wb"]),
        ("to_empty.xml", "we", 303, ["we", "empty"]),
        ("to_missing.xml", "wm", 301, ["wm"]),
        ("to_broken.xml", "wx", 100, ["wx"]),
    ],
)
async def test_chain_failures(first: str, ad_id: str, code: int, errors: list[str]) -> None:
    response = await resolve(CHAIN + first, shared())
    assert response.ads == () and codes(response) == [(ad_id, code)]
    assert [url.split("/")[2].split(".")[0] for url in response.skipped[0].error_urls] == errors


async def test_no_supported_media_is_403_for_the_caller() -> None:
    (ad,) = (await resolve(CHAIN + "to_no_supported_media.xml", shared())).ads
    skip = unsupported_media(ad, usable=lambda media: media.is_hls or media.mime_type == "video/mp4")
    assert skip is not None and (skip.code, skip.reason) == (403, "NO_VARIANT_MATCH")
    assert "video/x-flv" in skip.detail
    assert skip.error_urls == ad.errors and len(ad.errors) == 2  # the Wrapper's and the InLine's
    (fine,) = (await resolve(CHAIN + "inline.xml", shared())).ads
    assert unsupported_media(fine) is None


# -- ../shared: vast-client-js and IAB wrapper samples ------------------------------------------------------


async def test_vast_client_js_wrapper_a_b_sample() -> None:
    response = await resolve(ADS + "vast_client_js/wrapper-a.xml", shared())
    (ad,) = response.ads  # wrapper-b allows one ad of sample.xml: its only usable one, the pod's first
    assert (ad.ad_id, ad.duration, ad.universal_ad_id) == ("ad_id_0001", 90.123, "daily-motion-L1 Linear-12345")
    assert ad.impressions[:3] == (
        "http://example.com/wrapperA-impression",
        "http://example.com/wrapperB-impression1",
        "http://example.com/wrapperB-impression2",
    )
    starts = [url for event, url in ad.tracking if event == "start"]
    assert starts == [
        "http://example.com/wrapperA-linear-start1",
        "http://example.com/wrapperA-linear-start2",
        "http://example.com/wrapperB-linear-start",
        "http://example.com/linear-start",
    ]
    assert ad.mezzanine[0].url == "http://example.com/linear-mezzanine.mp4"
    assert sorted(codes(response)) == [("VPAID", 101), ("ad_id_0002", 101)]  # bare "30" and no Duration


async def test_vast_client_js_pod_of_wrappers_falls_back_to_a_buffet_wrapper() -> None:
    response = await resolve(ADS + "vast_client_js/wrapper-multiple-ads.xml", shared())
    assert [(ad.ad_id, ad.duration) for ad in response.ads] == [("ad_id_0001", 90.123), ("20001", 16.0)]


async def test_vast_client_js_wrapper_attributes() -> None:
    response = await resolve(ADS + "vast_client_js/wrapper-attributes-multiple-ads.xml", shared())
    assert [ad.ad_id for ad in response.ads] == ["ad_id_0001"] * 3  # 201, 203, 204; 202 refuses wrapper-b
    assert ("1234", 300) in codes(response)


@pytest.mark.parametrize(
    ("name", "expected", "skips"),
    [
        ("wrapper-legacy.xml", ["20001"], []),
        ("wrapper-empty.xml", [], [("", 303)]),
        ("wrapper-unavailable-url.xml", [], [("", 301)]),
        ("wrapper-empty-no-creative.xml", [], [("", 200)]),
        ("empty-no-ad.xml", [], [("", 303)]),
    ],
)
async def test_vast_client_js_samples(name: str, expected: list[str], skips: list[tuple[str, int]]) -> None:
    response = await resolve(ADS + "vast_client_js/" + name, shared())
    assert [ad.ad_id for ad in response.ads] == expected and codes(response) == skips
    assert all(skip.error_urls for skip in response.skipped)


@pytest.mark.parametrize(
    ("name", "ad_id"),
    [
        ("iab_vast_samples/vast3.0/Wrapper_Tag-test.xml", "20004"),
        ("iab_vast_samples/vast1-2/tremor/vast_wrapper_linear_1.xml", "601364"),
    ],
)
async def test_absolute_wrapper_targets_map_to_local_copies(name: str, ad_id: str) -> None:
    fetch = shared()
    response = await resolve(ADS + name, fetch)
    assert [ad.ad_id for ad in response.ads] == [ad_id]
    assert fetch.requested[1] in ALIASES


def ad_rules_files(source: str) -> tuple[bytes, bytes]:
    """(ad rules VMAP, the inline VAST 3 answering each of its slots): the project's, or Google's captured
    ones (no licence: ../shared only)."""
    if source == "own":
        return (DATA / "ad_rules_pod_bumpers_vmap.xml").read_bytes(), (
            DATA / "inline_linear_vast3_10s.xml"
        ).read_bytes()
    root = shared_dir("testdata", "ads")
    vmap = (root / "google_dfp/ima_ad_rules_premidpostpodbumper_vmap.xml").read_bytes()
    return vmap, (root / "google_dfp/ima_single_inline_linear_vast3.xml").read_bytes()


@pytest.mark.parametrize("source", ["own", "google"])
async def test_ad_rules_mid_roll_pod_with_unfilled_bumpers(source: str) -> None:
    fetch = shared()
    ad_rules, inline_ad = ad_rules_files(source)
    fetch.files[ADS + "ad_rules.xml"] = ad_rules
    schedule = parse_response(ad_rules)
    assert isinstance(schedule, AdSchedule)
    for brk in schedule.breaks:
        if brk.break_id == "midroll-1":
            fetch.files[brk.ad_tag_uri] = (DATA / "empty.xml").read_bytes() if brk.bumper else inline_ad
    response = await resolve(
        ADS + "ad_rules.xml",
        fetch,
        expected="dfp_ad_rules",
        position=BreakPosition(index=2, start=40.0, previous=10.0),  # the first break after its 15 s mid-roll
    )
    assert [ad.duration for ad in response.ads] == [10.0, 10.0, 10.0]
    assert codes(response) == [("", 303), ("", 303)]  # the bumper slots answered with no ad
    assert len(fetch.requested) == 6 and all("vpos=midroll" in url for url in fetch.requested[1:])


# -- Error URIs and macros (VAST 4.3 §6) --------------------------------------------------------------------

WHEN = datetime(2026, 1, 17, 8, 15, 7, 127000, tzinfo=timezone(timedelta(hours=-5)))


async def test_error_urls_of_a_failed_chain_are_ready_to_fire() -> None:
    (skip,) = (await resolve(CHAIN + "deep_w1.xml", shared())).skipped
    urls = [error_url(url, skip.code, timestamp=WHEN, cachebuster="12345678") for url in skip.error_urls]
    assert urls[0] == "https://w1.example.com/error?code=302&cb=12345678"
    assert all("[" not in url for url in urls)


def test_error_url_macros() -> None:
    template = "https://e.example.com/?e=[ERRORCODE]&t=[TIMESTAMP]&a=[ASSETURI]&c=%%CACHEBUSTING%%&r=[random]&x=[gw_x]"
    url = error_url(
        template, 303, timestamp=WHEN, asset_uri="https://cdn.example.com/a b.mp4?x=1", cachebuster="00000042"
    )
    assert url == (
        "https://e.example.com/?e=303&t=2026-01-17T08%3A15%3A07.127-05%3A00"
        "&a=https%3A%2F%2Fcdn.example.com%2Fa%20b.mp4%3Fx%3D1&c=00000042&r=00000042&x=[gw_x]"
    )
    assert error_url("https://e.example.com/[ERRORCODE]", 42, timestamp=WHEN) == "https://e.example.com/900"
    vmap = "https://v.example.com/?c=[ERROR_CODE]&m=[ERROR_MESSAGE]"
    assert error_url(vmap, 1008, timestamp=WHEN, message="HTTP 500") == "https://v.example.com/?c=1008&m=HTTP%20500"
    assert error_url("https://e.example.com/[ASSETURI]", 100, timestamp=WHEN) == "https://e.example.com/-1"


def test_tracking_url_and_arrays() -> None:
    naive = datetime(2026, 1, 17, 8, 15, 7)
    url = tracking_url(
        "https://t.example.com/?ts=[TIMESTAMP]&cb=[CACHEBUSTING]&s=[SERVERSIDE]&e=[ERRORCODE]&u=[UNIVERSALADID]",
        timestamp=naive,
        macros={"serverside": "1", "UNIVERSALADID": ("ad-id.org CNPA0484000H", "x,y")},
    )
    assert url.startswith("https://t.example.com/?ts=2026-01-17T08%3A15%3A07.000%2B00%3A00&cb=")
    cachebuster = url.split("cb=")[1].split("&")[0]
    assert len(cachebuster) == 8 and cachebuster.isdigit()
    assert url.endswith("&s=1&e=[ERRORCODE]&u=ad-id.org%20CNPA0484000H,x%2Cy")  # [ERRORCODE]: Error URIs only
    assert expand("[A][B]%%A%%", {"A": "1"}) == "1[B]1"
    assert tracking_url("https://t.example.com/[TIMESTAMP]", timestamp=datetime(2026, 1, 1, tzinfo=UTC)).endswith(
        "2026-01-01T00%3A00%3A00.000%2B00%3A00"
    )
