from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from proxy.demo.app import DemoOptions, create_demo_app
from proxy.demo.media import DemoMedia, prepare_media
from proxy.settings import Settings
from tests.servers import api_key, free_port, local_settings, run_server

_DEMO_KEYS: dict[str, str] = {}  # a demo server's base URL → an API key of the account owning its channels

# Hypothesis' per-example deadline is a timing threshold: a loaded machine trips it, the code is not at fault.
hypothesis_settings.register_profile("suite", deadline=None)
hypothesis_settings.load_profile("suite")

pytest_plugins = ["tests.isolation"]  # the run fails if it touches ./data or bench/results

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_dir(*parts: str) -> Path:
    """A folder of ../shared, or a skip saying it is absent (a fresh user clone has no ../shared)."""
    path = SHARED.joinpath(*parts)
    if not path.is_dir():
        pytest.skip(f"{path} is absent: tests over the shared test data need ../shared beside the repository")
    return path


SAMPLES = Path(__file__).resolve().parent / "data" / "samples"


def sample_dir(*parts: str) -> Path:
    """A folder of test samples: the project's copy in tests/data/samples (the openly licensed files of
    ../shared/testdata, README.md there), else ../shared/testdata's, else a skip."""
    own = SAMPLES.joinpath(*parts)
    return own if own.is_dir() else shared_dir("testdata", *parts)


def sample(*parts: str) -> Path:
    """One sample file: the project's copy, else ../shared/testdata's (a file whose licence keeps it out of
    the repository: its behaviour has a project-owned fixture too), else a skip."""
    own = SAMPLES.joinpath(*parts)
    return own if own.is_file() else shared_dir("testdata", *parts[:-1]).joinpath(parts[-1])


@pytest.fixture(scope="session")
def demo_media(tmp_path_factory: pytest.TempPathFactory) -> DemoMedia:
    """Encoded once per run: pytest-xdist workers share the run's temporary root and take turns under a
    lock, so one ffmpeg encode serves every worker (the others load the cached media)."""
    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    with open(root / "demo-media.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return prepare_media(root / "demo-media-cache", 2)


def demo_settings(port: int, data_dir: Path) -> Settings:
    # ultrafast: the MP4 channel's creatives are transcoded while the tests watch.
    return local_settings(port=port, data_dir=data_dir, transcode_preset="ultrafast")


@contextlib.contextmanager
def run_demo(settings: Settings, media: DemoMedia, options: DemoOptions) -> Iterator[str]:
    """A demo on a real uvicorn, with an API key of the account its channels are stored under (`demo_jobs`)."""
    key = asyncio.run(api_key(settings.data_dir, settings.bootstrap_account, "Demo"))
    with run_server(create_demo_app(settings, media, options), options.port) as base:
        _DEMO_KEYS[base] = key
        yield base


def demo_jobs(base: str) -> list[dict[str, object]]:
    """The media jobs of the demo at `base` (the job list is its channels' account's)."""
    request = urllib.request.Request(f"{base}/v1/ssai/jobs", headers={"X-API-KEY": _DEMO_KEYS[base]})
    with urllib.request.urlopen(request, timeout=10) as response:
        jobs: list[dict[str, object]] = json.load(response)["jobs"]
        return jobs


@pytest.fixture(scope="session")
def demo_server(demo_media: DemoMedia, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo (origin, ad server, slate, player, proxy) on a real uvicorn: 2 s segments, a 6 s break every 12 s."""
    port = free_port()
    options = DemoOptions(port=port, target_duration=2, ad_interval=12, ad_duration=6, window_segments=8)
    with run_demo(demo_settings(port, tmp_path_factory.mktemp("demo-data")), demo_media, options) as base:
        yield base


@pytest.fixture(scope="session")
def warm_mp4(demo_server: str) -> str:
    """The demo server once the `mp4` channel's slate and creatives are transcoded (a session's first break
    asks for them; they play from the next break on): what a player joining later sees. The session keeps
    asking for its playlist like a player: one that stops is inactive and causes no ad request."""
    request = urllib.request.Request(f"{demo_server}/v1/ssai/session/mp4/main.m3u8", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        manifest = json.load(response)["manifestUrl"]
    session = manifest.partition("session_id=")[2].partition("&")[0]
    playlist = f"{demo_server}/v1/ssai/media/mp4/{session}/v0.m3u8"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        urllib.request.urlopen(playlist, timeout=10).close()
        jobs = demo_jobs(demo_server)
        states = {job["kind"]: job["state"] for job in jobs}
        failed = [job for job in jobs if job["state"] == "error"]
        assert not failed, f"media jobs failed: {failed}"
        if (
            states.get("slate") == "ready"
            and states.get("creative") == "ready"
            and all(job["state"] == "ready" for job in jobs)
        ):
            return demo_server
        time.sleep(0.5)
    raise AssertionError(f"the mp4 channel's media were not ready in 120 s: {jobs}")
