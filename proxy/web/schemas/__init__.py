"""Request bodies of the control API, validated before anything is stored; one module per resource.

- `ApplicationBody` (applications.py): the Live SSAI API "Create/Update an ad configuration" (`POST /applications`,
  `PUT …/application/ID`; the update is a whole body, as documented).
- `SlateBody` (slates.py): the Live SSAI API "Add slate asset"; `SlateUpdate`: this product's change of a slate
  (the default).
- `SsaiConfig` (ssai_configs.py): the Video Cloud SSAI API `ssai_configs`, every field of its "Configuration field
  details" table; a PUT is partial (its documentation's update sample is `{"name": …}`), so `merge_ssai_config`
  merges it into the stored document and validates the result.
- `ChannelBody` (channels.py): this product's own operator API: an origin, the ad configuration and slate
  driving it.
- `CuePointBody` (channels.py): a manual cue point (the Live SSAI API "Using manual cue points" refers to a document
  not published with it).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from proxy.settings import ad_response_of
from proxy.web.schemas.applications import (
    MAX_TRANSFORMS,
    MAX_XSLT,
    RESPONSE_TYPES,
    AdConfiguration,
    AdTransform,
    ApplicationBody,
)
from proxy.web.schemas.channels import MAX_METADATA, ChannelBody, ChannelOptions, CuePointBody, merge_channel
from proxy.web.schemas.common import MAX_TEXT, MAX_URL, SHOWN_CHARS
from proxy.web.schemas.parsing import AccountRef, account_id, decode_object, merge_patch, parse, validate
from proxy.web.schemas.slates import SlateBody, SlateUpdate
from proxy.web.schemas.ssai_configs import (
    BEACON_TYPES,
    SSAI_SERVER_FIELDS,
    BeaconTemplate,
    BeaconUrl,
    Discontinuities,
    SsaiAdConfig,
    SsaiConfig,
    TemplateUrl,
    merge_ssai_config,
)

__all__ = [
    "AccountRef",
    "AdConfiguration",
    "BEACON_TYPES",
    "RESPONSE_TYPES",
    "AdTransform",
    "ApplicationBody",
    "BeaconTemplate",
    "BeaconUrl",
    "ChannelBody",
    "ChannelOptions",
    "CuePointBody",
    "Discontinuities",
    "MAX_METADATA",
    "MAX_TEXT",
    "MAX_TRANSFORMS",
    "MAX_URL",
    "MAX_XSLT",
    "SHOWN_CHARS",
    "SSAI_SERVER_FIELDS",
    "SlateBody",
    "SlateUpdate",
    "SsaiAdConfig",
    "SsaiConfig",
    "TemplateUrl",
    "account_id",
    "ad_response_of",
    "decode_object",
    "merge_channel",
    "merge_patch",
    "merge_ssai_config",
    "model_schemas",
    "parse",
    "validate",
]

_BODIES: tuple[type[BaseModel], ...] = (
    ApplicationBody,
    SlateBody,
    SlateUpdate,
    SsaiConfig,
    ChannelBody,
    CuePointBody,
)


def model_schemas() -> dict[str, Any]:
    """The JSON Schema of every request body, by model name (nested models under each one's `$defs`)."""
    return {model.__name__: model.model_json_schema() for model in _BODIES}
