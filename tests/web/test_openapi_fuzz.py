"""Schemathesis over every operation of /openapi.json, against the app on a real uvicorn server with valid
credentials: no 5xx, and no answer the document contradicts (status, media type, body schema).

Each operation gets cases drawn from its schema (valid ones, and invalid ones that must be refused as the
document says), half of them with the path naming things that exist (a channel on a fake origin, an ad
configuration, a slate, an SSAI configuration, a session), made afresh for each operation. Every http(s) URL a
case carries is pointed at a local server before it is sent: a slate or an origin is fetched when written, and
a test never reaches the internet.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from proxy.demo.testing import FakeOrigin
from proxy.web.app import create_app
from proxy.web.openapi import OPERATIONS
from tests.servers import api_key, free_port, local_settings, oauth_client, run_server

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 20  # per operation and mode: the whole run stays well under a minute on a loaded 2-core machine
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


class Proxy(NamedTuple):
    base: str
    origin: str  # the fake origin's base URL: every URL of a case is pointed here
    key: dict[str, str]
    bearer: dict[str, str]
    http: requests.Session


def _bearer(base: str, client: tuple[str, str]) -> dict[str, str]:
    basic = base64.b64encode(":".join(client).encode()).decode()
    answer = requests.post(
        f"{base}/v4/access_token", data="grant_type=client_credentials", headers={"Authorization": f"Basic {basic}"}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    data_dir: Path = tmp_path_factory.mktemp("openapi-fuzz")
    key = asyncio.run(api_key(data_dir))
    client = asyncio.run(oauth_client(data_dir))
    with (
        run_server(FakeOrigin().app, free_port()) as origin,
        run_server(create_app(local_settings(data_dir=data_dir)), free_port()) as base,
        requests.Session() as http,
    ):
        yield Proxy(base, origin, {"X-API-KEY": key}, _bearer(base, client), http)


@pytest.fixture(scope="module")
def schema(proxy: Proxy) -> Any:
    return schemathesis.openapi.from_url(f"{proxy.base}/openapi.json")


def _created(proxy: Proxy, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    answer = proxy.http.post(proxy.base + path, json=body, headers=headers)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def existing(proxy: Proxy, tag: str) -> dict[str, str]:
    """Path parameters naming things that exist, made for one operation (`tag`) so that none is changed or
    deleted under another: a channel on the fake origin and a session on it, an ad configuration, a slate
    (its source answers 404: it ends in error) and an SSAI configuration."""
    ad_tag = f"{proxy.origin}/vast"
    application = {"application_ad_configuration": {
        "ad_configuration_expected_response_type": "Vast", "ad_configuration_url_format": ad_tag}}  # fmt: skip
    app = _created(proxy, "/v1/ssai/applications", application, proxy.key)["application"]
    slate = _created(proxy, "/v1/ssai/slates", {"source_url": f"{proxy.origin}/{tag}.mp4"}, proxy.key)
    config = {"name": tag, "ad_config": {"expected_ad_response": "vast_3_0", "template_url": {"template": ad_tag}}}
    config_id = _created(proxy, "/v1/accounts/op/ssai_configs", config, proxy.bearer)["config_id"]
    channel = {"name": tag, "origin": f"{proxy.origin}/master.m3u8", "application_id": app["application_id"]}
    _created(proxy, "/v1/ssai/channels", channel, proxy.key)
    session = _created(proxy, f"/v1/ssai/session/{tag}/main.m3u8", {}, {})["trackingUrl"].rsplit("/", 1)[1]
    return {"channel": tag, "name": tag, "account_id": "op", "application_id": app["application_id"],
            "slate_id": slate["media_source_asset_id"], "config_id": config_id, "session": session,
            "track": "v0", "brk": "0", "item": "0.ts", "ad": "0", "path": "p/c/r/index.m3u8"}  # fmt: skip


def local(value: Any, origin: str) -> Any:
    """`value` with the host of every http(s) URL in it replaced by `origin`'s (a hostname the fuzzer made up
    may be a public address)."""
    if isinstance(value, dict):
        return {key: local(item, origin) for key, item in value.items()}
    if isinstance(value, list):
        return [local(item, origin) for item in value]
    if isinstance(value, str):
        try:
            parts = urlsplit(value)
        except ValueError:
            return value
        if parts.scheme.lower() in ("http", "https") and parts.netloc:
            return value.replace(parts.netloc, urlsplit(origin).netloc, 1)
    return value


def strategy(operation: Any, known: dict[str, str]) -> st.SearchStrategy[Any]:
    fixed = {name: known[name] for name in re.findall(r"{(\w+)}", operation.path)}
    modes = [operation.as_strategy(generation_mode=mode) for mode in MODES]
    return st.one_of(*modes, *(operation.as_strategy(generation_mode=mode, path_parameters=fixed) for mode in MODES))


def credentials(proxy: Proxy, security: list[dict[str, Any]]) -> dict[str, str]:
    schemes = {name for requirement in security for name in requirement}
    return proxy.key if "apiKey" in schemes else proxy.bearer if "bearer" in schemes else {}


LABELS = [f"{op.method.upper()} {op.path}" for op in OPERATIONS]


@pytest.mark.parametrize("label", LABELS)
def test_every_answer_is_one_the_document_describes(proxy: Proxy, schema: Any, label: str) -> None:
    operation = schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in /openapi.json"
    tag = f"fuzz-{LABELS.index(label)}"
    headers = credentials(proxy, operation.definition.raw.get("security", []))
    failures: list[str] = []
    sent: list[int] = []

    @settings(max_examples=EXAMPLES * len(MODES), deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=strategy(operation, existing(proxy, tag)))
    def run(case: Any) -> None:
        case.headers = {
            k: v for k, v in (case.headers or {}).items() if k.lower() not in ("authorization", "x-api-key")
        }
        if case.body is not None:
            case.body = local(case.body, proxy.origin)
        response = case.call(base_url=proxy.base, session=proxy.http, headers=headers, timeout=30)
        sent.append(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            failures.append(str(group)[:2000])

    run()
    print(f"{label}: {len(sent)} requests, statuses {sorted(set(sent))}, {len(failures)} failures")
    assert sent, f"{label}: no case was generated"
    assert not failures, "\n".join(failures[:3])
