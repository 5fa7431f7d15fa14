"""The OpenAPI 3.1 document of every route, served at /openapi.json.

Request bodies are the JSON Schemas of the pydantic models that validate them (proxy/web/schemas/), and
answers name their status, media type and schema (proxy/web/answers.py), so the document cannot drift from what
the API accepts and says. `check_routes` refuses, at the app's start, a route the document lacks and an
operation no route serves; tests/web/test_openapi_fuzz.py runs schemathesis over every operation against a
running app.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from functools import cache
from typing import Any, NamedTuple

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from proxy.playback import urls
from proxy.web import answers as a
from proxy.web.answers import STRING, Answer
from proxy.web.applications import APPLICATION_READ_ONLY
from proxy.web.channels import READ_ONLY as CHANNEL_READ_ONLY
from proxy.web.limits import BodyLimit
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
from proxy.web.slates import SLATE_READ_ONLY

# The tracking API's session body: ad parameters (flat, or under adsParams) and MediaTailor's reportingMode; optional.
PARAMETER = {"type": ["string", "number"]}
SESSION_BODY = {
    "type": "object",
    "properties": {
        "reportingMode": {"enum": ["client", "server"]},
        "adsParams": {"type": "object", "additionalProperties": PARAMETER},
    },
    "additionalProperties": PARAMETER,
}
# RFC 6749 §4.4.2: the client credentials grant, the client's id and secret here or in HTTP Basic (§2.3.1).
TOKEN_FORM = {
    "type": "object",
    "properties": {"grant_type": {"const": "client_credentials"}, "client_id": STRING, "client_secret": STRING},
}


class Operation(NamedTuple):
    method: str
    path: str
    summary: str
    auth: tuple[str, ...]  # security scheme names, any one of them
    body: type[BaseModel] | None = None
    partial: bool = False  # a PUT merged into the stored document: any subset of the body's fields
    read_only: tuple[str, ...] = ()  # fields of the GET answer a PUT may send back unchanged (proxy/web/readonly)
    answers: tuple[Answer, ...] = (a.ok(),)
    optional_body: tuple[str, dict[str, Any]] | None = None  # (media type, schema) of a body that may be left out


KEY, BEARER, BOTH = ("apiKey",), ("bearer",), ("apiKey", "bearer")
APPS, SLATES, CONFIGS = "/v1/ssai/applications", "/v1/ssai/slates", "/v1/accounts/{account_id}/ssai_configs"
CHANNELS = "/v1/ssai/channels"
ASSET = urls.ASSETS + "/{path}"  # urls.ASSET as OpenAPI writes a path parameter
OPERATIONS = (
    Operation("post", urls.SESSION, "Start a session: manifest and tracking URLs", (), answers=(a.SESSION,),
              optional_body=(a.JSON, SESSION_BODY)),
    Operation("get", urls.SESSION, "A new session's master playlist", (), answers=(a.PLAYLIST, a.REDIRECT)),
    Operation("get", urls.MASTER, "A session's master playlist", (),
              answers=(a.PLAYLIST, a.REDIRECT)),
    Operation("get", urls.MEDIA, "A session's media playlist", (), answers=(a.PLAYLIST,)),
    Operation("get", urls.AD_SEGMENT, "302 to an ad segment; fires its beacons", (),
              answers=(a.REDIRECT,)),
    Operation("get", urls.CONTENT_SEGMENT, "302 to a content segment", (), answers=(a.REDIRECT,)),
    Operation("get", urls.TRACKING, "Ads inserted since the last call", (),
              answers=(a.TRACKING,)),
    Operation("get", urls.SESSION_EVENTS, "The session's beacons and their outcomes", (),
              answers=(a.ok(a.OBJECT),)),
    Operation("get", urls.CLICK,
              "302 to an ad's landing page; fires its ClickTracking", (), answers=(a.REDIRECT,)),
    Operation("get", ASSET, "A transcoded ad or slate file", (), answers=(a.ASSET,)),
    Operation("head", ASSET, "A transcoded ad or slate file's headers", (), answers=(a.ASSET,)),
    Operation("get", "/v1/ssai/jobs", "The account's media pipeline jobs with state and percent", BOTH,
              answers=(a.JOBS,)),
    Operation("post", APPS, "Create an ad configuration", KEY, ApplicationBody, answers=(a.APPLICATION_CREATED,)),
    Operation("get", APPS + "/account/{account_id}", "List an account's ad configurations", KEY,
              answers=(a.ok(a.listed("Application")),)),
    Operation("get", APPS + "/application/{application_id}", "Get an ad configuration", KEY,
              answers=(a.ok(a.ref("Application")),)),
    Operation("put", APPS + "/application/{application_id}", "Replace an ad configuration", KEY, ApplicationBody,
              read_only=APPLICATION_READ_ONLY, answers=(a.ok(a.ref("Application")),)),
    Operation("delete", APPS + "/application/{application_id}", "Delete an unused ad configuration", KEY,
              answers=(a.APPLICATION_DELETED,)),
    Operation("post", SLATES, "Add a slate from a video URL", KEY, SlateBody, answers=(a.ok(a.ref("Slate")),)),
    Operation("get", SLATES + "/account/{account_id}", "List an account's slates with their status", KEY,
              answers=(a.ok(a.listed("Slate")),)),
    Operation("get", SLATES + "/slate/{slate_id}", "Get a slate with its status", KEY,
              answers=(a.ok(a.ref("Slate")),)),
    Operation("put", SLATES + "/slate/{slate_id}",
              "Make a slate the account's default (never one in error) or change its description", KEY,
              SlateUpdate, True, SLATE_READ_ONLY, answers=(a.ok(a.ref("Slate")),)),
    Operation("delete", SLATES + "/slate/{slate_id}", "Delete an unused slate", KEY, answers=(a.ok(a.ref("Slate")),)),
    Operation("post", SLATES + "/slate/{slate_id}/retry", "Prepare a slate in error again (409 otherwise)", KEY,
              answers=(a.ok(a.ref("Slate")),)),
    Operation("post", "/v4/access_token", "OAuth 2.0 client credentials: a bearer token", (), answers=(a.TOKEN,),
              optional_body=("application/x-www-form-urlencoded", TOKEN_FORM)),
    Operation("get", CONFIGS, "List an account's SSAI configurations", BEARER,
              answers=(a.ok(a.listed("SsaiConfigDocument")),)),
    Operation("post", CONFIGS, "Create an SSAI configuration", BEARER, SsaiConfig,
              answers=(a.ok(a.ref("SsaiConfigDocument")),)),
    Operation("get", CONFIGS + "/{config_id}", "Get an SSAI configuration", BEARER,
              answers=(a.ok(a.ref("SsaiConfigDocument")),)),
    Operation("put", CONFIGS + "/{config_id}", "Update an SSAI configuration (partial)", BEARER, SsaiConfig, True,
              tuple(sorted(SSAI_SERVER_FIELDS)), answers=(a.ok(a.ref("SsaiConfigDocument")),)),
    Operation("delete", CONFIGS + "/{config_id}", "Delete an unused SSAI configuration", BEARER,
              answers=(a.DELETED,)),
    Operation("post", CHANNELS, "Create a channel", BOTH, ChannelBody, answers=(a.CHANNEL_CREATED,)),
    Operation("get", CHANNELS, "List the account's channels", BOTH, answers=(a.ok(a.listed("Channel")),)),
    Operation("get", CHANNELS + "/{name}", "Get a channel", BOTH, answers=(a.ok(a.ref("Channel")),)),
    Operation("put", CHANNELS + "/{name}", "Update a channel (partial)", BOTH, ChannelBody, True, CHANNEL_READ_ONLY,
              answers=(a.ok(a.ref("Channel")),)),
    Operation("delete", CHANNELS + "/{name}", "Delete a channel", BOTH, answers=(a.CHANNEL_DELETED,)),
    Operation("post", CHANNELS + "/{name}/cuepoint", "Insert an ad break now or later", BOTH, CuePointBody,
              answers=(a.CUE_POINT_ADDED,)),
    Operation("get", CHANNELS + "/{name}/cuepoints", "List a channel's cue points", BOTH,
              answers=(a.ok(a.listed("CuePoint")),)),
    Operation("get", "/openapi.json", "This document", (), answers=(a.DOCUMENT,)),
    Operation("get", "/healthz", "Liveness", (), answers=(a.HEALTH,)),
    Operation("get", "/metrics", "Prometheus text: latency histograms; sessions, decisions, skips, beacons", (),
              answers=(a.PROMETHEUS,)),
    Operation("get", "/v1/ssai/stats", "Counters as JSON: sessions, decisions, skips, beacons, jobs, channels", (),
              answers=(a.ok(a.OBJECT),)),
)  # fmt: skip
# Refusals every operation may answer, and those of some (RFC 9110 §15.5, §15.6).
ERRORS = {
    "400": "a field or value refused, named with the value",
    "401": "no or wrong credentials",
    "404": "not found (also another account's)",
}
WRITE_ERRORS = {"409": "in use, or taken"}
BEARER_ERRORS = {"403": "a token whose client may only read"}
ORIGIN_ERRORS = {"502": "the origin failed or answered what is not a playlist", "504": "the origin timed out"}
METRICS_ERRORS = {"403": "the operator's: no token, own listener or open access is configured"}
FETCHES_ORIGIN = tuple(template.partition("{")[0] for template in (urls.SESSION, urls.MASTER, urls.MEDIA))


def _errors(op: Operation) -> dict[str, str]:
    errors = dict(ERRORS)
    if op.method in ("post", "put", "delete"):
        errors |= WRITE_ERRORS
    if "bearer" in op.auth:
        errors |= BEARER_ERRORS
    if op.path.startswith(FETCHES_ORIGIN):
        errors |= ORIGIN_ERRORS
    if op.path in ("/metrics", "/v1/ssai/stats"):
        errors |= METRICS_ERRORS
    return errors


def _parameters(path: str) -> list[dict[str, Any]]:
    names = re.findall(r"{(\w+)}", path)
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]


def _response(answer: Answer) -> dict[str, Any]:
    schema = {} if answer.schema is None else {"schema": answer.schema}
    content = {media_type: dict(schema) for media_type in answer.media_types}
    return {"description": answer.description, **({"content": content} if content else {})}


def _body_limit(op: Operation) -> BodyLimit:
    if op.path == urls.SESSION:
        return BodyLimit.SESSION
    return BodyLimit.TOKEN_FORM if op.path == "/v4/access_token" else BodyLimit.CONTROL


def _responses(op: Operation) -> dict[str, Any]:
    error = {"application/json": {"schema": a.ref("Error")}}
    refusals = {code: {"description": why, "content": error} for code, why in _errors(op).items()}
    if op.body is not None or op.optional_body is not None:
        why = f"a body over {int(_body_limit(op))} bytes, refused quoting its size and the limit"
        refusals["413"] = {"description": why, "content": error}
    return {**{answer.status: _response(answer) for answer in op.answers}, **refusals}


def _request_body(op: Operation) -> dict[str, Any] | None:
    if op.optional_body is not None:
        media_type, schema = op.optional_body
        return {"required": False, "content": {media_type: {"schema": schema}}}
    if op.body is None:
        return None
    return {"required": True, "content": {"application/json": {"schema": a.ref(op.body.__name__)}}}


def _notes(op: Operation) -> str:
    notes = (
        [f"Any subset of {op.body.__name__}'s fields, merged into the stored one."] if op.body and op.partial else []
    )
    if op.read_only:
        notes.append(
            f"The GET answer may be sent back as it is: its read-only fields ({', '.join(op.read_only)}) are "
            "accepted when equal to the stored values, else refused (400) naming the field and both values."
        )
    return " ".join(notes)


def _operation(op: Operation) -> dict[str, Any]:
    document: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method}_{op.path}",
        "parameters": _parameters(op.path),
        "responses": _responses(op),
    }
    if op.auth:
        document["security"] = [{name: []} for name in op.auth]
    body = _request_body(op)
    if body is not None:
        document["requestBody"] = body
    if notes := _notes(op):
        document["description"] = notes
    return document


def _closed(schema: Any) -> Any:
    """Objects whose keys pydantic constrains (`patternProperties`) refuse other keys, as the models do."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    if "patternProperties" in closed and "additionalProperties" not in closed:
        closed["additionalProperties"] = False
    return closed


def _components() -> dict[str, Any]:
    bodies = sorted({op.body for op in OPERATIONS if op.body is not None}, key=lambda m: m.__name__)
    _, schemas = models_json_schema([(m, "validation") for m in bodies], ref_template="#/components/schemas/{model}")
    requests: dict[str, Any] = _closed(schemas["$defs"])
    return {**requests, **a.response_schemas(requests)}


@cache
def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "ssai-proxy", "version": "1", "description": "Live HLS server-side ad insertion"},
        "paths": paths,
        "components": {
            "schemas": _components(),
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-KEY"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def served(routes: Iterable[BaseRoute]) -> set[tuple[str, str]]:
    """(method, path) of every route, paths written as the document writes them (`{path:path}` as `{path}`)."""
    return {
        (method.lower(), re.sub(r":\w+}", "}", route.path))
        for route in routes
        if isinstance(route, Route)
        for method in route.methods or ()
    }


def documented() -> set[tuple[str, str]]:
    """(method, path) of every operation, with the HEAD Starlette answers for every GET (RFC 9110 §9.3.2)."""
    pairs = {(op.method, op.path) for op in OPERATIONS}
    return pairs | {("head", path) for method, path in pairs if method == "get"}


def check_routes(routes: Iterable[BaseRoute]) -> None:
    """Refuses an app whose routes and document differ: a route undocumented, or an operation no route serves.
    The app checks its own routes, before a test's are added."""
    routes_served = served(routes)
    missing, stale = routes_served - documented(), documented() - routes_served
    if missing or stale:
        raise RuntimeError(
            f"the OpenAPI document and the routes differ: undocumented {sorted(missing)}, "
            f"documented but not served {sorted(stale)}; expected the same operations (proxy/web/openapi.py)"
        )


def endpoint_of(routes: Iterable[BaseRoute]) -> Callable[[Request], Awaitable[Response]]:
    """/openapi.json for an app serving `routes` (a role's share of them): the operations it serves, the document
    made at the first request."""
    pairs = served(routes) | {("get", "/openapi.json")}

    @cache
    def served_document() -> dict[str, Any]:
        full = document()
        paths = {
            path: kept
            for path, operations in full["paths"].items()
            if (kept := {method: op for method, op in operations.items() if (method, path) in pairs})
        }
        return {**full, "paths": paths}

    async def endpoint(request: Request) -> Response:
        return JSONResponse(served_document())

    return endpoint
