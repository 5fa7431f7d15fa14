"""/openapi.json (proxy/web/openapi.py): it names exactly the app's routes, and a hypothesis run over its request
body schemas (plus arbitrary JSON) never gets a 5xx and never stores anything from a refused request."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from starlette.routing import Route

from proxy.settings import Settings
from proxy.web.app import create_app
from proxy.web.openapi import OPERATIONS, document
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
    served = {
        (method.lower(), re.sub(r":\w+}", "}", route.path))
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD" or "GET" not in (route.methods or ())  # Starlette adds HEAD to every GET
    }
    described = {(method, path) for path, item in document()["paths"].items() for method in item}
    assert described - {("head", "/v1/ssai/assets/{path}")} == served - {("head", "/v1/ssai/assets/{path}")}
    assert ("head", "/v1/ssai/assets/{path}") in described


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
    """Existing things the PUT operations change: one of each, made with the seeds' sample bodies."""
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
