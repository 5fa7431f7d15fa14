"""The beacon guard and the file-channel round trip through the store (proxy/playback/impressions.py,
control/channelstore.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from proxy.ads.models import Ad
from proxy.control.channelstore import StoredChannel, build_config, file_document
from proxy.demo.testing import LOCAL_POLICY
from proxy.hls.breaks import Break
from proxy.hls.cues import Cue
from proxy.hls.fill import Creative, Fill, FillPlan
from proxy.net.origin import HttpClient, new_session
from proxy.playback.service import Service
from proxy.playback.sessions import Client, Decided, Session
from proxy.settings import ChannelConfig, Settings, Transform

# Refused by the default egress policy (no loopback), so each queued beacon is counted as refused at once.
BEACON = "http://127.0.0.1:9/beacon"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _session_with_an_ad() -> tuple[Session, str]:
    brk = Break(10, 0.0, 0.0, 8.0, True, Cue("out", "cue-out", 8.0), None, None, None)
    durations = (2.0, 2.0, 2.0, 2.0)
    creative = Creative("c", durations, {"v0": tuple(f"https://ads.test/{i}.ts" for i in range(4))}, {"v0": durations})
    fill = Fill(brk, FillPlan("k|redirect", (creative,), None, redirect=True))
    ad = Ad("a", None, "sys", "t", "c", 8.0, (), impressions=(f"{BEACON}/i",), tracking=(("start", f"{BEACON}/s"),))
    session = Session("ch", 0, 0.0, {}, 1e9)
    session.client = Client("203.0.113.7", "agent", "")
    session.server_beacons = True
    session.decide(brk.id, brk.start_msn, Decided(fill, (ad,)))
    return session, brk.id


async def _fired(service: Service, config: ChannelConfig, session: Session, brk: str) -> int:
    assert await service.impressions.segment(config, session, "v0", brk, 0) == "https://ads.test/0.ts"
    await asyncio.wait_for(service.beacons.drain(), 10)
    return service.beacons.counts["refused"]


async def test_an_event_fires_once_within_the_guard_ttl_and_again_after_it(tmp_path: Path) -> None:
    clock = Clock()
    config = ChannelConfig("ch", origin="https://origin.test/master.m3u8")
    async with new_session(LOCAL_POLICY) as http:
        service = Service(
            Settings(data_dir=tmp_path, beacon_guard_ttl=60.0), HttpClient(http, max_bytes=1024), clock=clock
        )
        service.decisions.configure(config)
        session, brk = _session_with_an_ad()
        assert await _fired(service, config, session, brk) == 2  # impression + start
        clock.now = 30.0
        assert await _fired(service, config, session, brk) == 2, "a repeated request within the TTL fires nothing"
        clock.now = 61.0
        assert await _fired(service, config, session, brk) == 4, "after the TTL the events may fire again"
        extended = replace(config, extend_beacon_guard_ttl=True)
        clock.now = 10_000.0
        assert await _fired(service, extended, session, brk) == 4, "extend_beacon_guard_ttl: the session's life"
        await service.close()


def test_a_file_channel_survives_the_store_unchanged() -> None:
    config = ChannelConfig(
        name="news",
        origin="https://origin.test/master.m3u8",
        ad_tag="https://ads.test/vast?sid=[session.id]",
        slate="/srv/slates/brb.mp4",
        ad_headers={"X-Custom": "{{random.int32}}"},
        ad_headers_for_impressions=True,
        ad_defaults={"genre": "news"},
        ad_response="vmap",
        ad_transforms=(Transform("/", "<xsl:stylesheet/>"),),
        server_beacons=False,
        extend_beacon_guard_ttl=True,
        beacon_templates=(("on_load", "https://beacons.test/load"),),
        ad_description="News ads",
        metadata={"video_id": "7", "custom_fields.genre": "news"},
    )
    now = datetime.now(UTC)
    stored = StoredChannel("news", "default", file_document(config), now, now)
    built = build_config(stored, {}, {})
    assert built.version and built.account_id == "default"
    assert replace(built, version="", account_id="") == config
