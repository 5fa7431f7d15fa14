"""Channels and cue points through the app (proxy/web/channels.py), on SQLite and PostgreSQL: shapes, both
credentials, isolation between accounts, references checked, configurations in use kept, and what the proxy
then plays (proxy/control/channelstore.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.control.conftest import Api
from tests.control.test_live_api import CREATE as APPLICATION
from tests.control.test_vc_api import CREATE as SSAI_CONFIG, token

ORIGIN = "https://origin.invalid/live/master.m3u8"
CHANNEL_KEYS = {
    "name", "channel_id", "account_id", "origin", "application_id", "config_id", "slate_id", "source",
    "content_segment_prefix", "ad_segment_prefix", "options", "playback_url", "created_timestamp", "updated_timestamp",
    "metadata",
}  # fmt: skip


def application(api: Api, account: str = "acct-a") -> str:
    response = api.client.post("/v1/ssai/applications", json=APPLICATION, headers=api.headers(account))
    return str(response.json()["application"]["application_id"])


def channel(api: Api, name: str = "news", account: str = "acct-a", **fields: Any) -> dict[str, Any]:
    body = {"name": name, "origin": ORIGIN, **fields}
    response = api.client.post("/v1/ssai/channels", json=body, headers=api.headers(account))
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document


def test_create_get_list_update_delete(api: Api) -> None:
    app_id, headers = application(api), api.headers("acct-a")
    created = channel(api, application_id=app_id)
    assert set(created) == CHANNEL_KEYS
    assert (created["channel_id"], created["account_id"], created["source"]) == ("news", "acct-a", "api")
    assert created["playback_url"] == "/v1/ssai/session/news/main.m3u8"
    assert api.client.get("/v1/ssai/channels/news", headers=headers).json() == created
    assert api.client.get("/v1/ssai/channels", headers=headers).json() == [created]
    prefix = "https://cdn.invalid/ads/"
    updated = api.client.put("/v1/ssai/channels/news", json={"ad_segment_prefix": prefix}, headers=headers)
    assert updated.status_code == 200 and updated.json()["ad_segment_prefix"] == prefix
    assert updated.json()["application_id"] == app_id  # partial: the rest is kept
    deleted = api.client.delete("/v1/ssai/channels/news", headers=headers)
    assert deleted.json() == {"channel_id": "news", "deleted": True}
    assert api.client.get("/v1/ssai/channels/news", headers=headers).status_code == 404


def test_the_proxy_plays_what_the_store_says(api: Api) -> None:
    app_id = application(api)
    channel(api, application_id=app_id)
    config = api.client.app.state.service.configs["news"]  # type: ignore[attr-defined]
    ad = APPLICATION["application_ad_configuration"]
    assert (config.origin, config.ad_tag, config.ad_response) == (ORIGIN, ad["ad_configuration_url_format"], "dfp")
    assert dict(config.ad_headers) == ad["ad_configuration_headers"] and len(config.ad_transforms) == 1
    assert config.slate is None
    api.client.post("/v1/ssai/slates", json=api.slate, headers=api.headers("acct-a"))  # the account's default slate
    changed = api.client.app.state.service.configs["news"]  # type: ignore[attr-defined]
    assert changed.slate == api.slate["source_url"] and changed.version != config.version


def test_a_bearer_token_drives_channels_with_an_ssai_config(api: Api) -> None:
    headers = token(api, "acct-a")
    config_id = api.client.post("/v1/accounts/acct-a/ssai_configs", json=SSAI_CONFIG, headers=headers).json()
    created = api.client.post(
        "/v1/ssai/channels", json={"name": "vc", "origin": ORIGIN, "config_id": config_id["config_id"]}, headers=headers
    )
    assert created.status_code == 201, created.text
    config = api.client.app.state.service.configs["vc"]  # type: ignore[attr-defined]
    assert config.ad_tag == SSAI_CONFIG["ad_config"]["template_url"]["template"]
    assert config.server_beacons is not SSAI_CONFIG["ad_config"].get("disable_server_beacons", False)
    assert config.extend_beacon_guard_ttl is SSAI_CONFIG.get("extend_beacon_guard_ttl", False)
    patch = {"ad_config": {**SSAI_CONFIG["ad_config"], "disable_server_beacons": True}}
    api.client.put(f"/v1/accounts/acct-a/ssai_configs/{config_id['config_id']}", json=patch, headers=headers)
    assert api.client.app.state.service.configs["vc"].server_beacons is False  # type: ignore[attr-defined]
    read_only = token(api, "acct-a-read")
    assert api.client.get("/v1/ssai/channels/vc", headers=read_only).status_code == 200
    assert api.client.delete("/v1/ssai/channels/vc", headers=read_only).status_code == 403


def test_references_must_be_the_accounts_own(api: Api) -> None:
    theirs = application(api, "acct-b")
    refused = api.client.post(
        "/v1/ssai/channels",
        json={"name": "x", "origin": ORIGIN, "application_id": theirs},
        headers=api.headers("acct-a"),
    )
    assert refused.status_code == 400 and "application_id" in refused.json()["error"] and theirs in refused.text
    assert api.client.get("/v1/ssai/channels", headers=api.headers("acct-a")).json() == []


def test_a_configuration_in_use_cannot_be_deleted(api: Api) -> None:
    headers = api.headers("acct-a")
    app_id = application(api)
    slate_id = api.client.post("/v1/ssai/slates", json=api.slate, headers=headers).json()["media_source_asset_id"]
    channel(api, application_id=app_id, slate_id=slate_id)
    for path in (f"/v1/ssai/applications/application/{app_id}", f"/v1/ssai/slates/slate/{slate_id}"):
        refused = api.client.delete(path, headers=headers)
        assert refused.status_code == 409 and "news" in refused.json()["error"]
    api.client.delete("/v1/ssai/channels/news", headers=headers)
    assert api.client.delete(f"/v1/ssai/applications/application/{app_id}", headers=headers).status_code == 200


def test_an_ssai_config_in_use_cannot_be_deleted(api: Api) -> None:
    headers = token(api, "acct-a")
    config_id = api.client.post("/v1/accounts/acct-a/ssai_configs", json=SSAI_CONFIG, headers=headers).json()
    api.client.post(
        "/v1/ssai/channels", json={"name": "vc", "origin": ORIGIN, "config_id": config_id["config_id"]}, headers=headers
    )
    refused = api.client.delete(f"/v1/accounts/acct-a/ssai_configs/{config_id['config_id']}", headers=headers)
    assert refused.status_code == 409 and "vc" in refused.json()["error"]


def test_a_taken_name_is_refused_even_across_accounts(api: Api) -> None:
    channel(api, "news", "acct-a")
    refused = api.client.post(
        "/v1/ssai/channels", json={"name": "news", "origin": ORIGIN}, headers=api.headers("acct-b")
    )
    assert refused.status_code == 409 and "'news'" in refused.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/v1/ssai/channels/news", None),
        ("put", "/v1/ssai/channels/news", {"origin": ORIGIN}),
        ("delete", "/v1/ssai/channels/news", None),
        ("post", "/v1/ssai/channels/news/cuepoint", {"duration": 30}),
        ("get", "/v1/ssai/channels/news/cuepoints", None),
    ],
)
def test_another_accounts_channel_is_not_found(api: Api, method: str, path: str, body: Any) -> None:
    channel(api, "news", "acct-a")
    response = api.client.request(method, path, json=body, headers=api.headers("acct-b"))
    assert response.status_code == 404 and "'news'" in response.json()["error"]
    assert api.client.get("/v1/ssai/channels", headers=api.headers("acct-b")).json() == []
    assert api.client.get("/v1/ssai/channels/news", headers=api.headers("acct-a")).json()["origin"] == ORIGIN


@pytest.mark.parametrize("headers", [{}, {"X-API-KEY": "forged"}, {"Authorization": "Bearer forged"}])
def test_missing_or_forged_credentials_get_401(api: Api, headers: dict[str, str]) -> None:
    response = api.client.get("/v1/ssai/channels", headers=headers)
    assert response.status_code == 401 and response.json()["error"]


def test_cue_points_are_stored_with_their_ad_server_data(api: Api) -> None:
    channel(api)
    body = {"duration": 30, "timecode": 60, "ad_server_data": {"campaign": "winter"}}
    inserted = api.client.post("/v1/ssai/channels/news/cuepoint", json=body, headers=api.headers("acct-a"))
    assert inserted.status_code == 200, inserted.text
    answer = inserted.json()
    assert answer["id"] == "news" and set(answer["cue_point"]) == {
        "id", "name", "type", "duration", "starts_at", "ad_server_data", "accuracy",
    }  # fmt: skip
    assert answer["cue_point"]["ad_server_data"] == {"campaign": "winter"} and answer["cue_point"]["duration"] == 30
    listed = api.client.get("/v1/ssai/channels/news/cuepoints", headers=api.headers("acct-a")).json()
    assert listed == [answer["cue_point"]]
    scheduled = api.client.app.state.service.cuepoints["news"]  # type: ignore[attr-defined]
    assert [c.ad_server_data for c in scheduled.values()] == [{"campaign": "winter"}]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"duration": 0}, "duration"),
        ({"duration": 30, "timecode": -1}, "timecode"),
        ({"duration": 30, "ad_server_data": {"k": 1}}, "ad_server_data['k']"),
        ({"duration": "30"}, "duration"),
    ],
)
def test_bad_cue_points_name_the_field(api: Api, body: dict[str, Any], named: str) -> None:
    channel(api)
    refused = api.client.post("/v1/ssai/channels/news/cuepoint", json=body, headers=api.headers("acct-a"))
    assert refused.status_code == 400 and refused.json()["error"].startswith(named)
    assert api.client.get("/v1/ssai/channels/news/cuepoints", headers=api.headers("acct-a")).json() == []


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"name": "news", "origin": "ftp://x/"}, "origin"),
        ({"name": "a/b", "origin": ORIGIN}, "name"),
        ({"name": "news", "origin": ORIGIN, "application_id": "a", "config_id": "b"}, "config_id"),
        ({"name": "news", "origin": ORIGIN, "colour": "red"}, "colour"),
    ],
)
def test_bad_channels_name_the_field_and_store_nothing(api: Api, body: dict[str, Any], named: str) -> None:
    refused = api.client.post("/v1/ssai/channels", json=body, headers=api.headers("acct-a"))
    assert refused.status_code == 400 and refused.json()["error"].startswith(named)
    assert api.client.get("/v1/ssai/channels", headers=api.headers("acct-a")).json() == []
