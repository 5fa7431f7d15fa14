"""The demo app's channels: `demo` (HLS ads and slate) as it always was, and `mp4` (MP4 ads, MP4 slate), whose
ad tag and slate URLs are served by the demo itself."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from proxy.ads.chain import parse_response
from proxy.ads.models import AdResponse
from proxy.demo.app import DemoOptions, create_demo_app, demo_channel, mp4_channel
from proxy.demo.media import DemoMedia
from proxy.settings import ChannelConfig, Settings

BASE = "http://127.0.0.1:8181"  # where create_demo_app tells the proxy to reach its own demo (port 8181)
TAG = f"{BASE}/demo/ads/vast?dur=[session.avail_duration_secs]&sid=[session.uuid]"


@pytest.fixture
def app(demo_media: DemoMedia, tmp_path: Path) -> Starlette:
    return create_demo_app(Settings(port=8181, data_dir=tmp_path), demo_media, DemoOptions(port=8181))


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as client:  # the lifespan builds the proxy's service and its channels
        yield client


def configured(app: Starlette) -> dict[str, ChannelConfig]:
    """The channels the proxy serves, as read back from the control store (where each got a version, and the
    bootstrap account as its owner)."""
    configs: dict[str, ChannelConfig] = app.state.service.configs
    assert all(config.version for config in configs.values()), "every channel was read from the store"
    assert {config.account_id for config in configs.values()} == {Settings().bootstrap_account}
    return {name: replace(config, version="", account_id="") for name, config in configs.items()}


def expand(ad_tag: str | None) -> str:
    assert ad_tag is not None
    return ad_tag.replace("[session.avail_duration_secs]", "30").replace("[session.uuid]", "s-1")


def test_demo_channel_is_unchanged() -> None:
    assert demo_channel(BASE) == ChannelConfig(
        name="demo", origin=f"{BASE}/demo/origin/master.m3u8", ad_tag=TAG, slate=f"{BASE}/demo/ads/slate/master.m3u8"
    )


def test_mp4_channel() -> None:
    channel = mp4_channel(BASE)
    assert channel.name == "mp4"
    assert channel.ad_tag == TAG + "&media=mp4"
    assert channel.slate == f"{BASE}/demo/ads/mp4/slate.mp4"
    assert replace(channel, ad_tag=TAG, slate=None) == replace(demo_channel(BASE, "mp4"), slate=None)  # same origin
    assert mp4_channel(BASE, "mp4-vmap", "mode=vmap").ad_tag == TAG + "&media=mp4&mode=vmap"


def test_demo_app_has_both_channels(app: Starlette, client: TestClient) -> None:
    assert configured(app) == {"demo": demo_channel(BASE), "mp4": mp4_channel(BASE)}
    assert set(client.get("/v1/ssai/stats").json()["channels"]) == {"demo", "mp4"}


def test_channels_from_settings_are_kept(demo_media: DemoMedia, tmp_path: Path) -> None:
    extra = demo_channel(BASE, "vmap", "mode=vmap")
    settings = Settings(port=8181, data_dir=tmp_path).with_channels({"vmap": extra})
    app = create_demo_app(settings, demo_media, DemoOptions(port=8181))
    with TestClient(app):
        assert configured(app) == {"vmap": extra, "demo": demo_channel(BASE), "mp4": mp4_channel(BASE)}


def test_mp4_channel_ad_tag_gives_mp4_creatives(app: Starlette, client: TestClient, demo_media: DemoMedia) -> None:
    response = parse_response(client.get(expand(configured(app)["mp4"].ad_tag)).content)
    assert isinstance(response, AdResponse)
    assert [ad.creative_id for ad in response.ads] == ["ad-green-15s", "ad-red-10s"]
    for ad in response.ads:
        (media_file,) = ad.media_files
        assert (media_file.mime_type, media_file.delivery) == ("video/mp4", "progressive")
        assert client.get(media_file.url).content == demo_media.mp4_path(ad.creative_id).read_bytes()


def test_demo_channel_ad_tag_still_gives_hls_creatives(app: Starlette, client: TestClient) -> None:
    response = parse_response(client.get(expand(configured(app)["demo"].ad_tag)).content)
    assert isinstance(response, AdResponse) and len(response.ads) == 2
    assert all(ad.media_files[0].is_hls for ad in response.ads)


def test_mp4_channel_slate_is_served(app: Starlette, client: TestClient, demo_media: DemoMedia) -> None:
    slate = configured(app)["mp4"].slate
    assert slate is not None
    response = client.get(slate)
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    assert response.content == demo_media.slate_mp4_path.read_bytes()


def test_player_page_offers_the_mp4_channel(client: TestClient) -> None:
    page = client.get("/demo/player/")
    assert page.status_code == 200 and 'href="?channel=mp4"' in page.text and 'href="?channel=demo"' in page.text
    script = client.get("/demo/player/player.js").text
    assert '.get("channel") || "demo"' in script  # the page plays the channel named by ?channel=
