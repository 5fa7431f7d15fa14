"""A URL the egress policy refuses is final and counted as refused: never retried (beacons), never counted as
an ad server request, and a decision whose ad tag is refused is skipped as EGRESS_REFUSED. Refused before any
connection: the documentation range 192.0.2.0/24 by its literal address, and a name whose resolution gives
only loopback addresses (the resolver is the edge faked here: a name no real DNS answers)."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from proxy.demo.testing import FakeOrigin
from proxy.errors import FetchRefused
from proxy.net.adserver import AdServerClient
from proxy.net.egress import EgressPolicy
from proxy.net.origin import HttpClient, new_session
from proxy.playback.beacons import BeaconQueue
from proxy.settings import ChannelConfig
from proxy.web.app import create_app
from tests.servers import free_port, local_settings, run_server

REFUSED = "192.0.2.1"  # TEST-NET-1 (RFC 5737): refused always, before connecting
GIVE_UP = 60.0  # a safety net for a proxy that never decides a break, not a timing expectation


async def json_of(http: aiohttp.ClientSession, method: str, url: str) -> Any:
    async with http.request(method, url) as answer:
        assert answer.status == 200, await answer.text()
        return await answer.json()


async def test_a_refused_ad_tag_and_beacon_are_final_and_counted_refused(tmp_path: Path) -> None:
    origin = FakeOrigin(td=1, every=4, break_segments=2, epoch=time.time() - 3)
    origin_port, port = free_port(), free_port()
    with run_server(origin.app, origin_port) as origin_base:
        channel = ChannelConfig(
            "refused",
            f"{origin_base}/master.m3u8",
            ad_tag=f"http://{REFUSED}/vast?sid=[session.uuid]",
            beacon_templates=(("on_load", f"http://{REFUSED}/load"),),
        )
        settings = local_settings(port=port, data_dir=tmp_path, metrics_open=True, beacon_retries=2)
        with run_server(create_app(settings.with_channels({"refused": channel})), port) as base:
            async with aiohttp.ClientSession() as http:
                urls = await json_of(http, "POST", f"{base}/v1/ssai/session/refused/main.m3u8")
                session = urls["manifestUrl"].rsplit("=", 1)[1]
                deadline = time.monotonic() + GIVE_UP
                metrics = await json_of(http, "GET", f"{base}/v1/ssai/stats")
                while "EGRESS_REFUSED" not in metrics["decisions"] and time.monotonic() < deadline:
                    async with http.get(f"{base}/v1/ssai/media/refused/{session}/v0.m3u8") as answer:
                        assert answer.status == 200
                    await asyncio.sleep(0.5)
                    metrics = await json_of(http, "GET", f"{base}/v1/ssai/stats")
    assert metrics["beacons"] == {"refused": 1}, "tried once: no retry, not a failure"
    decided = metrics["decisions"]["EGRESS_REFUSED"]
    assert decided >= 1 and "ADS_ERROR" not in metrics["decisions"]
    assert metrics["ad_server_refused"] == {REFUSED: decided + 1}  # the ad requests and the beacon
    assert REFUSED not in metrics["ad_server_requests"]


class LoopbackResolver(AbstractResolver):
    """DNS at the edge: every name resolves to 127.0.0.1 (as `localhost` does)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        self.asked.append(host)
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET, "proto": 0, "flags": 0}]

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("kind", ["ad request", "beacon"])
async def test_a_name_resolving_to_loopback_is_refused_once_and_counted(kind: str) -> None:
    policy = EgressPolicy(allow_loopback=False)
    resolver = LoopbackResolver()
    async with new_session(policy, resolver=resolver) as http:
        ads = AdServerClient(HttpClient(http, max_bytes=1024), policy, concurrency=4)
        url = "http://ads.example.test/vast"
        if kind == "ad request":
            with pytest.raises(FetchRefused, match="resolves to 127.0.0.1 .loopback"):
                await ads.get(url, timeout=5.0)
        else:
            beacons = BeaconQueue(ads, workers=1, retries=2, backoff=0.0)
            beacons.fire(url, event="impression")
            await beacons.drain()
            await beacons.close()
            assert beacons.counts == {"refused": 1}
    assert resolver.asked == ["ads.example.test"], "asked once: never tried again"
    assert (dict(ads.requests), dict(ads.refused)) == ({}, {"ads.example.test": 1})
