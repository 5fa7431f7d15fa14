"""`/metrics` in the Prometheus text format (proxy/web/telemetry.py), read with prometheus_client's own parser: the
playlist, origin fetch and ad decision histograms count what happened, and the counters agree with the JSON view
(`/v1/ssai/stats`) they are brought from: sessions made, decisions, ads chosen and skip reasons per channel. The
sum over `serve --workers` processes is in tests/e2e/test_roles.py."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from proxy.demo.testing import FakeOrigin
from proxy.settings import ChannelConfig, Settings
from proxy.web.app import create_app
from proxy.web.telemetry import PLAYLIST_BUCKETS, BucketCounts
from tests.servers import free_port, run_server


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample by (name, sorted labels)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_histograms_and_counters_say_what_happened(tmp_path: Path) -> None:
    origin, origin_port = FakeOrigin(td=2, window=6, every=8, break_segments=4), free_port()
    base_origin = f"http://127.0.0.1:{origin_port}"
    channel = ChannelConfig("news", f"{base_origin}/master.m3u8", ad_tag=f"{base_origin}/vast?sid=[session.id]")
    settings = Settings(data_dir=tmp_path, egress_allow_loopback=True, metrics_open=True)
    with (
        run_server(origin.app, origin_port),
        run_server(create_app(settings.with_channels({"news": channel})), free_port()) as base,
    ):
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/v1/ssai/session/news/main.m3u8") as response:
                sid = str((await response.json())["manifestUrl"]).rsplit("=", 1)[1]
            requests, deadline, body = 0, time.monotonic() + 60, ""
            while "seg/" not in body and time.monotonic() < deadline:
                async with http.get(f"{base}/v1/ssai/media/news/{sid}/v0.m3u8") as response:
                    body, requests = await response.text(), requests + 1
                await asyncio.sleep(0.5)
            assert "seg/" in body, "no break with ads within 60 s"
            async with http.get(f"{base}/metrics") as response:
                assert response.status == 200 and response.headers["content-type"].startswith("text/plain")
                found = samples(await response.text())
            async with http.get(f"{base}/v1/ssai/stats") as response:
                stats = await response.json()
    news = (("channel", "news"),)
    assert found[("ssai_playlist_request_seconds_count", ())] == requests
    assert found[("ssai_origin_fetch_seconds_count", ())] >= 2  # the master and the variant at least
    assert found[("ssai_ad_decision_seconds_count", ())] >= 1
    assert found[("ssai_sessions_created_total", news)] == 1 == stats["sessions_created"]["news"]
    assert found[("ssai_sessions", news)] == 1
    assert found[("ssai_ads_chosen_total", news)] == stats["decisions"]["ads_chosen"] >= 1
    assert found[("ssai_decisions_total", news)] == stats["decisions"]["decisions"]
    skips = {dict(labels)["reason"]: n for (name, labels), n in found.items() if name == "ssai_skips_total"}
    assert skips == {key: n for key, n in stats["decisions"].items() if key.isupper()}


def test_bucket_counts_land_where_histogram_observe_puts_them() -> None:
    """The hot path's BucketCounts, once flushed, expose what Histogram.observe would have (bounds included)."""
    values = [0.0, 0.0005, 0.0004, 0.001, 0.0011, 0.3, 2.5, 2.6, 100.0, *[i / 997 for i in range(300)]]
    exposed = []
    for counted in (False, True):
        registry = CollectorRegistry()
        histogram = Histogram("latency_seconds", "", buckets=PLAYLIST_BUCKETS, registry=registry)
        buckets = BucketCounts(histogram, PLAYLIST_BUCKETS)
        for value in values:
            (buckets.observe if counted else histogram.observe)(value)
        buckets.flush()
        buckets.flush()  # a second flush adds nothing
        exposed.append([line for line in generate_latest(registry).splitlines() if b"_created" not in line])
    assert exposed[0] == exposed[1] and any(b'le="2.5"} ' in line for line in exposed[1])
