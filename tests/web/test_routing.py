"""The router's own answers (proxy/web/routing.py) on a running app: a 405's `Allow` is every method the path
serves (as the OpenAPI document lists them), and no route found is a JSON error like every other refusal."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from proxy.settings import Settings
from proxy.web.app import create_app
from proxy.web.openapi import document
from tests.servers import free_port, run_server

METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("routing")
    with run_server(create_app(Settings(data_dir=data_dir)), free_port()) as url:
        yield url


def _paths() -> list[tuple[str, set[str]]]:
    """Every documented path with a sample value per parameter, and its methods (HEAD with every GET)."""
    found = []
    for path, item in document()["paths"].items():
        methods = {method.upper() for method in item} | ({"HEAD"} if "get" in item else set())
        found.append((re.sub(r"{\w+}", "x", path), methods))
    return found


@pytest.mark.parametrize(("path", "methods"), _paths(), ids=[path for path, _ in _paths()])
def test_a_405_allows_every_method_the_path_serves(base: str, path: str, methods: set[str]) -> None:
    refused = sorted(METHODS - methods)
    with httpx.Client(base_url=base) as client:
        for method in refused:
            answer = client.request(method, path)
            assert answer.status_code == 405, (method, path, answer.text)
            assert set(answer.headers["allow"].split(", ")) == methods
            assert answer.headers["content-type"] == "application/json"
            if method != "HEAD":  # RFC 9110 §9.3.2: the same header fields as GET, no content
                assert f"'{method}'" in answer.json()["error"]


@pytest.mark.parametrize("path", ["/v1/ssai/assets", "/v1/ssai/assets/a%0Ab.ts", "/v2/unknown", "/v1/ssai/jobs/x"])
def test_no_route_found_is_a_json_error_quoting_the_path(base: str, path: str) -> None:
    with httpx.Client(base_url=base, follow_redirects=True) as client:
        answer = client.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"].startswith(("path '", "asset '"))
