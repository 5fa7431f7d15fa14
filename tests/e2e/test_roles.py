"""Processes and roles as an operator runs them: `serve --workers 2` on Redis keeps a session through the death of
every worker that knew it (uvicorn starts new ones, which load it from Redis); a control process and an edge started
together on one PostgreSQL database and one Redis split the routes, and a cue point posted to the control process
becomes a break in the edge's playlist (through the database the edge reads). Needs Redis, and PostgreSQL for the
second test (skipped with a message where absent)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from proxy.demo.testing import FakeOrigin
from proxy.hls.playlist import parse_media
from tests import redisdb
from tests.cli.process import run, start, wait_until_serving
from tests.control.conftest import POSTGRES, _admin
from tests.servers import free_port, run_server

TD = 2
TOKEN = "operator"


@pytest.fixture
def origin(tmp_path: Path) -> Iterator[FakeOrigin]:
    """A fake origin and ad server whose breaks are far apart (every 1,000 segments), and a channel file for it."""
    fake, port = FakeOrigin(td=TD, window=6, every=1000, break_segments=2), free_port()
    with served(fake, port, tmp_path / "channels.toml"):
        yield fake


@contextlib.contextmanager
def served(fake: FakeOrigin, port: int, channels: Path, ad_query: str = "") -> Iterator[None]:
    """`fake` on `port`, and a channel file naming it the channel `fake` (`ad_query` added to its ad tag)."""
    channels.write_text(
        "[channels.fake]\n"
        f'origin = "http://127.0.0.1:{port}/master.m3u8"\n'
        f'ad_tag = "http://127.0.0.1:{port}/vast?{ad_query}sid=[session.id]"\n'
    )
    with run_server(fake.app, port):
        yield


def start_roles(folder: Path, env: dict[str, str]) -> tuple[dict[str, subprocess.Popen[str]], dict[str, str]]:
    """A control process and an edge started together in `folder` (channel file `folder/channels.toml`): their
    processes and base URLs, by role."""
    processes: dict[str, subprocess.Popen[str]] = {}
    bases: dict[str, str] = {}
    for role in ("control", "edge"):  # started together: one migrates and stores the channel file at a time
        (folder / role).mkdir()
        port = free_port()
        bases[role] = f"http://127.0.0.1:{port}"
        argv = ("serve", "--role", role, "--channels", "../channels.toml", "--port", str(port), "--data-dir", "d")
        processes[role] = start(folder / role, *argv, **env)
    for role, process in processes.items():
        wait_until_serving(process, bases[role])
    return processes, bases


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    name = f"ssai_test_{uuid.uuid4().hex[:12]}"
    admin = await _admin()
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def serve_env(prefix: str, **more: str) -> dict[str, str]:
    return {
        "SSAI_REDIS_URL": redisdb.REDIS,
        "SSAI_REDIS_PREFIX": prefix,
        "SSAI_EGRESS_ALLOW_LOOPBACK": "1",
        "SSAI_LOG_LEVEL": "warning",
        "SSAI_METRICS_TOKEN": TOKEN,
        **more,
    }


def _kept(shown: list[bytes], body: bytes | None) -> bytes:
    shown.append(body or b"")
    return shown[-1]


def _counted(served: list[int], body: bytes | None) -> bool:
    served[0] += body is not None
    return body is not None


def _metric(base: str, name: str) -> float | None:
    """A sample of /metrics (the test's token), summed over every worker by the one that answers."""
    request = urllib.request.Request(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    found = [s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]
    return sum(found) if found else None


def _workers(parent: int) -> set[int]:
    """The uvicorn workers of `parent`: its children started by multiprocessing's spawn (not its resource tracker)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return {int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()}


def _until(what: str, check: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds:g} s: {what}")


def _playlist(base: str, sid: str) -> bytes | None:
    try:
        with urllib.request.urlopen(f"{base}/v1/ssai/media/fake/{sid}/v0.m3u8", timeout=10) as response:
            return bytes(response.read()) if response.status == 200 else None
    except OSError:
        return None


PLAYLISTS = "ssai_playlist_request_seconds_count"


@pytest.mark.slow
def test_a_session_outlives_every_worker_that_knew_it(tmp_path: Path, origin: FakeOrigin, prefix: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = ("serve", "--channels", "channels.toml", "--port", str(port), "--workers", "2", "--data-dir", "data")
    process = start(tmp_path, *argv, **serve_env(prefix))
    try:
        wait_until_serving(process, base)
        _until("two workers", lambda: len(_workers(process.pid)) == 2)
        made = httpx.post(f"{base}/v1/ssai/session/fake/main.m3u8", json={})
        assert made.status_code == 200, made.text
        sid = made.json()["manifestUrl"].rsplit("=", 1)[1]
        first = _playlist(base, sid)
        assert first is not None
        served = [1]
        # Each worker brings its counts to the shared files every second: in them before the workers are killed.
        _until("the session counted", lambda: _metric(base, "ssai_sessions_created_total") == 1.0)
        knew = _workers(process.pid)
        for pid in knew:  # one at a time: the other (or a new one) answers meanwhile
            # What a worker killed -9 brought stays; what it counted in its last second dies with it, so the kill
            # waits for the playlists served so far to be in the shared files.
            _until("the playlists counted", lambda: (_metric(base, PLAYLISTS) or 0) >= served[0])
            os.kill(pid, signal.SIGKILL)
            _until(f"the session served after worker {pid} died", lambda: _counted(served, _playlist(base, sid)))
        _until("two new workers", lambda: len(_workers(process.pid) - knew) == 2)
        later = _playlist(base, sid)
        assert later is not None, "served by workers started after the session was made"
        # /metrics sums every worker's values, the killed ones' included: the session made, counted once.
        assert _metric(base, "ssai_sessions_created_total") == 1.0
        _until("every playlist counted", lambda: (_metric(base, PLAYLISTS) or 0) >= 1 + served[0])
        before, after = parse_media(first), parse_media(later)
        assert after.media_sequence >= before.media_sequence and after.segments[-1].uri.endswith(".ts")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, process.communicate()
        assert not Path(f"/proc/{next(iter(knew))}").exists()
    finally:
        if process.poll() is None:
            for pid in _workers(process.pid):  # they hold the output pipes open
                os.kill(pid, signal.SIGKILL)
            process.kill()
        process.communicate(timeout=30)


@pytest.mark.slow
def test_a_control_process_and_an_edge_split_the_routes_and_share_cue_points(
    tmp_path: Path, origin: FakeOrigin, prefix: str, postgres_url: str
) -> None:
    env = serve_env(prefix, SSAI_DATABASE_URL=postgres_url, SSAI_CONFIG_REFRESH="0.5")
    processes, bases = start_roles(tmp_path, env)
    try:
        key = run(tmp_path, "key", "create", "default", "--data-dir", "k", SSAI_DATABASE_URL=postgres_url)
        assert key.returncode == 0, key
        headers = {"X-API-KEY": key.stdout.split()[1]}
        edge, control = bases["edge"], bases["control"]

        assert httpx.post(f"{control}/v1/ssai/session/fake/main.m3u8", json={}).status_code == 404
        assert httpx.get(f"{edge}/v1/ssai/channels", headers=headers).status_code == 404
        made = httpx.post(f"{edge}/v1/ssai/session/fake/main.m3u8", json={})
        assert made.status_code == 200, made.text
        sid = made.json()["manifestUrl"].rsplit("=", 1)[1]
        assert b"seg/" not in (_playlist(edge, sid) or b"")
        cue = httpx.post(f"{control}/v1/ssai/channels/fake/cuepoint", json={"duration": 8}, headers=headers)
        assert cue.status_code == 200, cue.text
        shown: list[bytes] = []
        try:
            _until("the cue point's break", lambda: b"seg/" in _kept(shown, _playlist(edge, sid)), seconds=60)
        except AssertionError as error:
            processes["edge"].kill()
            logs = processes["edge"].communicate(timeout=30)[1][-3000:]
            raise AssertionError(f"{error}; the edge's playlist:\n{shown[-1].decode()}\n{logs}") from None
        assert len(origin.vast_queries) == 1, origin.vast_queries  # the edge's one session, its one break
    finally:
        for process in processes.values():
            process.kill()
            process.communicate(timeout=30)
