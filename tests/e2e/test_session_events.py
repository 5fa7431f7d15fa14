"""A session's event log through the demo (real uvicorn, origin, ad server): two sessions play the same break at
once, one to its end and one leaving after its first ad segment; each log lists exactly the beacons the demo ad
server received for that session (its beacon URLs carry the session's id), with their outcome."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from typing import Any

import aiohttp
import pytest

from proxy.hls.playlist import parse_media

PLAY_DEADLINE = 90.0  # seconds to get through one break (a 6 s break every 12 s: about 20 s are needed)


async def _session(http: aiohttp.ClientSession, base: str) -> str:
    async with http.post(f"{base}/v1/ssai/session/demo/main.m3u8", json={}) as response:
        assert response.status == 200, await response.text()
        return str((await response.json())["trackingUrl"]).rsplit("/", 1)[1]


async def _play_one_break(http: aiohttp.ClientSession, base: str, sid: str, *, stop_after: int = 99) -> int:
    """Poll v0 like a player and ask for each new ad segment once (the 302 fires its beacons), until a break's
    ad segments are followed by content again; stop asking after `stop_after` ad segments. Ad segments asked."""
    seen: set[str] = set()
    deadline = time.monotonic() + PLAY_DEADLINE
    while time.monotonic() < deadline:
        async with http.get(f"{base}/v1/ssai/media/demo/{sid}/v0.m3u8") as response:
            assert response.status == 200, await response.text()
            uris = [segment.uri for segment in parse_media(await response.read()).segments]
        for uri in (u for u in uris if u.startswith("seg/") and u not in seen):
            if len(seen) < stop_after:
                async with http.get(f"{base}/v1/ssai/media/demo/{sid}/{uri}", allow_redirects=False) as response:
                    assert response.status == 302, await response.text()
            seen.add(uri)
        if seen and not any(u.startswith("seg/") for u in uris[-2:]):
            return min(len(seen), stop_after)
        await asyncio.sleep(0.7)
    raise AssertionError(f"session {sid}: no break played through in {PLAY_DEADLINE:g} s (ad segments {seen})")


async def _settled_events(http: aiohttp.ClientSession, base: str, sid: str) -> dict[str, Any]:
    """The session's event log once nothing in it is queued or being retried (or 30 s passed)."""
    deadline = time.monotonic() + 30
    while True:
        async with http.get(f"{base}/v1/ssai/tracking/demo/{sid}/events") as response:
            assert response.status == 200, await response.text()
            document: dict[str, Any] = await response.json()
        if time.monotonic() > deadline or all(e["outcome"] not in ("queued", "retrying") for e in document["events"]):
            return document
        await asyncio.sleep(0.3)


def _received(beacons: list[dict[str, Any]], sid: str) -> Counter[tuple[str, str]]:
    """What the demo ad server received for session `sid`: (event, creative id; the ad's id for an Error URL)."""
    tag_sid = str(uuid.UUID(hex=sid))  # the ad tag's [session.uuid]
    hits = [hit for hit in beacons if hit["params"].get("sid") == tag_sid]
    return Counter((hit["event"], hit["params"]["ad" if hit["event"] == "error" else "creative"]) for hit in hits)


@pytest.mark.slow
async def test_each_session_lists_exactly_its_own_beacons(demo_server: str) -> None:
    async with aiohttp.ClientSession() as http:
        whole, left = await _session(http, demo_server), await _session(http, demo_server)
        asked = await asyncio.gather(
            _play_one_break(http, demo_server, whole), _play_one_break(http, demo_server, left, stop_after=1)
        )
        logs = {sid: await _settled_events(http, demo_server, sid) for sid in (whole, left)}
        async with http.get(f"{demo_server}/demo/ads/beacons") as response:
            beacons = await response.json()
    assert asked[0] >= 2 and asked[1] == 1, asked
    for sid, log in logs.items():
        assert (log["session"], log["channel"], log["firedBy"], log["dropped"]) == (sid, "demo", "proxy", 0)
        assert {e["outcome"] for e in log["events"]} == {"fired"}, log
        logged = Counter((e["event"], e["adId"]) for e in log["events"])
        assert logged == _received(beacons, sid), f"session {sid}: its log against what its ad server received"
    events_of = {sid: Counter(e["event"] for e in log["events"]) for sid, log in logs.items()}
    left_events = events_of[left]  # the events due at an ad's first segment (a short one reaches its first quarter)
    assert left_events["impression"] == left_events["start"] == 1 and not left_events["complete"], left_events
    assert left_events.keys() <= {"impression", "start", "firstQuartile"}, left_events
    ads = {e["adId"] for e in logs[whole]["events"]}
    assert events_of[whole]["complete"] >= 1 and events_of[whole]["impression"] == len(ads), events_of[whole]
    assert all(e["break"] and e["time"].endswith("Z") for log in logs.values() for e in log["events"])
