"""What each role serves (proxy/web/app.py ROLE_ROUTES): an edge the players' routes, a control process the control
APIs, both /healthz, /metrics and the OpenAPI document of what they serve; a route of the other role is the router's
404. Settings refuse a role they do not know and workers that could not share sessions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from proxy.errors import ConfigError
from proxy.settings import Settings
from proxy.web.app import CONTROL_ROUTES, PLAYBACK_ROUTES, create_app
from proxy.web.openapi import document, served
from tests.servers import free_port, run_server

NO_ROUTE = "no such route"
SESSION = "/v1/ssai/session/news/main.m3u8"


@pytest.fixture(scope="module", params=["edge", "control", "all"])
def role(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data_dir: Path = tmp_path_factory.mktemp(request.param)
    with run_server(create_app(Settings(data_dir=data_dir, role=request.param, metrics_open=True)), free_port()) as url:
        yield request.param, url


def test_healthz_names_the_role(role: tuple[str, str]) -> None:
    name, base = role
    answer = httpx.get(f"{base}/healthz")
    assert answer.status_code == 200 and answer.json()["role"] == name
    assert httpx.get(f"{base}/metrics").status_code == 200


def test_a_route_of_the_other_role_is_not_there(role: tuple[str, str]) -> None:
    name, base = role
    session = httpx.post(f"{base}{SESSION}", json={})  # no such channel: the handler's 404, else the router's
    applications = httpx.post(
        f"{base}/v1/ssai/applications", json={}
    )  # no key: the handler's 401, else the router's 404
    assert (NO_ROUTE in session.json()["error"]) is (name == "control"), session.text
    assert session.status_code == 404
    if name == "edge":
        assert applications.status_code == 404 and NO_ROUTE in applications.json()["error"], applications.text
    else:
        assert applications.status_code == 401, applications.text


def test_the_document_lists_what_the_role_serves(role: tuple[str, str]) -> None:
    name, base = role
    paths = {
        (method, path) for path, item in httpx.get(f"{base}/openapi.json").json()["paths"].items() for method in item
    }
    playback, control = served(PLAYBACK_ROUTES), served(CONTROL_ROUTES)
    assert playback and control and not playback & control
    assert bool(paths & playback) is (name != "control") and bool(paths & control) is (name != "edge")
    assert {("get", "/healthz"), ("get", "/metrics"), ("get", "/openapi.json")} <= paths
    if name == "all":
        every = {(method, path) for path, item in document()["paths"].items() for method in item}
        assert paths == every


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"role": "proxy"}, "SSAI_ROLE has value 'proxy': expected one of all, edge, control"),
        ({"workers": 0}, "SSAI_WORKERS has value 0: expected 1 or more"),
        ({"workers": 2}, "2 workers need SSAI_REDIS_URL"),
        (
            {"workers": 2, "redis_url": "redis://127.0.0.1:6379/0", "metrics_listen": "127.0.0.1:9100"},
            "every worker would bind it",
        ),
    ],
)
def test_settings_refuse_a_role_or_workers_that_cannot_work(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings(**fields)  # type: ignore[arg-type]
