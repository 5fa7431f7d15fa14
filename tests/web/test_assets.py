"""The media pipeline's routes: transcoded assets served from the asset folder, and the job list."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from proxy.media.jobs import Job
from proxy.playback.service import Service
from proxy.settings import Settings
from proxy.web.app import create_app
from tests.servers import api_key

FOLDER = "0123456789abcdef/feedfacefeedfacefeedface"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    rendition = tmp_path / "assets" / FOLDER / "v0"
    rendition.mkdir(parents=True)
    (rendition / "index.m3u8").write_text("#EXTM3U\n")
    (rendition / "seg-000.ts").write_bytes(b"\x47" * 188)
    (rendition / "seg-000.m4s").write_bytes(b"moof")
    (rendition / "notes.txt").write_text("not media")
    (tmp_path / "assets" / ".work" / "build-1").mkdir(parents=True)
    (tmp_path / "assets" / ".work" / "build-1" / "seg-000.ts").write_bytes(b"\x47")
    (tmp_path / "secret.ts").write_bytes(b"outside the asset folder")
    key = asyncio.run(api_key(tmp_path, "op"))
    with TestClient(create_app(Settings(data_dir=tmp_path, metrics_open=True))) as test_client:
        test_client.headers["X-API-KEY"] = key
        yield test_client


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("index.m3u8", "application/vnd.apple.mpegurl"),
        ("seg-000.ts", "video/mp2t"),
        ("seg-000.m4s", "video/iso.segment"),
    ],
)
def test_assets_are_served_with_their_media_type(client: TestClient, name: str, media_type: str) -> None:
    response = client.get(f"/v1/ssai/assets/{FOLDER}/v0/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["cache-control"] == "public, max-age=86400"


@pytest.mark.parametrize(
    "path",
    [
        f"{FOLDER}/v0/notes.txt",  # not a media file
        f"{FOLDER}/v0/seg-001.ts",  # not there
        ".work/build-1/seg-000.ts",  # a build in progress
        f"{FOLDER}/../../../secret.ts",
        "..%2f..%2fsecret.ts",
        f"{FOLDER}/v0/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.ts",
    ],
)
def test_nothing_else_is_served(client: TestClient, path: str) -> None:
    response = client.get(f"/v1/ssai/assets/{path}")
    assert response.status_code == 404  # ours naming the asset, or the router's once ".." is resolved
    assert b"outside" not in response.content and b"\x47" not in response.content


def test_the_job_list_shows_state_and_progress(client: TestClient) -> None:
    service: Service = client.app.state.service  # type: ignore[attr-defined]
    job = Job("p/c", "creative", "ad-1", "https://ads.test/ad.mp4", "p", state="transcoding", percent=42.25)
    job.accounts.add("op")
    service.jobs.jobs[job.id] = job
    document = client.get("/v1/ssai/jobs").json()
    assert document["counts"] == {"transcoding": 1}
    (listed,) = document["jobs"]
    assert {k: listed[k] for k in ("id", "kind", "key", "state", "percent", "error")} == {
        "id": "p/c",
        "kind": "creative",
        "key": "ad-1",
        "state": "transcoding",
        "percent": 42.2,
        "error": None,
    }
    assert client.get("/v1/ssai/stats").json()["jobs"] == {"transcoding": 1}
