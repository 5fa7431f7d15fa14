"""CORS: hls.js on a page of another origin plays a stitched session through an ad break.

The demo player page (proxy/demo/static/: hls.js vendored) is served by a plain static server on a port of its
own, and told where the proxy is (`?proxy=`): every call it makes to the proxy (the session POST with its JSON
preflight, playlists, the segment redirects, the ad server's creatives, the tracking API, the session's beacon
events) is cross-origin, and its beacon panel shows the session's own events.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from playwright.sync_api import Page, Request, Response
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from proxy.demo.app import STATIC
from tests.beacon_panel import beacon_panel, check_beacon_panel, fired_shown
from tests.e2e.test_players import (
    DEMO_PATHS,
    PLAY_DEADLINE,
    SAMPLE_EVERY_MS,
    SNAPSHOT_JS,
    STALL_LIMIT,
    Fragment,
    chromium_page,
    played_breaks,
    stream_errors,
    summary,
)
from tests.servers import free_port, run_server


@pytest.fixture(scope="module")
def page_server() -> Iterator[str]:
    """A web server of another origin (another port) serving the player page and hls.js, nothing else."""
    app = Starlette(routes=[Mount("/", app=StaticFiles(directory=STATIC, html=True))])
    with run_server(app, free_port()) as base:
        yield base


def play_until_a_break_is_crossed(page: Page) -> dict[str, Any]:
    """Samples the page until playback is past its first ad break, hls.js fails, stalls or the deadline passes."""
    started = time.monotonic()
    last_time, last_progress = -1.0, started
    while True:
        snapshot: dict[str, Any] = page.evaluate(SNAPSHOT_JS)
        now = time.monotonic()
        if snapshot["currentTime"] > last_time + 0.1:
            last_time, last_progress = snapshot["currentTime"], now
        breaks = played_breaks(cast(list[Fragment], snapshot["played"]), DEMO_PATHS)
        crossed = breaks and breaks[0].ad_sns and snapshot["currentTime"] >= breaks[0].end + 1.0
        if crossed or snapshot["fatalErrors"] or now - last_progress > STALL_LIMIT or now - started > PLAY_DEADLINE:
            return snapshot
        page.wait_for_timeout(SAMPLE_EVERY_MS)


@pytest.mark.browser
def test_hlsjs_on_a_page_of_another_origin_plays_through_a_break(
    demo_server: str, page_server: str, tmp_path: Path
) -> None:
    assert urllib.parse.urlsplit(page_server).port != urllib.parse.urlsplit(demo_server).port
    requested: list[str] = []
    failed: list[str] = []

    def on_request(request: Request) -> None:
        requested.append(request.url)

    def on_response(response: Response) -> None:
        if response.status >= 400:
            failed.append(f"{response.status} {response.request.method} {response.url}")

    with chromium_page(tmp_path / "chromium-profile") as page:
        page.on("request", on_request)
        page.on("response", on_response)
        query = urllib.parse.urlencode({"channel": "demo", "proxy": demo_server})
        page.goto(f"{page_server}/?{query}", wait_until="load")
        snapshot = play_until_a_break_is_crossed(page)
        panel = beacon_panel(page)

    report = f"{summary(snapshot, DEMO_PATHS)}\nfailed responses: {failed}"
    assert snapshot["sessionId"], f"no session: the cross-origin POST (JSON, preflighted) failed\n{report}"
    assert not snapshot["fatalErrors"], f"hls.js fatal errors (manifestLoadError without CORS): {report}"
    unexpected = stream_errors(snapshot, DEMO_PATHS)
    assert not unexpected, f"hls.js errors that point at the stream or at CORS: {unexpected}\n{report}"
    breaks = played_breaks(cast(list[Fragment], snapshot["played"]), DEMO_PATHS)
    assert breaks and breaks[0].ad_sns, f"playback did not get through an ad break in {PLAY_DEADLINE:g} s\n{report}"
    assert snapshot["currentTime"] > breaks[0].end, f"video clock is not past break {breaks[0].describe()}\n{report}"
    # The page fetched the ads itself, cross-origin: the proxy's redirects and the ad server's creatives.
    from_proxy = [url for url in requested if url.startswith(demo_server)]
    assert any("/seg/" in url for url in from_proxy) and any("/demo/ads/creatives/" in url for url in from_proxy)
    assert not failed, report
    assert not snapshot["trackingErrors"] and snapshot["ads"], f"the tracking API read cross-origin: {report}"
    assert "impression" in fired_shown(panel), f"the beacon panel shows no fired impression: {panel}"
    check_beacon_panel(panel, demo_server, "demo", snapshot["sessionId"])
