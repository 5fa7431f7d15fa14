"""The OpenAPI 3.1 document of every route (issue #5), served at /openapi.json.

Request bodies are the JSON Schemas of the pydantic models that validate them (proxy/web/schemas.py), so the
document cannot drift from what the API accepts; tests/control/test_openapi.py checks that it names exactly the
app's routes and fuzzes each body against a running app.
"""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import Response

from proxy.web.channels_api import READ_ONLY as CHANNEL_READ_ONLY
from proxy.web.live_api import APPLICATION_READ_ONLY, SLATE_READ_ONLY
from proxy.web.responses import JSONResponse
from proxy.web.schemas import (
    SSAI_SERVER_FIELDS,
    ApplicationBody,
    ChannelBody,
    CuePointBody,
    SlateBody,
    SlateUpdate,
    SsaiConfig,
)


class Operation(NamedTuple):
    method: str
    path: str
    summary: str
    auth: tuple[str, ...]  # security scheme names, any one of them
    body: type[BaseModel] | None = None
    partial: bool = False  # a PUT merged into the stored document: any subset of the body's fields
    read_only: tuple[str, ...] = ()  # fields of the GET answer a PUT may send back unchanged (proxy/web/readonly)


KEY, BEARER, BOTH = ("apiKey",), ("bearer",), ("apiKey", "bearer")
APPS, SLATES, CONFIGS = "/v1/ssai/applications", "/v1/ssai/slates", "/v1/accounts/{account_id}/ssai_configs"
CHANNELS = "/v1/ssai/channels"
OPERATIONS = (
    Operation("post", "/v1/ssai/session/{channel}/{name}.m3u8", "Start a session: manifest and tracking URLs", ()),
    Operation("get", "/v1/ssai/session/{channel}/{name}.m3u8", "A new session's master playlist (seed 002 GET)", ()),
    Operation("get", "/v1/ssai/master/{channel}/main.m3u8", "A session's master playlist", ()),
    Operation("get", "/v1/ssai/media/{channel}/{session}/{track}.m3u8", "A session's media playlist", ()),
    Operation(
        "get",
        "/v1/ssai/media/{channel}/{session}/seg/{track}/{brk}/{item}",
        "302 to an ad segment; fires its beacons",
        (),
    ),
    Operation("get", "/v1/ssai/media/{channel}/{session}/cseg/{track}/{item}", "302 to a content segment", ()),
    Operation("get", "/v1/ssai/tracking/{channel}/{session}", "Ads inserted since the last call (seed 000)", ()),
    Operation("get", "/v1/ssai/tracking/{channel}/{session}/events", "The session's beacons and their outcomes", ()),
    Operation(
        "get", "/v1/ssai/click/{channel}/{session}/{ad}", "302 to an ad's landing page; fires its ClickTracking", ()
    ),
    Operation("get", "/v1/ssai/assets/{path}", "A transcoded ad or slate file", ()),
    Operation("head", "/v1/ssai/assets/{path}", "A transcoded ad or slate file's headers", ()),
    Operation("get", "/v1/ssai/jobs", "Media pipeline jobs with state and percent", ()),
    Operation("post", APPS, "Create an ad configuration (seed 002)", KEY, ApplicationBody),
    Operation("get", APPS + "/account/{account_id}", "List an account's ad configurations", KEY),
    Operation("get", APPS + "/application/{application_id}", "Get an ad configuration", KEY),
    Operation(
        "put",
        APPS + "/application/{application_id}",
        "Replace an ad configuration",
        KEY,
        ApplicationBody,
        read_only=APPLICATION_READ_ONLY,
    ),
    Operation("delete", APPS + "/application/{application_id}", "Delete an unused ad configuration", KEY),
    Operation("post", SLATES, "Add a slate from a video URL (seed 002)", KEY, SlateBody),
    Operation("get", SLATES + "/account/{account_id}", "List an account's slates with their status", KEY),
    Operation("get", SLATES + "/slate/{slate_id}", "Get a slate with its status", KEY),
    Operation(
        "put",
        SLATES + "/slate/{slate_id}",
        "Make a slate the account's default (never one in error) or change its description",
        KEY,
        SlateUpdate,
        True,
        SLATE_READ_ONLY,
    ),
    Operation("delete", SLATES + "/slate/{slate_id}", "Delete an unused slate", KEY),
    Operation("post", SLATES + "/slate/{slate_id}/retry", "Prepare a slate in error again (409 otherwise)", KEY),
    Operation("post", "/v4/access_token", "OAuth 2.0 client credentials: a bearer token", ()),
    Operation("get", CONFIGS, "List an account's SSAI configurations (seed 003)", BEARER),
    Operation("post", CONFIGS, "Create an SSAI configuration", BEARER, SsaiConfig),
    Operation("get", CONFIGS + "/{config_id}", "Get an SSAI configuration", BEARER),
    Operation(
        "put",
        CONFIGS + "/{config_id}",
        "Update an SSAI configuration (partial)",
        BEARER,
        SsaiConfig,
        True,
        tuple(sorted(SSAI_SERVER_FIELDS)),
    ),
    Operation("delete", CONFIGS + "/{config_id}", "Delete an unused SSAI configuration", BEARER),
    Operation("post", CHANNELS, "Create a channel", BOTH, ChannelBody),
    Operation("get", CHANNELS, "List the account's channels", BOTH),
    Operation("get", CHANNELS + "/{name}", "Get a channel", BOTH),
    Operation("put", CHANNELS + "/{name}", "Update a channel (partial)", BOTH, ChannelBody, True, CHANNEL_READ_ONLY),
    Operation("delete", CHANNELS + "/{name}", "Delete a channel", BOTH),
    Operation("post", CHANNELS + "/{name}/cuepoint", "Insert an ad break now or later", BOTH, CuePointBody),
    Operation("get", CHANNELS + "/{name}/cuepoints", "List a channel's cue points", BOTH),
    Operation("get", "/openapi.json", "This document", ()),
    Operation("get", "/healthz", "Liveness", ()),
    Operation("get", "/metrics", "Counters: sessions, decisions, skips, beacons, jobs", ()),
)
ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}


def _parameters(path: str) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in path.replace(".m3u8", "").split("/") if part.startswith("{")]
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]


def _operation(op: Operation) -> dict[str, Any]:
    errors = {str(code): {"description": why, "content": {"application/json": {"schema": ERROR}}} for code, why in (
        ("400", "a field or value refused, named with the value"), ("401", "no or wrong credentials"),
        ("404", "not found (also another account's)"), ("409", "in use, or taken"),
    )}  # fmt: skip
    document: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method}_{op.path}",
        "parameters": _parameters(op.path),
        "responses": {"200": {"description": "done"}, **errors},
    }
    if op.auth:
        document["security"] = [{name: []} for name in op.auth]
    if op.body is not None:
        schema = {"$ref": f"#/components/schemas/{op.body.__name__}"}
        content = {"application/json": {"schema": schema}}
        document["requestBody"] = {"required": True, "content": content}
        notes = [f"Any subset of {op.body.__name__}'s fields, merged into the stored one."] if op.partial else []
        if op.read_only:
            fields = ", ".join(op.read_only)
            notes.append(
                f"The GET answer may be sent back as it is: its read-only fields ({fields}) are accepted "
                "when equal to the stored values, else refused (400) naming the field and both values."
            )
        if notes:
            document["description"] = " ".join(notes)
    return document


@cache
def document() -> dict[str, Any]:
    bodies = sorted({op.body for op in OPERATIONS if op.body is not None}, key=lambda m: m.__name__)
    _, schemas = models_json_schema([(m, "validation") for m in bodies], ref_template="#/components/schemas/{model}")
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "ssai-proxy", "version": "1", "description": "Live HLS server-side ad insertion"},
        "paths": paths,
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-KEY"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }


async def endpoint(request: Request) -> Response:
    return JSONResponse(document())
