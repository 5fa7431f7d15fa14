"""Slates through the API (proxy/control/slates.py, proxy/web/slates.py), on SQLite and PostgreSQL: the account's
default moves with PUT and never rests on a slate in error, a failed slate is retried, reading never queues
work, and status, default and error reason survive a restart.

Sources are served by a real uvicorn (the edge fake): tiny MP4s under /media/, 500 answers under /fail/ while
their name is in `failing`, and under /gate/ a 500 held back until the test opens the gate. With no channel
running, a slate is only downloaded and probed (no transcode), so every slate here settles quickly; the tests
wait for that through the app's own job queue (`settle`), never for a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from proxy.settings import Settings
from proxy.web.app import create_app
from tests.mediafiles import make_source
from tests.servers import free_port, run_server

SLATES = "/v1/ssai/slates"


@dataclass
class Sources:
    url: str
    failing: set[str] = field(default_factory=set)
    gates: dict[str, threading.Event] = field(default_factory=dict)

    def media(self, name: str = "") -> str:
        return f"{self.url}/media/{name or uuid.uuid4().hex}.mp4"  # one file, a job of its own per name

    def failing_url(self) -> str:
        name = uuid.uuid4().hex
        self.failing.add(name)
        return f"{self.url}/fail/{name}.mp4"

    def gated_url(self) -> tuple[str, threading.Event]:
        name = uuid.uuid4().hex
        gate = self.gates[name] = threading.Event()
        return f"{self.url}/gate/{name}.mp4", gate


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sources]:
    video = make_source(tmp_path_factory.mktemp("slates"), "square-video-only")
    found = Sources("")

    async def media(request: Request) -> Response:
        return FileResponse(video)

    async def fail(request: Request) -> Response:
        if request.path_params["name"] in found.failing:
            return Response("broken", status_code=500)
        return FileResponse(video)

    async def gate(request: Request) -> Response:
        await asyncio.to_thread(found.gates[request.path_params["name"]].wait, 120)
        return Response("broken", status_code=500)

    routes = [Route("/media/{name}.mp4", media), Route("/fail/{name}.mp4", fail), Route("/gate/{name}.mp4", gate)]
    with run_server(Starlette(routes=routes), free_port()) as url:
        found.url = url
        yield found
        for event in found.gates.values():
            event.set()


class App:
    def __init__(self, client: TestClient, keys: dict[str, str]) -> None:
        self.client, self.headers, self.other = client, {"X-API-KEY": keys["acct-a"]}, {"X-API-KEY": keys["acct-b"]}

    def add(self, source_url: str) -> dict[str, Any]:
        response = self.client.post(SLATES, json={"source_url": source_url}, headers=self.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def put(self, slate: dict[str, Any], body: dict[str, Any]) -> Any:
        return self.client.put(f"{SLATES}/slate/{slate['media_source_asset_id']}", json=body, headers=self.headers)

    def listed(self, account: str = "acct-a") -> list[dict[str, Any]]:
        response = self.client.get(f"{SLATES}/account/{account}", headers=self.headers)
        assert response.status_code == 200, response.text
        listed: list[dict[str, Any]] = response.json()
        return listed

    def now(self, slate: dict[str, Any]) -> dict[str, Any]:
        return next(s for s in self.listed() if s["media_source_asset_id"] == slate["media_source_asset_id"])

    def defaults(self) -> list[str]:
        return [s["media_source_asset_id"] for s in self.listed() if s["media_source_asset_default"]]

    def settle(self) -> None:
        """Until every job has ended and its status is stored (the app's queue, not a clock)."""
        state = self.client.app.state  # type: ignore[attr-defined]
        self.client.portal.call(state.service.jobs.wait)  # type: ignore[union-attr]
        self.client.portal.call(state.control.slates.settled)  # type: ignore[union-attr]

    def channel_slate(self) -> str | None:
        slate: str | None = self.client.app.state.service.configs["news"].slate  # type: ignore[attr-defined]
        return slate


@pytest.fixture
def make_app(
    database_url: str, tmp_path: Path, credentials: tuple[dict[str, str], dict[str, tuple[str, str]]]
) -> Iterator[Any]:
    """Apps on the test's database and data folder, one after the other (a restart); loopback sources allowed."""
    keys = credentials[0]

    @contextlib.contextmanager
    def make(**overrides: Any) -> Iterator[App]:
        settings = Settings(data_dir=tmp_path, database_url=database_url, egress_allow_loopback=True, **overrides)
        with TestClient(create_app(settings)) as client:
            yield App(client, keys)

    yield make


def job_states(app: App) -> list[tuple[str, str]]:
    return [(job["id"], job["state"]) for job in app.client.get("/v1/ssai/jobs", headers=app.headers).json()["jobs"]]


def test_put_moves_the_default_and_channels_on_it_follow(make_app: Any, sources: Sources) -> None:
    with make_app() as app:
        first, second = app.add(sources.media()), app.add(sources.media())
        assert (first["media_source_asset_default"], second["media_source_asset_default"]) == (True, False)
        body = {"name": "news", "origin": "https://origin.invalid/master.m3u8"}  # no slate_id: the default
        assert app.client.post("/v1/ssai/channels", json=body, headers=app.headers).status_code == 201
        assert app.channel_slate() == first["media_source_asset_url"]

        moved = app.put(second, {"media_source_asset_default": True})
        assert moved.status_code == 200, moved.text
        assert moved.json()["media_source_asset_default"] is True
        assert app.defaults() == [second["media_source_asset_id"]], "exactly one default"
        assert app.channel_slate() == second["media_source_asset_url"], "new sessions play the new default"
        assert app.put(first, {"default": True}).status_code == 200  # the short name
        assert app.defaults() == [first["media_source_asset_id"]]
        assert app.channel_slate() == first["media_source_asset_url"]

        kept = app.put(first, {"media_source_asset_default": False})
        assert kept.status_code == 400 and "media_source_asset_default" in kept.json()["error"]
        both = app.put(second, {"media_source_asset_default": True, "default": False})
        assert both.status_code == 400 and "default = False" in both.json()["error"]
        assert app.defaults() == [first["media_source_asset_id"]], "refusals change nothing"


def test_a_slate_in_error_never_becomes_or_stays_the_default(make_app: Any, sources: Sources) -> None:
    with make_app() as app:
        older, newer, broken = app.add(sources.media()), app.add(sources.media()), app.add(sources.failing_url())
        app.settle()
        broken = app.now(broken)
        assert broken["media_source_asset_status"] == "error" and "500" in broken["media_source_asset_error"]
        refused = app.put(broken, {"media_source_asset_default": True})
        assert refused.status_code == 400
        assert "in error" in refused.json()["error"] and broken["media_source_asset_error"] in refused.json()["error"]
        assert app.defaults() == [older["media_source_asset_id"]]

        gated, gate = sources.gated_url()
        doomed = app.add(gated)  # fails once the gate opens
        assert app.put(doomed, {"media_source_asset_default": True}).status_code == 200, "transcoding may be default"
        body = {"name": "news", "origin": "https://origin.invalid/master.m3u8"}
        app.client.post("/v1/ssai/channels", json=body, headers=app.headers)
        assert app.channel_slate() == doomed["media_source_asset_url"]
        gate.set()
        app.settle()
        assert app.now(doomed)["media_source_asset_status"] == "error"
        assert app.defaults() == [newer["media_source_asset_id"]], "the newest ready slate took over"
        assert app.channel_slate() == newer["media_source_asset_url"]


def test_a_default_that_fails_with_no_ready_slate_leaves_none(make_app: Any, sources: Sources) -> None:
    with make_app() as app:
        only = app.add(sources.failing_url())
        assert only["media_source_asset_default"] is True
        app.settle()
        assert app.now(only)["media_source_asset_status"] == "error" and app.defaults() == []


def test_a_failed_slate_is_retried(make_app: Any, sources: Sources) -> None:
    with make_app() as app:
        ready = app.add(sources.media())
        url = sources.failing_url()
        failed = app.add(url)
        app.settle()
        assert app.now(failed)["media_source_asset_status"] == "error"
        app.client.delete(f"{SLATES}/slate/{ready['media_source_asset_id']}", headers=app.headers)
        assert app.defaults() == [], "the remaining slate is in error: no default"

        path = f"{SLATES}/slate/{failed['media_source_asset_id']}/retry"
        sources.failing.discard(url.rsplit("/", 1)[1].removesuffix(".mp4"))  # the source is fixed
        retried = app.client.post(path, headers=app.headers)
        assert retried.status_code == 200, retried.text
        assert retried.json()["media_source_asset_status"] == "transcoding"
        assert "media_source_asset_error" not in retried.json()
        app.settle()
        now = app.now(failed)
        assert now["media_source_asset_status"] == "ready", now
        assert app.defaults() == [failed["media_source_asset_id"]], "an account without a default takes it"
        again = app.client.post(path, headers=app.headers)
        assert again.status_code == 409 and "ready" in again.json()["error"]


def test_state_survives_a_restart_and_reading_queues_no_work(make_app: Any, sources: Sources, stalled_url: str) -> None:
    with make_app(transcode_retry_after=0.0) as app:
        app.add(sources.failing_url())  # the default at first, then in error: no default
        ready, chosen = app.add(sources.media()), app.add(sources.media())
        app.settle()
        assert app.put(chosen, {"media_source_asset_default": True}).status_code == 200
        assert ready["media_source_asset_id"] != app.defaults()[0]
        app.add(stalled_url)  # still transcoding when the app stops
        before = app.listed()
        jobs = job_states(app)
        for _ in range(5):  # a failed job is due for a retry at once here: still, reading queues nothing
            assert app.listed() == before
            assert app.client.get(f"{SLATES}/slate/{chosen['media_source_asset_id']}", headers=app.headers)
        assert job_states(app) == jobs
    assert [s["media_source_asset_status"] for s in before] == ["error", "ready", "ready", "transcoding"]

    with make_app() as app:
        assert app.listed() == before, "status, default and error reason as they were"
        jobs = app.client.get("/v1/ssai/jobs", headers=app.headers).json()["jobs"]
        assert [(job["source"], job["kind"]) for job in jobs] == [(stalled_url, "probe")], "only unfinished work"
        states = job_states(app)
        for _ in range(5):
            app.listed()
        assert job_states(app) == states


def test_another_accounts_slate_is_not_found(make_app: Any, sources: Sources) -> None:
    with make_app() as app:
        slate = app.add(sources.media())
        path = f"{SLATES}/slate/{slate['media_source_asset_id']}"
        # Its status may move on (a transcode finishing) between the two requests: the id is what is compared.
        own = app.client.get(path, headers=app.headers).json()
        assert own["media_source_asset_id"] == slate["media_source_asset_id"]
        other = app.other
        assert app.client.get(path, headers=other).status_code == 404
        assert app.client.put(path, json={"default": True}, headers=other).status_code == 404
        assert app.client.post(f"{path}/retry", headers=other).status_code == 404
