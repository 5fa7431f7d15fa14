"""SIGTERM drains (`SSAI_DRAIN_SECONDS`): an `ssai-proxy serve` process told to stop right after a player's first ad
segment still sends the beacons it queued for it, then exits. One beacon worker and a beacon endpoint that takes
a second per call: when the signal comes, most of them are still queued."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from proxy.demo.testing import FakeOrigin
from proxy.hls.playlist import parse_media
from tests.cli.process import start, wait_until_serving
from tests.servers import free_port, run_server

FIRST_SEGMENT_EVENTS = ["impression", "impression2", "start"]


@pytest.mark.slow
async def test_sigterm_sends_the_queued_beacons_before_exiting(tmp_path: Path) -> None:
    origin = FakeOrigin(td=2, window=6, every=6, break_segments=4)
    origin.beacon_mode = "slow"
    origin_port, port = free_port(), free_port()
    (tmp_path / "channels.toml").write_text(
        f'[channels.fake]\norigin = "http://127.0.0.1:{origin_port}/master.m3u8"\n'
        f'ad_tag = "http://127.0.0.1:{origin_port}/vast"\n'
    )
    env = {"SSAI_EGRESS_ALLOW_LOOPBACK": "1", "SSAI_BEACON_WORKERS": "1", "SSAI_DRAIN_SECONDS": "20"}
    base = f"http://127.0.0.1:{port}"
    with run_server(origin.app, origin_port):
        argv = ("serve", "--channels", "channels.toml", "--port", str(port), "--data-dir", "data")
        process = start(tmp_path, *argv, **env)
        try:
            wait_until_serving(process, base)
            async with aiohttp.ClientSession() as http:
                uri = await _first_ad_segment(http, base, origin)
                async with http.get(uri, allow_redirects=False) as response:
                    assert response.status == 302
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=30)
    # uvicorn re-raises the SIGTERM it handled once it has shut down, so a supervisor sees the signal's status.
    assert process.returncode == -signal.SIGTERM
    assert sorted(event for event, _query, _headers in origin.beacons) == sorted(FIRST_SEGMENT_EVENTS)


async def _first_ad_segment(http: aiohttp.ClientSession, base: str, origin: FakeOrigin) -> str:
    """The URL of a new session's first ad segment redirect, once a break reaches its playlist."""
    async with http.post(f"{base}/v1/ssai/session/fake/main.m3u8") as response:
        sid = str((await response.json())["manifestUrl"]).rsplit("=", 1)[1]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        async with http.get(f"{base}/v1/ssai/media/fake/{sid}/v0.m3u8") as response:
            body = await response.read()
        ads = [s.uri for s in parse_media(body).segments if s.uri.startswith("seg/")]
        if ads:
            return f"{base}/v1/ssai/media/fake/{sid}/{ads[0]}"
        await asyncio.sleep(1)
    raise AssertionError(f"no ad segment in 60 s (ad requests: {origin.requests['vast']})")
