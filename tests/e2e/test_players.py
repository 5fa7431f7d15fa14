"""Real players on a stitched demo session: hls.js in the system Chromium, and ffmpeg as an HLS client.

Both use the session-scoped `demo_server` fixture (conftest.py): 2 s segments, a 6 s ad break every 12 s.
The browser test drives the demo player page (proxy/demo/static/), which exposes what it learns in
`window.demo`; see player.js for the fields. Screenshots go to $SSAI_TEST_ARTIFACTS or, by default, to
a folder under the system temporary directory (never into the repository).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, cast

import imageio_ffmpeg
import pytest
from playwright.sync_api import Error as PlaywrightError, Page, Request, Response, sync_playwright

from tests.beacon_panel import beacon_panel, check_beacon_panel, fired_shown
from tests.conftest import demo_jobs

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
PLAY_DEADLINE = 90.0  # seconds for the page to play through two breaks (about 35 s are needed)
STALL_LIMIT = 20.0  # seconds without video.currentTime moving before the test gives up and says so
SAMPLE_EVERY_MS = 500
# Non-fatal hls.js errors that a loaded 2-core CI machine can cause by itself and that hls.js recovers
# from (playback must still get through both breaks before the deadline): a stall while the buffer
# refills, the nudge that ends it, and a load that timed out and was retried. Anything else (a 4xx/5xx
# load error, a playlist parsing error, a demux/remux error, a gap in the buffer) points at the stream.
TOLERATED_HLSJS_ERRORS = frozenset({"bufferStalledError", "bufferNudgeOnStall", "fragLoadTimeOut", "levelLoadTimeOut"})
# hls.js starts a live stream at a position computed from the playlist; when the first fragment's frames
# land a little after it (the first video frame's composition offset), its gap controller seeks over that
# sliver once. A seek over a hole anywhere else (an ad boundary, later content) points at the stream.
STARTUP_SEEK_LIMIT = 0.25
LANDING = "https://example.com/landing/"  # the demo ad server's ClickThrough URLs start so
FFMPEG_SECONDS = 60
FFMPEG_TIMEOUT = 150.0  # a live stream is read at real time: 60 s of media need about 60 s of wall clock
# The one line ffmpeg may print at -v error that is not an error of the stream. The HLS demuxer keeps a
# second keep-alive connection for segments (http_multiple, used when a playlist reload brings two new
# segments at once) and may leave it idle longer than uvicorn's keep-alive timeout (5 s), so the server
# has closed it. http.c then logs this at error level on reuse, and hls.c (open_url) retries the request
# on a new connection without a word, since a keep-alive EOF is expected. Not a decode or load error; a
# segment that really failed to load would show up in the frame count checked below.
FFMPEG_BENIGN = re.compile(r"\[http @ 0x[0-9a-f]+\] Error reading HTTP response: End of file")


SNAPSHOT_JS = """() => ({
    currentTime: document.getElementById("video").currentTime,
    paused: document.getElementById("video").paused,
    state: demo.state,
    currentSn: demo.currentSn,
    sessionId: demo.sessionId,
    overlayAdId: demo.overlayAdId,
    overlayHidden: document.getElementById("ad-overlay").hidden,
    overlayText: document.getElementById("ad-overlay").textContent.replace(/\\s+/g, " ").trim(),
    overlayHref: document.getElementById("ad-overlay").href,
    played: demo.played,
    fragments: demo.fragments,
    ads: demo.ads,
    errors: demo.errors,
    fatalErrors: demo.fatalErrors,
    trackingErrors: demo.trackingErrors,
})"""


class Fragment(TypedDict):
    """A fragment as player.js records it (FRAG_LOADED into `fragments`, FRAG_CHANGED into `played`)."""

    sn: int
    url: str
    level: int
    cc: int
    start: float
    duration: float


@dataclass(frozen=True, slots=True)
class Paths:
    """What tells a channel's ad and slate segments from its content: parts of their URLs."""

    ad: tuple[str, ...]
    slate: tuple[str, ...]

    def kind(self, url: str) -> str:
        if any(part in url for part in self.ad):
            return "ad"
        if any(part in url for part in self.slate):
            return "slate"
        return "content"


# The demo channel's creatives and slate are the ad server's own HLS renditions.
DEMO_PATHS = Paths(("/demo/ads/creatives/", "/seg/"), ("/demo/ads/slate/",))  # /seg/: the beacon redirect


def mp4_paths(base: str) -> Paths:
    """The mp4 channel's ads and slate are transcoded by the proxy: their folders are named by the jobs."""
    jobs = demo_jobs(base)
    folders = {
        kind: tuple(f"/v1/ssai/assets/{job['id']}/" for job in jobs if job["kind"] == kind)
        for kind in ("creative", "slate")
    }
    assert folders["creative"] and folders["slate"], jobs
    return Paths((*folders["creative"], "/seg/"), folders["slate"])  # /seg/: the beacon redirect (ads only)


def stream_errors(snapshot: dict[str, Any], paths: Paths) -> list[dict[str, Any]]:
    """hls.js errors that point at the stream: all but the tolerated ones and the start-up seek."""
    played = cast(list[Fragment], snapshot["played"])
    first = played[0] if played else None
    return [
        e
        for e in snapshot["errors"]
        if e["details"] not in TOLERATED_HLSJS_ERRORS and not _startup_seek(e, first, paths)
    ]


def _startup_seek(error: dict[str, Any], first: Fragment | None, paths: Paths) -> bool:
    """The one seek over a hole hls.js may make into the first (content) fragment it plays."""
    if error["details"] != "bufferSeekOverHole" or first is None or error["sn"] != first["sn"]:
        return False
    seek = re.search(r"seeking from ([0-9.]+) to ([0-9.]+)", error.get("message") or "")
    return (
        paths.kind(first["url"]) == "content"
        and seek is not None
        and 0 <= float(seek[2]) - float(seek[1]) <= STARTUP_SEEK_LIMIT
    )


def channel_paths(channel: str, request: pytest.FixtureRequest) -> tuple[str, Paths]:
    """The demo server for `channel` (the mp4 one once its media are transcoded) and its paths."""
    if channel == "mp4":
        base: str = request.getfixturevalue("warm_mp4")
        return base, mp4_paths(base)
    return request.getfixturevalue("demo_server"), DEMO_PATHS


@dataclass(frozen=True, slots=True)
class Break:
    """An ad break playback went through: a run of ad/slate fragments with content played before and after."""

    fragments: tuple[Fragment, ...]
    next_content: Fragment
    paths: Paths

    @property
    def ad_sns(self) -> list[int]:
        return [frag["sn"] for frag in self.fragments if self.paths.kind(frag["url"]) == "ad"]

    @property
    def end(self) -> float:
        """Media time (the video element's clock) at which the break's last fragment ends."""
        last = self.fragments[-1]
        return last["start"] + last["duration"]

    def describe(self) -> str:
        return f"sn {self.fragments[0]['sn']}..{self.fragments[-1]['sn']} ending at {self.end:.2f} s"


def played_breaks(played: list[Fragment], paths: Paths) -> list[Break]:
    breaks: list[Break] = []
    run: list[Fragment] = []
    content_before = False
    for frag in played:
        if paths.kind(frag["url"]) != "content":
            run.append(frag)
            continue
        if run and content_before:
            breaks.append(Break(tuple(run), frag, paths))
        run = []
        content_before = True
    return breaks


def ad_ranges(ads: list[dict[str, Any]]) -> list[range]:
    return [range(ad["mediaSequence"], ad["mediaSequence"] + ad["segmentCount"]) for ad in ads]


def click_through(ad: dict[str, Any]) -> str | None:
    for event in ad.get("trackingEvents", []):
        if event.get("eventType") == "clickThrough" and event.get("beaconUrls"):
            return str(event["beaconUrls"][0])
    return None


def tracked_ads(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [ad for avail in document["avails"] for ad in avail["ads"]]


def poll_tracking(url: str, ads: list[dict[str, Any]], done: threading.Event) -> None:
    while not done.wait(2.0):
        ads += tracked_ads(http_json(url))
    ads += tracked_ads(http_json(url))


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("SSAI_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "ssai-proxy-test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def http_text(url: str, *, method: str = "GET", body: bytes | None = None) -> str:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        text: str = response.read().decode()
        return text


def http_json(url: str, *, method: str = "GET", body: bytes | None = None) -> dict[str, Any]:
    document = json.loads(http_text(url, method=method, body=body))
    assert isinstance(document, dict), f"{method} {url}: expected a JSON object, got {document!r}"
    return document


def frame_rate(master: str) -> float:
    """The FRAME-RATE of a master playlist's variants (all the same in the demo)."""
    rates = {float(rate) for rate in re.findall(r"FRAME-RATE=([0-9.]+)", master)}
    assert len(rates) == 1, f"expected one FRAME-RATE in the master playlist:\n{master}"
    return rates.pop()


def chromium_executable() -> str:
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    found = shutil.which("chromium")
    if found is None:
        pytest.skip(f"no system Chromium ({CHROMIUM} or `chromium` on PATH): the real-player test needs one")
    return found


@contextlib.contextmanager
def chromium_page(user_data_dir: Path) -> Iterator[Page]:
    """A page of the system Chromium with a fresh profile, or a skip saying why it could not start."""
    executable = chromium_executable()
    with sync_playwright() as playwright:
        try:
            context = playwright.chromium.launch_persistent_context(
                str(user_data_dir),
                executable_path=executable,
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": 1280, "height": 800},
                timeout=60_000,
            )
        except PlaywrightError as exc:
            pytest.skip(f"playwright cannot start {executable}: {exc.message.splitlines()[0]}")
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def playlist_dump(base: str, channel: str, session_id: str | None, level: int) -> str:
    """The session's media playlist right now, for a failure message."""
    if session_id is None:
        return "(no session id)"
    url = f"{base}/v1/ssai/media/{channel}/{session_id}/v{level}.m3u8"
    try:
        return f"GET {url}:\n{http_text(url)}"
    except OSError as exc:
        return f"GET {url}: {exc}"


def summary(snapshot: dict[str, Any], paths: Paths) -> str:
    played = " ".join(f"{frag['sn']}{paths.kind(frag['url'])[0]}" for frag in snapshot["played"])
    ads = [(ad["adId"], ad["mediaSequence"], ad["segmentCount"]) for ad in snapshot["ads"]]
    return (
        f"currentTime={snapshot['currentTime']:.2f} paused={snapshot['paused']} state={snapshot['state']} "
        f"sn={snapshot['currentSn']}\nplayed (c=content a=ad s=slate): {played}\ntracking ads: {ads}\n"
        f"hls.js errors: {snapshot['errors']}\ntracking errors: {snapshot['trackingErrors']}"
    )


def check_server_beacons(demo_server: str, session_id: str, requested: list[str], report: str, clicked: str) -> None:
    """Server-side beacons: the segments hls.js fetched through the redirect made the proxy fire the ads' beacons, each
    (ad, event) once, with the viewer's identity (the demo ad server records every hit). hls.js buffers ahead,
    so an ad whose first segment it fetched counts, played or not; each 6 s break here holds one 6 s ad.
    Click tracking: the one click on creative `clicked` fired its ClickTracking once."""
    started = {url.rsplit("/", 2)[1] for url in requested if "/seg/" in url and url.rsplit("/", 1)[1].startswith("0.")}
    sid = str(uuid.UUID(hex=session_id))  # the demo ad tag's sid=[session.uuid]
    deadline = time.monotonic() + 10
    while True:
        every: list[dict[str, Any]] = json.loads(http_text(f"{demo_server}/demo/ads/beacons"))
        hits = [h for h in every if h["params"].get("sid") == sid]
        if any(h["event"] == "complete" for h in hits) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    counts = Counter(h["event"] for h in hits if h["event"] != "click")
    assert counts["impression"] == counts["start"] == len(started), f"one per ad fetched {started}: {counts}\n{report}"
    assert counts["complete"] >= 2, f"the ads of two breaks completed: {counts}\n{report}"
    assert all(counts[e] <= len(started) for e in counts), f"no event fired twice for one ad: {counts}"
    assert all(h["headers"].get("X-Device-User-Agent") for h in hits), "beacons carry the viewer's user agent"
    click_hits = [h["params"].get("creative") for h in hits if h["event"] == "click"]
    assert click_hits == [clicked], f"ClickTracking of the clicked ad {clicked!r}, once: {click_hits}"


@pytest.mark.browser
@pytest.mark.parametrize("channel", ["demo", "mp4"])
def test_hlsjs_plays_through_two_ad_breaks(channel: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """`mp4`: the ads and slate are MP4 files the proxy transcoded to the content's ladder."""
    demo_server, paths = channel_paths(channel, request)
    requested: list[str] = []
    failed: list[str] = []  # responses of 400 and more (a 5xx of the proxy, a 404 of a segment, ...)

    def on_request(request: Request) -> None:
        requested.append(request.url)

    def on_response(response: Response) -> None:
        if response.status >= 400:
            failed.append(f"{response.status} {response.request.method} {response.url}")

    artifacts = artifacts_dir()
    with chromium_page(tmp_path / "chromium-profile") as page:
        page.context.route(f"{LANDING}**", lambda route: route.fulfill(body="landing page", content_type="text/plain"))
        page.on("request", on_request)
        page.on("response", on_response)
        page.goto(f"{demo_server}/demo/player/?channel={channel}", wait_until="load")

        started = time.monotonic()
        last_time, last_progress = -1.0, started
        ad_screenshot: Path | None = None
        clicked = ""
        stalled = ""
        while True:
            snapshot: dict[str, Any] = page.evaluate(SNAPSHOT_JS)
            now = time.monotonic()
            if snapshot["currentTime"] > last_time + 0.1:
                last_time, last_progress = snapshot["currentTime"], now
            breaks = played_breaks(cast(list[Fragment], snapshot["played"]), paths)

            if ad_screenshot is None and snapshot["state"] == "ad" and snapshot["overlayAdId"] is not None:
                # The overlay is a link to the current ad's clickThrough, titled after it.
                ad = next(a for a in snapshot["ads"] if snapshot["currentSn"] in ad_ranges([a])[0])
                assert not snapshot["overlayHidden"] and page.locator("#ad-overlay").is_visible()
                assert snapshot["overlayText"].endswith(f"Ad: {ad['title']} — learn more"), snapshot["overlayText"]
                # Server-side beacons: the clickThrough is the proxy's click URL, which fires ClickTracking.
                href = click_through(ad)
                assert href is not None and href.startswith(f"/v1/ssai/click/{channel}/{snapshot['sessionId']}/")
                assert snapshot["overlayHref"] == demo_server + href
                ad_screenshot = artifacts / "playback-during-ad.png"
                page.screenshot(path=str(ad_screenshot))
                # A click opens it in a new tab: the proxy fires the ad's ClickTracking and redirects to the
                # landing page (answered locally: no Internet here).
                with page.context.expect_page(timeout=30_000) as landing:
                    page.locator("#ad-overlay").click(timeout=30_000, no_wait_after=True)
                landing.value.wait_for_url(LANDING + ad["adId"], timeout=30_000)
                landing.value.close()
                clicked = ad["adId"]
            if snapshot["state"] == "content":
                assert snapshot["overlayHidden"], f"ad overlay shown during content: {summary(snapshot, paths)}"

            if snapshot["fatalErrors"]:
                break
            if len(breaks) >= 2 and snapshot["currentTime"] >= breaks[1].end + 1.0:
                break
            if now - last_progress > STALL_LIMIT:
                level = snapshot["played"][-1]["level"] if snapshot["played"] else 0
                playlist = playlist_dump(demo_server, channel, snapshot["sessionId"], level)
                stalled = f"playback stalled for {STALL_LIMIT:g} s\n{playlist}"
                break
            if now - started > PLAY_DEADLINE:
                break
            page.wait_for_timeout(SAMPLE_EVERY_MS)

        elapsed = time.monotonic() - started
        page.screenshot(path=str(artifacts / "playback-end.png"))
        panel = beacon_panel(page, ("impression", "complete", "clickTracking"))

    report = f"after {elapsed:.1f} s: {summary(snapshot, paths)}\nfailed responses: {failed}\n{stalled}"
    print(report)  # shown with -s or on failure
    assert not snapshot["fatalErrors"], f"hls.js fatal errors: {snapshot['fatalErrors']}\n{report}"
    assert not stalled, report
    assert len(breaks) >= 2, f"playback did not get through two ad breaks in {PLAY_DEADLINE:g} s\n{report}"
    for brk in breaks[:2]:
        assert brk.ad_sns, f"break {brk.describe()} played no ad segment (slate only?)\n{report}"
        assert snapshot["currentTime"] > brk.end, f"video clock is not past break {brk.describe()}\n{report}"
    assert not failed, f"HTTP errors seen by the page: {failed}\n{report}"
    unexpected = stream_errors(snapshot, paths)
    assert not unexpected, f"hls.js errors that point at the stream: {unexpected}\n{report}"
    assert not snapshot["trackingErrors"], report
    check_server_beacons(demo_server, snapshot["sessionId"], requested, report, clicked)
    shown = fired_shown(panel)
    assert {"impression", "complete", "clickTracking"} <= shown, f"this session's beacons shown: {panel}"
    check_beacon_panel(panel, demo_server, channel, snapshot["sessionId"])

    # Everything the page needs is served by the demo (hls.js is vendored: no CDN, no Internet).
    foreign = [url for url in requested if url.startswith("http") and not url.startswith((demo_server, LANDING))]
    assert not foreign, f"the page requested other hosts: {foreign}"

    # The segments were really fetched, by the browser, from the ad server's creatives.
    ad_requests = [url for url in requested if paths.kind(url) == "ad"]
    assert ad_requests, report
    played_ads = {frag["url"] for brk in breaks for frag in brk.fragments if paths.kind(frag["url"]) == "ad"}
    assert played_ads <= set(ad_requests), f"played ad fragments never requested: {played_ads - set(ad_requests)}"

    # The tracking API delivered the ads with their clickThrough, and its mediaSequence/segmentCount
    # name exactly the ad segments of the playlists. Every demo creative has a ClickThrough, so every ad
    # segment must be inside a tracked range, and a tracked range must never cover content or slate.
    ads = snapshot["ads"]
    with_click = [ad for ad in ads if click_through(ad)]
    assert len(with_click) >= 2, f"tracking API gave {len(with_click)} ads with a clickThrough\n{report}"
    ranges = ad_ranges(ads)
    for frag in cast(list[Fragment], snapshot["played"]):
        tracked = any(frag["sn"] in r for r in ranges)
        where = "inside" if tracked else "outside"
        assert tracked == (paths.kind(frag["url"]) == "ad"), f"sn {frag['sn']} {frag['url']} {where} {ranges}\n{report}"

    assert ad_screenshot is not None, f"no sample showed the overlay during an ad\n{report}"


@pytest.mark.slow
@pytest.mark.parametrize("channel", ["demo", "mp4"])
def test_ffmpeg_reads_sixty_seconds_of_a_stitched_session(channel: str, request: pytest.FixtureRequest) -> None:
    demo_server, _ = channel_paths(channel, request)
    session = http_json(f"{demo_server}/v1/ssai/session/{channel}/main.m3u8", method="POST", body=b"{}")
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        *("-hide_banner", "-nostdin", "-nostats", "-v", "error"),
        *("-progress", "pipe:1"),  # key=value progress on stdout: tells how much media was read
        *("-live_start_index", "-3"),  # start three segments from the live edge, as players do
        *("-i", demo_server + session["manifestUrl"]),
        *("-t", str(FFMPEG_SECONDS), "-f", "null", "-"),  # decode everything, write nothing
    ]
    started = time.monotonic()
    # The tracking API is polled while ffmpeg reads, as a player does: it returns each ad once, and only
    # while its break is in the live window (16 s here), so one call at the end would see one break at most.
    ads: list[dict[str, Any]] = []
    done = threading.Event()
    poller = threading.Thread(target=poll_tracking, args=(demo_server + session["trackingUrl"], ads, done))
    poller.start()
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=FFMPEG_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"ffmpeg still reading after {FFMPEG_TIMEOUT:g} s: {exc.stderr!r}")
    finally:
        done.set()
        poller.join()
    elapsed = time.monotonic() - started

    # With -v error, ffmpeg prints only errors, so any line is one but FFMPEG_BENIGN. (At -v warning it
    # would also print "Packet corrupt" / "DTS out of order" / "timestamp discontinuity" at each ad
    # boundary: TS continuity counters and timestamps restart at an EXT-X-DISCONTINUITY, as HLS allows.)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if not FFMPEG_BENIGN.fullmatch(line)]
    assert result.returncode == 0, f"ffmpeg exited {result.returncode}: {lines}"
    assert not errors, f"ffmpeg printed errors: {errors}"

    # It decoded 60 s of media, every frame of it: a segment skipped after a failed load leaves (except
    # right at a discontinuity, where ffmpeg re-bases timestamps) a 2 s hole in the timestamps, hence
    # some 50 frames fewer than duration x frame rate.
    progress = [line.split("=", 1) for line in result.stdout.splitlines() if "=" in line]
    out_us = [int(value) for key, value in progress if key == "out_time_us" and value.isdigit()]
    frames = [int(value) for key, value in progress if key == "frame" and value.isdigit()]
    assert out_us and out_us[-1] >= (FFMPEG_SECONDS - 1) * 1_000_000, f"ffmpeg read only {out_us[-1:]} µs of media"
    rate = frame_rate(http_text(demo_server + session["manifestUrl"]))
    assert frames and frames[-1] >= FFMPEG_SECONDS * rate - rate, f"{frames[-1:]} frames in {FFMPEG_SECONDS} s"

    # Server side: the session's playlists had ads in those 60 s (each break is 6 s of ads every 12 s,
    # so four or five are expected), numbered in order without overlap.
    assert len(ads) >= 2, f"tracking API during {elapsed:.0f} s of ffmpeg: {ads}"
    assert all(click_through(ad) for ad in ads), ads
    ranges = ad_ranges(ads)
    assert all(a.stop <= b.start for a, b in itertools.pairwise(ranges)), ranges
