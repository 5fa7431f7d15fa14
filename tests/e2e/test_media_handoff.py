"""Media jobs run by the control process, never beside an edge's playlists: `serve --role control` and `serve --role
edge` on one Redis and one asset folder. A session on the edge meets a break whose creative is an MP4: the edge
skips it (NEW_CREATIVE) and queues its job, the control process transcodes it (real ffmpeg) into the shared asset
folder, and a later break on the edge plays its renditions; the edge took no job lease (it ran none). Needs Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from proxy.demo.testing import FakeOrigin
from tests.e2e.test_roles import TD, TOKEN, serve_env, served, start_roles
from tests.mediafiles import make_source
from tests.servers import free_port


@pytest.fixture
def origin(tmp_path: Path) -> Iterator[FakeOrigin]:
    """A fake origin whose ad server answers an MP4 creative, and a channel file for it."""
    mp4 = make_source(tmp_path, "4x3-30fps-mono-44k").read_bytes()
    fake, port = FakeOrigin(td=TD, window=6, every=6, break_segments=3, mp4=mp4), free_port()
    with served(fake, port, tmp_path / "channels.toml", ad_query="media=mp4&"):
        yield fake


def _stats(base: str) -> dict[str, Any]:
    answer = httpx.get(f"{base}/v1/ssai/stats", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.text
    stats: dict[str, Any] = answer.json()
    return stats


@pytest.mark.slow
def test_the_control_process_transcodes_what_the_edge_needs(tmp_path: Path, origin: FakeOrigin, prefix: str) -> None:
    env = serve_env(prefix, SSAI_ASSET_DIR=str(tmp_path / "assets"), SSAI_TRANSCODE_PRESET="ultrafast")  # one folder
    processes, bases = start_roles(tmp_path, env)
    try:
        edge, control = bases["edge"], bases["control"]
        made = httpx.post(f"{edge}/v1/ssai/session/fake/main.m3u8", json={})
        assert made.status_code == 200, made.text
        sid = made.json()["manifestUrl"].rsplit("=", 1)[1]
        deadline, body = time.monotonic() + 120, ""
        while "\nseg/" not in body and time.monotonic() < deadline:  # an ad segment (its beacons' redirect)
            body = httpx.get(f"{edge}/v1/ssai/media/fake/{sid}/v0.m3u8").text
            time.sleep(TD / 2)
        ad = next((line for line in body.splitlines() if line.startswith("seg/")), None)
        assert ad is not None, f"a break with the transcoded creative: {body}"
        where = httpx.get(f"{edge}/v1/ssai/media/fake/{sid}/{ad}", follow_redirects=False)
        assert where.status_code == 302 and "/v1/ssai/assets/" in where.headers["location"], where.headers
        assert httpx.get(f"{edge}{where.headers['location']}").status_code == 200, "served from the shared folder"
        at_edge, at_control = _stats(edge), _stats(control)
        assert at_edge["decisions"].get("NEW_CREATIVE", 0) >= 1, at_edge["decisions"]
        assert at_edge["job_requests"].get("asked", 0) >= 1 and "taken" not in at_edge["job_requests"]
        assert at_control["job_requests"].get("taken", 0) >= 1, at_control["job_requests"]
        assert at_control["job_leases"].get("taken", 0) >= 1 and "taken" not in at_edge["job_leases"]
    finally:
        for process in processes.values():
            process.kill()
            process.communicate(timeout=30)
