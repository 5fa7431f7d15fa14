"""Manual cue points end to end on real uvicorn servers: an application, a slate and a channel created through the API,
a cue point inserted, and a session's playlists carry the ads of that break (with the cue point's ad_server_data in
the ad request), every playlist invariant holding. A second app on the same store sees the channel within its
refresh interval (a change reaches every process within 5 s)."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from proxy.demo.testing import FakeOrigin
from proxy.settings import Settings
from proxy.web.app import create_app
from tests.hls.invariants import check_track, check_tracks_agree
from tests.mediafiles import make_source
from tests.servers import api_key, free_port, local_settings, run_server

TD = 2
NO_EDGE = 10**9
SEGMENT_NUMBER = re.compile(r"(\d+)\.(?:ts|m4s)")


def fake_identity(uri: str) -> str:
    if "/ad/" in uri:
        return f"ad:fake:{uri.rsplit('/', 1)[1].removesuffix('.ts')}"
    if "/v1/ssai/assets/" in uri:
        index = int(SEGMENT_NUMBER.findall(uri)[-1])
        return f"ad:slate:{index}"
    return f"content:c{uri.rsplit('/', 1)[1].removesuffix('.ts')}"


def _file_server(path: Path) -> Starlette:
    async def slate(request: Request) -> Response:
        return FileResponse(path)

    return Starlette(routes=[Route("/slate.mp4", slate)])


async def _create_through_api(http: aiohttp.ClientSession, base: str, origin: str, slate: str) -> None:
    application = {
        "application_ad_configuration": {
            "ad_configuration_expected_response_type": "Vast",
            "ad_configuration_url_format": f"{origin}/vast?campaign={{{{campaign}}}}&sid={{{{session.session_id}}}}",
        }
    }
    async with http.post(f"{base}/v1/ssai/applications", json=application) as response:
        app_id = (await response.json())["application"]["application_id"]
    async with http.post(f"{base}/v1/ssai/slates", json={"source_url": slate}) as response:
        slate_id = (await response.json())["media_source_asset_id"]
    body = {"name": "live", "origin": f"{origin}/master.m3u8", "application_id": app_id, "slate_id": slate_id}
    async with http.post(f"{base}/v1/ssai/channels", json=body) as response:
        assert response.status == 201, await response.text()


async def _play(http: aiohttp.ClientSession, base: str, seconds: float) -> dict[str, list[bytes]]:
    async with http.post(f"{base}/v1/ssai/session/live/main.m3u8?reportingMode=client") as response:
        manifest = (await response.json())["manifestUrl"]
    session = manifest.rsplit("=", 1)[1]
    outputs: dict[str, list[bytes]] = {"v0": [], "v1": [], "a0": []}
    inserted = False
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for track in outputs:
            async with http.get(f"{base}/v1/ssai/media/live/{session}/{track}.m3u8") as response:
                assert response.status == 200, await response.text()
                outputs[track].append(await response.read())
        if not inserted:  # the session exists: a break inserted now is one it decides
            cue = {"duration": 4 * TD, "ad_server_data": {"campaign": "winter sale"}}
            async with http.post(f"{base}/v1/ssai/channels/live/cuepoint", json=cue) as response:
                assert response.status == 200, await response.text()
            inserted = True
        if b"/ad/" in outputs["v0"][-1] and b"/ad/" not in outputs["v0"][-1].rsplit(b"/ad/", 1)[1][-200:]:
            break  # the break has played out of the live edge
        await asyncio.sleep(TD / 2)
    return outputs


async def test_an_api_made_channel_plays_the_ads_of_an_inserted_cue_point(tmp_path: Path) -> None:
    origin = FakeOrigin(td=TD, window=6, every=10**6)  # the origin itself signals no break
    key = await api_key(tmp_path)
    slate = make_source(tmp_path, "square-video-only")
    settings = local_settings(data_dir=tmp_path, config_refresh=0.5)
    with (
        run_server(origin.app, free_port()) as origin_url,
        run_server(_file_server(slate), free_port()) as files,
        run_server(create_app(settings), free_port()) as base,
    ):
        async with aiohttp.ClientSession(headers={"X-API-KEY": key}) as http:
            await _create_through_api(http, base, origin_url, f"{files}/slate.mp4")
            outputs = await _play(http, base, 40)
    assert any(b"/ad/" in body for body in outputs["v0"]), "the cue point's ads reached the session's playlist"
    assert any("campaign=winter%20sale" in query for query in origin.vast_queries), origin.vast_queries
    per_track = {
        track: check_track(bodies, TD, [], [NO_EDGE] * len(bodies), fake_identity) for track, bodies in outputs.items()
    }
    check_tracks_agree(per_track)


async def test_a_channel_made_in_one_process_is_played_by_another_within_5_s(tmp_path: Path) -> None:
    key = await api_key(tmp_path)
    settings = Settings(data_dir=tmp_path, config_refresh=2.0)
    with TestClient(create_app(settings)) as writer, TestClient(create_app(settings)) as reader:
        body = {"name": "shared", "origin": "https://origin.invalid/master.m3u8"}
        assert writer.post("/v1/ssai/channels", json=body, headers={"X-API-KEY": key}).status_code == 201
        started = time.monotonic()
        while "shared" not in reader.app.state.service.configs:  # type: ignore[attr-defined]
            assert time.monotonic() - started < 5, "the other process did not see the new channel within 5 s"
            time.sleep(0.1)
        assert writer.delete("/v1/ssai/channels/shared", headers={"X-API-KEY": key}).status_code == 200
        while "shared" in reader.app.state.service.configs:  # type: ignore[attr-defined]
            assert time.monotonic() - started < 10, "the other process did not drop the deleted channel"
            time.sleep(0.1)
