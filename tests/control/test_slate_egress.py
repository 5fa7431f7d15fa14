"""An account's slate URL goes through the egress policy whoever asks for it first: the slate library, or the
channel that plays it when its ladder is new (proxy/playback/slate.py). Only the channel file's slates, named by the
operator, are fetched without it. A slate at the cloud metadata address must be refused for the channel's
ladder too, not downloaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from proxy.demo.testing import FakeOrigin
from proxy.settings import Settings
from proxy.web.app import create_app
from tests.servers import free_port, run_server

METADATA = "http://169.254.169.254/latest/meta-data/slate.mp4"


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    with run_server(FakeOrigin().app, free_port()) as url:
        yield f"{url}/master.m3u8"


def test_a_channel_never_fetches_an_accounts_slate_past_the_egress_policy(
    database_url: str, tmp_path: Path, credentials: tuple[dict[str, str], dict[str, tuple[str, str]]], origin: str
) -> None:
    headers = {"X-API-KEY": credentials[0]["acct-a"]}
    settings = Settings(data_dir=tmp_path, database_url=database_url, egress_allow_loopback=True)
    with TestClient(create_app(settings)) as client:
        slate = client.post("/v1/ssai/slates", json={"source_url": METADATA}, headers=headers).json()
        body = {"name": "news", "origin": origin, "slate_id": slate["media_source_asset_id"]}
        assert client.post("/v1/ssai/channels", json=body, headers=headers).status_code == 201
        manifest = client.post("/v1/ssai/session/news/main.m3u8").json()["manifestUrl"]
        assert client.get(manifest).status_code == 200  # the channel starts: its ladder is new
        jobs_queue = client.app.state.service.jobs  # type: ignore[attr-defined]
        client.portal.call(jobs_queue.wait)  # type: ignore[union-attr]
        jobs = client.get("/v1/ssai/jobs", headers=headers).json()["jobs"]
        for_ladder = [job for job in jobs if job["kind"] == "slate"]
        assert for_ladder, jobs
        for job in for_ladder:
            assert (job["state"], job["stage"]) == ("error", "download") and "refused" in job["error"], job
