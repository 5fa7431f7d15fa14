"""nginx round-robin in front of two `ssai-proxy serve` edges on one Redis, as an operator deploys them: a player
that only knows the balancer plays one session through two breaks while one edge is killed -9 and started again, or
while every edge is restarted one at a time (SIGTERM, start: a rolling deploy);
every playlist it gets passes the invariant checks, the ad server is asked once a break and each ad beacon fires
once. Needs nginx (apt-get install nginx) and Redis (tests/redisdb.py); without them it skips with a message."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from proxy.hls.playlist import parse_media
from tests.e2e.cluster import AD_EVENTS, NO_EDGE, TD, Cluster, beacons_received, bursts, seg_identity, settled
from tests.hls.invariants import check_track
from tests.servers import free_port

NGINX_CONF = """
worker_processes 1;
pid {home}/nginx.pid;
error_log {home}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {home}/body;
    proxy_temp_path {home}/proxy;
    fastcgi_temp_path {home}/fastcgi;
    uwsgi_temp_path {home}/uwsgi;
    scgi_temp_path {home}/scgi;
    upstream edges {{
        # Never marked down: round robin stays exact, a refused connection goes to the other edge.
        server 127.0.0.1:{first} max_fails=0;
        server 127.0.0.1:{second} max_fails=0;
        keepalive 8;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://edges;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 1s;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


@pytest.fixture
def balancer(tmp_path: Path, cluster: Cluster) -> Iterator[str]:
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx): this test puts it in front of two edges")
    home, port = tmp_path / "nginx", free_port()
    home.mkdir()
    first, second = (edge.port for edge in cluster.edges)
    conf = home / "nginx.conf"
    conf.write_text(NGINX_CONF.format(home=home, first=first, second=second, port=port))
    process = subprocess.Popen([nginx, "-p", str(home), "-c", str(conf), "-g", "daemon off;"])
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_for(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "nginx exited"
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nginx at {base} did not answer in 30 s")


@pytest.mark.slow
async def test_a_player_behind_nginx_plays_through_breaks_and_an_edge_restart(balancer: str, cluster: Cluster) -> None:
    def restart() -> None:  # kill -9 of one edge, mid-break: its peer carries on
        cluster.edges[1].kill()
        cluster.edges[1].start()

    await _play_through(balancer, cluster, restart)


@pytest.mark.slow
async def test_a_rolling_restart_behind_nginx_loses_nothing(balancer: str, cluster: Cluster) -> None:
    def rolling_restart() -> None:  # every edge, one at a time, as a deploy does: SIGTERM (drain), start, healthy
        for edge in cluster.edges:
            edge.stop()
            edge.start()

    await _play_through(balancer, cluster, rolling_restart)


async def _play_through(balancer: str, cluster: Cluster, restart: Callable[[], None]) -> None:
    """A player that only knows the balancer plays one session through two breaks; `restart` runs at the first ad
    segment, once its beacons went out. Every playlist answered 200 and passes the invariant checks, the ad server
    is asked once a break, and each ad beacon fires once."""
    outputs: list[bytes] = []
    asked: dict[str, set[str]] = {}
    restarted = False
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{balancer}/v1/ssai/session/fake/main.m3u8") as response:
            assert response.status == 200, await response.text()
            sid = str((await response.json())["manifestUrl"]).rsplit("=", 1)[1]
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            async with http.get(f"{balancer}/v1/ssai/media/fake/{sid}/v0.m3u8") as response:
                assert response.status == 200, await response.text()
                body = await response.read()
            outputs.append(body)
            segments = parse_media(body).segments
            new = [
                s.uri for s in segments if s.uri.startswith("seg/") and s.uri not in asked.get(s.uri.split("/")[2], ())
            ]
            for uri in new:
                async with http.get(f"{balancer}/v1/ssai/media/fake/{sid}/{uri}", allow_redirects=False) as response:
                    assert response.status == 302, await response.text()
                asked.setdefault(uri.split("/")[2], set()).add(uri)
                if not restarted:  # mid-break, once that segment's beacons went out
                    await settled(cluster.origin)
                    await asyncio.to_thread(restart)
                    restarted = True
            played = {brk for brk, uris in asked.items() if len(uris) == 4}
            if len(played) >= 2 and not any(s.uri.startswith("seg/") for s in segments[-2:]):
                break
            await asyncio.sleep(TD / 2)
        got = await beacons_received(cluster.origin, len(AD_EVENTS) * len(played))
    assert len(played) >= 2, asked
    check_track(outputs, TD, [], [NO_EDGE] * len(outputs), seg_identity)
    assert {event: got[event] for event in AD_EVENTS} == dict.fromkeys(AD_EVENTS, len(played)), got
    groups = bursts(cluster.origin.vast_times)
    assert all(len(burst) == 1 for burst in groups), groups
