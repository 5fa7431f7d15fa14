"""The compiled ad configuration (proxy.ads.config): compiled once from a channel, a bad template, header or
stylesheet refused with the channel's name; personal when a viewer's variable is in the tag or its headers."""

from __future__ import annotations

import pytest

from proxy.ads.config import AdConfig, ChannelAds, compile_ad_config
from proxy.errors import ConfigError
from proxy.settings import ChannelConfig, Transform

IDENTITY = (
    '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
    '<xsl:template match="@*|node()"><xsl:copy><xsl:apply-templates select="@*|node()"/></xsl:copy></xsl:template>'
    "</xsl:stylesheet>"
)


def channel(**fields: object) -> ChannelConfig:
    return ChannelConfig(name="news", origin="https://origin.example/master.m3u8", **fields)  # type: ignore[arg-type]


def test_a_channel_config_is_what_the_ad_configuration_reads() -> None:
    ads: ChannelAds = channel()
    assert ads.name == "news"


def test_no_ad_tag_compiles_to_no_decisions() -> None:
    config = compile_ad_config(channel())
    assert isinstance(config, AdConfig)
    assert config.tag is None and not config.personal and config.page_names == ()


def test_a_shared_tag_is_not_personal() -> None:
    config = compile_ad_config(channel(ad_tag="https://ads.example/vast?c={{job.job_id}}"))
    assert config.tag is not None and not config.personal
    assert config.response == "auto" and config.transforms == ()


def test_a_viewer_variable_in_the_tag_or_a_header_makes_it_personal() -> None:
    assert compile_ad_config(channel(ad_tag="https://ads.example/vast?s={{session.id}}")).personal
    headers = {"X-Forwarded-For": "{{client.ipaddress}}"}
    assert compile_ad_config(channel(ad_tag="https://ads.example/vast", ad_headers=headers)).personal


def test_channel_values_feed_the_channel_variables() -> None:
    config = compile_ad_config(channel(version="v7", ad_description="morning", metadata={"genre": "news"}))
    assert (config.channel.job_id, config.channel.description, dict(config.channel.metadata)) == (
        "v7",
        "morning",
        {"genre": "news"},
    )
    assert compile_ad_config(channel()).channel.job_id == "news"  # unversioned: the channel's name


def test_page_names_come_from_the_tag_and_the_beacons() -> None:
    config = compile_ad_config(
        channel(
            ad_tag="https://ads.example/vast?r={{page.document.referrer}}",
            beacon_templates=(("impression", "https://b.example/i?v={{page.pageVariable.x}}"),),
        )
    )
    assert config.page_names == ("document.referrer", "pageVariable.x")
    assert [kind for kind, _ in config.beacons] == ["impression"]


def test_transforms_and_response_type_are_compiled() -> None:
    config = compile_ad_config(
        channel(ad_tag="https://ads.example/vast", ad_response="vast", ad_transforms=(Transform("/", IDENTITY),))
    )
    assert config.response == "vast"
    assert [(spec.xpath, spec.xslt) for spec in config.transforms] == [("/", IDENTITY)]


@pytest.mark.parametrize(
    "fields",
    [
        {"ad_tag": "ads.example/vast"},  # no scheme
        {"ad_headers": {"Bad Name": "v"}},
        {"ad_response": "nonsense"},
        {"ad_transforms": (Transform("/", "<xsl:stylesheet"),)},
        {"beacon_templates": (("impression", "not a url"),)},
    ],
)
def test_a_bad_field_is_a_config_error_naming_the_channel(fields: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=r"^channels\.news: "):
        compile_ad_config(channel(**fields))
