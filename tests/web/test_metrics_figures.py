"""`/metrics` gathers each part's own figures (figures()) under the keys it has always answered."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from proxy.settings import ChannelConfig, Settings
from proxy.web.app import create_app

KEYS = [
    "sessions",
    "sessions_created",
    "session_store",
    "beacon_journal",
    "decision_flights",
    "origin_requests",
    "origin_errors",
    "ad_server_requests",
    "ad_server_requests_shared",
    "ad_server_refused",
    "beacons",
    "beacon_events",
    "clicks",
    "jobs",
    "job_leases",
    "job_requests",
    "timelines",
    "decisions",
    "breaks_clamped",
    "channels",
]


def test_the_counters_keep_their_keys_and_an_idle_channel_its_zeros(tmp_path: Path) -> None:
    channel = ChannelConfig("idle", "http://origin.invalid/master.m3u8")
    settings = Settings(data_dir=tmp_path, metrics_open=True, channels={"idle": channel})
    with TestClient(create_app(settings)) as client:
        counters = client.get("/v1/ssai/stats").json()
    assert list(counters) == KEYS
    assert (counters["sessions"], counters["origin_requests"], counters["ad_server_requests_shared"]) == (0, 0, 0)
    assert counters["channels"] == {"idle": {"breaks": 0, "sessions": 0, "tracks": []}}
