"""Channel origins pass the egress policy like every other fetch, at write time and at every fetch.

Through real servers. The control API refuses an origin whose host, as written, is an address or a name the
policy refuses (400 naming the field, nothing stored). Playback of a channel whose origin is refused answers
502 with the policy's reason; so does an origin redirecting to a refused target (each hop is checked), while a
redirect to an allowed one is followed. Refusals happen before any connection: no test here sends a packet
anywhere but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from proxy.settings import ChannelConfig, Settings
from proxy.web.app import create_app
from tests.rawhttp import RawOrigin, redirect
from tests.servers import api_key, free_port, local_settings, run_server

POLICY = "refused by the egress policy"


@contextlib.asynccontextmanager
async def proxy(settings: Settings, key: str = "") -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    port = free_port()
    with run_server(create_app(settings), port) as base:
        async with aiohttp.ClientSession(headers={"X-API-KEY": key} if key else {}) as http:
            yield base, http


async def play(http: aiohttp.ClientSession, base: str, channel: str) -> tuple[int, Any]:
    async with http.post(f"{base}/v1/ssai/session/{channel}/main.m3u8") as answer:
        return answer.status, await answer.json()


async def origin_errors(http: aiohttp.ClientSession, base: str) -> dict[str, int]:
    async with http.get(f"{base}/v1/ssai/stats") as answer:
        errors: dict[str, int] = (await answer.json())["origin_errors"]
        return errors


async def test_playback_of_a_refused_origin_answers_502_with_the_policy_and_connects_nowhere(tmp_path: Path) -> None:
    origin = RawOrigin()
    async with origin.serve() as local:
        port = local.rsplit(":", 1)[1]
        refused = {  # channel: (origin, what the refusal says); loopback is refused as in production
            "loopback": (f"{local}/master.m3u8", "loopback (allow_loopback is off)"),
            "localhost": (f"http://localhost:{port}/master.m3u8", "loopback name"),
            "decimal": (f"http://2130706433:{port}/master.m3u8", "(= 127.0.0.1) is loopback"),
            "private10": ("http://10.20.30.40/live/master.m3u8", "private (10/8)"),
            "private192": ("http://192.168.1.20:8080/master.m3u8", "private (192.168/16)"),
            "metadata": ("http://169.254.169.254/latest/meta-data/", "cloud metadata address"),
            "mapped": ("http://[::ffff:169.254.169.254]/latest/meta-data/", "cloud metadata address"),
            "gce": ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata service name"),
        }
        channels = {name: ChannelConfig(name, url) for name, (url, _) in refused.items()}
        settings = Settings(data_dir=tmp_path, metrics_open=True).with_channels(channels)
        async with proxy(settings) as (base, http):
            for name, (_, reason) in refused.items():
                status, answer = await play(http, base, name)
                assert status == 502 and POLICY in answer["error"] and reason in answer["error"], (name, answer)
            assert await origin_errors(http, base) == {"refused": len(refused)}
    assert not origin.requests, "the loopback origin was never asked"


async def test_every_redirect_is_checked_and_an_allowed_one_followed(tmp_path: Path) -> None:
    origin = RawOrigin()
    async with origin.serve() as local:
        hops = {  # channel: (where its origin redirects to, what the refusal says; "" for an allowed one)
            "metadata": ("http://169.254.169.254/latest/meta-data/", "cloud metadata address"),
            "private": ("http://10.0.0.7/master.m3u8", "private (10/8)"),
            "file": ("file:///etc/passwd", "scheme 'file', expected http or https"),
            "credentials": (f"http://user:pw@{local.removeprefix('http://')}/master.m3u8", "credentials"),
            "loop": ("/loop.m3u8", "redirected more than 10 times"),
            "moved": ("/master.m3u8", ""),
        }
        for name, (target, _) in hops.items():
            origin.raw[f"/{name}.m3u8"] = redirect(target)
        channels = {name: ChannelConfig(name, f"{local}/{name}.m3u8") for name in hops}
        async with proxy(local_settings(data_dir=tmp_path, metrics_open=True).with_channels(channels)) as (base, http):
            for name, (_, reason) in hops.items():
                status, answer = await play(http, base, name)
                if not reason:
                    assert status == 200 and "manifestUrl" in answer, (name, answer)
                    continue
                assert status == 502 and reason in answer["error"], (name, answer)
                assert name == "loop" or POLICY + ": egress to" in answer["error"] and "(redirected)" in answer["error"]
            assert (await origin_errors(http, base)).get("refused") == 4
    assert origin.requests["/metadata.m3u8"] == 1 and origin.requests["/master.m3u8"] == 1


async def _channels(http: aiohttp.ClientSession, base: str) -> dict[str, str]:
    async with http.get(f"{base}/v1/ssai/channels") as answer:
        return {channel["name"]: channel["origin"] for channel in await answer.json()}


async def test_the_api_refuses_an_origin_the_policy_refuses_naming_the_field(tmp_path: Path) -> None:
    refused = {
        "http://127.0.0.1:8080/master.m3u8": "loopback (allow_loopback is off)",
        "http://[::1]/master.m3u8": "loopback",
        "http://localhost/master.m3u8": "loopback name",
        "http://10.0.0.1/master.m3u8": "private (10/8)",
        "http://192.168.1.1:81/master.m3u8": "private (192.168/16)",
        "http://169.254.169.254/latest/meta-data/": "cloud metadata address",
        "http://metadata.google.internal/master.m3u8": "cloud metadata service name",
    }
    async with proxy(Settings(data_dir=tmp_path), await api_key(tmp_path)) as (base, http):
        for url, reason in refused.items():
            async with http.post(f"{base}/v1/ssai/channels", json={"name": "news", "origin": url}) as answer:
                error = (await answer.json())["error"]
                assert answer.status == 400 and error.startswith(f"origin = {url!r}: {POLICY}") and reason in error
        assert await _channels(http, base) == {}, "nothing stored"
        named = "https://origin.invalid/live/master.m3u8"  # a name: checked on what it resolves to, at each fetch
        async with http.post(f"{base}/v1/ssai/channels", json={"name": "news", "origin": named}) as answer:
            assert answer.status == 201, await answer.text()
        metadata = {"origin": "http://169.254.169.254/latest/meta-data/"}
        async with http.put(f"{base}/v1/ssai/channels/news", json=metadata) as answer:
            assert answer.status == 400 and "origin = " in (await answer.json())["error"]
        assert await _channels(http, base) == {"news": named}, "the stored origin is unchanged"


async def test_private_origins_are_accepted_when_the_operator_allows_them_metadata_never(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, egress_allow_private=True)
    async with proxy(settings, await api_key(tmp_path)) as (base, http):
        body = {"name": "lan", "origin": "http://10.0.0.1/master.m3u8"}
        async with http.post(f"{base}/v1/ssai/channels", json=body) as answer:
            assert answer.status == 201, await answer.text()
        body = {"name": "meta", "origin": "http://169.254.169.254/master.m3u8"}
        async with http.post(f"{base}/v1/ssai/channels", json=body) as answer:
            assert answer.status == 400 and "never allowed" in (await answer.json())["error"]
