"""Origin bodies read whole, under the size cap and the origin timeout, and never quoted to a player.

Through real servers: a hand-written origin (tests/rawhttp.py) that stalls mid-body, closes mid-body, or
sends 2.4 MB of playlist, in front of the proxy on uvicorn. A player polling through it gets whole windows
(every URI complete, the live edge never going back) until the last good window has been served for one
target duration, then a 504 or 502 naming the failure; `/metrics` counts it by kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from proxy.settings import ChannelConfig
from proxy.web.app import create_app
from tests.rawhttp import RawOrigin, response
from tests.servers import free_port, local_settings, run_server

SECRET = "SECRET-7f3a"  # what an internal service's answer holds: never in what a player is told
CONTENT_URI = re.compile(r"^http://127\.0\.0\.1:\d+/v0/(\d+)\.ts$")
GIVE_UP = 60.0  # a safety net for a proxy that never reports the failure, not a timing expectation


@contextlib.asynccontextmanager
async def proxy_of(origin: str, data_dir: Path) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """The proxy on uvicorn with one channel, `raw`, whose origin master is `origin` (on 127.0.0.1)."""
    port = free_port()
    settings = local_settings(port=port, data_dir=data_dir, metrics_open=True).with_channels(
        {"raw": ChannelConfig("raw", origin)}
    )
    with run_server(create_app(settings), port) as base:
        async with aiohttp.ClientSession() as http:
            yield base, http


async def new_session(http: aiohttp.ClientSession, base: str) -> tuple[int, Any]:
    async with http.post(f"{base}/v1/ssai/session/raw/main.m3u8") as answer:
        return answer.status, await answer.json()


async def origin_errors(http: aiohttp.ClientSession, base: str) -> dict[str, int]:
    async with http.get(f"{base}/v1/ssai/stats") as answer:
        errors: dict[str, int] = (await answer.json())["origin_errors"]
        return errors


def last_msn(body: str, window: int) -> int:
    """The window's last segment number, after checking it is whole: every URI complete, one #EXTINF each,
    consecutive, at most `window` segments (the origin's window: never a part of a bigger body)."""
    assert body.endswith("\n"), body[-200:]
    lines = body.splitlines()
    uris = [line for line in lines if line and not line.startswith("#")]
    numbers = []
    for uri in uris:
        match = CONTENT_URI.match(uri)
        assert match is not None, f"a cut or foreign URI served with 200: {uri!r}"
        numbers.append(int(match.group(1)))
    assert sum(line.startswith("#EXTINF:") for line in lines) == len(uris)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))) and 0 < len(numbers) <= window
    return numbers[-1]


async def served_until_failure(http: aiohttp.ClientSession, base: str, session: str, window: int) -> tuple[int, str]:
    """Poll v0 as a player does until the proxy answers something else than 200; every 200 is a whole
    window whose live edge never goes back. The failing answer's status and its JSON error."""
    edge = -1
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GIVE_UP
    while loop.time() < deadline:
        async with http.get(f"{base}/v1/ssai/media/raw/{session}/v0.m3u8") as answer:
            body = await answer.text()
            if answer.status != 200:
                assert answer.headers["content-type"] == "application/json", body
                error: str = (await answer.json())["error"]
                return answer.status, error
        newest = last_msn(body, window)
        assert newest >= edge, f"the live edge went back from {edge} to {newest}: a cut window was served"
        edge = newest
        await asyncio.sleep(0.5)
    raise AssertionError(f"the proxy still answered 200 after {GIVE_UP} s of a failing origin")


@pytest.mark.parametrize(
    ("mode", "status", "said", "kind"),
    [
        ("stall", 504, "took longer than 2 s", "timeout"),
        ("close", 502, "the body ended before its announced length", "truncated"),
        ("huge", 502, "declares", "oversized"),
        ("huge-unsized", 502, "returned more than 2097152 bytes", "oversized"),
    ],
)
async def test_a_body_cut_stalled_or_oversized_is_an_origin_error_never_a_partial_window(
    tmp_path: Path, mode: str, status: int, said: str, kind: str
) -> None:
    origin = RawOrigin()
    async with origin.serve() as origin_base, proxy_of(f"{origin_base}/master.m3u8", tmp_path) as (base, http):
        created, answer = await new_session(http, base)
        assert created == 200, answer
        session = str(answer["manifestUrl"]).rsplit("=", 1)[1]
        async with http.get(f"{base}/v1/ssai/media/raw/{session}/v0.m3u8") as playlist:
            assert playlist.status == 200
            last_msn(await playlist.text(), origin.fake.window)
        origin.mode = mode
        failed, error = await served_until_failure(http, base, session, origin.fake.window)
        assert (failed, said in error) == (status, True), error
        assert (await origin_errors(http, base)).get(kind, 0) >= 1


MASTER_OK = response(b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nv0.m3u8\n")


@pytest.mark.parametrize(
    ("raw", "status", "said", "kind"),
    [
        ({"/master.m3u8": response(f"{SECRET} internal admin page\n".encode())}, 502, "expected #EXTM3U", "unparsable"),
        (
            {"/master.m3u8": MASTER_OK, "/v0.m3u8": response(f"<html>{SECRET}</html>".encode())},
            502,
            "line 1",
            "unparsable",
        ),
        ({"/master.m3u8": response(f"<p>{SECRET}</p>".encode(), "500 Oops")}, 502, "HTTP 500", "status"),
        ({"/master.m3u8": f"{SECRET} not HTTP at all\r\n\r\n".encode()}, 502, "failed", "network"),
        ({"/master.m3u8": response(b"#EXTM3U\n" + f"#{SECRET}\n".encode() * 250_000)}, 502, "declares", "oversized"),
    ],
    ids=["master-not-hls", "media-not-hls", "http-500", "not-http", "master-over-cap"],
)
async def test_what_an_origin_sent_is_logged_never_quoted_to_the_player(
    tmp_path: Path, raw: dict[str, bytes], status: int, said: str, kind: str
) -> None:
    origin = RawOrigin()
    origin.raw.update(raw)
    async with origin.serve() as origin_base, proxy_of(f"{origin_base}/master.m3u8", tmp_path) as (base, http):
        created, answer = await new_session(http, base)
        assert created == status and said in answer["error"], answer
        assert SECRET not in answer["error"]
        assert set(await origin_errors(http, base)) == {kind}  # a poller may have counted it again since
