"""`reportingMode` has one check, whichever way a player sends it: the session POST (body or query) and the
master GET (implicit initialisation, or a session's manifestUrl) refuse a value that is not a mode alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from proxy.demo.testing import FakeOrigin
from proxy.settings import ChannelConfig
from proxy.web.app import create_app
from tests.servers import free_port, local_settings, run_server

REFUSAL = "reportingMode = 'bogus': expected one of ['client', 'server']"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    origin = FakeOrigin()
    origin_port, port = free_port(), free_port()
    with run_server(origin.app, origin_port) as origin_base:
        channel = ChannelConfig(name="fake", origin=f"{origin_base}/master.m3u8")
        data_dir: Path = tmp_path_factory.mktemp("reporting")
        settings = local_settings(port=port, data_dir=data_dir).with_channels({"fake": channel})
        with run_server(create_app(settings), port) as base:
            yield base


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def answer(http: aiohttp.ClientSession, method: str, url: str, body: Any = None) -> tuple[int, Any]:
    async with http.request(method, url, json=body, allow_redirects=False) as response:
        is_json = response.content_type == "application/json"
        return response.status, await response.json() if is_json else await response.text()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/ssai/session/fake/main.m3u8", {"reportingMode": "bogus"}),
        ("POST", "/v1/ssai/session/fake/main.m3u8?reportingMode=bogus", None),
        ("GET", "/v1/ssai/session/fake/main.m3u8?reportingMode=bogus", None),
        ("GET", "/v1/ssai/session/fake/main.m3u8?ads.reportingMode=bogus", None),
        ("GET", "/v1/ssai/master/fake/main.m3u8?reportingMode=bogus&device=tv", None),
    ],
)
async def test_every_way_refuses_a_bogus_mode_alike(
    proxy: str, http: aiohttp.ClientSession, method: str, path: str, body: Any
) -> None:
    status, document = await answer(http, method, proxy + path, body)
    assert (status, document) == (400, {"error": REFUSAL})


async def test_a_sessions_manifest_url_refuses_a_bogus_mode(proxy: str, http: aiohttp.ClientSession) -> None:
    status, urls = await answer(http, "POST", f"{proxy}/v1/ssai/session/fake/main.m3u8", {"reportingMode": "client"})
    assert status == 200, urls
    status, document = await answer(http, "GET", f"{proxy}{urls['manifestUrl']}&reportingMode=bogus")
    assert (status, document) == (400, {"error": REFUSAL})
    status, master = await answer(http, "GET", f"{proxy}{urls['manifestUrl']}&reportingMode=server")
    assert status == 200 and master.startswith("#EXTM3U")


@pytest.mark.parametrize("mode", ["client", "server"])
async def test_a_get_with_a_valid_mode_plays(proxy: str, http: aiohttp.ClientSession, mode: str) -> None:
    status, master = await answer(http, "GET", f"{proxy}/v1/ssai/session/fake/main.m3u8?reportingMode={mode}")
    assert status == 200 and master.startswith("#EXTM3U"), master
