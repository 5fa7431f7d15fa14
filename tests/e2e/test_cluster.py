"""Two `ssai-proxy serve` processes on one Redis, as two edges behind a load balancer: a player whose requests
alternate between them sees one session (the same segments under the same numbers, the same ads), every playlist
invariant holds across the switch and across a kill -9 and restart of one of them (mid-break, and after a break
it played left the origin's window), the ad server is asked once a break and each ad beacon fires exactly once
(counted at the test's ad server). Needs Redis (tests/redisdb.py)."""

from __future__ import annotations

import aiohttp
import pytest

from proxy.hls.playlist import parse_media
from tests.e2e.cluster import AD_EVENTS, NO_EDGE, TD, Cluster, beacons_received, bursts, play, seg_identity, tracked
from tests.hls.invariants import check_track


@pytest.mark.slow
async def test_a_player_alternating_between_two_edges_sees_one_session_through_restarts(cluster: Cluster) -> None:
    one, two = cluster.edges
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{one.base}/v1/ssai/session/fake/main.m3u8") as response:
            assert response.status == 200, await response.text()
            sid = str((await response.json())["manifestUrl"]).rsplit("=", 1)[1]
        played = await play(http, cluster, sid, breaks=2, restart=two)
        await tracked(http, cluster, sid, restarts=2)  # what the restarted edge has not listed yet
        got = await beacons_received(cluster.origin, len(AD_EVENTS) * len(played))
        async with http.get(f"{two.base}/v1/ssai/tracking/fake/{sid}") as response:
            assert response.status == 200, "the restarted edge serves the session's tracking API"
    check_track(cluster.outputs, TD, [], [NO_EDGE] * len(cluster.outputs), seg_identity)
    assert {event: got[event] for event in AD_EVENTS} == dict.fromkeys(AD_EVENTS, len(played)), got
    assert_avails_on_one_timeline(cluster)
    # Both edges serve the session, so both prefetch its (personal) decision: the ad server is asked once a break.
    groups = bursts(cluster.origin.vast_times)
    assert len(groups) >= len(played) and all(len(burst) == 1 for burst in groups), groups


@pytest.mark.slow
async def test_a_session_made_on_one_edge_plays_on_the_other_and_a_stranger_is_404(cluster: Cluster) -> None:
    one, two = cluster.edges
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{one.base}/v1/ssai/session/fake/main.m3u8") as response:
            manifest = str((await response.json())["manifestUrl"])
        async with http.get(f"{two.base}{manifest}") as response:
            assert response.status == 200 and b"#EXT-X-STREAM-INF" in await response.read()
        async with http.get(f"{two.base}/v1/ssai/media/fake/{'0' * 32}/v0.m3u8") as response:
            assert response.status == 404


def assert_avails_on_one_timeline(cluster: Cluster) -> None:
    """The ads the tracking API listed, some by the edge that ran throughout and some by the one restarted after the
    first break: between any two, the session's playlist lasts what their start times say."""
    durations = {segment.msn: segment.duration for body in cluster.outputs for segment in parse_media(body).segments}
    ads = sorted(cluster.listed, key=lambda ad: ad["mediaSequence"])
    assert len({ad["mediaSequence"] for ad in ads}) == len(ads) >= 2, ads
    first = ads[0]
    for ad in ads[1:]:
        between = sum(durations[msn] for msn in range(first["mediaSequence"], ad["mediaSequence"]))
        assert ad["startTimeInSeconds"] - first["startTimeInSeconds"] == pytest.approx(between, abs=0.002), (first, ad)
