"""/openapi.json (proxy/web/openapi.py): it names exactly the app's routes (an app whose routes differ does not
start), and a hypothesis run over its request body schemas (plus arbitrary JSON) never gets a 5xx and never
stores anything from a refused request."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy.errors import BadRequest
from proxy.settings import Settings
from proxy.web.app import create_app
from proxy.web.openapi import OPERATIONS, check_routes, document, documented, served
from proxy.web.schemas import SlateBody, TemplateUrl, validate
from tests.control.conftest import Api
from tests.control.test_live_api import CREATE as APPLICATION
from tests.control.test_vc_api import CREATE as SSAI_CONFIG, token

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)


def test_the_document_names_exactly_the_apps_routes(tmp_path: Any) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    assert served(app.routes) == documented()
    assert ("delete", "/v1/accounts/{account_id}/ssai_configs/{config_id}") in served(app.routes)


async def _endpoint(request: Request) -> Response:
    return Response()


def test_routes_and_document_that_differ_stop_the_start(tmp_path: Any) -> None:
    routes = list(create_app(Settings(data_dir=tmp_path)).routes)
    with pytest.raises(RuntimeError, match=r"undocumented \[\('get', '/v1/ssai/undocumented'\), \('head'"):
        check_routes([*routes, Route("/v1/ssai/undocumented", _endpoint)])
    kept = [route for route in routes if not (isinstance(route, Route) and route.path == "/healthz")]
    with pytest.raises(
        RuntimeError, match=r"documented but not served \[\('get', '/healthz'\), \('head', '/healthz'\)\]"
    ):
        check_routes(kept)


def test_every_body_schema_resolves() -> None:
    schemas = document()["components"]["schemas"]
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', str(document()).replace("'", '"')))
    assert refs and refs <= set(schemas)
    for op in OPERATIONS:
        if op.body is not None:
            assert op.body.__name__ in schemas


def from_schema(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped by a JSON Schema of the document (hypothesis-jsonschema does not follow current hypothesis):
    mostly valid in type and bounds, sometimes any JSON at all, so validation is exercised on both sides."""
    wild = JSON if depth < 4 else st.none()
    if "$ref" in schema:
        return from_schema(defs[schema["$ref"].rsplit("/", 1)[1]], defs, depth + 1)
    if "anyOf" in schema:
        return st.one_of([from_schema(option, defs, depth + 1) for option in schema["anyOf"]])
    if "enum" in schema or "const" in schema:
        return st.sampled_from(schema.get("enum", [schema.get("const")])) | wild
    kind = schema.get("type")
    if kind == "object":
        return _object(schema, defs, depth) | wild
    if kind == "array":
        items = from_schema(schema.get("items", {}), defs, depth + 1)
        return st.lists(items, max_size=min(3, schema.get("maxItems", 3))) | wild
    return SCALARS.get(kind, JSON) | wild


SCALARS: dict[Any, st.SearchStrategy[Any]] = {
    "string": st.sampled_from(["https://ads.invalid/vast?x={{session.session_id}}", "a", "", "ftp://x/"]) | st.text(),
    "boolean": st.booleans(),
    "number": st.floats(min_value=-10, max_value=1000),
    "integer": st.integers(-10, 1000),
    "null": st.none(),
}


def _object(schema: dict[str, Any], defs: dict[str, Any], depth: int) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = [name for name in schema.get("required", []) if name in properties]
    optional = [name for name in properties if name not in required]
    fields = {name: from_schema(properties[name], defs, depth + 1) for name in properties}

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        extra: list[str] = draw(st.lists(st.sampled_from(optional), unique=True)) if optional else []
        names = required + extra
        leave_out: bool = draw(st.booleans())
        if required and leave_out:
            names.remove(draw(st.sampled_from(required)))  # a required field left out
        return {name: draw(fields[name]) for name in names}

    return build()


def _snapshot(api: Api, bearer: dict[str, str]) -> list[Any]:
    key = api.headers("acct-a")
    return [
        api.client.get("/v1/ssai/applications/account/acct-a", headers=key).json(),
        api.client.get("/v1/ssai/slates/account/acct-a", headers=key).json(),
        api.client.get("/v1/accounts/acct-a/ssai_configs", headers=bearer).json(),
        api.client.get("/v1/ssai/channels", headers=key).json(),
        api.client.get("/v1/ssai/channels/fixed/cuepoints", headers=key).json(),
    ]


def _targets(api: Api, bearer: dict[str, str]) -> dict[str, str]:
    """Existing things the PUT operations change: one of each, made with the API documents' sample bodies."""
    key = api.headers("acct-a")
    app_id = api.client.post("/v1/ssai/applications", json=APPLICATION, headers=key).json()["application"]
    config = api.client.post("/v1/accounts/acct-a/ssai_configs", json=SSAI_CONFIG, headers=bearer).json()
    body = {"name": "fixed", "origin": "https://origin.invalid/master.m3u8"}
    assert api.client.post("/v1/ssai/channels", json=body, headers=key).status_code == 201
    slate = api.client.post("/v1/ssai/slates", json=api.slate, headers=key).json()  # stays transcoding
    return {"application_id": app_id["application_id"], "config_id": config["config_id"], "name": "fixed",
            "account_id": "acct-a", "slate_id": slate["media_source_asset_id"]}  # fmt: skip


BODY_OPERATIONS = [op for op in OPERATIONS if op.body is not None]


@pytest.mark.slow
@pytest.mark.parametrize("op", BODY_OPERATIONS, ids=[f"{op.method} {op.path}" for op in BODY_OPERATIONS])
def test_fuzzed_bodies_get_no_5xx_and_refusals_store_nothing(api: Api, op: Any) -> None:
    bearer = token(api, "acct-a")
    targets = _targets(api, bearer)
    path = re.sub(r"{(\w+)}", lambda m: targets[m.group(1)], op.path)
    headers = bearer if op.auth == ("bearer",) else api.headers("acct-a")
    assert op.body is not None
    defs = document()["components"]["schemas"]
    bodies = from_schema({"$ref": f"#/components/schemas/{op.body.__name__}"}, defs)

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(body=bodies)
    def run(body: Any) -> None:
        before = _snapshot(api, bearer)
        response = api.client.request(op.method, path, json=body, headers=headers)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert response.json()["error"], "a refusal says why"
            assert _snapshot(api, bearer) == before, f"{response.status_code} but something was stored"

    run()


URL_FIELDS = [  # (model, the body around a value, the field's schema in the document)
    (SlateBody, lambda value: {"source_url": value}, ("SlateBody", "source_url")),
    (TemplateUrl, lambda value: {"template": value}, ("TemplateUrl", "template")),
]
URL_LIKE = st.tuples(st.sampled_from(["http://", "HTTPS://", "https:/", "ftp://", "", "javascript:"]), st.text())


def _accepted(model: Any, body: dict[str, Any]) -> bool:
    try:
        validate(model, body)
    except BadRequest:
        return False
    return True


@pytest.mark.parametrize(("model", "body", "where"), URL_FIELDS, ids=[field[2][0] for field in URL_FIELDS])
@settings(max_examples=300, deadline=None)
@given(parts=URL_LIKE)
def test_a_url_the_handler_accepts_matches_the_documented_pattern(
    model: Any, body: Any, where: Any, parts: Any
) -> None:
    value = "".join(parts)
    pattern = document()["components"]["schemas"][where[0]]["properties"][where[1]]["pattern"]
    if _accepted(model, body(value)):
        assert re.search(pattern, value), f"{value!r} accepted but the document's pattern {pattern} refuses it"


@pytest.mark.parametrize(("model", "body", "where"), URL_FIELDS, ids=[field[2][0] for field in URL_FIELDS])
@pytest.mark.parametrize("value", ["ftp://host/x", "http:///x", "https://", " http://host/", "http://host/\x00", "//x"])
def test_a_url_both_refuse(model: Any, body: Any, where: Any, value: str) -> None:
    pattern = document()["components"]["schemas"][where[0]]["properties"][where[1]]["pattern"]
    assert not _accepted(model, body(value))
    assert not re.search(pattern, value)
