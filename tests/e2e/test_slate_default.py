"""A channel on its account's default slate plays the new default in the sessions created after the default
moved (`PUT /v1/ssai/slates/slate/{id}`), and the sessions playing before keep theirs: real uvicorn servers for
the proxy, a fake live origin and a file server with the slate videos, real ffmpeg transcodes, all over HTTP.

The channel has no ad configuration, so every break is filled with its slate once that slate is transcoded
for the channel's ladder; segment URIs name the slate's asset folder (client-side reporting: no redirects).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from proxy.demo.testing import FakeOrigin
from proxy.media.assetstore import creative_folder
from proxy.settings import Settings
from proxy.web.app import create_app
from tests.mediafiles import make_source
from tests.servers import api_key, free_port, run_server

WAIT = 240.0  # seconds for two slate transcodes and a break on a loaded machine: a bound, not a measure


async def _json(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Any:
    async with http.request(method, url, **kwargs) as response:
        assert response.status in (200, 201), await response.text()
        return await response.json()


async def _session(http: aiohttp.ClientSession, proxy: str) -> str:
    urls = await _json(http, "POST", f"{proxy}/v1/ssai/session/news/main.m3u8?reportingMode=client")
    session: str = urls["manifestUrl"].rsplit("=", 1)[1]
    async with http.get(proxy + urls["manifestUrl"]) as response:
        assert response.status == 200
    return session


async def _slates_in(http: aiohttp.ClientSession, proxy: str, session: str, folders: dict[str, str]) -> set[str]:
    """Which of the slate `folders` the session's v0 playlist holds now."""
    async with http.get(f"{proxy}/v1/ssai/media/news/{session}/v0.m3u8") as response:
        assert response.status == 200, await response.text()
        body = await response.text()
    return {name for name, folder in folders.items() if f"/{folder}/" in body}


async def _until_played(
    http: aiohttp.ClientSession, proxy: str, session: str, folders: dict[str, str], wanted: str
) -> set[str]:
    """Poll as a player does until a break shows slate `wanted`; every slate seen on the way."""
    seen: set[str] = set()
    deadline = time.monotonic() + WAIT
    while wanted not in seen:
        assert time.monotonic() < deadline, f"slate {wanted} never played (seen: {seen})"
        seen |= await _slates_in(http, proxy, session, folders)
        await asyncio.sleep(1.0)
    return seen


@pytest.mark.slow
async def test_sessions_after_the_default_moved_play_the_new_default(tmp_path: Path) -> None:
    video = make_source(tmp_path, "square-video-only")

    async def serve(request: Request) -> Response:
        return FileResponse(video)

    files = Starlette(routes=[Route("/media/{name}.mp4", serve)])
    origin = FakeOrigin(td=2, window=6, every=5, break_segments=2)
    port, data = free_port(), tmp_path / "data"
    headers = {"X-API-KEY": await api_key(data, "acme", "Acme")}
    settings = Settings(port=port, data_dir=data, egress_allow_loopback=True, transcode_preset="ultrafast")
    with (
        run_server(files, free_port()) as files_url,
        run_server(origin.app, free_port()) as origin_url,
        run_server(create_app(settings), port) as proxy,
    ):
        async with aiohttp.ClientSession() as http:
            slates = {}
            for name in ("first", "second"):
                body = {"source_url": f"{files_url}/media/{name}.mp4"}
                slates[name] = await _json(http, "POST", f"{proxy}/v1/ssai/slates", json=body, headers=headers)
            channel = {"name": "news", "origin": f"{origin_url}/master.m3u8"}  # no slate_id: the default
            await _json(http, "POST", f"{proxy}/v1/ssai/channels", json=channel, headers=headers)
            folders = {
                name: creative_folder(f"slate:{slate['media_source_asset_url']}") for name, slate in slates.items()
            }

            before = await _session(http, proxy)
            assert await _until_played(http, proxy, before, folders, "first") == {"first"}
            second = slates["second"]["media_source_asset_id"]
            moved = await _json(
                http, "PUT", f"{proxy}/v1/ssai/slates/slate/{second}", json={"default": True}, headers=headers
            )
            assert moved["media_source_asset_default"] is True

            after = await _session(http, proxy)
            assert await _until_played(http, proxy, after, folders, "second") == {"second"}
            assert await _slates_in(http, proxy, before, folders) <= {"first"}, "a session keeps its slate"
