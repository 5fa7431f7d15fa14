"""The ad break herd through real servers (bench/herd.py): 2,000 sessions of one channel reach one break
within one target duration; the ad server answers personalised requests in 200 ms. The counts must add up
exactly under any CPU load (the players poll until the break is through their playlists)."""

from __future__ import annotations

import pytest

from bench.herd import run_herd

SESSIONS = 2000


@pytest.mark.slow
async def test_personalised_herd_every_session_gets_ads_or_counted_slate() -> None:
    result = await run_herd(SESSIONS, personal=True, latency=0.2)
    assert result.errors == {}
    # Each session's break has one outcome, whatever the machine's load: its ads, DECISION_LATE (its request
    # still went out), SESSION_INACTIVE (the proxy judged it gone: no request; none on an idle machine), or a
    # decision in time without ads (the ad server's answer timed out under load; none on an idle machine).
    assert result.vast_requests + result.inactive == SESSIONS, "one personalised request per session, no more"
    assert result.with_ads > 0
    outcomes = result.with_ads + result.decision_late + result.inactive + result.decided_without_ads
    assert outcomes == SESSIONS, "a session without ads uncounted"
    # Latency is the benchmark's figure (python -m bench.herd), never a threshold here (DEVELOPERS.md).


@pytest.mark.slow
async def test_shared_template_makes_one_ad_server_request_for_the_whole_herd() -> None:
    result = await run_herd(SESSIONS, personal=False, latency=0.2)
    assert result.errors == {}
    assert result.vast_requests == 1
    assert result.with_ads == SESSIONS
    assert result.decision_late == 0
