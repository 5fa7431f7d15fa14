"""Ad tag templates: every variable of the Brightcove Live API, Video Cloud SSAI API and AWS
MediaTailor ("ADS dynamic variables") tables with its encoding, defaults, unknown names, the scheme/host/port
guarantee, headers, and the personal / shared classification."""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from dataclasses import replace
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from hypothesis import given, strategies as st

from proxy.ads import macros
from proxy.ads.context import AdContext, BreakInfo, ChannelInfo, ViewerInfo
from proxy.ads.macros import (
    compile_ad_tag,
    compile_headers,
    forwarding_headers,
)
from proxy.ads.template_vars import TABLE, lookup, page_names
from proxy.hls.scte35 import SegmentationDescriptor, decode
from proxy.hls.scte35_encode import encode_splice_insert, encode_time_signal

SESSION = "0123456789abcdef0123456789abcdef"
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1"
REFERER = "https://site.example/watch?v=1&x=y"
NOW = 1_700_000_123.456
PTS, ADJUST = 8_000_000_000, 600_000_000  # wraps past 2**33 once adjusted
VIEWER = ViewerInfo(
    SESSION,
    client_ip="203.0.113.7",
    forwarded_for="203.0.113.7, 10.0.0.1",
    user_agent=UA,
    referer=REFERER,
    params={"deviceid": "123456", "sitesection": "serv ices", "dt": "a/b&c=d", "breakid": "from-viewer"},
)
INSERT = encode_splice_insert(
    0x1234,
    out=True,
    pts_time=PTS,
    duration_s=15.5,
    unique_program_id=7,
    avail_num=2,
    avails_expected=4,
    pts_adjustment=ADJUST,
)
BREAK = BreakInfo(
    15.5,
    scte35=INSERT,
    ad_server_data={"breakid": "b-9", "breaktheme": "cars & trucks"},
    asset={"CAID": "0x0000000020FB6501", "EPISODE": "Episode%20Name", "SERIES": "Series%2520Name"},
    origin_time=1_700_000_000.25,
)
CHANNEL = ChannelInfo(
    job_id="job-1",
    description="Prod config",
    metadata={"video_id": "5975635167001", "name": "A & B/C", "custom_fields.genre": "drama", "title.id": "t 1"},
)


def context(
    viewer: ViewerInfo | None = VIEWER,
    brk: BreakInfo = BREAK,
    seed: int = 12345,
    channel: ChannelInfo = CHANNEL,
    avail_index: int | None = 3,
    session_break_time: float | None = 1_700_000_010.5,
) -> AdContext:
    return AdContext(brk, NOW, seed, viewer, channel, avail_index, session_break_time)


def value_of(placeholder: str, ctx: AdContext | None = None, defaults: dict[str, str] | None = None) -> str:
    rendered = compile_ad_tag(f"https://ads.example.com/v?x={placeholder}", defaults=defaults).render(ctx or context())
    return rendered.removeprefix("https://ads.example.com/v?x=")


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


EPOCH_MS, EPOCH_S = "1700000123456", "1700000123"
IPUA = md5("203.0.113.7" + UA)

# Brightcove Live API "Ad configuration variables": every row but the random ones (tested below), all percent-encoded.
LIVE = {
    "session.session_id": SESSION,
    "job.job_id": "job-1",
    "application_ad_configuration.description": "Prod%20config",
    "server.timestamputc": EPOCH_MS,
    "client.useragent": quote(UA, safe=""),
    "client.ipaddress": "203.0.113.7",
    "client.referrer": quote(REFERER, safe=""),
    "client.referer": quote(REFERER, safe=""),
    "client.ipuaid": IPUA,
    "live.adbreak": "",  # "(currently unused)"
    "live.adbreakdurationms": "15500",
    "live.adbreakduration": "15.5",
    "live.adbreakdurationint": "16",
    "live.adbreak.timestamputc.wallclock": EPOCH_MS,
    "live.adbreak.timestamputc.origin": "1700000000250",
    "live.adbreak.timestamputc.session": "1700000010500",
    "scte35_eventID": "4660",
    "scte35_programID": "7",
    "scte35_availNum": "2",
    "scte35_breakDuration": "1395000",
    "scte35_spliceTime": str((PTS + ADJUST) % 2**33),
}

# Video Cloud SSAI API "System variables" (but the random ones): "must be URI-encoded".
SYSTEM = {
    "system.user_agent": quote(UA, safe=""),
    "system.referer": quote(REFERER, safe=""),
    "system.ip_address": "203.0.113.7",
    "system.x_forwarded_for": "203.0.113.7%2C%2010.0.0.1",
    "system.unix_timestamp": EPOCH_S,
    "system.unique_user_id": IPUA,
    "system.xfp.ip_address": "203.0.113.7",
    "system.xfp.unique_user_id": IPUA,
    "system.timestamp_utc": EPOCH_S,
}

# AWS MediaTailor "ADS dynamic variables", but avail.random.
MEDIATAILOR = {
    "session.uuid": "01234567-89ab-cdef-0123-456789abcdef",
    "session.avail_duration_ms": "15500",
    "session.avail_duration_secs": "16",
    "session.client_ip": "203.0.113.7",
    "session.referer": quote(REFERER, safe=""),
    "session.user_agent": quote(UA, safe=""),
    "avail.index": "3",
    "scte.event_id": "4660",
    "scte.unique_program_id": "7",
    "scte.avail_num": "2",
    "scte.avails_expected": "4",
}


@pytest.mark.parametrize(("name", "expected"), [*LIVE.items(), *SYSTEM.items(), *MEDIATAILOR.items()])
def test_each_variable_in_both_syntaxes(name: str, expected: str) -> None:
    assert value_of(f"{{{{{name}}}}}") == expected
    assert value_of(f"{{{{ {name} }}}}") == expected  # Video Cloud SSAI API: optional whitespace inside the braces
    assert value_of(f"[{name}]") == expected


def test_every_table_name_is_covered_here() -> None:
    randoms = {name for name, variable in TABLE.items() if variable.scope == "request"}
    covered = {*LIVE, *SYSTEM, *MEDIATAILOR, *randoms, *SCTE_SEGMENTATION, "session.id", "TIMESTAMP", "SERVERSIDE"}
    assert set(TABLE) - covered == {"DEVICEIP", "DEVICEUA", "PAGEURL"}  # test_iab_macros


def test_session_id_is_numeric_and_stable_per_session() -> None:
    number = value_of("[session.id]")
    assert number.isdigit() and 0 < int(number) < 2**63
    assert value_of("[session.id]", context(seed=99)) == number
    other = replace(VIEWER, session_id="another")
    assert value_of("[session.id]", context(other)) != number
    assert value_of("[session.id]", context(replace(VIEWER, session_number=42))) == "42"


def test_session_uuid_for_an_id_that_is_not_hex() -> None:
    got = value_of("[session.uuid]", context(replace(VIEWER, session_id="not-hex")))
    assert uuid.UUID(got) == uuid.uuid5(uuid.NAMESPACE_URL, "not-hex")


@pytest.mark.parametrize(
    ("duration", "ms", "whole", "double"),
    [
        (30, "30000", "30", "30.0"),
        (0.5, "500", "1", "0.5"),
        (2.5, "2500", "3", "2.5"),
        (14.4996, "14500", "14", "14.4996"),
    ],
)
def test_durations(duration: float, ms: str, whole: str, double: str) -> None:
    ctx = context(brk=BreakInfo(duration))
    assert value_of("{{live.adbreakdurationms}}", ctx) == value_of("[session.avail_duration_ms]", ctx) == ms
    assert value_of("{{live.adbreakdurationint}}", ctx) == value_of("[session.avail_duration_secs]", ctx) == whole
    assert value_of("{{live.adbreakduration}}", ctx) == double


def test_times_absent_render_empty() -> None:
    ctx = context(brk=BreakInfo(30), session_break_time=None)
    assert value_of("{{live.adbreak.timestamputc.origin}}", ctx) == ""
    assert value_of("{{live.adbreak.timestamputc.session}}", ctx) == ""
    assert value_of("[avail.index]", context(avail_index=None)) == ""


RANDOMS = {
    "random.int32": (-(2**31), 2**31 - 1),
    "random.int64": (-(2**63), 2**63 - 1),
    "random.uint32": (0, 2**32 - 1),
    "random.uint64": (0, 2**64 - 1),
    "system.random_number_32": (0, 2**31 - 1),
    "system.xfp.correlator": (0, 2**63 - 1),
    "system.xfp.scor": (0, 2**63 - 1),
    "avail.random": (0, 10_000_000_000),
    "CACHEBUSTING": (10_000_000, 99_999_999),  # IAB: 8 digits
}
UUIDS = ["random.uuid", "system.uuid", "system.random_guid", "TRANSACTIONID"]


@given(st.integers(0, 2**64 - 1))
def test_random_integers_stay_in_range(seed: int) -> None:
    for name, (low, high) in RANDOMS.items():
        assert low <= int(value_of(f"[{name}]" if name.isupper() else f"{{{{{name}}}}}", context(seed=seed))) <= high


@given(st.integers(0, 2**64 - 1))
def test_random_uuids_are_version_4(seed: int) -> None:
    for name in UUIDS:
        assert (
            uuid.UUID(value_of(f"[{name}]" if name.isupper() else f"{{{{{name}}}}}", context(seed=seed))).version == 4
        )


def test_randoms_are_per_request_and_per_name_but_repeat_within_a_request() -> None:
    template = compile_ad_tag("https://a.example/v?a={{random.int32}}&b={{random.int32}}&c={{random.uint32}}")
    first = parse_qs(urlsplit(template.render(context(seed=1))).query)
    assert first["a"] == first["b"] and first["a"] != first["c"]
    assert template.render(context(seed=1)) == template.render(context(seed=1))  # a pure function of the seed
    assert len({template.render(context(seed=seed)) for seed in range(50)}) == 50
    header = compile_headers({"X-Rand": "{{random.int32}}"}).render(context(seed=1))
    assert [header["X-Rand"]] == first["a"]  # Brightcove Live API example: the same value in the URL and the header


def test_iab_macros() -> None:
    assert value_of("[DEVICEIP]") == "203.0.113.7"
    assert value_of("[DEVICEUA]") == quote(UA, safe="")
    assert value_of("[PAGEURL]") == quote(REFERER, safe="")
    assert value_of("[SERVERSIDE]") == "1"
    assert value_of("[TIMESTAMP]") == quote("2023-11-14T22:15:23.456+00:00", safe="")
    assert value_of("[ADCATEGORIES]") == "[ADCATEGORIES]"  # an IAB macro we do not fill stays for the ad server


# --- SCTE-35 ----------------------------------------------------------------------------------------------

SCTE_SEGMENTATION = {
    "scte.segmentation_event_id": "77",
    "scte.segmentation_type_id": "52",
    "scte.segment_num": "1",
    "scte.segments_expected": "2",
    "scte.sub_segment_num": "3",
    "scte.sub_segments_expected": "4",
    "scte.delivery_not_restricted_flag": "0",
    "scte.archive_allowed_flag": "1",
    "scte.no_regional_blackout_flag": "0",
    "scte.device_restrictions": "2",
    "scte.segmentation_upid": "MPU1%3Aabc%3Adef",
    "scte.segmentation_upid.assetId": "",
    "scte.segmentation_upid.cueData.key": "",
    "scte.segmentation_upid.cueData.value": "",
    "scte.event_id": "77",
    "scte35_eventID": "77",
    "scte35_breakDuration": "2700000",
    "scte35_spliceTime": "900000",
    "scte.unique_program_id": "",  # splice_insert only (MediaTailor: "empty value" otherwise)
    "scte.avail_num": "",
}


def time_signal(*descriptors: SegmentationDescriptor) -> BreakInfo:
    info = decode(encode_time_signal(900_000, segmentation_event_id=1, segmentation_type_id=0x34, duration_s=30))
    return BreakInfo(30, scte35=replace(info, descriptors=descriptors) if descriptors else info)


PPO = SegmentationDescriptor(
    77,
    duration_ticks=2_700_000,
    delivery_not_restricted=False,
    web_delivery_allowed=True,
    no_regional_blackout=False,
    archive_allowed=True,
    device_restrictions=2,
    upid_type=0x0C,
    upid=b"MPU1:abc:def",
    upids=((0x0C, "MPU1:abc:def"),),
    segmentation_type_id=0x34,
    segment_num=1,
    segments_expected=2,
    sub_segment_num=3,
    sub_segments_expected=4,
)


@pytest.mark.parametrize(("name", "expected"), SCTE_SEGMENTATION.items())
def test_scte_segmentation_variables(name: str, expected: str) -> None:
    chapter = SegmentationDescriptor(5, segmentation_type_id=0x20)  # not an avail start: not chosen
    assert value_of(f"[{name}]", context(brk=time_signal(chapter, PPO))) == expected


def test_managed_private_upid_tokens_and_podbuster_json() -> None:
    assert value_of("[scte.segmentation_upid.private_data.0]", context(brk=time_signal(PPO))) == "abc"
    assert value_of("[scte.segmentation_upid.private_data.1]", context(brk=time_signal(PPO))) == "def"
    assert value_of("[scte.segmentation_upid.private_data.2]", context(brk=time_signal(PPO))) == ""
    data = b'MPU1{"assetId":"ad 1","cueData":{"key":"pod","value":2}}'
    podbuster = replace(PPO, upid=data, upids=((0x0C, data.decode()),))
    ctx = context(brk=time_signal(podbuster))
    assert value_of("[scte.segmentation_upid.assetId]", ctx) == "ad%201"
    assert value_of("[scte.segmentation_upid.cueData.key]", ctx) == "pod"
    assert value_of("[scte.segmentation_upid.cueData.value]", ctx) == "2"


def test_scte_from_a_time_signal_and_without_any_section() -> None:
    ctx = context(brk=time_signal())
    assert value_of("[scte.event_id]", ctx) == "1" and value_of("[scte.segmentation_type_id]", ctx) == "52"
    assert value_of("[scte.delivery_not_restricted_flag]", ctx) == "1"
    assert value_of("[scte.archive_allowed_flag]", ctx) == ""  # absent when delivery is not restricted
    for name in ("scte.event_id", "scte35_spliceTime", "scte.segmentation_upid"):
        assert value_of(f"[{name}]", context(brk=BreakInfo(30))) == ""
        assert value_of(f"[{name}]", context(brk=BreakInfo(30, scte35=b"not scte-35"))) == ""


def test_scte_section_given_as_text_is_decoded() -> None:
    text = encode_splice_insert(9, out=True, pts_time=None, duration_s=None).hex()
    assert value_of("[scte.event_id]", context(brk=BreakInfo(30, scte35="0x" + text))) == "9"


# --- namespaces with open names, free names --------------------------------------------------------------


def test_url_variables_are_not_encoded() -> None:
    # Video Cloud SSAI API: "these params are not url encoded when inserting into the template"
    assert value_of("{{ url.dt }}") == "a/b&c=d"
    assert value_of("{{url.sitesection}}") == "serv%20ices"  # what is never valid in a URL still is
    assert value_of("{{url.absent}}") == ""


@pytest.mark.parametrize(
    ("value", "expected"), [("x#y", "x%23y"), ("a\r\nb", "a%0D%0Ab"), ("é", "%C3%A9"), ("%41", "%41")]
)
def test_raw_values_encode_only_what_a_url_cannot_hold(value: str, expected: str) -> None:
    ctx = context(replace(VIEWER, params={"v": value}))
    assert value_of("{{url.v}}", ctx) == value_of("[player_params.v]", ctx) == expected


def test_player_params_are_decoded_once_then_inserted_as_they_are() -> None:
    # MediaTailor: "URL-decodes the values once before substituting them"; double-encode for an encoded value
    assert value_of("[player_params.dt]") == "a/b&c=d"
    assert value_of("[player_params.deviceid]") == "123456"


def test_metadata_variables_are_encoded() -> None:
    assert value_of("{{ metadata.name }}") == "A%20%26%20B%2FC"  # Video Cloud SSAI API: "URL encoded"
    assert value_of("{{metadata.custom_fields.genre}}") == "drama"
    assert value_of("{{metadata.absent}}") == ""


def test_page_variables_are_the_players_values_never_the_placeholder() -> None:
    # Video Cloud "Client-side macros": the player fills `document.referrer={document.referrer}` of its manifestUrl
    template = compile_ad_tag("https://adserver.com/{{page.document.referrer}}/{{ page.pageVariable.whateverIwant }}")
    filled = replace(VIEWER, params={"document.referrer": "https://a.example/p?q=1", "pageVariable.whateverIwant": "x"})
    assert template.render(context(filled)) == "https://adserver.com/https%3A%2F%2Fa.example%2Fp%3Fq%3D1/x"
    unfilled = replace(VIEWER, params={"document.referrer": "{document.referrer}"})
    assert template.render(context(unfilled)) == "https://adserver.com//"
    assert template.render(context(None)) == "https://adserver.com//"
    assert template.personal and not template.unknown
    assert page_names(template.variables) == ("document.referrer", "pageVariable.whateverIwant")


def test_asset_values_pass_as_the_origin_encoded_them() -> None:
    # MediaTailor hls-ad-markers: EXT-X-ASSET values are URL-encoded in the origin and sent as they are
    assert value_of("[asset.CAID]") == "0x0000000020FB6501"
    assert value_of("[asset.EPISODE]") == "Episode%20Name"
    assert value_of("[asset.SERIES]") == "Series%2520Name"


def test_free_names_come_from_the_cue_point_then_the_query() -> None:
    template = "https://ads/v?IDFA={{deviceid}}&ss={{sitesection}}&breakid={{breakid}}&theme={{breaktheme}}&no={{nope}}"
    assert compile_ad_tag(template).render(context()) == (
        "https://ads/v?IDFA=123456&ss=serv%20ices&breakid=b-9&theme=cars%20%26%20trucks&no="
    )
    assert (
        compile_ad_tag("https://ads/v?b={{breakid}}").render(context(brk=BreakInfo(30)))
        == "https://ads/v?b=from-viewer"
    )


def test_a_viewer_parameter_cannot_override_a_known_variable() -> None:
    viewer = replace(
        VIEWER, params={"session.session_id": "forged", "random.int32": "7", "client.ipaddress": "1.1.1.1"}
    )
    ctx = context(viewer)
    assert value_of("{{session.session_id}}", ctx) == SESSION
    assert value_of("{{client.ipaddress}}", ctx) == "203.0.113.7"
    assert value_of("{{random.int32}}", ctx) != "7"


def test_lookup_kinds() -> None:
    assert lookup("client.nope").known is False
    assert lookup("deviceid").known and lookup("deviceid").personal  # a free name may come from the viewer
    assert lookup("foo.bar").known  # a dotted free name, e.g. a query parameter "foo.bar"
    assert lookup("url.x").encoding == "raw" and lookup("metadata.x").encoding == "encoded"
    assert lookup("page.x").encoding == "encoded" and lookup("page.x").personal
    assert lookup("url").encoding == "encoded" and lookup("url").known  # no dot: a free name "url"


# --- syntax ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "http://[::1]:8080/vast?a=1",
        "http://[2001:db8::1]/v?x=%5Bsession.id%5D",
        "https://ads.example.com/v?a=[not a var]&b={single}&c={{}}&d=[word]&e=[FOO]&f={{ two words }}",
        "https://ads.example.com/v?a=[1.2.3.4]&b={{session.id}",
    ],
)
def test_text_that_is_not_a_variable_is_kept(template: str) -> None:
    compiled = compile_ad_tag(template)
    assert compiled.render(context()) == template and not compiled.variables


def test_ipv6_host_with_variables_after_it() -> None:
    rendered = compile_ad_tag("http://[::1]:8080/v?sid=[session.uuid]&d=[scte.event_id]").render(context())
    assert rendered == "http://[::1]:8080/v?sid=01234567-89ab-cdef-0123-456789abcdef&d=4660"


def test_all_syntaxes_in_one_template() -> None:
    template = compile_ad_tag("https://a.example/v?x=[session.avail_duration_secs]&y={{ live.adbreakdurationms }}")
    assert template.render(context()) == "https://a.example/v?x=16&y=15500"
    assert template.variables == {"session.avail_duration_secs", "live.adbreakdurationms"}


@pytest.mark.parametrize("template", ["{{url.base}}/vast", "//ads.example.com/v", "ads.example.com/v?x=1", ""])
def test_a_template_must_start_with_a_scheme(template: str) -> None:
    with pytest.raises(ValueError, match="expected a literal scheme"):
        compile_ad_tag(template)


# --- unknown variables --------------------------------------------------------------------------------------


def test_unknown_variables_render_empty_and_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    before = macros.counts["unknown_variables"]
    with caplog.at_level(logging.WARNING, logger="proxy.ads.macros"):
        template = compile_ad_tag("https://a.example/v?a={{client.nope}}&b=[session.nope]&c={{system.nope}}")
        rendered = [template.render(context(seed=seed)) for seed in range(3)]
    assert rendered == ["https://a.example/v?a=&b=&c="] * 3
    assert template.unknown == {"client.nope", "session.nope", "system.nope"}
    assert len(caplog.records) == 1
    assert "client.nope, session.nope, system.nope" in caplog.text and "https://a.example/v?a=" in caplog.text
    assert macros.counts["unknown_variables"] == before + 3


def test_known_templates_log_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="proxy.ads.macros"):
        compile_ad_tag("https://a.example/v?a={{deviceid}}&b=[player_params.x]&c={{metadata.y}}").render(context())
    assert caplog.records == []


# --- defaults (Video Cloud SSAI API template_url.defaults) ------------------------------------------------


def test_literal_default() -> None:
    assert value_of("{{url.foo}}", defaults={"url.foo": "SomeString"}) == "SomeString"
    assert value_of("{{url.dt}}", defaults={"url.dt": "unused"}) == "a/b&c=d"  # provided: the default is not used


def test_default_is_used_for_an_empty_value_too() -> None:
    ctx = context(replace(VIEWER, params={"foo": ""}))
    assert value_of("{{url.foo}}", ctx, defaults={"url.foo": "d"}) == "d"


def test_default_referencing_another_variable() -> None:
    assert value_of("{{url.foo}}", defaults={"url.foo": "{{ metadata.title.id }}"}) == "t%201"  # stricter rule: encoded
    assert value_of("{{url.foo}}", defaults={"url.foo": "id-{{ metadata.video_id }}/x y"}) == "id-5975635167001/x%20y"
    assert value_of("{{metadata.nope}}", defaults={"metadata.nope": "{{url.dt}}"}) == "a%2Fb%26c%3Dd"
    assert value_of("{{metadata.nope}}", defaults={" metadata.nope ": "a b"}) == "a%20b"  # the target's rule


def test_default_chain() -> None:
    defaults = {"url.a": "{{url.b}}", "url.b": "{{url.c}}", "url.c": "end"}
    assert value_of("{{url.a}}", defaults=defaults) == "end"


def test_default_referencing_an_unknown_variable(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="proxy.ads.macros"):
        template = compile_ad_tag("https://a.example/v?f={{url.foo}}", defaults={"url.foo": "x{{client.nope}}"})
    assert template.render(context()) == "https://a.example/v?f=x"
    assert template.unknown == {"client.nope"} and "client.nope" in caplog.text


@pytest.mark.parametrize(
    ("defaults", "with_b"),
    [
        ({"url.a": "{{url.b}}", "url.b": "{{url.a}}"}, "bee"),
        ({"url.a": "{{url.a}}"}, ""),
        ({"url.a": "{{url.b}}", "url.b": "{{url.c}}", "url.c": "{{url.a}}"}, "bee"),
    ],
)
def test_a_default_loop_renders_empty_and_is_logged(
    defaults: dict[str, str], with_b: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="proxy.ads.macros"):
        assert value_of("{{url.a}}", defaults=defaults) == ""
    assert "refer back to themselves" in caplog.text
    assert value_of("{{url.a}}", context(replace(VIEWER, params={"b": "bee"})), defaults=defaults) == with_b


def test_a_default_loop_with_a_literal_keeps_the_literal() -> None:
    assert value_of("{{url.a}}", defaults={"url.a": "x{{url.b}}", "url.b": "y{{url.a}}"}) == "xy"


def test_deep_default_chains_are_cut() -> None:
    defaults = {f"url.d{n}": f"{{{{url.d{n + 1}}}}}" for n in range(20)} | {"url.d20": "end"}
    assert value_of("{{url.d0}}", defaults=defaults) == ""


def test_defaults_in_headers() -> None:
    headers = compile_headers({"X-Site": "{{url.site}}"}, defaults={"url.site": "{{metadata.name}}"})
    assert headers.render(context()) == {"X-Site": "A & B/C"}


# --- scheme, host and port ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "refused"),
    [
        ("https://{{url.h}}.ads.example.com/v", {"url.h"}),
        ("https://ads.example.com:{{url.port}}/v", {"url.port"}),
        ("https://{{client.useragent}}@ads.example.com/v", {"client.useragent"}),
        ("https://ads{{deviceid}}.example.com?x=1", {"deviceid"}),
        ("https://ads.example.com[asset.CAID]", {"asset.CAID"}),
        ("https://ads.example.com\\[session.id]/v", {"session.id"}),  # urlsplit does not stop at a backslash
    ],
)
def test_a_viewer_value_in_the_authority_renders_empty(template: str, refused: set[str]) -> None:
    compiled = compile_ad_tag(template)
    assert compiled.refused == refused and not compiled.personal
    empty = replace(VIEWER, params={}, user_agent="", client_ip="")
    assert compiled.render(context()) == compiled.render(context(empty, brk=BreakInfo(15.5)))


def test_configuration_values_may_name_the_host_encoded() -> None:
    channel = ChannelInfo(job_id="eu-1", metadata={"region": "west/evil.com:99@x"})
    template = compile_ad_tag("https://{{job.job_id}}.{{metadata.region}}.ads.example.com/v?x={{metadata.region}}")
    parts = urlsplit(template.render(context(channel=channel)))
    assert parts.netloc == "eu-1.west%2Fevil.com%3A99%40x.ads.example.com" and parts.port is None
    assert template.refused == set()


@pytest.mark.parametrize(
    "value",
    [
        "//evil.example/",
        "@evil.example",
        "evil.example:444",
        "\r\nHost: evil",
        "https://evil.example/x?y#z",
        "\\\\evil",
    ],
)
def test_injection_attempts_stay_in_the_query(value: str) -> None:
    viewer = replace(VIEWER, user_agent=value, referer=value, params={"a": value, "dt": value})
    template = "https://ads.example.com:8443/vast?a={{url.a}}&ua={{client.useragent}}&p=[player_params.dt]&r={{d}}"
    parts = urlsplit(compile_ad_tag(template).render(context(viewer)))
    assert (parts.scheme, parts.hostname, parts.port, parts.path) == ("https", "ads.example.com", 8443, "/vast")
    assert parse_qs(parts.query)["ua"] == [value]
    assert "\r" not in parts.query and "\n" not in parts.query and parts.fragment == ""


viewer_text = st.text(max_size=30) | st.sampled_from(
    [
        "/",
        "?",
        "#",
        "@",
        ":",
        "//evil.example/",
        "@evil.example:8080/x?y#z",
        "..%2F",
        "\\",
        "%00",
        " ",
        "\ud800",
        "[::1]",
    ]
)
AUTHORITY_USER = ["", "{{url.u}}@", "user:[player_params.p]@"]
AUTHORITY_HOST = [
    "ads.example.com",
    "{{url.h}}.ads.example.com",
    "ads{{deviceid}}.example.com",
    "[::1]",
    "[2001:db8::1]",
]
AUTHORITY_PORT = ["", ":8443", ":{{url.port}}", ":84{{client.ipaddress}}", "\\{{session.session_id}}"]
FIRST_DELIMITER = ["/", "?", "#", "/vast/", "/v?x="]
REST = ["{{url.a}}", "[player_params.b]", "{{deviceid}}", "{{client.useragent}}", "[asset.EP]", "{{system.referer}}"]
REST += ["[session.client_ip]", "{{breakid}}", "{{page.x}}", "[DEVICEUA]", "&k=", "/", "?", "#", "@", ":9", "x"]


@st.composite
def templates(draw: st.DrawFn) -> str:
    authority = [draw(st.sampled_from(options)) for options in (AUTHORITY_USER, AUTHORITY_HOST, AUTHORITY_PORT)]
    rest = draw(st.lists(st.sampled_from(REST), max_size=8))
    return (
        draw(st.sampled_from(["http://", "https://"]))
        + "".join(authority)
        + draw(st.sampled_from(FIRST_DELIMITER))
        + "".join(rest)
    )


@given(
    templates(),
    st.dictionaries(st.sampled_from(["u", "p", "h", "port", "a", "b", "deviceid", "breakid"]), viewer_text),
    viewer_text,
    viewer_text,
)
def test_no_viewer_value_changes_scheme_host_or_port(template: str, params: dict[str, str], ua: str, ip: str) -> None:
    compiled = compile_ad_tag(template)
    viewer = ViewerInfo(SESSION + ua, client_ip=ip, user_agent=ua, referer=ua, params=params)
    brk = BreakInfo(30, ad_server_data=params, asset={"EP": ua})
    rendered = urlsplit(compiled.render(context(viewer, brk)))
    baseline = urlsplit(compiled.render(context(ViewerInfo(""), BreakInfo(30))))
    assert (rendered.scheme, rendered.netloc) == (baseline.scheme, baseline.netloc)
    assert (rendered.hostname, rendered.port) == (baseline.hostname, baseline.port)


@given(viewer_text, viewer_text)
def test_encoded_values_round_trip_through_the_query(first: str, second: str) -> None:
    viewer = replace(VIEWER, user_agent=first, params={"dt": second})
    parts = urlsplit(
        compile_ad_tag("https://ads.example.com/v?ua={{client.useragent}}&dt={{dt}}").render(context(viewer))
    )
    # a lone surrogate (not valid UTF-8) renders as "?" rather than raising
    expected = {key: [value.encode("utf-8", "replace").decode()] for key, value in (("ua", first), ("dt", second))}
    assert parse_qs(parts.query) == {key: value for key, value in expected.items() if value != [""]}


@given(viewer_text)
def test_raw_values_never_add_a_fragment_or_blank(value: str) -> None:
    viewer = replace(VIEWER, params={"v": value})
    rendered = compile_ad_tag("https://ads.example.com/v/{{url.v}}?p=[player_params.v]").render(context(viewer))
    parts = urlsplit(rendered)
    assert parts.fragment == "" and parts.hostname == "ads.example.com" and parts.path.startswith("/v/")
    assert re.fullmatch(r"[!-~]+", rendered) and not re.search(r'["<>\\^`{|}]', rendered)


# --- personal or shared --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "personal"),
    [
        ("https://a/v?d={{live.adbreakdurationms}}&e=[scte.event_id]&t={{server.timestamputc}}", False),
        ("https://a/v?j={{job.job_id}}&m={{metadata.video_id}}&a=[asset.CAID]&s=[SERVERSIDE]", False),
        ("https://a/v?p={{page.x}}", True),  # the value this session's player sent
        ("https://a/v?n={{client.nope}}&u=[scte.segmentation_upid.private_data.0]&ts=[TIMESTAMP]", False),
        ("https://{{url.h}}.a/v", False),  # refused in the host: renders empty, so nothing personal
        ("https://a/v?r={{random.int32}}", True),
        ("https://a/v?r=[CACHEBUSTING]", True),
        ("https://a/v?r=[avail.random]", True),
        ("https://a/v?s={{session.session_id}}", True),
        ("https://a/v?i=[avail.index]", True),  # per session (MediaTailor's index of the session's avails)
        ("https://a/v?t={{live.adbreak.timestamputc.session}}", True),
        ("https://a/v?u={{url.x}}", True),
        ("https://a/v?p=[player_params.x]", True),
        ("https://a/v?f={{deviceid}}", True),  # a free name may come from the viewer's query
        ("https://a/v?ip={{system.ip_address}}", True),
    ],
)
def test_personal(template: str, personal: bool) -> None:
    assert compile_ad_tag(template).personal is personal


def test_personal_through_a_default() -> None:
    assert compile_ad_tag("https://a/v?m={{metadata.x}}", defaults={"metadata.x": "{{url.x}}"}).personal
    assert not compile_ad_tag("https://a/v?m={{metadata.x}}", defaults={"metadata.x": "{{job.job_id}}"}).personal


def test_a_shared_request_renders_without_a_viewer() -> None:
    template = compile_ad_tag("https://a/v?d=[session.avail_duration_secs]&s={{session.session_id}}&f={{breakid}}")
    assert template.render(context(None)) == "https://a/v?d=16&s=&f=b-9"
    assert forwarding_headers(context(None)) == {}


# --- headers ------------------------------------------------------------------------------------------------


def test_seed_002_headers_are_not_url_encoded() -> None:
    headers = compile_headers(
        {
            "X-Custom-Header-Rand": "{{random.int32}}",
            "X-VIDEOPLAZA-FORWARDED-FOR": "{{client.ipaddress}}",
            "X-Static": "static value",
            "X-UA": "ua={{ client.useragent }}; ip=[session.client_ip]",
            "X-Page": "{{page.x}}",
            "X-Empty": "{{url.absent}}",
        }
    )
    rendered = headers.render(context(replace(VIEWER, client_ip="2001:db8::7")))
    assert rendered["X-VIDEOPLAZA-FORWARDED-FOR"] == "2001:db8::7"
    assert rendered["X-UA"] == f"ua={UA}; ip=2001:db8::7"
    assert rendered["X-Static"] == "static value" and "X-Page" not in rendered  # no value from the player
    assert re.fullmatch(r"-?\d+", rendered["X-Custom-Header-Rand"]) and "X-Empty" not in rendered
    assert headers.personal and {"random.int32", "client.ipaddress", "url.absent"} <= headers.variables


def test_static_headers_are_not_personal() -> None:
    assert not compile_headers({"X-Job": "{{job.job_id}}", "X-Static": "v"}).personal


@pytest.mark.parametrize(
    "headers",
    [{"Bad Name": "v"}, {"X-A:": "v"}, {"": "v"}, {"X-A": "a\r\nX-Injected: 1"}, {"X-A": "a\nb"}, {"X-A": "nul\x00"}],
)
def test_bad_headers_are_refused_when_compiled(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="expected"):
        compile_headers(headers)


@given(viewer_text)
def test_no_value_can_split_a_header(value: str) -> None:
    viewer = ViewerInfo(
        value, client_ip=value, user_agent=value + "\r\nX-Injected: 1", referer=value, params={"x": value}
    )
    ctx = context(viewer)
    rendered = compile_headers({"X-A": "{{client.useragent}}", "X-B": "{{url.x}}|{{x}}"}).render(ctx)
    for text in (*rendered.values(), *forwarding_headers(ctx, pass_user_agent=True).values()):
        assert not re.search(r"[\x00-\x1f\x7f]", text) and text == text.strip()
        text.encode("utf-8")  # no lone surrogate left


def test_forwarding_headers() -> None:
    assert forwarding_headers(context()) == {
        "X-Forwarded-For": "203.0.113.7",
        "X-Device-IP": "203.0.113.7",
        "X-Device-User-Agent": UA,
        "X-Device-Referer": REFERER,
    }
    assert forwarding_headers(context(), pass_user_agent=True)["User-Agent"] == UA
    bare = forwarding_headers(context(ViewerInfo("s", client_ip="198.51.100.1")))
    assert bare == {"X-Forwarded-For": "198.51.100.1", "X-Device-IP": "198.51.100.1"}


# --- deprecated API (kept until proxy/playback/decisions.py moves to compile_ad_tag) ---------------------------
