"""`parse_vast` over the project's own VAST fixtures (tests/data/vast), every VAST sample of
../shared/testdata/ads (expectations from its SOURCES.md, written out below) and the XML attack files.
`parse_vast` reads one document: it lists Wrapper ads without following them (tests/ads/test_chain.py follows them).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from proxy.ads.errors import AdParseError
from proxy.ads.models import AdResponse, MediaFile
from proxy.ads.vast import MAX_BYTES, parse_duration, parse_vast
from proxy.errors import AdResponseError
from tests import audit
from tests.conftest import sample, sample_dir

DATA = Path(__file__).parents[1] / "data" / "vast"
NL, BAD = "NO_LINEAR_CREATIVE", "VAST_PARSING_ERROR"

# Every VAST sample of ../shared/testdata/ads, from SOURCES.md's per-file inventory:
#   file | number of <Ad> | ads in play order as duration/MediaFile count | wrappers and skip reasons | buffet ads
# A pod (Ad@sequence) plays in sequence order and leaves the stand-alone (buffet) ads out. Wrappers (W) are listed
# in `response.wrappers`, for the resolver (proxy.ads.chain) to follow. "error | text": the whole response is
# refused (VAST 1.0 and VMAP roots, not XML). VAST 4.x samples are in the default namespace
# http://www.iab.com/VAST. Bare-second Durations ("30", "16") and missing ones are not HH:MM:SS: that ad is skipped.
SAMPLES = """
eyevinn_test_adserver/test_vast.xml | 1 | 16/3 | - | 0
google_dfp/ima_single_inline_linear_vast3.xml | 1 | 10/6 | - | 0
iab_vast_samples/vast1-2/Inline_LinearRegular_VAST2.0.xml | 1 | 30/1 | - | 0
iab_vast_samples/vast1-2/Inline_LinearVAST2vpaid.xml | 1 | 15/1 | - | 0
iab_vast_samples/vast1-2/Inline_NonLinear_VAST2.0.xml | 1 | - | NL | 0
iab_vast_samples/vast1-2/Inline_NonLinear_Verification_VAST2.0.xml | 1 | 30/1 | - | 0
iab_vast_samples/vast1-2/tremor/vast1Nonlinear.xml | error | <VideoAdServingTemplate>
iab_vast_samples/vast1-2/tremor/vast1RegularLinear.xml | error | <VideoAdServingTemplate>
iab_vast_samples/vast1-2/tremor/vast1VPAIDLinear.xml | error | <VideoAdServingTemplate>
iab_vast_samples/vast1-2/tremor/vast2Nonlinear.xml | 10 | - | NL NL NL NL NL NL NL NL NL NL | 0
iab_vast_samples/vast1-2/tremor/vast2RegularLinear.xml | 1 | 30/1 | - | 0
iab_vast_samples/vast1-2/tremor/vast2VPAIDLinear.xml | 1 | 1/1 | - | 0
iab_vast_samples/vast1-2/tremor/vast_inline_linear.xml | 1 | 30/1 | - | 0
iab_vast_samples/vast1-2/tremor/vast_inline_nonlinear.xml | 1 | - | NL | 0
iab_vast_samples/vast1-2/tremor/vast_wrapper_linear_1.xml | 1 | - | W | 0
iab_vast_samples/vast1-2/tremor/vast_wrapper_linear_2.xml | 1 | - | W | 0
iab_vast_samples/vast1-2/tremor/vast_wrapper_nonlinear_1.xml | 1 | - | W | 0
iab_vast_samples/vast1-2/tremor/vast_wrapper_nonlinear_2.xml | 1 | - | W | 0
iab_vast_samples/vast1-2/vast1Nonlinear.xml | error | <VideoAdServingTemplate>
iab_vast_samples/vast1-2/vast1RegularLinear.xml | error | <VideoAdServingTemplate>
iab_vast_samples/vast1-2/vast1VPAIDLinear.xml | error | <VideoAdServingTemplate>
iab_vast_samples/vast3.0/Event_Tracking-test.xml | 1 | 16/1 | - | 0
iab_vast_samples/vast3.0/Inline_Companion_Tag-test.xml | 1 | 16/1 | - | 0
iab_vast_samples/vast3.0/Inline_Linear_Tag-test.xml | 1 | 16/1 | - | 0
iab_vast_samples/vast3.0/Inline_Non-Linear_Tag-test.xml | 1 | - | NL | 0
iab_vast_samples/vast3.0/No_Wrapper_Tag-test.xml | 1 | 16/1 | - | 0
iab_vast_samples/vast3.0/Video_Clicks_and_click_tracking-Inline-test.xml | 1 | 16/1 | - | 0
iab_vast_samples/vast3.0/Wrapper_Tag-test.xml | 1 | - | W | 0
iab_vast_samples/vast4.0/Ad_Verification-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.0/Category-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.0/Conditional_Ad-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.0/Event_Tracking-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.0/Inline_Companion_Tag-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.0/Inline_Linear_Tag-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.0/Inline_Non-Linear_Tag-test.xml | 1 | - | NL | 0
iab_vast_samples/vast4.0/Inline_Simple.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.0/No_Wrapper_Tag-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.0/Ready_to_serve_Media_Files_check-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.0/SSAI_stitching__VPAID_separation-test.xml | 1 | 16/1 | - | 0
iab_vast_samples/vast4.0/SSAI_stitching_mezzanine_file_support-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.0/Universal_Ad_ID-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.0/Video_Clicks_and_click_tracking-Inline-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.0/Viewable_Impression-test.xml | 1 | - | W | 0
iab_vast_samples/vast4.0/Wrapper_Tag-test.xml | 1 | - | W | 0
iab_vast_samples/vast4.1/Ad_Verification-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.1/Audio_DAAST_Sample.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.1/Category-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.1/Closed_Caption_Test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.1/Conditional_Ad-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.1/Event_Tracking-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.1/Inline_Companion_Tag-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.1/Inline_Linear_Tag-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.1/Inline_Non-Linear_Tag-test.xml | 1 | - | NL | 0
iab_vast_samples/vast4.1/Inline_Simple.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.1/No_Wrapper_Tag-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.1/Ready_to_serve_Media_Files_check-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.1/SSAI_stitching__VPAID_separation-test.xml | 1 | 16/1 | - | 0
iab_vast_samples/vast4.1/SSAI_stitching_mezzanine_file_support-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.1/Universal_Ad_ID-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.1/Video_Clicks_and_click_tracking-Inline-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.1/Viewable_Impression-test.xml | 1 | - | W | 0
iab_vast_samples/vast4.1/Wrapper_Tag-test.xml | 1 | - | W | 0
iab_vast_samples/vast4.2/Ad_Verification-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.2/Category-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.2/Closed_Caption_Test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.2/Event_Tracking-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.2/IconClickFallbacks.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.2/Inline_Companion_Tag-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.2/Inline_Linear_Tag-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.2/Inline_Non-Linear_Tag-test.xml | 1 | - | NL | 0
iab_vast_samples/vast4.2/Inline_Simple.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.2/No_Wrapper_Tag-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.2/Ready_to_serve_Media_Files_check-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.2/Universal_Ad_ID-multi-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.2/Video_Clicks_and_click_tracking-Inline-test.xml | 1 | 16/3 | - | 0
iab_vast_samples/vast4.2/Viewable_Impression-test.xml | 1 | - | W | 0
iab_vast_samples/vast4.2/Wrapper_Tag-test.xml | 1 | - | W | 0
ooyala_html5_ad_plugins/ssai.xml | 1 | 15/18 | - | 0
ooyala_html5_ad_plugins/ssai_no_duration.xml | 1 | - | BAD | 0
ooyala_html5_ad_plugins/vast_3_0_inline_podded.xml | 4 | 52/8 52/8 52/8 | - | 1
ooyala_html5_ad_plugins/vast_3_0_linear.xml | 1 | 52/8 | - | 0
ooyala_html5_ad_plugins/vast_3_0_missing_media_files.xml | 1 | 52/0 | - | 0
ooyala_html5_ad_plugins/vast_content_type_HLS_1.xml | 1 | 0/1 | - | 0
ooyala_html5_ad_plugins/vast_content_type_HLS_2.xml | 1 | 0/1 | - | 0
ooyala_html5_ad_plugins/vast_content_type_HLS_3.xml | 1 | 0/1 | - | 0
ooyala_html5_ad_plugins/vast_content_type_HLS_4.xml | 1 | 0/1 | - | 0
ooyala_html5_ad_plugins/vast_linear.xml | 1 | 52/8 | - | 0
ooyala_html5_ad_plugins/vast_linear_2_ads.xml | 2 | 52/8 52/8 | - | 0
ooyala_html5_ad_plugins/vast_linear_no_clickthrough.xml | 1 | 52/8 | - | 0
ooyala_html5_ad_plugins/vast_overlay.xml | 1 | - | NL | 0
ooyala_html5_ad_plugins/vast_overlay_missing_url.xml | 1 | - | NL | 0
ooyala_html5_ad_plugins/vast_wrapper_1.xml | 1 | - | W | 0
ooyala_html5_ad_plugins/vast_wrapper_2.xml | 1 | - | W | 0
ooyala_html5_ad_plugins/vmap_adtag_pre.xml | error | <VMAP>
ooyala_html5_ad_plugins/vmap_inline_podded.xml | error | <VMAP>
ooyala_html5_ad_plugins/vmap_inline_pre_adtag_post.xml | error | <VMAP>
ooyala_html5_ad_plugins/vmap_inline_repeatad.xml | error | <VMAP>
ooyala_html5_ad_plugins/vmap_inline_repeatad_bad_input1.xml | error | <VMAP>
ooyala_html5_ad_plugins/vmap_inline_repeatad_bad_input2.xml | error | <VMAP>
ooyala_html5_ad_plugins/vpaid_linear.xml | 1 | 16/1 | - | 0
ooyala_html5_ad_plugins/vpaid_linear_nocompanions.xml | 1 | 16/1 | - | 0
ooyala_html5_ad_plugins/vpaid_linear_novalues.xml | 1 | - | BAD | 0
ooyala_html5_ad_plugins/vpaid_nonlinear.xml | 1 | - | NL | 0
vast_client_js/empty-no-ad.xml | 0 | - | - | 0
vast_client_js/empty-no-creative.xml | 1 | - | NL | 0
vast_client_js/inline-linear.xml | 1 | 16/1 | - | 0
vast_client_js/invalid-xmlfile.xml | error | not usable XML
vast_client_js/outdated-vast.xml | error | <VideoAdServingTemplate>
vast_client_js/sample.xml | 2 | 90.123/2 | BAD | 0
vast_client_js/vpaid.xml | 1 | - | BAD | 0
vast_client_js/vpaid2.xml | 1 | 1/1 | - | 0
vast_client_js/wrapper-a.xml | 2 | - | W W | 0
vast_client_js/wrapper-attributes-multiple-ads.xml | 4 | - | W W W W | 0
vast_client_js/wrapper-b.xml | 1 | - | W | 0
vast_client_js/wrapper-empty-no-creative.xml | 1 | - | W | 0
vast_client_js/wrapper-empty.xml | 1 | - | W | 0
vast_client_js/wrapper-legacy.xml | 1 | - | W | 0
vast_client_js/wrapper-multiple-ads.xml | 4 | - | W W W W | 0
vast_client_js/wrapper-unavailable-url.xml | 1 | - | W | 0
"""
SAMPLE_DIRS = ("iab_vast_samples", "ooyala_html5_ad_plugins", "eyevinn_test_adserver", "vast_client_js")


@dataclass(frozen=True)
class Expected:
    count: int  # <Ad> elements, as SOURCES.md counts them
    ads: tuple[tuple[float, int], ...]  # (duration, MediaFile count) in play order
    skipped: tuple[str, ...]
    wrappers: int
    buffet: int


def _table() -> dict[str, Expected | str]:
    table: dict[str, Expected | str] = {}
    for row in SAMPLES.split("\n"):
        if not row:
            continue
        name, *cells = (cell.strip() for cell in row.split("|"))
        if cells[0] == "error":
            table[name] = cells[1]
            continue
        ads = tuple((float(ad.split("/")[0]), int(ad.split("/")[1])) for ad in cells[1].split() if ad != "-")
        codes = cells[2].split()
        skipped = tuple({"NL": NL, "BAD": BAD}[code] for code in codes if code not in ("-", "W"))
        table[name] = Expected(int(cells[0]), ads, skipped, codes.count("W"), int(cells[3]))
    return table


TABLE = _table()


def shared_ads() -> Path:
    return sample_dir("ads")


def summary(response: AdResponse) -> tuple[tuple[tuple[float, int], ...], tuple[str, ...]]:
    return tuple((ad.duration, len(ad.media_files)) for ad in response.ads), tuple(s.reason for s in response.skipped)


# -- the project's own fixtures (no ../shared needed) --------------------------------------------------------


def test_vast3_inline_with_streams_and_companions() -> None:
    # The shape of an ad-rules slot's answer (google_dfp/ima_single_inline_linear_vast3.xml in ../shared).
    response = parse_vast((DATA / "inline_linear_vast3_10s.xml").read_bytes())
    assert summary(response) == (((10.0, 6),), ())
    assert (len(response.wrappers), len(response.buffet)) == (0, 0)
    (ad,) = response.ads
    assert (ad.ad_id, ad.creative_id) == ("own-10s", "own-creative-10s")


def test_vast2_inline_fields() -> None:
    response = parse_vast((DATA / "inline_vast2.xml").read_bytes())
    assert response.skipped == ()
    (ad,) = response.ads
    assert (ad.ad_id, ad.sequence, ad.ad_system, ad.title) == ("ad-42", None, "Test Ad Server", "Spring sale")
    assert (ad.creative_id, ad.duration, ad.key) == ("creative-42", 15.5, "creative-42")
    mp4, hls = ad.media_files
    assert mp4 == MediaFile("https://cdn.example.com/ad42/720p.mp4", "video/mp4", "progressive", 1500, 1280, 720)
    assert not mp4.is_hls
    assert (hls.bitrate, hls.width, hls.is_hls) == (3000, 1920, True)  # maxBitrate when there is no bitrate
    # Only the InLine's own Impressions: an empty one and one inside an Extension are not the ad's impressions.
    assert ad.impressions == ("https://track.example.com/imp/1", "https://track.example.com/imp/2")
    assert ad.click_through == ("https://shop.example.com/sale",)
    assert ad.click_tracking == ("https://track.example.com/click",)
    assert [event for event, _ in ad.tracking] == ["start", "firstQuartile", "complete"]
    assert ad.errors == ("https://track.example.com/error?code=[ERRORCODE]",)


def test_vast4_namespaced_pod_in_sequence_without_the_buffet_ad() -> None:
    response = parse_vast((DATA / "pod_vast4_ns.xml").read_bytes())
    assert [(ad.ad_id, ad.sequence, ad.duration) for ad in response.ads] == [
        ("pod-first", 1, 20.0),
        ("pod-second", 2, 10.0),
    ]
    assert [ad.creative_id for ad in response.ads] == ["ad-id-first", "c-second"]  # adId when there is no id
    assert all(ad.media_files[0].is_hls for ad in response.ads)
    assert response.ads[0].impressions == ("https://track.example.com/imp/first",)
    assert response.skipped == ()


@pytest.mark.parametrize(
    "prefix", ['<VAST xmlns="http://www.iab.com/VAST" ', '<v:VAST xmlns:v="http://www.iab.com/VAST" ']
)
def test_namespaced_vast4_parses_like_vast2(prefix: str) -> None:
    plain = (DATA / "inline_vast2.xml").read_text()
    if prefix.startswith("<v:"):  # every element in a prefixed namespace
        namespaced = re.sub(r"<(/?)([A-Za-z])", r"<\1v:\2", plain).replace("<v:VAST ", prefix, 1)
    else:
        namespaced = plain.replace("<VAST ", prefix, 1)
    assert namespaced != plain
    assert parse_vast(namespaced.encode()) == parse_vast(plain.encode())


def test_wrapper_is_listed_not_followed_and_inline_beside_it_kept() -> None:
    response = parse_vast((DATA / "wrapper.xml").read_bytes())
    assert [ad.ad_id for ad in response.ads] == ["direct"]
    assert response.skipped == ()
    (wrapper,) = response.wrappers
    assert (wrapper.ad_id, wrapper.ad_system, wrapper.ad_tag_uri) == (
        "wrapped",
        "Test Wrapper",
        "https://ads.example.com/next.xml",
    )
    assert wrapper.impressions == ("https://track.example.com/wrapper-imp",)
    assert wrapper.tracking == (("start", "https://track.example.com/wrapper-start"),)
    assert (wrapper.follow_additional_wrappers, wrapper.allow_multiple_ads, wrapper.fallback_on_no_ad) == (
        True,
        False,
        None,
    )


def test_empty_vast_is_an_empty_response() -> None:
    no_ad = AdResponse((), (), errors=("https://track.example.com/no-ad?code=[ERRORCODE]",))  # root <Error>: for 303
    assert parse_vast((DATA / "empty.xml").read_bytes()) == no_ad
    assert parse_vast(b'<VAST version="4.0"/>') == AdResponse((), ())


def test_standalone_ads_play_in_document_order_when_there_is_no_pod() -> None:
    body = (DATA / "pod_vast4_ns.xml").read_text()
    body = body.replace(' sequence="2"', "").replace(' sequence="1"', "")
    assert [ad.ad_id for ad in parse_vast(body.encode()).ads] == ["pod-second", "buffet", "pod-first"]


def test_vast4_fields_for_ssai() -> None:
    body = (DATA / "pod_vast4_ns.xml").read_text()
    body = body.replace(
        '<Creative id="c-second" adId="ad-id-second">',
        '<Creative id="c-second" adId="ad-id-second">'
        '<UniversalAdId idRegistry="ad-id.org">CNPA0484000H</UniversalAdId>',
    )
    body = body.replace("<AdTitle>Second</AdTitle>", "<AdTitle>Second</AdTitle><AdServingId>serving-1</AdServingId>")
    body = body.replace(
        "</MediaFiles>",
        '<Mezzanine delivery="progressive" type="video/mp4" width="1920" height="1080" codec="h264">'
        "<![CDATA[https://cdn.example.com/second/mezz.mp4]]></Mezzanine></MediaFiles>"
        '<TrackingEvents><Tracking event="progress" offset="25%">https://t.example.com/p</Tracking></TrackingEvents>',
        1,
    )
    second = parse_vast(body.encode()).ads[1]
    assert (second.universal_ad_id, second.ad_serving_id) == ("ad-id.org CNPA0484000H", "serving-1")
    assert [(m.url, m.codec) for m in second.mezzanine] == [("https://cdn.example.com/second/mezz.mp4", "h264")]
    assert len(second.media_files) == 1  # the Mezzanine is not a MediaFile to play
    assert second.tracking == (("progress@25%", "https://t.example.com/p"),)


def test_comments_anywhere_are_ignored() -> None:
    plain = (DATA / "inline_vast2.xml").read_text()
    commented = plain.replace("<Ad ", "<!-- a --><Ad ").replace("<Duration>", "<!-- b --><Duration><!-- c -->")
    assert parse_vast(commented.encode()) == parse_vast(plain.encode())


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ('followAdditionalWrappers="false" allowMultipleAds="1" fallbackOnNoAd="true"', (False, True, True)),
        ('followAdditionalWrappers="0" allowMultipleAds="True" fallbackOnNoAd="false"', (False, True, False)),
        ('followAdditionalWrappers="maybe" allowMultipleAds="" fallbackOnNoAd="?"', (True, False, False)),
    ],
)
def test_wrapper_attributes(attributes: str, expected: tuple[bool, bool, bool]) -> None:
    body = (DATA / "wrapper.xml").read_text().replace("<Wrapper>", f"<Wrapper {attributes}>")
    (wrapper,) = parse_vast(body.encode()).wrappers
    assert (wrapper.follow_additional_wrappers, wrapper.allow_multiple_ads, wrapper.fallback_on_no_ad) == expected


def test_legacy_vast_ad_tag_url_and_a_wrapper_without_target() -> None:
    body = (DATA / "wrapper.xml").read_text()
    legacy = body.replace("<VASTAdTagURI>", "<VASTAdTagURL><URL>").replace("</VASTAdTagURI>", "</URL></VASTAdTagURL>")
    assert parse_vast(legacy.encode()).wrappers[0].ad_tag_uri == "https://ads.example.com/next.xml"
    response = parse_vast(re.sub(r"<VASTAdTagURI>.*</VASTAdTagURI>", "", body).encode())
    (skip,) = response.skipped
    assert (skip.ad_id, skip.reason, skip.code) == ("wrapped", "INVALID_VAST_WRAPPER_AD", 101)


@pytest.mark.parametrize(
    ("inner", "detail"),
    [("", "neither <InLine> nor <Wrapper>"), ("<InLine/><Wrapper/>", "both <InLine> and <Wrapper>")],
)
def test_an_ad_is_one_inline_or_one_wrapper(inner: str, detail: str) -> None:
    (skip,) = parse_vast(f'<VAST version="3.0"><Ad id="x">{inner}</Ad></VAST>'.encode()).skipped
    assert (skip.ad_id, skip.code) == ("x", 101) and detail in skip.detail


def test_skip_codes_and_error_urls_for_the_caller() -> None:
    nonlinear = (
        (DATA / "inline_vast2.xml")
        .read_text()
        .replace("<Linear>", "<NonLinearAds>")
        .replace("</Linear>", "</NonLinearAds>")
    )
    (skip,) = parse_vast(nonlinear.encode()).skipped
    assert (skip.reason, skip.code) == (NL, 201)  # expecting different linearity
    assert skip.error_urls == ("https://track.example.com/error?code=[ERRORCODE]",)
    bad = (DATA / "inline_vast2.xml").read_text().replace("00:00:15.500", "15.5")
    (skip,) = parse_vast(bad.encode()).skipped
    assert (skip.code, skip.detail) == (101, "Duration '15.5': expected HH:MM:SS.mmm")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<VideoAdServingTemplate/>", 102),
        (b'<VAST version="1.0"/>', 102),
        (b'<VAST version="5.0"/>', 102),
        (b"<VMAP/>", 101),
        (b"<VAST", 100),
    ],
)
def test_whole_response_errors_carry_the_vast_code(body: bytes, code: int) -> None:
    with pytest.raises(AdParseError) as caught:
        parse_vast(body)
    assert caught.value.code == code and caught.value.skip_reason == BAD


# -- errors ----------------------------------------------------------------------------------------------------


def reason_of(body: bytes) -> AdResponseError:
    with pytest.raises(AdResponseError) as caught:
        parse_vast(body)
    return caught.value


@pytest.mark.parametrize("body", [b"", b"{ vast: null }", b"<VAST><Ad></VAST>", b"\xff\xfe<"])
def test_not_xml(body: bytes) -> None:
    error = reason_of(body)
    assert error.skip_reason == BAD and "not usable XML" in error.message


def test_dtd_is_refused_not_expanded() -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE VAST [<!ENTITY a "aaaaaaaa">]><VAST version="3.0"><Ad>&a;&a;</Ad></VAST>'
    error = reason_of(body)
    assert error.skip_reason == BAD and "aaaaaaaaaaaaaaaa" not in error.message


def test_root_must_be_vast() -> None:
    assert "<VMAP>" in reason_of(b"<VMAP/>").message


@pytest.mark.parametrize("value", ["30", "", "00:00", "-00:00:05", "00:00:nan", "00:00:1_0", "١:٠٠:٠٠", "0:0:5.5.5"])
def test_bad_duration_skips_that_ad_naming_the_value(value: str) -> None:
    body = (DATA / "inline_vast2.xml").read_text().replace("00:00:15.500", value)
    response = parse_vast(body.encode())
    assert response.ads == ()
    (skip,) = response.skipped
    assert (skip.ad_id, skip.reason) == ("ad-42", BAD)
    assert f"Duration {value!r}" in skip.detail
    with pytest.raises(AdResponseError, match=re.escape(repr(value))):
        parse_duration(value)


@pytest.mark.parametrize(("value", "seconds"), [("00:00:16", 16), ("01:02:03.250", 3723.25), (" 0:1:5 ", 65)])
def test_good_durations(value: str, seconds: float) -> None:
    assert parse_duration(value) == seconds


def test_odd_numbers_in_media_file_attributes_are_zero_not_a_crash() -> None:
    body = (DATA / "inline_vast2.xml").read_text().replace('bitrate="1500"', 'bitrate="1e999"')
    body = body.replace('width="1280"', 'width="nan"', 1)
    mp4 = parse_vast(body.encode()).ads[0].media_files[0]
    assert (mp4.bitrate, mp4.width) == (0, 0)


def test_oversize_body() -> None:
    body = b'<VAST version="3.0">' + b" " * MAX_BYTES + b"</VAST>"
    error = reason_of(body)
    assert error.skip_reason == BAD and str(MAX_BYTES) in error.message and str(len(body)) in error.message


# -- ../shared samples ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TABLE))
def test_shared_sample(name: str) -> None:
    body = sample("ads", name).read_bytes()
    expected = TABLE[name]
    if isinstance(expected, str):
        error = reason_of(body)
        assert error.skip_reason == BAD and expected in error.message
        return
    response = parse_vast(body)
    assert summary(response) == (expected.ads, expected.skipped)
    assert (len(response.wrappers), len(response.buffet)) == (expected.wrappers, expected.buffet)
    assert len(response.ads) + len(response.skipped) + len(response.wrappers) + expected.buffet == expected.count
    for skip in response.skipped:
        assert skip.detail, skip


def _inventory_row(sources: str, name: str) -> str:
    inventory = sources.split("## Per-file inventory", 1)[1]
    match = re.search(rf"^\| `{re.escape(name)}` \| (.*) \|$", inventory, re.MULTILINE)
    assert match, f"{name} is not in SOURCES.md's inventory"
    return match.group(1)


def _hms(seconds: float) -> str:
    whole = int(seconds)
    text = f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    return text + (f"{seconds - whole:.3f}"[1:] if seconds != whole else "")


def test_table_matches_sources_md_and_covers_every_sample() -> None:
    root = shared_ads()
    sources = (root / "SOURCES.md").read_text()
    for name, expected in TABLE.items():
        row = _inventory_row(sources, name)
        if isinstance(expected, Expected):
            assert f"{expected.count} ad(s)" in row, (name, row)
            for duration, media_files in expected.ads:
                assert _hms(duration) in row and f"mf={media_files}" in row, (name, row)
    on_disk = {str(p.relative_to(root)) for d in SAMPLE_DIRS for p in (root / d).rglob("*.xml")}
    assert on_disk - set(TABLE) == set(), "samples without an expectation"


@pytest.mark.parametrize(
    ("name", "ids", "durations"),
    [
        ("ooyala_html5_ad_plugins/vast_3_0_inline_podded.xml", ["6654646", "6654645", "6654644"], [52.0] * 3),
        ("synthetic/pods/vast41_pod3_plus_buffet.xml", ["pod-1", "pod-2", "pod-3"], [30.0, 15.5, 10.0]),
    ],
)
def test_shared_pods_play_in_sequence(name: str, ids: list[str], durations: list[float]) -> None:
    response = parse_vast((shared_ads() / name).read_bytes())
    assert [ad.ad_id for ad in response.ads] == ids
    assert [ad.sequence for ad in response.ads] == [1, 2, 3]
    assert [ad.duration for ad in response.ads] == durations


# -- XML attacks: refused or harmless, never a crash, an expansion, a file or network access -----------------


def recording_io() -> contextlib.AbstractContextManager[list[str]]:
    return audit.recording_io(warm=lambda: parse_vast((DATA / "empty.xml").read_bytes()))


def test_io_recorder_sees_a_file_read() -> None:
    with recording_io() as events:
        (DATA / "empty.xml").read_bytes()
    assert any(event.startswith("open") for event in events)


def attack_files() -> list[str]:
    return sorted(p.name for p in sample_dir("ads", "synthetic", "attacks").iterdir())


def test_attack_folder_is_covered() -> None:
    assert set(attack_files()) == set(ATTACKS)


ATTACKS = """billion_laughs.xml deep_nesting_1000.xml external_dtd.xml quadratic_blowup.xml xxe_local_file.xml
xxe_network_ssrf.xml xxe_parameter_entity_dtd.xml xslt_document_file_read.xsl xslt_document_network.xsl
xslt_exsl_document_write.xsl xslt_exslt_regexp.xsl xslt_import_network.xsl xslt_include_local_file.xsl
xslt_infinite_recursion.xsl xslt_output_bomb.xsl xslt_unknown_extension_function.xsl xslt_xxe_in_stylesheet.xsl
""".split()


@pytest.mark.parametrize("name", ATTACKS)
def test_attack_file(name: str) -> None:
    body = (sample_dir("ads", "synthetic", "attacks") / name).read_bytes()
    with recording_io() as events:
        try:
            response = parse_vast(body)
        except AdResponseError as error:
            assert error.skip_reason == BAD
            assert len(error.message) < 400 and "lollol" not in error.message and "root:" not in error.message
        else:
            assert response.ads == ()  # only the deep nesting is well-formed VAST: nothing usable in it
    assert events == []
