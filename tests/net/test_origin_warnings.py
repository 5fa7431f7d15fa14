"""An origin that stays broken is logged when its problem changes, not at every poll: each failure is still
counted in `/metrics` `origin_errors`, and its recovery is logged once."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from proxy.demo.testing import FakeOrigin
from proxy.settings import ChannelConfig
from proxy.web.app import create_app
from tests.servers import free_port, local_settings, run_server

GOOD, BAD_LINE, ERROR = range(1, 3), range(3, 9), range(9, 15)  # v0's answers by request number, then good
GIVE_UP = 60.0  # a safety net for a proxy that stops polling, not a timing expectation


class BreakingOrigin(FakeOrigin):
    """v0 answers well twice, then six times with a bad duration (`#EXTINF:abc,`, wherever the window puts
    it), then six times HTTP 500, then well again."""

    async def media(self, request: Request) -> Response:
        answer = await super().media(request)
        number = self.requests[request.path_params["name"]]
        if request.path_params["name"] != "v0" or number in GOOD or number > ERROR[-1]:
            return answer
        if number in ERROR:
            return PlainTextResponse("broken", status_code=500)
        lines = bytes(answer.body).decode().splitlines()
        extinf = [index for index, line in enumerate(lines) if line.startswith("#EXTINF")]
        lines[extinf[number % len(extinf)]] = "#EXTINF:abc,"  # another line each time: the same problem
        return PlainTextResponse("\n".join(lines) + "\n", media_type="application/vnd.apple.mpegurl")


async def get(http: aiohttp.ClientSession, url: str, method: str = "GET") -> Any:
    async with http.request(method, url) as answer:
        return await answer.json() if answer.content_type == "application/json" else await answer.text()


async def test_a_broken_origin_is_logged_once_per_problem_and_counted_at_every_poll(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="proxy.playback.runtime")
    origin = BreakingOrigin(td=1)
    origin_port, port = free_port(), free_port()
    with run_server(origin.app, origin_port) as origin_base:
        channel = ChannelConfig("broken", f"{origin_base}/master.m3u8")
        settings = local_settings(port=port, data_dir=tmp_path, metrics_open=True).with_channels({"broken": channel})
        with run_server(create_app(settings), port) as base:
            async with aiohttp.ClientSession() as http:
                urls = await get(http, f"{base}/v1/ssai/session/broken/main.m3u8", "POST")
                session = urls["manifestUrl"].rsplit("=", 1)[1]
                deadline = time.monotonic() + GIVE_UP
                while origin.requests["v0"] <= ERROR[-1] + 2 and time.monotonic() < deadline:
                    await get(http, f"{base}/v1/ssai/media/broken/{session}/v0.m3u8")  # a player goes on asking
                    await asyncio.sleep(0.5)
                errors = (await get(http, f"{base}/v1/ssai/stats"))["origin_errors"]
    assert errors == {"unparsable": len(BAD_LINE), "status": len(ERROR)}
    about_v0 = [(r.levelname, r.getMessage()) for r in caplog.records if "track v0" in r.getMessage()]
    assert [level for level, _ in about_v0] == ["WARNING", "WARNING", "INFO"], about_v0
    assert "expected a duration in seconds" in about_v0[0][1] and "'#EXTINF:abc,'" in about_v0[0][1]
    assert "answered HTTP 500" in about_v0[1][1] and "answers well again" in about_v0[2][1]
