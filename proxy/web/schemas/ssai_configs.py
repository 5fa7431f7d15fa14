"""The Video Cloud SSAI API ssai_configs: `SsaiConfig` has every field of its documentation's "Configuration field
details" table. A PUT is partial (its documentation's update sample is `{"name": …}`), so `merge_ssai_config`
merges it into the stored document and validates the result."""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal

from pydantic import Field

from proxy.web.schemas.common import MAX_TEXT, MAX_URL, Body, Text, UrlTemplate
from proxy.web.schemas.parsing import merge_patch, validate

BeaconType = Literal[
    "content_start", "content_first_quartile", "content_midpoint", "content_third_quartile", "content_complete",
    "content_quartiles", "content_interval", "ad_start", "ad_first_quartile", "ad_midpoint", "ad_third_quartile",
    "ad_complete", "ad_quartiles", "ad_break_start", "ad_break_end", "segment_start", "segment_end", "on_load",
]  # fmt: skip
BEACON_TYPES: tuple[str, ...] = typing.get_args(BeaconType)  # the Video Cloud SSAI API's 18 values
# The Video Cloud SSAI API answers with these beside the body; they are the server's, never the client's.
SSAI_SERVER_FIELDS = frozenset({"config_id", "account_id", "created_timestamp", "updated_timestamp"})
VariableName = Annotated[str, Field(max_length=256, pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*$")]
Defaults = Annotated[dict[VariableName, Annotated[str, Field(max_length=MAX_URL)]], Field(max_length=50)]
Versions = Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=20)]


class Discontinuities(Body):
    """The Video Cloud SSAI API `discontinuities`: stored and returned; this proxy's HLS always has them at every
    boundary (RFC 8216bis §6.2), and it serves no DASH."""

    dash: Versions = Field(default_factory=list)
    hls: Versions = Field(default_factory=list)


class TemplateUrl(Body):
    template: UrlTemplate = Field(description="the ad tag: an http(s) URL template")
    defaults: Defaults = Field(default_factory=dict, description="variable name → default value or template")


class SsaiAdConfig(Body):
    """The Video Cloud SSAI API `ad_config`."""

    expected_ad_response: Literal["dfp_ad_rules", "dfp_vmap", "smart_xml", "vast_3_0"] = Field(
        description="how the ad response is parsed"
    )
    disable_server_beacons: bool = False
    template_url: TemplateUrl = Field(description="the ad tag template object")


class BeaconUrl(Body):
    template: UrlTemplate = Field(description="the beacon: an http(s) URL template")


class BeaconTemplate(Body):
    type: BeaconType = Field(description="when the beacon fires")
    template_url: BeaconUrl = Field(description="the beacon template object")


class SsaiConfig(Body):
    """The Video Cloud SSAI API ssai_config. Required on create: `name` (what lists show) and `ad_config` (a
    configuration without an ad tag inserts nothing); the rest has its documentation's defaults."""

    name: Annotated[str, Field(min_length=1, max_length=MAX_TEXT, description="a human readable name")]
    vmap_response_namespace: Literal["uo", "bc"] = "bc"
    description: Text = ""
    discontinuities: Discontinuities | None = None  # None: not set (its documentation gives no default)
    ad_config: SsaiAdConfig = Field(description="the ad configuration object")
    beacon_templates: list[BeaconTemplate] = Field(default_factory=list, max_length=50)
    extend_beacon_guard_ttl: bool = False


def merge_ssai_config(stored: dict[str, Any], patch: dict[str, Any]) -> SsaiConfig:
    """The Video Cloud SSAI API's partial PUT: `patch` merged into the stored body (the server's own fields, e.g.
    config_id, are dropped from `stored`; in `patch` they are unknown fields) and validated as a whole, so an update can
    never store an invalid configuration."""
    body = {key: value for key, value in stored.items() if key not in SSAI_SERVER_FIELDS}
    return validate(SsaiConfig, merge_patch(body, patch))
