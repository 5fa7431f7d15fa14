"""What a GET answers can be sent back with PUT (proxy/web/readonly.py), on SQLite and PostgreSQL: Brightcove Live API
applications, Video Cloud SSAI API ssai_configs, channels and slates. The read-only fields are accepted when they are
the stored values; one that differs is refused (400) naming it and quoting both values, and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.control.conftest import Api
from tests.control.test_live_api import CREATE as APPLICATION
from tests.control.test_vc_api import CREATE as SSAI_CONFIG, token

ORIGIN = "https://origin.invalid/live/master.m3u8"


def _application(api: Api) -> tuple[str, dict[str, str]]:
    headers = api.headers("acct-a")
    created = api.client.post("/v1/ssai/applications", json=APPLICATION, headers=headers).json()
    return f"/v1/ssai/applications/application/{created['application']['application_id']}", headers


def _ssai_config(api: Api) -> tuple[str, dict[str, str]]:
    headers = token(api, "acct-a")
    created = api.client.post("/v1/accounts/acct-a/ssai_configs", json=SSAI_CONFIG, headers=headers).json()
    return f"/v1/accounts/acct-a/ssai_configs/{created['config_id']}", headers


def _channel(api: Api) -> tuple[str, dict[str, str]]:
    headers = api.headers("acct-a")
    app_path, _ = _application(api)
    body = {"name": "news", "origin": ORIGIN, "application_id": app_path.rsplit("/", 1)[1]}
    assert api.client.post("/v1/ssai/channels", json=body, headers=headers).status_code == 201
    return "/v1/ssai/channels/news", headers


def _slate(api: Api) -> tuple[str, dict[str, str]]:
    headers = api.headers("acct-a")
    created = api.client.post("/v1/ssai/slates", json=api.slate, headers=headers).json()  # stays transcoding
    return f"/v1/ssai/slates/slate/{created['media_source_asset_id']}", headers


MAKERS = {"application": _application, "ssai_config": _ssai_config, "channel": _channel, "slate": _slate}
# Each resource's read-only fields, with another value of the right type for each.
READ_ONLY: dict[str, dict[str, Any]] = {
    "application": {"application_id": "another-id", "account_id": "acct-b"},
    "ssai_config": {
        "config_id": "2ecc6beb-d6a4-4deb-a78e-37ac27e0f883",
        "account_id": "acct-b",
        "created_timestamp": "2017-07-24T19:28:34.976878586Z",
        "updated_timestamp": "2017-07-24T19:28:34.976878586Z",
    },
    "channel": {
        "channel_id": "sport",
        "account_id": "acct-b",
        "source": "file",
        "playback_url": "/v1/ssai/session/sport/main.m3u8",
        "created_timestamp": "2017-07-24T19:28:34.976878Z",
        "updated_timestamp": "2017-07-24T19:28:34.976878Z",
    },
    "slate": {
        "media_source_asset_id": "another-id",
        "account_id": "acct-b",
        "media_source_asset_type": "video",
        "media_source_asset_url": "https://slates.example/other.mp4",
        "media_source_asset_status": "ready",
        "media_source_asset_error": "download: 404",
    },
}


def _without_updated(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "updated_timestamp"}


@pytest.mark.parametrize("kind", MAKERS)
def test_a_get_answer_put_back_unchanged_changes_nothing_but_updated_timestamp(api: Api, kind: str) -> None:
    path, headers = MAKERS[kind](api)
    before = api.client.get(path, headers=headers).json()
    put = api.client.put(path, json=before, headers=headers)
    assert put.status_code == 200, put.text
    assert _without_updated(put.json()) == _without_updated(before)
    after = api.client.get(path, headers=headers).json()
    assert after == put.json()
    if "updated_timestamp" in before:
        assert after["updated_timestamp"] >= before["updated_timestamp"]


@pytest.mark.parametrize(("kind", "field"), [(kind, field) for kind, fields in READ_ONLY.items() for field in fields])
def test_a_read_only_field_that_differs_is_refused_naming_it_and_nothing_is_stored(
    api: Api, kind: str, field: str
) -> None:
    path, headers = MAKERS[kind](api)
    before = api.client.get(path, headers=headers).json()
    sent = READ_ONLY[kind][field]
    body = {**before, field: sent, **_an_editable_change(kind)}
    refused = api.client.put(path, json=body, headers=headers)
    assert refused.status_code == 400, refused.text
    message = refused.json()["error"]
    assert message.startswith(f"{field} = {sent!r}: expected {before.get(field)!r}"), message
    assert api.client.get(path, headers=headers).json() == before, "nothing stored"


def _an_editable_change(kind: str) -> dict[str, Any]:
    """A change the PUT would store if its read-only fields were right: the refusal must be for them."""
    return {
        "application": {"application_description": "changed"},
        "ssai_config": {"name": "changed"},
        "channel": {"ad_segment_prefix": "https://cdn.invalid/ads/"},
        "slate": {"media_source_asset_description": "changed"},
    }[kind]


@pytest.mark.parametrize("kind", MAKERS)
def test_the_same_instant_or_only_editable_fields_are_accepted(api: Api, kind: str) -> None:
    """Timestamps are compared as instants (`Z` or `+00:00`); a partial PUT keeps working as before."""
    path, headers = MAKERS[kind](api)
    before = api.client.get(path, headers=headers).json()
    change = _an_editable_change(kind)
    if kind == "application":  # Brightcove Live API's update is a whole body: the GET answer with one field changed
        change = {**before, **change}
    elif "created_timestamp" in before:
        change["created_timestamp"] = before["created_timestamp"].replace("Z", "+00:00")
    put = api.client.put(path, json=change, headers=headers)
    assert put.status_code == 200, put.text
    name, value = next((k, v) for k, v in _an_editable_change(kind).items())
    assert api.client.get(path, headers=headers).json()[name] == value
