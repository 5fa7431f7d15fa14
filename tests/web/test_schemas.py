"""Control API bodies (proxy/web/schemas/): every sample of the API documents parses, defaults are applied, every
constraint is refused with a sentence naming the field, the value and what was expected, and nothing but BadRequest ever
comes out of `parse`, whatever the bytes."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pydantic import BaseModel

from proxy.ads.chain import response_format
from proxy.errors import BadRequest
from proxy.settings import AD_RESPONSE_TYPES
from proxy.web.schemas import (
    BEACON_TYPES,
    AdConfiguration,
    AdTransform,
    ApplicationBody,
    BeaconTemplate,
    BeaconUrl,
    ChannelBody,
    ChannelOptions,
    CuePointBody,
    Discontinuities,
    SlateBody,
    SlateUpdate,
    SsaiAdConfig,
    SsaiConfig,
    TemplateUrl,
    ad_response_of,
    merge_channel,
    merge_ssai_config,
    model_schemas,
    parse,
    validate,
)

# The API documents' identity stylesheet (Brightcove Live API, every sample).
SEED_XSLT = (
    '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:Det="http://Det.com">'
    '<xsl:output omit-xml-declaration="yes"/><xsl:template match="node()|@*"><xsl:copy>'
    '<xsl:apply-templates select="node()|@*"/></xsl:copy></xsl:template></xsl:stylesheet>'
)
INCLUDE_XSLT = SEED_XSLT.replace("<xsl:output", '<xsl:include href="http://evil.example/x.xsl"/><xsl:output')
SEED_TAG = "https://ad-provider-host.com/path/to/ad-handler?ip={{client.ipaddress}}&num={{random.int32}}&ses={{session.session_id}}"
SEED_HEADERS = {"X-Custom-Header-Rand": "{{random.int32}}", "X-VIDEOPLAZA-FORWARDED-FOR": "{{client.ipaddress}}"}
# Brightcove Live API "Create an ad configuration", placeholders replaced by real values.
SEED_002_CREATE: dict[str, Any] = {
    "application_ad_configuration": {
        "ad_configuration_description": "Human readable description of the configuration",
        "ad_configuration_expected_response_type": "Vast",
        "ad_configuration_headers": SEED_HEADERS,
        "ad_configuration_headers_for_impressions": False,
        "ad_configuration_strategy": "SingleAdResponse",
        "ad_configuration_transforms": [{"xpath": "/", "xslt": SEED_XSLT}],
        "ad_configuration_url_format": SEED_TAG,
    },
    "application_description": "Human readable description of the ad application",
    "account_id": "57838016001",
}
# Brightcove Live API "Update an ad configuration" (a whole body).
SEED_002_UPDATE: dict[str, Any] = {
    "application_ad_configuration": {
        "ad_configuration_description": "Some Updated Description Value",
        "ad_configuration_expected_response_type": "Dfp",
        "ad_configuration_headers": SEED_HEADERS,
        "ad_configuration_headers_for_impressions": False,
        "ad_configuration_strategy": "MultipleAdResponse",
        "ad_configuration_transforms": [{"xpath": "/", "xslt": SEED_XSLT}],
        "ad_configuration_url_format": SEED_TAG.replace("//ad-provider", "//updated-ad-provider"),
    },
    "application_description": "Human readable description of the ad application",
    "account_id": "Account_ID",
}
# Brightcove Live API "Add slate asset".
SEED_002_SLATE = {
    "source_url": "https://somesourceasset.com/slate-to-ingest.mp4",
    "account_id": "Account_ID",
    "source_description": "User identifiable description for the slate",
}
SEED_003_TAG = (
    "http://solutions.brightcove.com/bcls/ads/simple-ad-rules?ip={{ system.ip_address }}"
    "&vid={{ metadata.video_id }}&ppid={{ system.unique_user_id }}&p_vmap={{ url.p_vmap }}"
)
# Video Cloud SSAI API "Create an ad configuration".
SEED_003_CREATE: dict[str, Any] = {
    "name": "VMAP Ad Server",
    "vmap_response_namespace": "bc",
    "ad_config": {
        "expected_ad_response": "vast_3_0",
        "disable_server_beacons": False,
        "template_url": {"template": SEED_003_TAG},
    },
}
# Video Cloud SSAI API "Get ad configuration details": a response, with the server's own fields.
SEED_003_RESPONSE: dict[str, Any] = {
    "name": "VMAP Ad Server",
    "vmap_response_namespace": "bc",
    "config_id": "2ecc6beb-d6a4-4deb-a78e-37ac27e0f883",
    "account_id": "57838016001",
    "created_timestamp": "2017-07-24T19:28:34.976878586Z",
    "updated_timestamp": "2017-07-24T19:28:34.976878586Z",
    "ad_config": {
        "expected_ad_response": "dfp_ad_rules",
        "disable_server_beacons": False,
        "template_url": {"template": SEED_003_TAG},
    },
}
SEED_003_UPDATE = {"name": "VMAP Ad Server - updated"}
# Every field of the Video Cloud SSAI API's table.
SEED_003_FULL: dict[str, Any] = {
    **SEED_003_CREATE,
    "vmap_response_namespace": "uo",
    "description": "Human readable description",
    "discontinuities": {"dash": ["live-timeline"], "hls": ["v4", "v5"]},
    "ad_config": {
        "expected_ad_response": "dfp_vmap",
        "disable_server_beacons": True,
        "template_url": {"template": SEED_003_TAG, "defaults": {"url.p_vmap": "{{ metadata.title_id }}"}},
    },
    "beacon_templates": [
        {"type": kind, "template_url": {"template": f"https://beacons.example/{kind}?s={{{{ system.uuid }}}}"}}
        for kind in BEACON_TYPES
    ],
    "extend_beacon_guard_ttl": True,
}
CHANNEL: dict[str, Any] = {"name": "news-1", "origin": "https://origin.example/live/master.m3u8"}
CHANNEL_FULL: dict[str, Any] = {
    **CHANNEL,
    "config_id": "2ecc6beb-d6a4-4deb-a78e-37ac27e0f883",
    "slate_id": "slate-1",
    "content_segment_prefix": "https://cdn.example/content/",
    "ad_segment_prefix": "https://cdn.example/ads/",
    "options": {"break_policy": "skip_running"},
}
CUE: dict[str, Any] = {"duration": 30, "timecode": 2.5, "ad_server_data": {"breakid": "b-1", "site.section": "news"}}
MODELS: tuple[type[BaseModel], ...] = (
    ApplicationBody,
    AdConfiguration,
    AdTransform,
    SlateBody,
    SsaiConfig,
    SsaiAdConfig,
    TemplateUrl,
    Discontinuities,
    BeaconTemplate,
    BeaconUrl,
    ChannelBody,
    ChannelOptions,
    CuePointBody,
)
BODIES: tuple[type[BaseModel], ...] = (
    ApplicationBody,
    SlateBody,
    SlateUpdate,
    SsaiConfig,
    ChannelBody,
    CuePointBody,
)


def raw(value: Any) -> bytes:
    return orjson.dumps(value)


def refusal(model: type[BaseModel], body: Any) -> str:
    with pytest.raises(BadRequest) as caught:
        parse(model, body if isinstance(body, bytes) else raw(body))
    return caught.value.message


def with_ad(**fields: Any) -> dict[str, Any]:
    """Brightcove Live API's create sample with some `application_ad_configuration` fields replaced."""
    body = copy.deepcopy(SEED_002_CREATE)
    body["application_ad_configuration"].update(fields)
    return body


def with_ssai(**fields: Any) -> dict[str, Any]:
    return {**copy.deepcopy(SEED_003_CREATE), **fields}


def with_template(template: str) -> dict[str, Any]:
    return with_ssai(ad_config={"expected_ad_response": "vast_3_0", "template_url": {"template": template}})


# --- API document samples and defaults ---


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (ApplicationBody, SEED_002_CREATE),
        (ApplicationBody, SEED_002_UPDATE),
        (SlateBody, SEED_002_SLATE),
        (SsaiConfig, SEED_003_CREATE),
        (SsaiConfig, SEED_003_FULL),
        (ChannelBody, CHANNEL_FULL),
        (CuePointBody, CUE),
    ],
)
def test_seed_samples_parse_and_round_trip(model: type[BaseModel], body: dict[str, Any]) -> None:
    parsed = parse(model, raw(body))
    assert parsed.model_dump(mode="json", exclude_unset=True) == body
    assert parse(model, raw(parsed.model_dump(mode="json"))) == parsed  # what is stored parses again


def test_application_defaults() -> None:
    body = {"application_ad_configuration": {"ad_configuration_expected_response_type": "Vast"}}
    body["application_ad_configuration"]["ad_configuration_url_format"] = "https://ads.example/vast"
    parsed = parse(ApplicationBody, raw(body))
    ad = parsed.application_ad_configuration
    assert (parsed.application_description, parsed.account_id) == ("", None)
    assert (ad.ad_configuration_description, ad.ad_configuration_headers, ad.ad_configuration_transforms) == (
        "",
        {},
        [],
    )
    assert ad.ad_configuration_headers_for_impressions is False
    assert ad.ad_configuration_strategy == "MultipleAdResponse"


@pytest.mark.parametrize(
    ("sent", "stored"), [("dfp", "Dfp"), ("VAST", "Vast"), ("smartxml", "SmartXML"), ("SmartXML", "SmartXML")]
)
def test_response_type_any_case_stored_in_seed_spelling(sent: str, stored: str) -> None:
    parsed = parse(ApplicationBody, raw(with_ad(ad_configuration_expected_response_type=sent)))
    assert parsed.application_ad_configuration.ad_configuration_expected_response_type == stored


def test_slate_defaults() -> None:
    parsed = parse(SlateBody, raw({"source_url": "http://slates.example/brb.mp4"}))
    assert (parsed.account_id, parsed.source_description) == (None, "")


def test_ssai_config_defaults() -> None:
    body = {
        "name": "n",
        "ad_config": {"expected_ad_response": "dfp_ad_rules", "template_url": {"template": "http://a/"}},
    }
    parsed = parse(SsaiConfig, raw(body))
    assert (parsed.vmap_response_namespace, parsed.description, parsed.discontinuities) == ("bc", "", None)
    assert (parsed.beacon_templates, parsed.extend_beacon_guard_ttl) == ([], False)
    assert parsed.ad_config.disable_server_beacons is False
    assert parsed.ad_config.template_url.defaults == {}
    assert parse(SsaiConfig, raw({**body, "discontinuities": {}})).discontinuities == Discontinuities(dash=[], hls=[])


def test_channel_and_cue_point_defaults() -> None:
    channel = parse(ChannelBody, raw(CHANNEL))
    assert channel.options.break_policy == "skip_running"
    assert (channel.application_id, channel.config_id, channel.slate_id) == (None, None, None)
    assert (channel.content_segment_prefix, channel.ad_segment_prefix) == (None, None)
    cue = parse(CuePointBody, raw({"duration": 0.5}))
    assert (cue.duration, cue.timecode, cue.ad_server_data) == (0.5, None, {})


# --- refusals: the exact sentence ---

TOO_LONG = "a" * 1001
# The whole message, or (start, end) when the value in between is cut at 200 characters.
REFUSED: list[tuple[type[BaseModel], Any, str | tuple[str, str]]] = [
    # not a JSON object
    (
        ApplicationBody,
        b"",
        "body is not JSON: b'' (Input is a zero-length, empty document: line 1 column 1 (char 0)): "
        "expected a JSON object",
    ),
    (
        ApplicationBody,
        b"{'a': 1}",
        "body is not JSON: b\"{'a': 1}\" (unexpected character, expected a string key: line 1 column 2 (char 1)): "
        "expected a JSON object",
    ),
    (
        SlateBody,
        b"\xff",
        "body is not JSON: b'\\xff' (str is not valid UTF-8: surrogates not allowed: line 1 column 1 (char 0)): "
        "expected a JSON object",
    ),
    (
        SlateBody,
        b"{" * 300,
        (
            "body is not JSON: b'{{{{{{{{{",
            "… (300 bytes) (unexpected character, expected a string key: line 1 column 2 (char 1)): "
            "expected a JSON object",
        ),
    ),
    (ApplicationBody, b"[1, 2]", "body = [1, 2]: expected a JSON object"),
    (CuePointBody, b"null", "body = None: expected a JSON object"),
    # Brightcove Live API applications
    (ApplicationBody, {}, "application_ad_configuration is missing: expected the ad configuration object"),
    (ApplicationBody, {"application_ad_configuration": []}, "application_ad_configuration = []: expected an object"),
    (
        ApplicationBody,
        with_ad(ad_configuration_expected_response_type="Xml"),
        "application_ad_configuration.ad_configuration_expected_response_type = 'Xml': "
        "expected one of 'Dfp', 'Vast', 'SmartXML'",
    ),
    (
        ApplicationBody,
        with_ad(ad_configuration_expected_response_type=None),
        "application_ad_configuration.ad_configuration_expected_response_type = None: expected a string",
    ),
    (
        ApplicationBody,
        with_ad(ad_configuration_strategy="Single"),
        "application_ad_configuration.ad_configuration_strategy = 'Single': "
        "expected one of 'SingleAdResponse', 'MultipleAdResponse'",
    ),
    (
        ApplicationBody,
        with_ad(ad_configuration_headers_for_impressions="false"),
        "application_ad_configuration.ad_configuration_headers_for_impressions = 'false': expected true or false",
    ),
    (
        ApplicationBody,
        with_ad(ad_configuration_headers_for_impressions=0),
        "application_ad_configuration.ad_configuration_headers_for_impressions = 0: expected true or false",
    ),
    (
        ApplicationBody,
        with_ad(ad_configuration_headers={"X-Rand": 5}),
        "application_ad_configuration.ad_configuration_headers['X-Rand'] = 5: expected a string",
    ),
    (
        ApplicationBody,
        with_ad(ad_configuration_headers={"X Rand": "1"}),
        "application_ad_configuration.ad_configuration_headers has the key 'X Rand': "
        "expected an RFC 9110 token such as 'X-Custom-Header'",
    ),
    (
        ApplicationBody,
        with_ad(ad_configuration_headers={"X-Rand": "a\r\nSet-Cookie: x"}),
        "application_ad_configuration.ad_configuration_headers['X-Rand'] = 'a\\r\\nSet-Cookie: x': "
        "expected text without control characters (CR, LF, NUL…)",
    ),
    (
        ApplicationBody,
        with_ad(ad_configuration_headers=["X-Rand"]),
        "application_ad_configuration.ad_configuration_headers = ['X-Rand']: expected an object",
    ),
    (
        ApplicationBody,
        with_ad(ad_configuration_url_format="ftp://ads.example/vast"),
        "application_ad_configuration.ad_configuration_url_format = 'ftp://ads.example/vast': "
        "expected an http(s) URL template such as 'https://ads.example/tag?ip={{client.ipaddress}}'",
    ),
    (
        ApplicationBody,
        with_ad(ad_configuration_url_format="http://[::1"),
        "application_ad_configuration.ad_configuration_url_format = 'http://[::1': "
        "expected an http(s) URL template such as 'https://ads.example/tag?ip={{client.ipaddress}}'",
    ),
    (  # compile_ad_tag refuses it: no literal scheme first
        ApplicationBody,
        with_ad(ad_configuration_url_format="{{client.ipaddress}}/vast?x=1"),
        "application_ad_configuration.ad_configuration_url_format = '{{client.ipaddress}}/vast?x=1': "
        "expected a URL template starting with a literal scheme and '//', e.g. 'https://'",
    ),
    (
        ApplicationBody,
        with_ad(ad_configuration_url_format=None),
        "application_ad_configuration.ad_configuration_url_format = None: expected a string",
    ),
    (
        ApplicationBody,
        with_ad(ad_configuration_transforms=[{"xpath": "/", "xslt": SEED_XSLT, "when": "always"}]),
        "application_ad_configuration.ad_configuration_transforms[0].when = 'always': "
        "unknown field, expected one of xpath, xslt",
    ),
    (
        ApplicationBody,
        with_ad(ad_configuration_transforms=[{"xslt": SEED_XSLT}]),
        "application_ad_configuration.ad_configuration_transforms[0].xpath is missing: expected an XPath 1.0 selector",
    ),
    (
        ApplicationBody,
        with_ad(ad_configuration_transforms=[{"xpath": "php:function('x')", "xslt": SEED_XSLT}]),
        "application_ad_configuration.ad_configuration_transforms[0].xpath = \"php:function('x')\": "
        "expected a transform the proxy accepts: xpath: extension function php:function() in \"php:function('x')\": "
        "expected XPath/XSLT 1.0 functions only",
    ),
    (
        ApplicationBody,
        with_ad(ad_configuration_transforms={"xpath": "/", "xslt": SEED_XSLT}),
        (
            "application_ad_configuration.ad_configuration_transforms = {'xpath': '/', 'xslt': '<xsl:stylesheet",
            "…: expected a list",
        ),
    ),
    (
        ApplicationBody,
        with_ad(ad_configuration_description=TOO_LONG),
        f"application_ad_configuration.ad_configuration_description = '{'a' * 199}… (1001 characters): "
        "expected at most 1000 characters",
    ),
    (
        ApplicationBody,
        {**SEED_002_CREATE, "application_id": "a-1"},
        "application_id = 'a-1': unknown field, expected one of "
        "application_ad_configuration, application_description, account_id",
    ),
    (ApplicationBody, {**SEED_002_CREATE, "account_id": 57838016001}, "account_id = 57838016001: expected a string"),
    (
        ApplicationBody,
        {**SEED_002_CREATE, "account_id": "User's Account ID [Optional]"},
        'account_id = "User\'s Account ID [Optional]": expected text matching ^[A-Za-z0-9_.\\-]+$',
    ),
    (
        ApplicationBody,
        {**SEED_002_CREATE, "application_description": TOO_LONG},
        f"application_description = '{'a' * 199}… (1001 characters): expected at most 1000 characters",
    ),
    # Brightcove Live API slates
    (SlateBody, {}, "source_url is missing: expected the http(s) URL of the slate video"),
    (
        SlateBody,
        {"source_url": "ftp://slates.example/brb.mp4"},
        "source_url = 'ftp://slates.example/brb.mp4': expected an http(s) URL such as 'https://host/path'",
    ),
    (
        SlateBody,
        {"source_url": "http://[::1"},
        "source_url = 'http://[::1': expected an http(s) URL such as 'https://host/path'",
    ),
    (
        SlateBody,
        {"source_url": "https:///brb.mp4"},
        "source_url = 'https:///brb.mp4': expected an http(s) URL such as 'https://host/path'",
    ),
    (
        SlateBody,
        {"source_url": "http://a:99999/x"},
        "source_url = 'http://a:99999/x': expected an http(s) URL such as 'https://host/path'",
    ),
    (
        SlateBody,
        {"source_url": "http://slates.example/b\nrb.mp4"},
        "source_url = 'http://slates.example/b\\nrb.mp4': expected an http(s) URL without blanks or control characters",
    ),
    (
        SlateBody,
        {"source_url": "https://s.example/" + "a" * 4096},
        ("source_url = 'https://s.example/aaaa", "… (4114 characters): expected at most 4096 characters"),
    ),
    (
        SlateBody,
        {**SEED_002_SLATE, "media_source_asset_id": "x"},
        "media_source_asset_id = 'x': unknown field, expected one of source_url, account_id, source_description",
    ),
    # Video Cloud SSAI API ssai_configs
    (SsaiConfig, {"ad_config": SEED_003_CREATE["ad_config"]}, "name is missing: expected a human readable name"),
    (SsaiConfig, {"name": "n"}, "ad_config is missing: expected the ad configuration object"),
    (SsaiConfig, with_ssai(name=""), "name = '': expected at least 1 character"),
    (SsaiConfig, with_ssai(vmap_response_namespace="BC"), "vmap_response_namespace = 'BC': expected one of 'uo', 'bc'"),
    (
        SsaiConfig,
        with_ssai(ad_config={"expected_ad_response": "vast", "template_url": {"template": "http://a/"}}),
        "ad_config.expected_ad_response = 'vast': expected one of 'dfp_ad_rules', 'dfp_vmap', 'smart_xml', 'vast_3_0'",
    ),
    (
        SsaiConfig,
        with_ssai(ad_config={"expected_ad_response": "vast_3_0", "template_url": {}}),
        "ad_config.template_url.template is missing: expected the ad tag: an http(s) URL template",
    ),
    (
        SsaiConfig,
        with_template("ftp://ads.example/{{ url.x }}"),
        "ad_config.template_url.template = 'ftp://ads.example/{{ url.x }}': "
        "expected an http(s) URL template such as 'https://ads.example/tag?ip={{client.ipaddress}}'",
    ),
    (
        SsaiConfig,
        with_ssai(
            ad_config={
                "expected_ad_response": "vast_3_0",
                "disable_server_beacons": "no",
                "template_url": {"template": "http://a/"},
            }
        ),
        "ad_config.disable_server_beacons = 'no': expected true or false",
    ),
    (
        SsaiConfig,
        with_ssai(
            ad_config={
                "expected_ad_response": "vast_3_0",
                "template_url": {"template": "http://a/", "defaults": {"url foo": "x"}},
            }
        ),
        "ad_config.template_url.defaults has the key 'url foo': "
        "expected text matching ^[A-Za-z_][A-Za-z0-9_\\-]*(\\.[A-Za-z0-9_\\-]+)*$",
    ),
    (
        SsaiConfig,
        with_ssai(beacon_templates=[{"type": "ad_begin", "template_url": {"template": "https://b.example/"}}]),
        "beacon_templates[0].type = 'ad_begin': expected one of " + ", ".join(map(repr, BEACON_TYPES)),
    ),
    (
        SsaiConfig,
        with_ssai(beacon_templates=[{"type": "ad_start", "template_url": {"template": "mailto:x@y"}}]),
        "beacon_templates[0].template_url.template = 'mailto:x@y': "
        "expected a URL template starting with a literal scheme and '//', e.g. 'https://'",
    ),
    (
        SsaiConfig,
        with_ssai(beacon_templates=[{"type": "ad_start", "template_url": {"template": "https://b/", "defaults": {}}}]),
        "beacon_templates[0].template_url.defaults = {}: unknown field, expected one of template",
    ),
    (
        SsaiConfig,
        with_ssai(beacon_templates=[{"type": "ad_start", "template_url": {"template": "https://b/"}}] * 51),
        ("beacon_templates = [{'type': 'ad_start', ", "…: expected at most 50 items"),
    ),
    (SsaiConfig, with_ssai(discontinuities={"hls": "*"}), "discontinuities.hls = '*': expected a list"),
    (SsaiConfig, with_ssai(discontinuities={"hls": [4]}), "discontinuities.hls[0] = 4: expected a string"),
    (SsaiConfig, with_ssai(extend_beacon_guard_ttl=1), "extend_beacon_guard_ttl = 1: expected true or false"),
    (
        SsaiConfig,
        with_ssai(config_id="c-1"),
        "config_id = 'c-1': unknown field, expected one of name, vmap_response_namespace, description, "
        "discontinuities, ad_config, beacon_templates, extend_beacon_guard_ttl",
    ),
    # channels
    (ChannelBody, {"origin": CHANNEL["origin"]}, "name is missing: expected the name in playback URLs"),
    (ChannelBody, {**CHANNEL, "name": "news 1"}, "name = 'news 1': expected text matching ^[A-Za-z0-9_\\-]+$"),
    (ChannelBody, {**CHANNEL, "name": "n" * 65}, f"name = '{'n' * 65}': expected at most 64 characters"),
    (ChannelBody, {**CHANNEL, "name": ""}, "name = '': expected at least 1 character"),
    (ChannelBody, {"name": "n"}, "origin is missing: expected the http(s) URL of the origin's master playlist"),
    (
        ChannelBody,
        {**CHANNEL, "origin": "file:///etc/passwd"},
        "origin = 'file:///etc/passwd': expected an http(s) URL such as 'https://host/path'",
    ),
    (
        ChannelBody,
        {**CHANNEL, "application_id": "a-1", "config_id": "c-1"},
        "config_id = 'c-1': expected no config_id when application_id is set ('a-1'): at most one",
    ),
    (
        ChannelBody,
        {**CHANNEL, "ad_segment_prefix": "//cdn.example/ads/"},
        "ad_segment_prefix = '//cdn.example/ads/': expected an http(s) URL such as 'https://host/path'",
    ),
    (
        ChannelBody,
        {**CHANNEL, "options": {"break_policy": "join_running"}},
        "options.break_policy = 'join_running': expected one of 'skip_running'",
    ),
    (ChannelBody, {**CHANNEL, "slate_id": 7}, "slate_id = 7: expected a string"),
    # cue points
    (CuePointBody, {}, "duration is missing: expected the break's length in seconds"),
    (CuePointBody, {"duration": 0}, "duration = 0: expected a number > 0"),
    (CuePointBody, {"duration": 600.5}, "duration = 600.5: expected a number <= 600"),
    (CuePointBody, {"duration": "30"}, "duration = '30': expected a number"),
    (CuePointBody, {"duration": True}, "duration = True: expected a number"),
    (CuePointBody, {"duration": 30, "timecode": -1}, "timecode = -1: expected a number >= 0"),
    (CuePointBody, {"duration": 30, "timecode": 3600.1}, "timecode = 3600.1: expected a number <= 3600"),
    (
        CuePointBody,
        {"duration": 30, "ad_server_data": {"break id": "1"}},
        "ad_server_data has the key 'break id': expected text matching ^[A-Za-z0-9_.\\-]+$",
    ),
    (
        CuePointBody,
        {"duration": 30, "ad_server_data": {"k" * 65: "1"}},
        f"ad_server_data has the key '{'k' * 65}': expected at most 64 characters",
    ),
    (CuePointBody, {"duration": 30, "ad_server_data": {"id": 1}}, "ad_server_data['id'] = 1: expected a string"),
    (
        CuePointBody,
        {"duration": 30, "ad_server_data": {"id": TOO_LONG}},
        f"ad_server_data['id'] = '{'a' * 199}… (1001 characters): expected at most 1000 characters",
    ),
    (
        CuePointBody,
        {"duration": 30, "ad_server_data": {f"k{i}": "v" for i in range(51)}},
        ("ad_server_data = {'k0': 'v', 'k1': 'v',", "…: expected at most 50 entries"),
    ),
    (
        CuePointBody,
        {"duration": 30, "break_id": "b"},
        "break_id = 'b': unknown field, expected one of duration, timecode, ad_server_data",
    ),
]


@pytest.mark.parametrize(("model", "body", "expected"), REFUSED)
def test_refused_with_the_field_the_value_and_what_was_expected(
    model: type[BaseModel], body: Any, expected: str | tuple[str, str]
) -> None:
    message = refusal(model, body)
    if isinstance(expected, str):
        assert message == expected
    else:
        assert message.startswith(expected[0]) and message.endswith(expected[1]), message
        assert len(message) < len(expected[0]) + len(expected[1]) + 210, message


@pytest.mark.parametrize(
    ("body", "ends"),
    [
        (
            with_ad(ad_configuration_transforms=[{"xpath": "/", "xslt": INCLUDE_XSLT}]),
            "expected a transform the proxy accepts: <xsl:include> line 1: xsl:include "
            "href='http://evil.example/x.xsl': expected a self-contained stylesheet "
            "(xsl:include/xsl:import load files or URLs)",
        ),
        (
            with_ad(ad_configuration_transforms=[{"xpath": "/", "xslt": "<not-xml"}]),
            "expected a transform the proxy accepts: stylesheet is not well-formed XML:",
        ),
        (
            with_ad(ad_configuration_transforms=[{"xpath": "/", "xslt": "x" * (64 * 1024 + 1)}]),
            "… (65537 characters): expected at most 65536 characters",
        ),
        (
            with_ad(ad_configuration_transforms=[{"xpath": "/", "xslt": SEED_XSLT}] * 21),
            "…: expected at most 20 items",
        ),
        (with_ad(ad_configuration_headers={f"X-{i}": "v" for i in range(51)}), "…: expected at most 50 entries"),
        (
            with_template("https://ads.example/" + "a" * 4096),
            "… (4116 characters): expected at most 4096 characters",
        ),
    ],
)
def test_long_refusals_cut_the_value(body: dict[str, Any], ends: str) -> None:
    model = SsaiConfig if "ad_config" in body else ApplicationBody
    message = refusal(model, body)
    assert ends.split("…")[-1] in message, message
    assert len(message) < 700, message  # the value is cut to 200 characters, the transform's reason too


def test_xslt_refusal_names_the_transform_and_the_stylesheet() -> None:
    message = refusal(ApplicationBody, with_ad(ad_configuration_transforms=[{"xpath": "/", "xslt": INCLUDE_XSLT}]))
    assert message.startswith("application_ad_configuration.ad_configuration_transforms[0].xslt = '<xsl:stylesheet")


def test_huge_body_refused_before_decoding() -> None:
    message = refusal(CuePointBody, b" " * (2 * 1024 * 1024 + 1))
    assert message == "body is 2097153 bytes: expected at most 2097152 bytes"


def test_validate_checks_python_values_too() -> None:
    assert validate(CuePointBody, {"duration": 1}).duration == 1
    with pytest.raises(BadRequest, match=r"^body = 'x': expected an object$"):
        validate(CuePointBody, "x")


# --- partial updates ---


def stored_ssai() -> dict[str, Any]:
    return parse(SsaiConfig, raw(SEED_003_FULL)).model_dump(mode="json")


def test_seed_003_update_sample_keeps_every_other_field() -> None:
    stored = stored_ssai()
    before = copy.deepcopy(stored)
    updated = merge_ssai_config(stored, SEED_003_UPDATE)
    assert updated.name == "VMAP Ad Server - updated"
    assert updated.model_dump(mode="json") == {**before, "name": "VMAP Ad Server - updated"}
    assert stored == before  # the stored document is not changed in place


def test_merge_is_deep_and_null_returns_a_field_to_its_default() -> None:
    patch = {"ad_config": {"disable_server_beacons": False, "template_url": {"defaults": {"url.p_vmap": None}}}}
    updated = merge_ssai_config(stored_ssai(), {**patch, "description": None, "beacon_templates": []})
    assert updated.ad_config.expected_ad_response == "dfp_vmap"
    assert updated.ad_config.template_url.template == SEED_003_TAG
    assert (updated.ad_config.disable_server_beacons, updated.ad_config.template_url.defaults) == (False, {})
    assert (updated.description, updated.beacon_templates) == ("", [])  # lists are replaced, not merged


def test_merge_drops_the_server_fields_of_a_stored_response() -> None:
    updated = merge_ssai_config(SEED_003_RESPONSE, SEED_003_UPDATE)
    assert updated.name == "VMAP Ad Server - updated"
    assert ad_response_of(updated.ad_config.expected_ad_response) == "dfp"


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"name": None}, "name is missing: expected a human readable name"),
        ({"name": 5}, "name = 5: expected a string"),
        ({"ad_config": None}, "ad_config is missing: expected the ad configuration object"),
        ({"ad_config": "vast"}, "ad_config = 'vast': expected an object"),
        (
            {"ad_config": {"template_url": {"template": "ftp://ads.example/"}}},
            "ad_config.template_url.template = 'ftp://ads.example/': expected an http(s) URL template",
        ),
        ({"ad_config": {"expected_ad_response": "Vast"}}, "ad_config.expected_ad_response = 'Vast': expected one of"),
        ({"config_id": "c-2"}, "config_id = 'c-2': unknown field, expected one of name, vmap_response_namespace"),
        ({"discontinuities": {"hls": ["v4"] * 21}}, "discontinuities.hls = ['v4', "),
    ],
)
def test_a_patch_never_stores_an_invalid_config(patch: dict[str, Any], expected: str) -> None:
    with pytest.raises(BadRequest) as caught:
        merge_ssai_config(stored_ssai(), patch)
    assert caught.value.message.startswith(expected), caught.value.message


def test_channel_patch_switches_ad_configuration_with_null() -> None:
    stored = parse(ChannelBody, raw({**CHANNEL, "application_id": "a-1"})).model_dump(mode="json")
    updated = merge_channel(stored, {"application_id": None, "config_id": "c-1", "slate_id": "s-2"})
    assert (updated.application_id, updated.config_id, updated.slate_id) == (None, "c-1", "s-2")
    assert updated.origin == CHANNEL["origin"]
    with pytest.raises(BadRequest, match=r"^config_id = 'c-1': expected no config_id when application_id is set"):
        merge_channel(stored, {"config_id": "c-1"})


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"name": "other"}, "name = 'other': expected 'news-1' (a channel is never renamed)"),
        ({"name": None}, "name = None: expected 'news-1' (a channel is never renamed)"),
        ({"origin": "rtmp://origin.example/live"}, "origin = 'rtmp://origin.example/live': expected an http(s) URL"),
        ({"options": {"break_policy": "x"}}, "options.break_policy = 'x': expected one of 'skip_running'"),
    ],
)
def test_channel_patch_refused(patch: dict[str, Any], expected: str) -> None:
    stored = parse(ChannelBody, raw(CHANNEL_FULL)).model_dump(mode="json")
    with pytest.raises(BadRequest) as caught:
        merge_channel(stored, patch)
    assert caught.value.message.startswith(expected), caught.value.message
    assert merge_channel(stored, {"name": "news-1"}).name == "news-1"  # restating the name is fine


# --- settings vocabulary and schemas ---


@pytest.mark.parametrize(
    ("expected", "setting"),
    [
        ("Dfp", "dfp"),
        ("Vast", "vast"),
        ("SmartXML", "smartxml"),
        ("dfp_ad_rules", "dfp"),
        ("dfp_vmap", "vmap"),
        ("smart_xml", "smartxml"),
        ("vast_3_0", "vast"),
    ],
)
def test_ad_response_of_maps_both_seeds_to_settings(expected: str, setting: str) -> None:
    assert ad_response_of(expected) == setting
    assert setting in AD_RESPONSE_TYPES
    assert response_format(setting) == response_format(expected)  # parsed the same way as the API's name


def test_ad_response_of_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match=r"^ad response type 'xml': expected one of 'dfp', 'vast'"):
        ad_response_of("xml")


def test_model_schemas_describe_every_body() -> None:
    schemas = model_schemas()
    assert set(schemas) == {model.__name__ for model in BODIES}
    orjson.dumps(schemas)  # plain JSON
    for schema in schemas.values():
        assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schemas["SsaiConfig"]["required"] == ["name", "ad_config"]
    assert schemas["ChannelBody"]["properties"]["name"]["pattern"] == "^[A-Za-z0-9_\\-]+$"
    beacon = schemas["SsaiConfig"]["$defs"]["BeaconTemplate"]["properties"]["type"]
    assert beacon["enum"] == list(BEACON_TYPES) and len(BEACON_TYPES) == 18
    response = schemas["ApplicationBody"]["$defs"]["AdConfiguration"]["properties"]
    assert response["ad_configuration_expected_response_type"]["enum"] == ["Dfp", "Vast", "SmartXML"]


# --- nothing but BadRequest, whatever comes in ---

FIELD_NAMES = sorted({name for model in MODELS for name in model.model_fields})
KEYS = st.sampled_from(FIELD_NAMES) | st.text(max_size=8)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from([SEED_TAG, SEED_XSLT, INCLUDE_XSLT, "http://[::1", "ftp://x/", "/", "Dfp", "vast_3_0"])
)
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5), max_leaves=25
)
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def only_bad_request(model: type[BaseModel], body: bytes) -> None:
    try:
        assert isinstance(parse(model, body), model)
    except BadRequest as error:
        assert error.message and len(error.message) < 2000


@PROPERTY
@given(st.sampled_from(BODIES), JSON_VALUES)
def test_parse_raises_only_bad_request_for_any_json(model: type[BaseModel], value: Any) -> None:
    only_bad_request(model, json.dumps(value).encode())


@PROPERTY
@given(st.sampled_from(BODIES), st.binary(max_size=200))
def test_parse_raises_only_bad_request_for_any_bytes(model: type[BaseModel], body: bytes) -> None:
    only_bad_request(model, body)


@PROPERTY
@given(st.text(max_size=60), st.text(max_size=200) | st.sampled_from([SEED_XSLT, INCLUDE_XSLT]))
def test_any_transform_text_gives_only_bad_request(xpath: str, stylesheet: str) -> None:
    body = with_ad(ad_configuration_transforms=[{"xpath": xpath, "xslt": stylesheet}])
    only_bad_request(ApplicationBody, json.dumps(body).encode())  # json: text may hold lone surrogates


@PROPERTY
@given(st.dictionaries(KEYS, JSON_VALUES, max_size=5))
def test_any_patch_gives_a_valid_config_or_bad_request(patch: dict[str, Any]) -> None:
    try:
        assert isinstance(merge_ssai_config(stored_ssai(), patch), SsaiConfig)
    except BadRequest as error:
        assert error.message
