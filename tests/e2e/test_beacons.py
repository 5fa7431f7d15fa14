"""Server-side beacons through real uvicorn servers: server-side beacons fire on ad segment requests (each event once
per session and ad, in order, whatever variant asked, with the viewer's identity), nothing fires for playlists,
client-side reporting fires nothing and hands every event to the tracking API once; a failing or slow beacon
endpoint is retried a bounded number of times and never slows the redirects; a flood larger than the queue is
dropped with a count. Each session's event log (`…/tracking/{channel}/{session}/events`) lists its beacons with
their outcomes, the newest kept past its cap and the rest counted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from proxy.demo.testing import FakeOrigin
from proxy.hls.playlist import parse_media
from proxy.net.adserver import AdServerClient
from proxy.net.origin import HttpClient, new_session
from proxy.playback.beacons import BeaconQueue
from proxy.settings import ChannelConfig
from proxy.web.app import create_app
from tests.hls.invariants import check_track, check_tracks_agree
from tests.servers import LOCAL_POLICY, free_port, local_settings, run_server

TD = 2
NO_EDGE = 10**9
ORDER = ["impression", "impression2", "start", "firstQuartile", "midpoint", "thirdQuartile", "complete"]
SEGMENT_OF = {
    "impression": 0,
    "impression2": 0,
    "start": 0,
    "firstQuartile": 1,
    "midpoint": 2,
    "thirdQuartile": 3,
    "complete": 3,
}  # fmt: skip  (4 segments of 2 s: 25 % = 2 s, 50 % = 4 s, 75 % = 6 s)
TEMPLATES = ["tpl-on_load", "tpl-ad_break_start", *["tpl-ad_quartiles"] * 3, "tpl-ad_complete", "tpl-ad_break_end"]
VIEWER = {"X-Forwarded-For": "203.0.113.7", "User-Agent": "viewer-agent/1.0"}


@dataclass
class Rig:
    origin: FakeOrigin
    base: str


@pytest.fixture
def rig(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Rig]:
    """The fake origin and ad server, and the proxy; `@pytest.mark.parametrize("rig", ["vmap"], indirect=True)`
    makes the ad server answer VMAP with break tracking ("segments": segment templates, "cap": 3 logged events,
    "refused": an on_load template the egress policy refuses)."""
    param = getattr(request, "param", "")
    query = "&mode=vmap" if param == "vmap" else ""
    kinds: tuple[str, ...] = ("on_load", "ad_break_start", "ad_quartiles", "ad_complete", "ad_break_end")
    if param == "segments":  # these need content requests: content segments go through the proxy then
        kinds = ("content_start", "segment_start", "segment_end")
    origin = FakeOrigin(td=TD, window=6, every=6, break_segments=4)
    origin_port = free_port()
    origin_url = f"http://127.0.0.1:{origin_port}"
    templates = tuple((kind, f"{origin_url}/beacon/tpl-{kind}?sid={{{{session.session_id}}}}") for kind in kinds)
    if param == "refused":  # a private address: the egress policy refuses it before any connection
        templates = (("on_load", "http://10.0.0.1/beacon/on_load"),)
    channel = ChannelConfig(
        "fake",
        origin=f"{origin_url}/master.m3u8",
        ad_tag=f"{origin_url}/vast?sid=[session.uuid]{query}",
        beacon_templates=templates,  # Video Cloud SSAI API beacon_templates
        ad_headers={"X-Custom-Beacon": "s-{{session.session_id}}"},  # Brightcove Live API custom headers…
        ad_headers_for_impressions=True,  # … on the impressions too
    )
    cap = 3 if param == "cap" else 100  # `cap`: a session's event log keeps 3 beacons
    settings = local_settings(data_dir=tmp_path, session_events=cap, metrics_open=True).with_channels({"fake": channel})
    with run_server(origin.app, origin_port), run_server(create_app(settings), free_port()) as base:
        yield Rig(origin, base)


async def _session(http: aiohttp.ClientSession, base: str, mode: str = "server") -> str:
    async with http.post(f"{base}/v1/ssai/session/fake/main.m3u8?reportingMode={mode}", headers=VIEWER) as response:
        assert response.status == 200, await response.text()
        return str((await response.json())["manifestUrl"]).rsplit("=", 1)[1]


async def _playlist(http: aiohttp.ClientSession, base: str, sid: str, track: str) -> bytes:
    async with http.get(f"{base}/v1/ssai/media/fake/{sid}/{track}.m3u8") as response:
        assert response.status == 200
        return await response.read()


async def _redirect(http: aiohttp.ClientSession, url: str) -> tuple[str, float]:
    sent = time.monotonic()
    async with http.get(url, allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        return response.headers["Location"], time.monotonic() - sent


async def _play(rig: Rig, sid: str, http: aiohttp.ClientSession, *, stop_after: int = 99) -> dict[str, Any]:
    """Poll like a player for one break; request each new ad segment once, switching variant every segment
    (v0, v1, v0, …) and the audio rendition too; stop requesting after `stop_after` ad segments."""
    outputs: dict[str, list[bytes]] = {"v0": [], "v1": [], "a0": []}
    locations: dict[str, str] = {}
    latencies: list[float] = []
    requested = 0
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        for track in outputs:
            outputs[track].append(await _playlist(http, rig.base, sid, track))
        segments = [s.uri for s in parse_media(outputs["v0"][-1]).segments]
        for uri in (u for u in segments if u.startswith("seg/") and u not in locations):
            track = ("v0", "v1")[requested % 2]
            if requested < stop_after:
                for name in (track, "a0"):
                    url = f"{rig.base}/v1/ssai/media/fake/{sid}/{uri.replace('seg/v0/', f'seg/{name}/')}"
                    location, latency = await _redirect(http, url)
                    latencies.append(latency)
                    assert "/ad/" in location
            locations[uri] = uri
            requested += 1
        if requested >= 4 and not any(u.startswith("seg/") for u in segments[-2:]):
            break
        await asyncio.sleep(TD / 2)
    return {"outputs": outputs, "requested": requested, "latencies": latencies}


async def _events(http: aiohttp.ClientSession, base: str, sid: str, *, settled: bool = True) -> dict[str, Any]:
    """The session's event log; with `settled`, once no beacon is queued or being retried (or 20 s passed)."""
    deadline = time.monotonic() + 20
    while True:
        async with http.get(f"{base}/v1/ssai/tracking/fake/{sid}/events") as response:
            assert response.status == 200, await response.text()
            document: dict[str, Any] = await response.json()
        busy = [e for e in document["events"] if e["outcome"] in ("queued", "retrying")]
        if not settled or not busy or time.monotonic() > deadline:
            return document
        await asyncio.sleep(0.2)


async def _play_a_break(rig: Rig) -> tuple[str, dict[str, Any], list[tuple[str, str, dict[str, str]]], dict[str, Any]]:
    """A server-side session played through a break: its id, what `_play` saw, the beacons received, its log."""
    async with aiohttp.ClientSession() as http:
        sid = await _session(http, rig.base)
        played = await _play(rig, sid, http)
        every = await _beacons(rig.origin, len(ORDER) + len(TEMPLATES))
        return sid, played, every, await _events(http, rig.base, sid)


async def _beacons(origin: FakeOrigin, count: int, seconds: float = 10) -> list[tuple[str, str, dict[str, str]]]:
    deadline = time.monotonic() + seconds
    while len(origin.beacons) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # anything more would be a duplicate
    return list(origin.beacons)


@pytest.mark.slow
async def test_a_played_break_fires_each_event_once_in_order_with_the_viewers_identity(rig: Rig) -> None:
    sid, played, every, log = await _play_a_break(rig)
    assert played["requested"] == 4
    assert (log["firedBy"], log["dropped"], log["session"]) == ("proxy", 0, sid)
    logged = sorted((e["event"], e["outcome"]) for e in log["events"])
    assert logged == sorted((event.removeprefix("tpl-").removesuffix("2"), "fired") for event, _q, _h in every), log
    assert {e["adId"] for e in log["events"] if e["event"] == "complete"} == {"fake-creative"}
    received = [hit for hit in every if not hit[0].startswith("tpl-")]
    templates = [(event, query) for event, query, _headers in every if event.startswith("tpl-")]
    assert sorted(event for event, _query in templates) == sorted(TEMPLATES), templates
    assert all(query == f"sid={sid}" for _event, query in templates), "templates rendered with the ad tag variables"
    events = [event for event, _query, _headers in received]
    assert sorted(events, key=ORDER.index) == ORDER, f"each event exactly once: {events}"
    positions = [SEGMENT_OF[event] for event in events]
    assert positions == sorted(positions), f"events in playback order: {events}"
    for event, query, headers in received:
        assert headers["x-device-ip"] == "203.0.113.7" and headers["x-device-user-agent"] == "viewer-agent/1.0"
        assert headers["x-custom-beacon"] == f"s-{sid}", f"{event}: ad_configuration_headers_for_impressions"
        assert "[TIMESTAMP]" not in query, f"{event}: macros expanded"
    per_track = {t: check_track(b, TD, [], [NO_EDGE] * len(b), _seg_identity) for t, b in played["outputs"].items()}
    check_tracks_agree(per_track)


def _seg_identity(uri: str) -> str:
    """Redirect URIs name the break item; the same item in every track is the same ad segment."""
    if uri.startswith("seg/"):
        _seg, _track, brk, item = uri.split("/")
        return f"ad:{brk}:{item.partition('.')[0]}"
    return f"content:c{uri.rsplit('/', 1)[1].removesuffix('.ts')}"


@pytest.mark.slow
@pytest.mark.parametrize("rig", ["vmap"], indirect=True)
async def test_vmap_break_start_and_end_fire_once_with_the_first_and_last_ad_segments(rig: Rig) -> None:
    async with aiohttp.ClientSession() as http:
        sid = await _session(http, rig.base)
        played = await _play(rig, sid, http)
    assert played["requested"] == 4
    every = await _beacons(rig.origin, len(ORDER) + len(TEMPLATES) + 2)
    events = [event for event, _query, _headers in every if not event.startswith("tpl-")]
    assert sorted(events) == sorted([*ORDER, "breakStart", "breakEnd"]), events
    assert events.index("breakStart") < events.index("firstQuartile") < events.index("breakEnd")


@pytest.mark.slow
async def test_a_viewer_who_leaves_after_the_first_ad_segment_counts_impression_and_start_only(rig: Rig) -> None:
    async with aiohttp.ClientSession() as http:
        sid = await _session(http, rig.base)
        played = await _play(rig, sid, http, stop_after=1)
        assert played["requested"] >= 1
        received = await _beacons(rig.origin, 5)
        assert sorted(event for event, _q, _h in received) == [
            "impression", "impression2", "start", "tpl-ad_break_start", "tpl-on_load",
        ]  # fmt: skip
        async with http.get(f"{rig.base}/v1/ssai/stats") as response:
            metrics = await response.json()
    assert metrics["beacon_events"] == {"impression": 2, "start": 1, "on_load": 1, "ad_break_start": 1}


@pytest.mark.slow
async def test_client_side_reporting_fires_nothing_and_lists_every_event_once(rig: Rig) -> None:
    seen: list[tuple[str, str]] = []
    handed: list[tuple[str, str]] = []  # one per beacon URL
    async with aiohttp.ClientSession() as http:
        sid = await _session(http, rig.base, "client")
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and len(seen) < 7:
            body = await _playlist(http, rig.base, sid, "v0")
            assert b"seg/" not in body, "client mode: ad segments point straight at the ad assets"
            async with http.get(f"{rig.base}/v1/ssai/tracking/fake/{sid}") as response:
                document = await response.json()
            for avail in document["avails"]:
                for ad in avail["ads"]:
                    seen += [(ad["adId"], event["eventType"]) for event in ad["trackingEvents"]]
                    handed += [(ad["adId"], e["eventType"]) for e in ad["trackingEvents"] for _url in e["beaconUrls"]]
                    assert all(event["beaconUrls"] and "startTimeInSeconds" in event for event in ad["trackingEvents"])
            await asyncio.sleep(TD / 2)
    assert sorted(event for _ad, event in seen) == sorted(
        ["impression", "start", "firstQuartile", "midpoint", "thirdQuartile", "complete", "clickThrough"]
    ), seen
    assert len(seen) == len(set(seen)), "an event is never returned twice"
    await asyncio.sleep(1)
    assert rig.origin.beacons == [], "the server fired nothing"
    async with aiohttp.ClientSession() as http:
        log = await _events(http, rig.base, sid)
    assert log["firedBy"] == "player" and {e["outcome"] for e in log["events"]} == {"listed"}, log
    listed = [(e["adId"], e["event"]) for e in log["events"]]
    assert sorted(listed) == sorted(handed), "each beacon URL the tracking document handed over, listed once"


@pytest.mark.slow
async def test_a_failing_beacon_endpoint_leaves_playback_alone(rig: Rig) -> None:
    rig.origin.beacon_mode = "error"
    async with aiohttp.ClientSession() as http:
        sid = await _session(http, rig.base)
        played = await _play(rig, sid, http)  # every ad segment answered 302 (asserted in _redirect)
        assert played["requested"] == 4
        deadline = time.monotonic() + 20
        while True:
            async with http.get(f"{rig.base}/v1/ssai/stats") as response:
                counts = (await response.json())["beacons"]
            if counts.get("failed", 0) >= len(ORDER) + len(TEMPLATES) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    # Each of the 14 beacons (7 VAST, 7 templates): one try and 2 retries against the 500s, then failed.
    beacons = len(ORDER) + len(TEMPLATES)
    assert (counts.get("fired", 0), counts["retried"], counts["failed"]) == (0, 2 * beacons, beacons), counts
    assert len(rig.origin.beacons) == 3 * beacons
    async with aiohttp.ClientSession() as http:
        log = await _events(http, rig.base, sid)
    assert [e["outcome"] for e in log["events"]] == ["failed"] * beacons, log


@pytest.mark.slow
@pytest.mark.parametrize("rig", ["cap"], indirect=True)
async def test_the_event_log_keeps_the_newest_beacons_and_counts_those_dropped(rig: Rig) -> None:
    _sid, played, _every, log = await _play_a_break(rig)
    assert played["requested"] == 4
    # The last ad segment queues thirdQuartile, its template, then complete, ad_complete and ad_break_end.
    assert [e["event"] for e in log["events"]] == ["complete", "ad_complete", "ad_break_end"], log
    assert (log["cap"], log["dropped"]) == (3, len(ORDER) + len(TEMPLATES) - 3)


@pytest.mark.parametrize("rig", ["refused"], indirect=True)
async def test_a_beacon_the_egress_policy_refuses_is_logged_refused_and_never_retried(rig: Rig) -> None:
    async with aiohttp.ClientSession() as http:
        sid = await _session(http, rig.base)  # on_load fires as the session starts
        log = await _events(http, rig.base, sid)
        async with http.get(f"{rig.base}/v1/ssai/stats") as response:
            counts = (await response.json())["beacons"]
    assert [(e["event"], e["adId"], e["break"], e["outcome"]) for e in log["events"]] == [
        ("on_load", None, None, "refused")
    ], log
    assert counts == {"refused": 1}, "one try, no retry: a refusal is final"


async def test_an_unknown_session_has_no_event_log(rig: Rig) -> None:
    async with aiohttp.ClientSession() as http:
        sid = await _session(http, rig.base)
        for channel, session in (("fake", "f" * 32), ("other", sid)):
            async with http.get(f"{rig.base}/v1/ssai/tracking/{channel}/{session}/events") as response:
                assert response.status == 404
                answer = await response.json()
            assert answer == {"error": f"session {session!r} does not exist or has expired"}


async def _queue(origin_url: str, **options: Any) -> tuple[BeaconQueue, aiohttp.ClientSession]:
    http = new_session(LOCAL_POLICY)
    client = AdServerClient(HttpClient(http, max_bytes=1024), LOCAL_POLICY, concurrency=64)
    return BeaconQueue(client, **options), http


@pytest.mark.parametrize(("mode", "timeout"), [("error", 3.0), ("timeout", 0.3)])
async def test_5xx_and_timeouts_are_retried_a_bounded_number_of_times(mode: str, timeout: float) -> None:
    origin = FakeOrigin()
    origin.beacon_mode = mode
    with run_server(origin.app, free_port()) as url:
        queue, http = await _queue(url, retries=2, timeout=timeout, backoff=0.01)
        for n in range(3):
            queue.fire(f"{url}/beacon/start?n={n}", {}, "start")
        await asyncio.wait_for(queue.drain(), 20)
        await queue.close()
        await http.close()
    assert len(origin.beacons) == 9, "3 beacons × (1 try + 2 retries)"
    assert (queue.counts["fired"], queue.counts["retried"], queue.counts["failed"]) == (0, 6, 3)


async def test_a_4xx_is_not_retried_and_a_success_is_counted_by_event() -> None:
    origin = FakeOrigin()
    with run_server(origin.app, free_port()) as url:
        queue, http = await _queue(url, retries=2, backoff=0.01)
        queue.fire(f"{url}/nothing-here", {}, "start")
        queue.fire(f"{url}/beacon/midpoint", {}, "midpoint")
        await asyncio.wait_for(queue.drain(), 20)
        await queue.close()
        await http.close()
    assert (queue.counts["fired"], queue.counts["retried"], queue.counts["failed"]) == (1, 0, 1)
    assert dict(queue.events) == {"midpoint": 1}


async def test_a_flood_larger_than_the_queue_is_dropped_with_a_count() -> None:
    origin = FakeOrigin()
    with run_server(origin.app, free_port()) as url:
        queue, http = await _queue(url, workers=2, maxsize=50, retries=0)
        for n in range(1000):
            queue.fire(f"{url}/beacon/impression?n={n}", {}, "impression")
        assert queue.counts["dropped"] == 1000 - 50
        await asyncio.wait_for(queue.drain(), 30)
        queue.fire(f"{url}/beacon/start", {}, "start")  # still serving after the flood
        await asyncio.wait_for(queue.drain(), 10)
        await queue.close()
        await http.close()
    assert queue.counts["fired"] == 51 and len(origin.beacons) == 51


@pytest.mark.parametrize("rig", ["segments"], indirect=True)
async def test_segment_templates_route_content_through_the_proxy_and_fire_per_segment(rig: Rig) -> None:
    async with aiohttp.ClientSession() as http:
        sid = await _session(http, rig.base)
        body = await _playlist(http, rig.base, sid, "v0")
        uris = [segment.uri for segment in parse_media(body).segments]
        assert uris and all(uri.startswith("cseg/v0/") for uri in uris), uris
        for uri in uris[-3:]:
            for track in ("v0", "v1", "a0"):  # every rendition of one segment is one segment_start
                location, _latency = await _redirect(
                    http, f"{rig.base}/v1/ssai/media/fake/{sid}/{uri.replace('/v0/', f'/{track}/')}"
                )
                msn = uri.rsplit("/", 1)[1]
                assert location.startswith("http://127.0.0.1") and location.endswith(f"/{msn}"), location
        async with http.get(f"{rig.base}/v1/ssai/media/fake/{sid}/cseg/v0/99999.ts", allow_redirects=False) as response:
            assert response.status == 404 and "expected one of" in (await response.json())["error"]
    received = await _beacons(rig.origin, 6)
    events = sorted(event for event, _query, _headers in received)
    assert events == sorted(["tpl-content_start", *["tpl-segment_start"] * 3, *["tpl-segment_end"] * 2]), events
