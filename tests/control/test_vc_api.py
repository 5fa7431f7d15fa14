"""The Video Cloud SSAI API and the OAuth client-credentials endpoint, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.control.conftest import Api

TEMPLATE = (
    "http://solutions.brightcove.com/bcls/ads/simple-ad-rules?ip={{ system.ip_address }}"
    "&vid={{ metadata.video_id }}&ppid={{ system.unique_user_id }}&p_vmap={{ url.p_vmap }}"
)
# The API document's create sample.
CREATE: dict[str, Any] = {
    "name": "VMAP Ad Server",
    "vmap_response_namespace": "bc",
    "ad_config": {
        "expected_ad_response": "vast_3_0",
        "disable_server_beacons": False,
        "template_url": {"template": TEMPLATE},
    },
}
SERVER_FIELDS = {"config_id", "account_id", "created_timestamp", "updated_timestamp"}


def token(api: Api, client: str) -> dict[str, str]:
    client_id, secret = api.clients[client]
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = api.client.post(
        "/v4/access_token", content=b"grant_type=client_credentials", headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    return {"Authorization": f"Bearer {body['access_token']}"}


def test_list_create_get_update_delete_with_the_seed_shapes(api: Api) -> None:
    auth, base = token(api, "acct-a"), "/v1/accounts/acct-a/ssai_configs"
    created = api.client.post(base, json=CREATE, headers=auth)
    assert created.status_code == 200, created.text
    config = created.json()
    assert SERVER_FIELDS <= set(config) and config["account_id"] == "acct-a"
    assert config["name"] == "VMAP Ad Server" and config["ad_config"]["template_url"]["template"] == TEMPLATE
    assert config["created_timestamp"].endswith("Z") and config["extend_beacon_guard_ttl"] is False  # a default
    path = f"{base}/{config['config_id']}"
    assert api.client.get(path, headers=auth).json() == config
    assert api.client.get(base, headers=auth).json() == [config]

    updated = api.client.put(path, json={"name": "VMAP Ad Server - updated"}, headers=auth).json()
    assert updated["name"] == "VMAP Ad Server - updated"
    assert updated["ad_config"] == config["ad_config"], "a partial update keeps the other fields"
    assert updated["created_timestamp"] == config["created_timestamp"]
    assert updated["updated_timestamp"] >= config["updated_timestamp"]
    bad = api.client.put(path, json={"ad_config": {"expected_ad_response": "json"}}, headers=auth)
    assert bad.status_code == 400 and "expected_ad_response" in bad.json()["error"]
    assert api.client.get(path, headers=auth).json()["ad_config"] == config["ad_config"], "nothing stored"

    assert api.client.delete(path, headers=auth).status_code == 204
    assert api.client.get(path, headers=auth).status_code == 404


def test_tokens_are_scoped_to_their_account_and_operations(api: Api) -> None:
    mine = token(api, "acct-a")
    config = api.client.post("/v1/accounts/acct-a/ssai_configs", json=CREATE, headers=mine).json()
    path = f"/v1/accounts/acct-a/ssai_configs/{config['config_id']}"
    other = token(api, "acct-b")
    assert api.client.get(path, headers=other).status_code == 404
    assert api.client.get("/v1/accounts/acct-a/ssai_configs", headers=other).status_code == 404
    assert api.client.put(path, json={"name": "x"}, headers=other).status_code == 404
    assert api.client.delete(path, headers=other).status_code == 404
    other_path = f"/v1/accounts/acct-b/ssai_configs/{config['config_id']}"
    assert api.client.get(other_path, headers=other).status_code == 404
    reader = token(api, "acct-a-read")
    assert api.client.get(path, headers=reader).status_code == 200
    refused = api.client.put(path, json={"name": "x"}, headers=reader)
    assert refused.status_code == 403 and "video-cloud/video/all" in refused.json()["error"]
    assert api.client.post("/v1/accounts/acct-a/ssai_configs", json=CREATE, headers=reader).status_code == 403


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, {"Authorization": "Bearer forged.token"}, {"Authorization": "Basic abc"}],
)
def test_missing_or_forged_tokens_get_401(api: Api, headers: dict[str, str]) -> None:
    response = api.client.get("/v1/accounts/acct-a/ssai_configs", headers=headers)
    assert response.status_code == 401 and response.json()["error"]


def test_the_token_endpoint_follows_rfc_6749(api: Api) -> None:
    client_id, secret = api.clients["acct-a"]
    form = f"grant_type=client_credentials&client_id={client_id}&client_secret={secret}".encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert api.client.post("/v4/access_token", content=form, headers=headers).status_code == 200
    wrong = form.replace(secret.encode(), b"nope")
    refused = api.client.post("/v4/access_token", content=wrong, headers=headers)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    password = api.client.post("/v4/access_token", content=b"grant_type=password", headers=headers)
    assert password.status_code == 400 and password.json()["error"] == "unsupported_grant_type"
