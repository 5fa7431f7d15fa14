"""What each operation answers, for the OpenAPI document (proxy/web/openapi.py): status, media type, schema.

The schemas of stored things are built from the request body models they were validated with (their JSON
Schemas under `#/components/schemas/`), plus the fields the server adds; the rest is written here from the
handlers' own documents. Response schemas leave unknown fields open: an answer may gain a field.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from proxy.web.applications import APPLICATION_READ_ONLY
from proxy.web.channels import READ_ONLY as CHANNEL_READ_ONLY
from proxy.web.responses import M3U8
from proxy.web.schemas import SSAI_SERVER_FIELDS

JSON = "application/json"
STRING: dict[str, Any] = {"type": "string"}
OBJECT: dict[str, Any] = {"type": "object"}


class Answer(NamedTuple):
    status: str
    description: str
    media_types: tuple[str, ...] = (JSON,)  # () for no body (204, 302)
    schema: dict[str, Any] | None = None  # a $ref or an inline JSON Schema; None: not described further


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def shape(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object with these `required` properties (name → schema) and these `optional` ones."""
    return {"type": "object", "required": sorted(required), "properties": {**required, **(optional or {})}}


def _stored(body: str, body_schema: dict[str, Any], added: dict[str, Any]) -> dict[str, Any]:
    """A stored body as GET answers it: the body model's fields (each as it validates them) and `added`."""
    properties = {name: value for name, value in body_schema.get("properties", {}).items() if name not in added}
    required = sorted({*body_schema.get("required", ()), *added})
    return {
        "type": "object",
        "description": f"{body}'s fields as stored, with those the server sets",
        "required": required,
        "properties": {**properties, **added},
    }


TIMESTAMPS = {"created_timestamp": STRING, "updated_timestamp": STRING}
SLATE = shape(
    {
        "media_source_asset_id": STRING,
        "account_id": STRING,
        "media_source_asset_default": {"type": "boolean"},
        "media_source_asset_type": {"const": "slate"},
        "media_source_asset_url": STRING,
        "media_source_asset_status": {"enum": ["transcoding", "ready", "error"]},
        "media_source_asset_description": STRING,
    },
    {"media_source_asset_error": STRING},
)
CUE_POINT = shape(
    {
        "id": STRING,
        "name": STRING,
        "type": {"const": "AD"},
        "duration": {"type": "number"},
        "starts_at": STRING,
        "ad_server_data": {"type": "object", "additionalProperties": STRING},
        "accuracy": STRING,
    }
)
CHANNEL = {
    **shape({field: STRING for field in (*CHANNEL_READ_ONLY, "name")}),
    "description": "an API channel: ChannelBody's fields; a channel-file one: the file's (source 'file')",
}
CHANNEL["properties"]["source"] = {"enum": ["api", "file"]}
ERROR = shape({"error": STRING}, {"error_description": STRING})  # RFC 6749 §5.2 adds error_description


def response_schemas(bodies: dict[str, Any]) -> dict[str, Any]:
    """The components/schemas of the answers, given those of the request bodies (for stored bodies)."""
    read_only = {name: STRING for name in APPLICATION_READ_ONLY}
    application = _stored("ApplicationBody", bodies["ApplicationBody"], read_only)
    config = _stored("SsaiConfig", bodies["SsaiConfig"], {name: STRING for name in sorted(SSAI_SERVER_FIELDS)})
    return {
        "Application": application,
        "SsaiConfigDocument": config,
        "Slate": SLATE,
        "Channel": CHANNEL,
        "CuePoint": CUE_POINT,
        "Error": ERROR,
    }


def listed(name: str) -> dict[str, Any]:
    return {"type": "array", "items": ref(name)}


def ok(schema: dict[str, Any] | None = None, description: str = "done") -> Answer:
    return Answer("200", description, (JSON,), schema)


REDIRECT = Answer("302", "to the `Location` header's URL", ())
PLAYLIST = Answer("200", "an HLS playlist (RFC 8216)", (M3U8,))
PROMETHEUS = Answer("200", "the Prometheus text exposition format", ("text/plain",))
ASSET = Answer("200", "the file", (M3U8, "video/mp2t", "video/iso.segment", "video/mp4"))
SESSION = ok(shape({"manifestUrl": STRING, "trackingUrl": STRING}), "the session's URLs (the tracking API)")
TRACKING = ok(shape({"avails": {"type": "array", "items": OBJECT}}), "the ads inserted since the last call")
JOBS = ok(shape({"counts": OBJECT, "jobs": {"type": "array", "items": OBJECT}}))
TOKEN = ok(shape({"access_token": STRING, "token_type": {"const": "Bearer"}, "expires_in": {"type": "integer"}}))
APPLICATION_CREATED = ok(shape({"application": ref("Application"), "inserted": {"const": True}}))
APPLICATION_DELETED = ok(shape({"application_id": STRING, "deleted": {"const": True}}))
CHANNEL_CREATED = Answer("201", "created", (JSON,), ref("Channel"))
CHANNEL_DELETED = ok(shape({"channel_id": STRING, "deleted": {"const": True}}))
CUE_POINT_ADDED = ok(shape({"id": STRING, "cue_point": ref("CuePoint")}))
DELETED = Answer("204", "deleted", ())
HEALTH = ok(shape({"status": {"const": "ok"}, "role": STRING, "sessions": {"type": "integer"}}))
DOCUMENT = ok(shape({"openapi": STRING, "paths": OBJECT}), "this document")
