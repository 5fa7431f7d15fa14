"""This product's own operator API: `ChannelBody`, a channel with its origin and the ad configuration
and slate driving it, changed by `merge_channel`; and `CuePointBody`, a manual cue point (the Live SSAI API "Using
manual cue points" refers to a document not published with it)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from proxy.errors import BadRequest
from proxy.settings import flat_metadata
from proxy.web.schemas.common import MAX_TEXT, SHOWN_CHARS, Body, Identifier, WebUrl
from proxy.web.schemas.messages import shown
from proxy.web.schemas.parsing import merge_patch, validate

MAX_METADATA = 100  # a channel's metadata values, nested ones counted
_METADATA_KEY = re.compile(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*")


def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    """The Video Cloud SSAI API `metadata.*`: strings, or objects of them (rendered as dotted paths), bounded in
    size."""
    try:
        flat = flat_metadata(value)
    except ValueError as error:
        raise ValueError(f"expected strings or nested objects of strings; {error}") from None
    if len(flat) > MAX_METADATA:
        raise ValueError(f"expected at most {MAX_METADATA} values, got {len(flat)}")
    for path, text in flat.items():
        if len(text) > MAX_TEXT or not _METADATA_KEY.fullmatch(path):
            raise ValueError(f"metadata.{path} = {text[:SHOWN_CHARS]!r}: expected a key of [A-Za-z0-9_-] and a value "
                             f"of at most {MAX_TEXT} characters")  # fmt: skip
    return value


DataKey = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
METADATA_SCHEMA = {
    "propertyNames": {"pattern": f"^{_METADATA_KEY.pattern}$"},
    "additionalProperties": {"anyOf": [{"type": "string", "maxLength": MAX_TEXT}, {"type": "object"}]},
    "maxProperties": MAX_METADATA,
}
Metadata = Annotated[dict[str, Any], Field(json_schema_extra=METADATA_SCHEMA), AfterValidator(_metadata)]


class ChannelOptions(Body):
    # skip_running: a viewer joining mid-break gets the content for that break (README "Choices").
    break_policy: Literal["skip_running"] = "skip_running"


class ChannelBody(Body):
    """A channel: its name is in the players' URLs (/v1/ssai/session/{name}/…), so it is short and URL-safe."""

    name: Annotated[
        str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$", description="the name in playback URLs")
    ]
    origin: WebUrl = Field(description="the http(s) URL of the origin's master playlist")
    application_id: Identifier | None = None  # the Live SSAI API ad configuration, or…
    config_id: Identifier | None = None  # … the Video Cloud SSAI API's; at most one of them
    slate_id: Identifier | None = None
    content_segment_prefix: WebUrl | None = None
    ad_segment_prefix: WebUrl | None = None
    metadata: Metadata = Field(
        default_factory=dict, description="the Video Cloud SSAI API metadata.* values: strings or objects"
    )
    options: ChannelOptions = Field(default_factory=ChannelOptions)

    @field_validator("config_id")
    @classmethod
    def _one_ad_configuration(cls, config_id: str | None, info: ValidationInfo) -> str | None:
        # Fields validate in order: application_id is already in info.data when it was valid.
        application_id = info.data.get("application_id")
        if config_id is not None and application_id is not None:
            raise ValueError(f"expected no config_id when application_id is set ({application_id!r}): at most one")
        return config_id


class CuePointBody(Body):
    """A manual cue point: a break of `duration` seconds starting `timecode` seconds from now (now when absent);
    `ad_server_data` fills the ad tag's free variables for that break (the Live SSAI API "Using manual cue points")."""

    duration: float = Field(gt=0, le=600, description="the break's length in seconds")
    timecode: float | None = Field(default=None, ge=0, le=3600, description="seconds from now")
    ad_server_data: dict[DataKey, Annotated[str, Field(max_length=MAX_TEXT)]] = Field(
        default_factory=dict, max_length=50
    )


def merge_channel(stored: dict[str, Any], patch: dict[str, Any]) -> ChannelBody:
    """A channel's partial update, validated as a whole. The name cannot change: players hold it in their URLs."""
    if "name" in patch and patch["name"] != stored.get("name"):
        raise BadRequest(
            f"name = {shown(patch['name'])}: expected {shown(stored.get('name'))} (a channel is never renamed)"
        )
    return validate(ChannelBody, merge_patch(stored, patch))
