"""Origin fetching through real servers: coalescing across sessions, stale windows, then 502/504."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from proxy.demo.testing import FakeOrigin
from proxy.settings import ChannelConfig
from proxy.web.app import create_app
from tests.servers import free_port, local_settings, run_server


@contextlib.asynccontextmanager
async def proxy_for(origin: FakeOrigin) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    origin_port, proxy_port = free_port(), free_port()
    with run_server(origin.app, origin_port) as origin_base, tempfile.TemporaryDirectory() as data_dir:
        channel = ChannelConfig(name="fake", origin=f"{origin_base}/master.m3u8")
        settings = local_settings(port=proxy_port, data_dir=Path(data_dir)).with_channels({"fake": channel})
        with run_server(create_app(settings), proxy_port) as base:
            async with aiohttp.ClientSession() as http:
                yield base, http


async def new_session(http: aiohttp.ClientSession, base: str) -> str:
    async with http.post(f"{base}/v1/ssai/session/fake/main.m3u8?reportingMode=client") as response:
        assert response.status == 200, await response.text()
        return str((await response.json())["manifestUrl"]).rsplit("=", 1)[1]


async def poll(http: aiohttp.ClientSession, base: str, session_id: str, track: str = "v0") -> tuple[int, str]:
    async with http.get(f"{base}/v1/ssai/media/fake/{session_id}/{track}.m3u8") as response:
        return response.status, await response.text()


async def origin_requests_while_polling(sessions: int, seconds: float) -> int:
    origin = FakeOrigin()
    async with proxy_for(origin) as (base, http):
        ids = await asyncio.gather(*(new_session(http, base) for _ in range(sessions)))
        await asyncio.gather(*(poll(http, base, sid) for sid in ids))

        async def player(sid: str, offset: float) -> None:
            await asyncio.sleep(offset)
            loop = asyncio.get_running_loop()
            end = loop.time() + seconds + 2
            while loop.time() < end:
                status, _ = await poll(http, base, sid)
                assert status == 200
                await asyncio.sleep(origin.td)

        async def count() -> int:
            await asyncio.sleep(1)  # every player is polling by now
            before = origin.requests["v0"]
            await asyncio.sleep(seconds)
            return origin.requests["v0"] - before

        players = asyncio.gather(*(player(sid, i * origin.td / len(ids)) for i, sid in enumerate(ids)))
        counted = await count()
        await players
        return counted


@pytest.mark.slow
async def test_a_thousand_sessions_cost_the_origin_no_more_than_one() -> None:
    one = await origin_requests_while_polling(1, 6)
    thousand = await origin_requests_while_polling(1000, 6)
    assert one > 0
    assert thousand <= one + 1, f"1 session caused {one} origin requests, 1,000 sessions {thousand}"


@pytest.mark.slow
async def test_origin_failure_serves_the_last_window_then_502() -> None:
    origin = FakeOrigin()
    async with proxy_for(origin) as (base, http):
        sid = await new_session(http, base)
        status, good = await poll(http, base, sid)
        assert status == 200
        origin.mode = "error"
        await asyncio.sleep(origin.td / 2 + 0.3)
        status, stale = await poll(http, base, sid)
        assert status == 200, "within one target duration the last good window is served"
        await asyncio.sleep(origin.td + 1.5)
        status, body = await poll(http, base, sid)
        assert status == 502
        assert "HTTP 500" in body and "v0.m3u8" in body
        origin.mode = "ok"
        await asyncio.sleep(origin.td)
        status, back = await poll(http, base, sid)
        assert status == 200
        assert _msn(back) >= _msn(good)


@pytest.mark.slow
async def test_origin_timeout_gives_504_after_the_stale_window() -> None:
    origin = FakeOrigin()
    async with proxy_for(origin) as (base, http):
        sid = await new_session(http, base)
        assert (await poll(http, base, sid))[0] == 200
        origin.mode = "timeout"
        await asyncio.sleep(2.0 + origin.td + 2.0)
        status, body = await poll(http, base, sid)
        assert status == 504, body
        assert "longer than 2 s" in body


def _msn(body: str) -> int:
    return int(body.split("#EXT-X-MEDIA-SEQUENCE:", 1)[1].split()[0])


def fake_identity(uri: str) -> str:
    """Content `…/{track}/{msn}.ts` and ad `…/ad/{rendition}/{index}.ts` of proxy.demo.testing.FakeOrigin."""
    parts = uri.rsplit("/", 3)
    if parts[-3] == "ad":
        return f"ad:fake:{parts[-1].removesuffix('.ts')}"
    return f"content:c{parts[-1].removesuffix('.ts')}"


@pytest.mark.slow
async def test_variants_and_the_audio_rendition_of_a_session_share_breaks_and_numbering(tmp_path: Path) -> None:
    from tests.hls.invariants import check_track, check_tracks_agree

    origin = FakeOrigin(every=6, break_segments=4)
    origin_port, proxy_port = free_port(), free_port()
    with run_server(origin.app, origin_port) as origin_base:
        channel = ChannelConfig(
            name="fake", origin=f"{origin_base}/master.m3u8", ad_tag=f"{origin_base}/vast?sid=[session.id]"
        )
        settings = local_settings(port=proxy_port, data_dir=tmp_path).with_channels({"fake": channel})
        with run_server(create_app(settings), proxy_port) as base:
            async with aiohttp.ClientSession() as http:
                sid = await new_session(http, base)
                outputs: dict[str, list[bytes]] = {"v0": [], "v1": [], "a0": []}
                for _ in range(int(2 * origin.every * origin.td / 0.8)):
                    for track, bodies in outputs.items():
                        status, body = await poll(http, base, sid, track)
                        assert status == 200, body
                        bodies.append(body.encode())
                    await asyncio.sleep(0.8)
    per_track = {t: check_track(b, origin.td, [], [10**9] * len(b), fake_identity) for t, b in outputs.items()}
    check_tracks_agree(per_track)
    ads = [msn for msn, seen in per_track["a0"].items() if seen.identity.startswith("ad:")]
    assert len(ads) >= 4, "the audio rendition carries the ad's audio segments"
    assert all("/ad/audio/" in per_track["a0"][msn].uri for msn in ads)


@pytest.mark.slow
async def test_a_channel_whose_origin_was_down_at_first_request_starts_once_it_is_back() -> None:
    origin = FakeOrigin()
    origin.mode = "error"
    async with proxy_for(origin) as (base, http):
        async with http.post(f"{base}/v1/ssai/session/fake/main.m3u8?reportingMode=client") as response:
            assert response.status == 502
            assert "v0.m3u8" in (await response.json())["error"]
        origin.mode = "ok"
        sid = await new_session(http, base)
        assert (await poll(http, base, sid))[0] == 200
