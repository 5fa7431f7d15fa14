"""A Redis outage under a real server: with its own redis-server stopped, the proxy refuses new sessions with 503 and
a reason, keeps playing the sessions it holds (degraded, counted in /metrics), and takes new sessions again once
Redis is back, without a restart. Needs the redis-server binary (Debian's redis-server package)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.demo.testing import FakeOrigin
from proxy.settings import ChannelConfig
from proxy.web.app import create_app
from tests.servers import free_port, local_settings, run_server


class RedisServer:
    """A redis-server of the test's own on a free port, keeping nothing on disk."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (apt-get install redis-server): this test stops and starts one")
        self.binary, self.folder, self.port = binary, folder, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen([*command, "--dir", str(self.folder)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout != b"PONG\n":
            assert time.monotonic() < deadline, "redis-server did not start in 30 s"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli is not installed (apt-get install redis-tools): this test pings its redis-server")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def proxy(tmp_path: Path, redis_server: RedisServer) -> Iterator[str]:
    origin = FakeOrigin(td=2, window=6, every=6, break_segments=3)
    with run_server(origin.app, free_port()) as origin_url:
        channel = ChannelConfig("fake", origin=f"{origin_url}/master.m3u8", ad_tag=f"{origin_url}/vast")
        settings = local_settings(data_dir=tmp_path / "data", redis_url=redis_server.url, metrics_open=True)
        with run_server(create_app(settings.with_channels({"fake": channel})), free_port()) as base:
            yield base


def _request(url: str, method: str = "GET") -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _new_session(base: str) -> tuple[int, bytes]:
    return _request(f"{base}/v1/ssai/session/fake/main.m3u8", "POST")


def _store_errors(base: str) -> int:
    status, body = _request(f"{base}/v1/ssai/stats")
    assert status == 200, body
    return sum(json.loads(body)["session_store"]["errors"].values())


@pytest.mark.slow
def test_an_outage_refuses_new_sessions_keeps_held_ones_and_recovers(proxy: str, redis_server: RedisServer) -> None:
    status, body = _new_session(proxy)
    assert status == 200, body
    sid = json.loads(body)["manifestUrl"].rsplit("=", 1)[1]
    media = f"{proxy}/v1/ssai/media/fake/{sid}/v0.m3u8"
    assert _request(media)[0] == 200

    redis_server.stop()
    status, body = _new_session(proxy)
    assert status == 503, body
    assert "session store unreachable" in json.loads(body)["error"]
    for _ in range(3):  # the held session plays on
        status, body = _request(media)
        assert status == 200 and body.startswith(b"#EXTM3U")
        time.sleep(1)
    assert _store_errors(proxy) >= 1

    redis_server.start()
    status, body = _new_session(proxy)
    assert status == 200, f"no restart needed once Redis is back: {body!r}"
    assert _request(media)[0] == 200
