"""A planned break duration longer than `max_break_duration` (CUE-OUT:99999999999) is cut to it: the ad server
is asked for that much, the break ends then, and each such break is logged once and counted by reason."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest

from proxy.demo.testing import FakeOrigin
from proxy.settings import ChannelConfig
from proxy.web.app import create_app
from tests.servers import free_port, local_settings, run_server

TD = 2
MAX_BREAK = 6.0
HUGE = "99999999999"
GIVE_UP = 60.0  # a safety net for a proxy that never asks the ad server, not a timing expectation


class EndlessBreakOrigin(FakeOrigin):
    """Its breaks announce 99999999999 s, on the OUT and again on a CONT on each next segment; no CUE-IN comes."""

    def markers(self, msn: int) -> list[str]:
        offset = msn % self.every
        if msn >= self.every and offset == 0:
            return [f"#EXT-X-CUE-OUT:{HUGE}"]
        if msn >= self.every and offset < self.break_segments:
            return [f"#EXT-X-CUE-OUT-CONT:ElapsedTime={offset * self.td},Duration={HUGE}"]
        return []


async def play_until_asked(http: aiohttp.ClientSession, base: str, origin: FakeOrigin, breaks: int) -> list[str]:
    """Poll a session's v0 as a player does until the ad server was asked for `breaks` breaks."""
    async with http.post(f"{base}/v1/ssai/session/endless/main.m3u8?reportingMode=client") as answer:
        assert answer.status == 200, await answer.text()
        session = (await answer.json())["manifestUrl"].rsplit("=", 1)[1]
    deadline = time.monotonic() + GIVE_UP
    while len(origin.vast_queries) < breaks and time.monotonic() < deadline:
        async with http.get(f"{base}/v1/ssai/media/endless/{session}/v0.m3u8") as answer:
            assert answer.status == 200, await answer.text()
        await asyncio.sleep(TD / 2)
    return [parse_qs(query)["dur"][0] for query in origin.vast_queries]


async def metrics(http: aiohttp.ClientSession, base: str) -> Any:
    async with http.get(f"{base}/v1/ssai/stats") as answer:
        return await answer.json()


async def test_an_endless_planned_break_is_cut_to_the_maximum(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="proxy.hls.breaks")
    every = 6  # a break every 6 segments: the second one is only seen if the first one ended
    origin = EndlessBreakOrigin(td=TD, window=6, every=every, break_segments=3, epoch=time.time() - (every - 1) * TD)
    origin_port, port = free_port(), free_port()
    with run_server(origin.app, origin_port) as origin_base:
        tag = f"{origin_base}/vast?dur=[live.adbreakduration]"
        channel = ChannelConfig("endless", f"{origin_base}/master.m3u8", ad_tag=tag)
        settings = local_settings(port=port, data_dir=tmp_path, max_break_duration=MAX_BREAK, metrics_open=True)
        with run_server(create_app(settings.with_channels({"endless": channel})), port) as base:
            async with aiohttp.ClientSession() as http:
                asked = await play_until_asked(http, base, origin, breaks=2)
                counted = (await metrics(http, base))["breaks_clamped"]
    assert asked[:2] == [repr(MAX_BREAK)] * 2, "asked for the maximum, and a second break came: the first ended"
    warnings = [r.getMessage() for r in caplog.records if "longer than the longest break" in r.getMessage()]
    assert counted == {"planned_over_max": len(warnings)} and len(warnings) >= 2
    assert all(f"planned {HUGE}.0 s" in warning and "played as 6 s" in warning for warning in warnings)
