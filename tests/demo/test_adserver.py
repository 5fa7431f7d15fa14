"""The test ad server: VAST pods that fit the break, absolute URLs, failure modes, files, beacons."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, strategies as st
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from proxy.ads.chain import Fetch, parse_response, resolve
from proxy.ads.models import AdResponse, MediaFile
from proxy.demo import adserver
from proxy.demo.adserver import create_adserver_app, fill_pod
from proxy.demo.media import DemoMedia, prepare_media
from proxy.errors import OriginError

BASE = "http://testserver/demo/ads"
DURATIONS = {"ad-red-10s": 10.0, "ad-green-15s": 15.0, "ad-blue-6s": 6.0}


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> DemoMedia:
    # Same folder in every test module: prepare_media's disk cache makes the later calls instant.
    return prepare_media(tmp_path_factory.getbasetemp() / "demo", 2)


@pytest.fixture
def app(media: DemoMedia) -> Starlette:
    return create_adserver_app(media)


@pytest.fixture
def http(app: Starlette) -> TestClient:
    return TestClient(Starlette(routes=[Mount("/demo/ads", app=app)]))


def seconds(timecode: str) -> float:
    hours, minutes, rest = timecode.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


def text(element: ET.Element, path: str) -> str:
    found = element.find(path)
    assert found is not None and found.text is not None, path
    return found.text.strip()


def fetcher(http: TestClient) -> Fetch:
    """The resolver's `fetch` over the test client: what the proxy's ad server client does, minus the network."""

    async def fetch(url: str) -> bytes:
        response = http.get(url)
        if response.status_code != 200:
            raise OriginError(f"GET {url}: HTTP {response.status_code}")
        return response.content

    return fetch


# --- pod fitting ------------------------------------------------------------------------------------------


def test_fill_pod() -> None:
    assert fill_pod(DURATIONS, 30) == ["ad-green-15s", "ad-red-10s"]
    assert fill_pod(DURATIONS, 31) == ["ad-green-15s", "ad-red-10s", "ad-blue-6s"]
    assert fill_pod(DURATIONS, 60) == ["ad-green-15s", "ad-red-10s", "ad-blue-6s", "ad-green-15s", "ad-red-10s"]
    assert fill_pod(DURATIONS, 6) == ["ad-blue-6s"]
    assert fill_pod(DURATIONS, 5.9) == []


@given(st.floats(0, 3600))
def test_pods_never_overrun(budget: float) -> None:
    pod = fill_pod(DURATIONS, budget)
    assert sum(DURATIONS[c] for c in pod) <= budget + 1e-6
    assert len(pod) == 20 or budget - sum(DURATIONS[c] for c in pod) < 6  # nothing else would fit


# --- VAST -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dur", [6, 30, 45, 60, 120])
def test_vast_pod(http: TestClient, dur: int) -> None:
    response = http.get(f"/demo/ads/vast?dur={dur}&sid=s-1")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    vast = ET.fromstring(response.content)
    assert vast.tag == "VAST" and vast.get("version") == "3.0"
    ads = vast.findall("Ad")
    assert [ad.get("sequence") for ad in ads] == [str(k) for k in range(1, len(ads) + 1)]
    assert len({ad.get("id") for ad in ads}) == len(ads)
    total = sum(seconds(text(ad, "InLine/Creatives/Creative/Linear/Duration")) for ad in ads)
    assert 0 < total <= dur


def test_vast_ad_shape(http: TestClient, media: DemoMedia) -> None:
    vast = ET.fromstring(http.get("/demo/ads/vast?dur=30&sid=abc").content)
    ad = vast.findall("Ad")[0]
    inline = ad.find("InLine")
    assert inline is not None
    assert text(inline, "AdSystem") and text(inline, "AdTitle")
    creative = inline.find("Creatives/Creative")
    assert creative is not None and creative.get("id") == "ad-green-15s"
    assert text(creative, "Linear/Duration") == "00:00:15.000"
    impression = urlsplit(text(inline, "Impression"))
    assert f"{impression.scheme}://{impression.netloc}{impression.path}" == f"{BASE}/beacon/impression"
    assert parse_qs(impression.query) == {"ad": [ad.get("id")], "creative": ["ad-green-15s"], "sid": ["abc"]}
    assert text(inline, "Error").endswith("&code=[ERRORCODE]")  # the macro stays literal for the player side
    events = {t.get("event"): t.text for t in creative.findall("Linear/TrackingEvents/Tracking")}
    assert list(events) == ["start", "firstQuartile", "midpoint", "thirdQuartile", "complete"]
    assert all(url and url.startswith(f"{BASE}/beacon/{event}?") and "sid=abc" in url for event, url in events.items())
    assert text(creative, "Linear/VideoClicks/ClickThrough") == "https://example.com/landing/ad-green-15s"
    assert text(creative, "Linear/VideoClicks/ClickTracking").startswith(f"{BASE}/beacon/click?")
    (media_file,) = creative.findall("Linear/MediaFiles/MediaFile")
    top = media.ladder[0]
    assert media_file.attrib == {
        "delivery": "streaming",
        "type": "application/x-mpegURL",
        "width": str(top.width),
        "height": str(top.height),
        "bitrate": str(top.bandwidth // 1000),
    }
    assert text(creative, "Linear/MediaFiles/MediaFile") == f"{BASE}/creatives/ad-green-15s/master.m3u8"


def test_media_file_url_serves_the_creative(http: TestClient) -> None:
    vast = ET.fromstring(http.get("/demo/ads/vast?dur=6").content)
    url = text(vast, "Ad/InLine/Creatives/Creative/Linear/MediaFiles/MediaFile")
    master = http.get(url)
    assert master.status_code == 200 and master.headers["content-type"] == "application/vnd.apple.mpegurl"
    variant = url.rsplit("/", 1)[0] + "/" + [u for u in master.text.splitlines() if not u.startswith("#")][0]
    playlist = http.get(variant).text
    segment = http.get(variant.rsplit("/", 1)[0] + "/" + [u for u in playlist.splitlines() if u[:1] != "#"][0])
    assert segment.headers["content-type"] == "video/mp2t" and segment.content[0] == 0x47


# --- MP4 creatives (media=mp4) ---------------------------------------------------------------------------


POD_45 = ["ad-green-15s", "ad-red-10s", "ad-blue-6s", "ad-red-10s"]


@pytest.mark.parametrize(
    ("mode", "creatives"),
    [
        ("mode=normal", POD_45),
        ("mode=slow&delay=0", POD_45),
        ("mode=wrapper&wrap=2", POD_45[:1]),  # a Wrapper without allowMultipleAds yields one ad (proxy.ads.chain)
        ("mode=vmap", POD_45),
    ],
)
async def test_mp4_pods_in_every_mode(http: TestClient, media: DemoMedia, mode: str, creatives: list[str]) -> None:
    """Through the proxy's own resolver (Wrappers followed, VMAP mid-roll picked): one progressive MP4 per ad."""
    resolved = await resolve(f"{BASE}/vast?dur=45&sid=s-9&media=mp4&{mode}", fetcher(http))
    assert resolved.skipped == ()
    assert [ad.creative_id for ad in resolved.ads] == creatives
    for ad in resolved.ads:
        mp4 = media.mp4(ad.creative_id)
        url = f"{BASE}/mp4/{ad.creative_id}.mp4"
        assert ad.media_files == (MediaFile(url, "video/mp4", "progressive", mp4.kbps, 854, 480),)
        assert not ad.media_files[0].is_hls and ad.duration == mp4.duration


def test_mp4_media_file_url_serves_the_file(http: TestClient, media: DemoMedia) -> None:
    response = parse_response(http.get("/demo/ads/vast?dur=31&media=mp4").content)
    assert isinstance(response, AdResponse) and len(response.ads) == 3
    for ad in response.ads:
        (media_file,) = ad.media_files
        served = http.get(media_file.url)
        assert served.status_code == 200 and served.headers["content-type"] == "video/mp4"
        assert served.content == media.mp4_path(ad.creative_id).read_bytes()


async def test_mp4_ads_are_the_hls_ads_but_for_their_media(http: TestClient) -> None:
    """Same creative ids, impressions, tracking, click-through and error URLs: only the MediaFile differs."""
    hls = await resolve(f"{BASE}/vast?dur=60&sid=same", fetcher(http))
    mp4 = await resolve(f"{BASE}/vast?dur=60&sid=same&media=mp4", fetcher(http))
    assert len(hls.ads) == 5 and all(ad.media_files[0].is_hls for ad in hls.ads)
    assert all(ad.media_files[0].mime_type == "video/mp4" for ad in mp4.ads)
    assert [replace(ad, media_files=()) for ad in mp4.ads] == [replace(ad, media_files=()) for ad in hls.ads]
    assert http.get("/demo/ads/vast?dur=60&sid=same&media=hls").content == http.get(hls.fetched[0]).content


def test_mp4_empty_and_error_modes(http: TestClient) -> None:
    empty = parse_response(http.get("/demo/ads/vast?dur=30&mode=empty&media=mp4").content)
    assert isinstance(empty, AdResponse) and empty.ads == ()
    assert http.get("/demo/ads/vast?dur=30&mode=error&media=mp4").status_code == 500


@pytest.mark.parametrize("query", ["media=dash", "media=", "media=MP4", "media=mp4&mode=weird", "media=hls&dur=x"])
def test_unknown_media_is_400(http: TestClient, query: str) -> None:
    response = http.get(f"/demo/ads/vast?dur=30&{query}")
    assert response.status_code == 400 and "media one of hls, mp4" in response.text


def test_slate_mp4(http: TestClient, media: DemoMedia) -> None:
    response = http.get("/demo/ads/mp4/slate.mp4")
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    assert response.content == media.slate_mp4_path.read_bytes()


def test_no_sid_means_no_sid_in_urls(http: TestClient) -> None:
    assert "sid=" not in http.get("/demo/ads/vast?dur=30").text


def test_modes(http: TestClient, app: Starlette) -> None:
    empty = ET.fromstring(http.get("/demo/ads/vast?dur=30&mode=empty").content)
    assert empty.tag == "VAST" and empty.get("version") == "3.0" and list(empty) == []
    assert ET.fromstring(http.get("/demo/ads/vast?dur=3").content).findall("Ad") == []  # nothing fits
    assert http.get("/demo/ads/vast?mode=error").status_code == 500
    started = time.monotonic()
    slow = http.get("/demo/ads/vast?dur=30&mode=slow&delay=0.3")
    assert time.monotonic() - started >= 0.3 and len(ET.fromstring(slow.content).findall("Ad")) == 2
    for bad in ("mode=weird", "dur=abc", "dur=-1", "delay=9999&mode=slow", "dur=nan"):
        assert http.get(f"/demo/ads/vast?{bad}").status_code == 400, bad
    assert app.state.vast_requests == 9
    assert http.get("/demo/ads/stats").json()["vast_requests"] == 9


def test_root_path_of_any_mount(media: DemoMedia) -> None:
    nested = Starlette(routes=[Mount("/edge", routes=[Mount("/ads", app=create_adserver_app(media))])])
    body = TestClient(nested, root_path="/prefix").get("/prefix/edge/ads/vast?dur=6").text
    assert "http://testserver/prefix/edge/ads/creatives/ad-blue-6s/master.m3u8" in body


# --- files ------------------------------------------------------------------------------------------------


def test_slate_files(http: TestClient, media: DemoMedia) -> None:
    master = http.get("/demo/ads/slate/master.m3u8")
    assert master.status_code == 200 and master.text.count("#EXT-X-STREAM-INF:") == 3
    index = http.get("/demo/ads/slate/180p/index.m3u8").text
    assert "seg-001.ts" in index and "#EXT-X-ENDLIST" in index
    segment = http.get("/demo/ads/slate/180p/seg-001.ts")
    assert segment.content == media.segment_path(media.slate, "180p", 1).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/demo/ads/creatives/nope/master.m3u8",
        "/demo/ads/creatives/ad-red-10s/360p/seg-999.ts",
        "/demo/ads/creatives/ad-red-10s/../../media.json",
        "/demo/ads/creatives/ad-red-10s/%2e%2e/%2e%2e/media.json",
        "/demo/ads/slate/999p/index.m3u8",
        "/demo/ads/mp4/nope.mp4",
        "/demo/ads/mp4/ad-red-10s",
        "/demo/ads/mp4/ad-red-10s.mp4/x",
        "/demo/ads/mp4/media.json",
        "/demo/ads/mp4/../x",
        "/demo/ads/mp4/..%2fmedia.json",
        "/demo/ads/mp4/%2e%2e%2f%2e%2e%2fmedia.json",
        "/demo/ads/mp4/",
    ],
)
def test_unknown_files_are_404(http: TestClient, path: str) -> None:
    assert http.get(path).status_code == 404


# --- beacons ----------------------------------------------------------------------------------------------


def test_beacons_are_recorded(http: TestClient, app: Starlette) -> None:
    headers = {"X-Device-IP": "203.0.113.7", "X-Device-User-Agent": "Player/1", "X-Forwarded-For": "10.0.0.1"}
    assert http.get("/demo/ads/beacon/impression?ad=a-1&sid=s", headers=headers).status_code == 204
    assert http.post("/demo/ads/beacon/complete?ad=a-1", headers={"User-Agent": "proxy/0.1"}).status_code == 204
    first, second = app.state.beacons
    assert first["event"] == "impression" and first["params"] == {"ad": "a-1", "sid": "s"}
    assert first["headers"] == {**headers, "User-Agent": "testclient"} and first["method"] == "GET"
    assert second["event"] == "complete" and second["headers"] == {"User-Agent": "proxy/0.1"}
    assert abs(first["time"] - time.time()) < 5
    assert http.get("/demo/ads/beacons").json() == app.state.beacons
    assert http.get("/demo/ads/stats").json()["beacons"] == {"impression": 1, "complete": 1}


def test_beacon_urls_from_vast_are_recorded(http: TestClient, app: Starlette) -> None:
    vast = ET.fromstring(http.get("/demo/ads/vast?dur=6&sid=xyz").content)
    http.get(text(vast, "Ad/InLine/Impression"))
    (hit,) = app.state.beacons
    assert hit["params"] == {"ad": "ad-blue-6s-1", "creative": "ad-blue-6s", "sid": "xyz"}


def test_beacon_log_is_bounded(http: TestClient, app: Starlette, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adserver, "MAX_BEACONS", 3)
    for n in range(5):
        http.get(f"/demo/ads/beacon/start?n={n}")
    assert [hit["params"]["n"] for hit in app.state.beacons] == ["2", "3", "4"]


def test_wrapper_mode_chains_down_to_the_pod(http: TestClient) -> None:
    url = "/demo/ads/vast?mode=wrapper&wrap=3&dur=30&sid=s1"
    for depth in (3, 2, 1):
        root = ET.fromstring(http.get(url).content)
        wrapper = root.find("Ad/Wrapper")
        assert wrapper is not None, f"depth {depth}: expected a Wrapper"
        assert root.find("Ad").get("id") == f"wrapper-{depth}"  # type: ignore[union-attr]
        assert "code=[ERRORCODE]" in text(wrapper, "Error")
        url = text(wrapper, "VASTAdTagURI").removeprefix("http://testserver")
    final = ET.fromstring(http.get(url).content)
    assert final.findall("Ad/InLine"), "the last wrapper points at the pod itself"


def test_vmap_mode_carries_the_pod_inline_in_a_midroll(http: TestClient) -> None:
    body = http.get("/demo/ads/vast?mode=vmap&dur=30").content
    root = ET.fromstring(body)
    ns = {"vmap": "http://www.iab.net/videosuite/vmap"}
    data = root.find("vmap:AdBreak/vmap:AdSource/vmap:VASTAdData", ns)
    assert root.tag == "{http://www.iab.net/videosuite/vmap}VMAP"
    assert data is not None and data.find("VAST/Ad/InLine") is not None
