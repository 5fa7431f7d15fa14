"""`make demo` runs `ssai-proxy demo --data-dir data`, a relative path: the MP4 channel's slate and creatives
are transcoded and stitched all the same (a relative path once reached a file URL, which needs an absolute one)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from proxy.demo.media import DemoMedia
from proxy.demo.testing import free_port
from proxy.hls.playlist import parse_media
from tests.cli.process import running, seed_demo_media, wait_until_serving


def fetch(url: str, method: str = "GET") -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as response:
        assert response.status == 200, url
        body: bytes = response.read()
        return body


def get_json(url: str, method: str = "GET") -> Any:
    return json.loads(fetch(url, method))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


def ad_target(segment_url: str) -> str:
    """Where an ad segment's beacon redirect (`seg/…`, server-side beacons) sends the player."""
    try:
        urllib.request.build_opener(_NoRedirect).open(segment_url, timeout=30)
    except urllib.error.HTTPError as redirect:
        assert redirect.code == 302, segment_url
        return str(redirect.headers["Location"])
    raise AssertionError(f"{segment_url} answered without a redirect")


def poll_until_the_ad_plays(base: str) -> list[str]:
    """Polls the mp4 channel's first variant like a player until a break plays the transcoded creative: an ad
    segment whose beacon redirect leads to the proxy's asset folder (the slate is listed there directly, with no
    redirect). A deadline, not a threshold: the transcode's length depends on the machine's load."""
    master = urljoin(base, get_json(f"{base}/v1/ssai/session/mp4/main.m3u8", "POST")["manifestUrl"])
    variant = urljoin(master, next(line for line in fetch(master).decode().splitlines() if line.endswith(".m3u8")))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        uris = [segment.uri for segment in parse_media(fetch(variant)).segments]
        jobs = get_json(f"{base}/v1/ssai/stats")["jobs"]
        assert "error" not in jobs, jobs
        ads = [ad_target(urljoin(variant, uri)) for uri in uris if uri.startswith("seg/")]
        if ads and all(target.startswith("/v1/ssai/assets/") for target in ads):
            return uris
        time.sleep(1)
    raise AssertionError(f"no transcoded ad was stitched in 300 s: {get_json(f'{base}/v1/ssai/stats')['jobs']}")


@pytest.mark.slow
def test_the_mp4_channel_stitches_transcoded_ads_with_a_relative_data_dir(
    demo_media: DemoMedia, tmp_path: Path
) -> None:
    seed_demo_media(demo_media, tmp_path / "data")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = ("demo", "--port", str(port), "--target-duration", "2", "--ad-interval", "12", "--ad-duration", "6")
    with running(tmp_path, *argv, "--data-dir", "data", SSAI_TRANSCODE_PRESET="ultrafast") as demo:
        wait_until_serving(demo, base)
        uris = poll_until_the_ad_plays(base)
        jobs = get_json(f"{base}/v1/ssai/stats")["jobs"]
    assert all(uri.startswith(("/v1/ssai/assets/", "seg/")) or "/demo/origin/" in uri for uri in uris), uris
    assert "error" not in jobs and jobs.get("ready", 0) >= 2, jobs  # the slate and the creative
    assert any((tmp_path / "data" / "assets").rglob("*.ts")), "renditions are written under the relative data dir"
