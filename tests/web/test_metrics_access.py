"""The operator's counters, `/metrics` (Prometheus text) and `/v1/ssai/stats` (JSON), are guarded alike: refused by
default (`serve`), behind a bearer token, or on a listener of their own; open only when the operator says so (the
demo does: tests/demo/test_app.py). The JSON names every configured channel, so it shows what must not leak."""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.errors import ConfigError
from proxy.settings import ChannelConfig, Settings, from_env
from proxy.web.app import create_app
from tests.servers import free_port, run_server

PATHS = ("/metrics", "/v1/ssai/stats")
CHANNEL = "acct-b-secret-launch"  # never played: its name is what must not leak
CHANNELS = {CHANNEL: ChannelConfig(CHANNEL, "https://origin.invalid/master.m3u8")}
TOKEN = "operator-token-5d1e"


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


@contextlib.contextmanager
def proxy(data_dir: Path, **settings: str | bool) -> Iterator[str]:
    port = free_port()
    app = create_app(Settings(data_dir=data_dir, **settings).with_channels(CHANNELS))  # type: ignore[arg-type]
    with run_server(app, port) as base:
        yield base


@pytest.mark.parametrize("path", PATHS)
def test_serve_refuses_metrics_by_default_naming_the_settings(tmp_path: Path, path: str) -> None:
    assert from_env({}).metrics_open is False  # what `serve` gets without settings
    with proxy(tmp_path) as base:
        status, _, body = get(f"{base}{path}")
    assert status == 403 and CHANNEL not in body
    error = json.loads(body)["error"]
    assert error.startswith(f"{path} is the operator's")
    assert all(name in error for name in ("SSAI_METRICS_TOKEN", "SSAI_METRICS_LISTEN", "SSAI_METRICS_OPEN"))


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer", f"Bearer {TOKEN}x", "Bearer  "]
)
def test_a_token_guards_metrics(tmp_path: Path, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with proxy(tmp_path, metrics_token=TOKEN, metrics_open=True) as base:  # the token wins over open
        for path in PATHS:
            status, answer_headers, body = get(f"{base}{path}", headers)
            assert status == 401 and CHANNEL not in body and TOKEN not in body
            assert answer_headers["www-authenticate"] == 'Bearer realm="metrics"'
        status, _, body = get(f"{base}/v1/ssai/stats", {"Authorization": f"bearer {TOKEN}"})  # RFC 7235: any case
        assert status == 200 and CHANNEL in json.loads(body)["channels"]
        status, _, body = get(f"{base}/metrics", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200 and "ssai_playlist_request_seconds_count" in body


def test_metrics_on_a_listener_of_their_own(tmp_path: Path) -> None:
    listen = f"127.0.0.1:{free_port()}"
    with proxy(tmp_path, metrics_listen=listen, metrics_open=True) as base:
        for path in PATHS:
            status, _, body = get(f"{base}{path}")
            assert status == 404 and CHANNEL not in body and listen not in body and "SSAI_METRICS_LISTEN" in body
        status, _, body = get(f"http://{listen}/v1/ssai/stats")
        assert status == 200 and CHANNEL in json.loads(body)["channels"]
        status, _, body = get(f"http://{listen}/metrics")
        assert status == 200 and "# TYPE ssai_sessions_created_total counter" in body
        assert get(f"http://{listen}/v1/ssai/channels")[0] == 404  # nothing else is served there
    with pytest.raises(OSError):  # closed with the proxy
        urllib.request.urlopen(f"http://{listen}/metrics", timeout=5)


def test_a_token_guards_the_listener_too(tmp_path: Path) -> None:
    listen = f"127.0.0.1:{free_port()}"
    with proxy(tmp_path, metrics_listen=listen, metrics_token=TOKEN):
        assert get(f"http://{listen}/metrics")[0] == 401
        assert get(f"http://{listen}/metrics", {"Authorization": f"Bearer {TOKEN}"})[0] == 200


@pytest.mark.parametrize("listen", ["9100", "localhost", "127.0.0.1:", "127.0.0.1:99999", ":9100"])
def test_a_bad_listener_address_stops_the_start(tmp_path: Path, listen: str) -> None:
    with pytest.raises(ConfigError, match=f"SSAI_METRICS_LISTEN has value {listen!r}: expected host:port"):
        create_app(Settings(data_dir=tmp_path, metrics_listen=listen))


def test_the_settings_are_read_from_the_environment() -> None:
    environ = {"SSAI_METRICS_TOKEN": TOKEN, "SSAI_METRICS_LISTEN": "127.0.0.1:9100", "SSAI_METRICS_OPEN": "true"}
    settings = from_env(environ)
    assert (settings.metrics_token, settings.metrics_listen, settings.metrics_open) == (TOKEN, "127.0.0.1:9100", True)
