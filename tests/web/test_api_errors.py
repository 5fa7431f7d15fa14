"""The playback API's answers to bad input, through `create_app` with a FakeOrigin on a real server:
400 with a JSON reason naming the field and the value, 404 naming what is unknown, nothing stored half-way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from proxy.demo.testing import FakeOrigin, free_port, local_settings, run_server
from proxy.settings import ChannelConfig
from proxy.web.app import create_app

SESSION = "/v1/ssai/session/fake/main.m3u8"
MEDIA_URI = re.compile(r"^/v1/ssai/media/fake/([0-9a-f]{32})/(v\d|a\d)\.m3u8$")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    origin = FakeOrigin()
    with run_server(origin.app, free_port()) as base:
        channels = {
            name: ChannelConfig(name=name, origin=f"{base}/master.m3u8") for name in ("fake", "other")
        }  # two channels on one origin: a session belongs to one of them only
        with TestClient(
            create_app(local_settings(data_dir=tmp_path_factory.mktemp("data")).with_channels(channels))
        ) as test_client:
            yield test_client


def sessions(client: TestClient) -> int:
    count: int = client.get("/healthz").json()["sessions"]
    return count


def error_of(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str)
    message: str = body["error"]
    return message


def new_session(client: TestClient, **kwargs: Any) -> str:
    response = client.post(SESSION, **kwargs)
    assert response.status_code == 200, response.text
    return str(response.json()["manifestUrl"]).rsplit("=", 1)[1]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"not json", "b'not json': expected a JSON object"),
        (b"{", "b'{': expected a JSON object"),
        (b"[1, 2]", "b'[1, 2]': expected a JSON object"),
        (b'"adsParams"', "expected a JSON object"),
        (b'{"adsParams": [1]}', "adsParams [1]: expected an object"),
        (b'{"adsParams": "deviceType=ios"}', "adsParams 'deviceType=ios': expected an object"),
        (b'{"adsParams": {"deviceType": {"os": "ios"}}}', "adsParams.deviceType = {'os': 'ios'}: expected a string"),
        (b'{"deviceType": ["ios"]}', "deviceType = ['ios']: expected a string or number"),
        (b'{"adsParams": {"muted": true}}', "adsParams.muted = True: expected a string or number"),
        (b'{"adsParams": {"x": null}}', "adsParams.x = None"),
        (b'{"k": "' + b"v" * 2500 + b'"}', "ad parameters total more than 2000 characters"),
    ],
)
def test_bad_session_bodies(client: TestClient, body: bytes, named: str) -> None:
    before = sessions(client)
    message = error_of(client.post(SESSION, content=body), 400)
    assert named in message
    assert len(message) < 300  # the reason quotes the value, never the whole body
    assert sessions(client) == before  # nothing stored half-way


def test_good_session_post(client: TestClient) -> None:
    before = sessions(client)
    response = client.post(SESSION, json={"adsParams": {"deviceType": "ios", "age": 30, "ratio": 1.5}})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"manifestUrl", "trackingUrl"}
    session_id = body["manifestUrl"].rsplit("=", 1)[1]
    assert body["manifestUrl"] == f"/v1/ssai/master/fake/main.m3u8?session_id={session_id}"
    assert body["trackingUrl"] == f"/v1/ssai/tracking/fake/{session_id}"
    assert sessions(client) == before + 1
    master = client.get(body["manifestUrl"])
    assert master.status_code == 200
    uris = [line for line in master.text.splitlines() if line.startswith("/") or "URI=" in line]
    assert uris and all(session_id in uri for uri in uris)


@pytest.mark.parametrize("body", [b"", b"  \n", b"{}", b'{"adsParams": {}}'])
def test_empty_bodies_are_sessions_without_parameters(client: TestClient, body: bytes) -> None:
    assert len(new_session(client, content=body)) == 32


def test_implicit_master_creates_a_session_carried_by_every_uri(client: TestClient) -> None:
    before = sessions(client)
    response = client.get("/v1/ssai/master/fake/main.m3u8", params={"ads.deviceType": "ios"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    lines = response.text.splitlines()
    uris = [line for line in lines if line and not line.startswith("#")]
    uris += [line.split('URI="', 1)[1].rstrip('"') for line in lines if 'URI="' in line]
    matches = [MEDIA_URI.match(uri) for uri in uris]
    assert all(matches) and len(matches) == 3, uris  # v0, v1 and the audio rendition a0
    session_ids = {m.group(1) for m in matches if m}
    assert len(session_ids) == 1
    assert sorted(m.group(2) for m in matches if m) == ["a0", "v0", "v1"]
    assert sessions(client) == before + 1
    (session_id,) = session_ids
    assert client.get(f"/v1/ssai/tracking/fake/{session_id}").json() == {"avails": []}


def test_new_session_tracking_is_empty(client: TestClient) -> None:
    session_id = new_session(client)
    response = client.get(f"/v1/ssai/tracking/fake/{session_id}")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json() == {"avails": []}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/ssai/session/nope/main.m3u8"),
        ("GET", "/v1/ssai/master/nope/main.m3u8"),
    ],
)
def test_unknown_channel(client: TestClient, method: str, path: str) -> None:
    before = sessions(client)
    assert error_of(client.request(method, path), 404) == "channel 'nope' is not configured"
    assert sessions(client) == before


@pytest.mark.parametrize(
    "path",
    [
        "/v1/ssai/master/fake/main.m3u8?session_id=0123456789abcdef",
        "/v1/ssai/master/fake/main.m3u8?session_id=",
        "/v1/ssai/media/fake/0123456789abcdef/v0.m3u8",
        "/v1/ssai/media/nope/0123456789abcdef/v0.m3u8",
        "/v1/ssai/tracking/fake/0123456789abcdef",
    ],
)
def test_unknown_session(client: TestClient, path: str) -> None:
    session_id = path.split("session_id=")[1] if "session_id=" in path else "0123456789abcdef"
    assert error_of(client.get(path), 404) == f"session {session_id!r} does not exist or has expired"


def test_session_of_another_channel_is_unknown_here(client: TestClient) -> None:
    session_id = new_session(client)
    for path in (
        f"/v1/ssai/tracking/other/{session_id}",
        f"/v1/ssai/media/other/{session_id}/v0.m3u8",
        f"/v1/ssai/master/other/main.m3u8?session_id={session_id}",
    ):
        assert "does not exist" in error_of(client.get(path), 404)


@pytest.mark.parametrize("track", ["v9", "a1", "x0", "main"])
def test_unknown_track(client: TestClient, track: str) -> None:
    session_id = new_session(client)
    message = error_of(client.get(f"/v1/ssai/media/fake/{session_id}/{track}.m3u8"), 404)
    assert message == f"track {track!r}: expected one of ['v0', 'v1', 'a0']"


def test_known_track_of_a_new_session_plays(client: TestClient) -> None:
    session_id = new_session(client)
    response = client.get(f"/v1/ssai/media/fake/{session_id}/v0.m3u8")
    assert response.status_code == 200
    assert response.text.startswith("#EXTM3U\n") and "#EXTINF:" in response.text


def test_a_chunked_body_over_the_limit_is_refused_while_streaming(client: TestClient) -> None:
    before = sessions(client)
    chunks = iter([b'{"k": "' + b"v" * 10_000, b"v" * 10_000 + b'"}'])
    message = error_of(client.post(SESSION, content=chunks), 413)
    assert message == "body is at least 20009 bytes (the rest was not read): expected at most 16384 bytes"
    assert sessions(client) == before
