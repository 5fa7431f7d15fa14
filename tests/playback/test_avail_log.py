"""Each session's ad break logs one `proxy.avails` record once its decision is frozen (proxy/playback/avail_log.py):
what filled it and what was skipped, with the channel, session and break; with `SSAI_LOG_FORMAT=json` the record is
one JSON line carrying those fields (proxy.settings.JsonLines)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from proxy.demo.testing import FakeOrigin
from proxy.errors import ConfigError
from proxy.settings import ChannelConfig, JsonLines, Settings
from proxy.web.app import create_app
from tests.servers import free_port, run_server


async def test_a_break_with_ads_logs_one_avail(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    origin, origin_port = FakeOrigin(td=2, window=6, every=8, break_segments=4), free_port()
    base_origin = f"http://127.0.0.1:{origin_port}"
    channel = ChannelConfig("news", f"{base_origin}/master.m3u8", ad_tag=f"{base_origin}/vast?sid=[session.id]")
    settings = Settings(data_dir=tmp_path, egress_allow_loopback=True).with_channels({"news": channel})
    caplog.set_level(logging.INFO, logger="proxy.avails")
    with run_server(origin.app, origin_port), run_server(create_app(settings), free_port()) as base:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/v1/ssai/session/news/main.m3u8") as response:
                sid = str((await response.json())["manifestUrl"]).rsplit("=", 1)[1]
            deadline, body = time.monotonic() + 60, ""
            while "seg/" not in body and time.monotonic() < deadline:
                async with http.get(f"{base}/v1/ssai/media/news/{sid}/v0.m3u8") as response:
                    body = await response.text()
                await asyncio.sleep(0.5)
            for _ in range(3):  # more requests of the same break log nothing more
                async with http.get(f"{base}/v1/ssai/media/news/{sid}/v0.m3u8") as response:
                    await response.read()
    assert "seg/" in body, "no break with ads within 60 s"
    avails = [record for record in caplog.records if record.name == "proxy.avails"]
    assert len({record.getMessage() for record in avails}) == len(avails) >= 1
    first = json.loads(JsonLines().format(avails[0]))
    assert (first["logger"], first["level"], first["channel"], first["session"]) == (
        "proxy.avails",
        "info",
        "news",
        sid,
    )
    assert first["outcome"] == "ads" and first["ads"] and first["ad_seconds"] > 0
    assert first["break_seconds"] == 8.0 and first["skipped"] == []
    assert f"avail news/{sid} break {first['break']}: ads" in first["message"]


def test_json_lines_carry_an_exception() -> None:
    try:
        raise ValueError("bad value 'x'")
    except ValueError:
        record = logging.LogRecord("proxy.web", logging.ERROR, __file__, 1, "failed: %s", ("it",), sys.exc_info())
    line = json.loads(JsonLines().format(record))
    assert line["message"] == "failed: it" and "ValueError: bad value 'x'" in line["exception"]


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ConfigError, match="SSAI_LOG_FORMAT has value 'xml': expected one of text, json"):
        Settings(log_format="xml")
