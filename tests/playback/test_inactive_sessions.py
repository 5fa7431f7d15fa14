"""A session that stops asking for playlists stops causing ad requests: a break that starts after its activity
window (one target duration plus the decision wait and the personalised spread) is not requested for it, and the
skip is counted (`SESSION_INACTIVE`); a session that keeps playing gets its request. Real uvicorn servers, a
channel made through the control API, a cue point for the break, and a test ad server recording every request
(its query names the session)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from proxy.demo.testing import FakeOrigin
from proxy.settings import Settings
from proxy.web.app import create_app
from tests.servers import api_key, free_port, run_server
from tests.web.apichannel import create_channel

TD = 2
# The proxy's activity window for this channel: TD + min(decision wait, TD/2) + the default 0.5 s spread.
ACTIVE_WITHIN = TD + TD / 2 + 0.5


async def _session(http: aiohttp.ClientSession, base: str) -> str:
    async with http.post(f"{base}/v1/ssai/session/live/main.m3u8") as response:
        assert response.status == 200, await response.text()
        return str((await response.json())["manifestUrl"]).rsplit("=", 1)[1]


async def _playlist(http: aiohttp.ClientSession, base: str, sid: str) -> str:
    async with http.get(f"{base}/v1/ssai/media/live/{sid}/v0.m3u8") as response:
        assert response.status == 200, await response.text()
        return await response.text()


async def _play_through_a_cue_point(http: aiohttp.ClientSession, base: str, active: str) -> None:
    """Poll `active` every TD/2 for longer than the activity window, insert a break, and poll on until the
    break's ads reach `active`'s playlist."""
    loop = asyncio.get_running_loop()
    quiet_until = loop.time() + ACTIVE_WITHIN + TD  # the other session has asked for nothing since before this
    while loop.time() < quiet_until:
        await _playlist(http, base, active)
        await asyncio.sleep(TD / 2)
    async with http.post(f"{base}/v1/ssai/channels/live/cuepoint", json={"duration": 4 * TD}) as response:
        assert response.status == 200, await response.text()
    while "\nseg/" not in await _playlist(http, base, active):  # seg/: ad segments, through the beacon redirect
        await asyncio.sleep(TD / 2)


async def test_a_session_that_stopped_polling_gets_no_ad_request(tmp_path: Path) -> None:
    origin = FakeOrigin(td=TD, window=6, every=10**6)  # breaks come from cue points only
    key = await api_key(tmp_path)
    settings = Settings(data_dir=tmp_path, egress_allow_loopback=True, metrics_open=True)
    with run_server(origin.app, free_port()) as origin_url, run_server(create_app(settings), free_port()) as base:
        async with aiohttp.ClientSession(headers={"X-API-KEY": key}) as http:
            tag = f"{origin_url}/vast?sid={{{{session.session_id}}}}"
            await create_channel(http, base, "live", f"{origin_url}/master.m3u8", tag)
            gone, active = await _session(http, base), await _session(http, base)
            await _playlist(http, base, gone)  # it played, then left (it has not expired: that takes 60 s)
            await asyncio.wait_for(_play_through_a_cue_point(http, base, active), 60)
            async with http.get(f"{base}/v1/ssai/stats") as response:
                metrics = await response.json()
    requested = [query.rsplit("sid=", 1)[1] for query in origin.vast_queries]
    assert requested == [active], "one ad request, for the session still playing"
    assert metrics["sessions"] == 2, "the session that left has not expired"
    assert metrics["decisions"].get("SESSION_INACTIVE") == 1
