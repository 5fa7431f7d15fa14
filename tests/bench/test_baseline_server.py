"""bench/baseline_server.py: the recorded playlist's bytes at the media playlist path, as the proxy answers them."""

from __future__ import annotations

from starlette.testclient import TestClient

from bench.baseline_server import create_baseline_app
from proxy.settings import Settings

BODY = b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\nseg1.ts\n"


def test_the_recorded_bytes_come_back_with_the_proxys_headers() -> None:
    with TestClient(create_baseline_app(BODY, Settings())) as client:
        response = client.get("/v1/ssai/media/demo/s1/v0.m3u8", headers={"Origin": "http://player.example"})
    assert (response.status_code, response.content) == (200, BODY)
    assert response.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["access-control-allow-origin"] == "*"


def test_nothing_else_is_served() -> None:
    with TestClient(create_baseline_app(BODY, Settings())) as client:
        assert client.get("/v1/ssai/master/demo/main.m3u8").status_code == 404
