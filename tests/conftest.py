from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.demo.app import DemoOptions, create_demo_app
from proxy.demo.media import DemoMedia, prepare_media
from proxy.settings import Settings
from tests.servers import free_port, run_server

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_dir(*parts: str) -> Path:
    """A folder of ../shared, or a skip saying it is absent (a fresh user clone has no ../shared)."""
    path = SHARED.joinpath(*parts)
    if not path.is_dir():
        pytest.skip(f"{path} is absent: tests over the shared test data need ../shared beside the repository")
    return path


@pytest.fixture(scope="session")
def demo_media(tmp_path_factory: pytest.TempPathFactory) -> DemoMedia:
    return prepare_media(tmp_path_factory.mktemp("media"), 2)


@pytest.fixture(scope="session")
def demo_server(demo_media: DemoMedia) -> Iterator[str]:
    """The demo (origin, ad server, slate, player, proxy) on a real uvicorn: 2 s segments, a 6 s break every 12 s."""
    port = free_port()
    options = DemoOptions(port=port, target_duration=2, ad_interval=12, ad_duration=6, window_segments=8)
    settings = Settings(port=port)
    with run_server(create_demo_app(settings, demo_media, options), port) as base:
        yield base
