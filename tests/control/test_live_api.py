"""The Brightcove Live SSAI API (applications) end to end through the app, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from proxy.web.limits import BodyLimit
from tests.control.conftest import Api

XSLT = (
    '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:Det="http://Det.com">'
    '<xsl:output omit-xml-declaration="yes"/><xsl:template match="node()|@*"><xsl:copy>'
    '<xsl:apply-templates select="node()|@*"/></xsl:copy></xsl:template></xsl:stylesheet>'
)
# The API document's sample request body, with its placeholders ("Dfp, Vast or SmartXML", …) given real values.
CREATE: dict[str, Any] = {
    "application_ad_configuration": {
        "ad_configuration_description": "Human readable description of the configuration",
        "ad_configuration_expected_response_type": "Dfp",
        "ad_configuration_headers": {
            "X-Custom-Header-Rand": "{{random.int32}}",
            "X-VIDEOPLAZA-FORWARDED-FOR": "{{client.ipaddress}}",
        },
        "ad_configuration_headers_for_impressions": False,
        "ad_configuration_strategy": "SingleAdResponse",
        "ad_configuration_transforms": [{"xpath": "/", "xslt": XSLT}],
        "ad_configuration_url_format": "https://ad-provider-host.com/path/to/ad-handler?ip={{client.ipaddress}}"
        "&num={{random.int32}}&ses={{session.session_id}}",
    },
    "application_description": "Human readable description of the ad application",
}
APPLICATION_KEYS = {"application_id", "account_id", "application_description", "application_ad_configuration"}


def create(api: Api, account: str = "acct-a", body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = api.client.post("/v1/ssai/applications", json=body or CREATE, headers=api.headers(account))
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def test_create_get_list_update_delete_with_the_seed_shapes(api: Api) -> None:
    created = create(api)
    assert set(created) == {"application", "inserted"} and created["inserted"] is True
    application = created["application"]
    assert set(application) == APPLICATION_KEYS and application["account_id"] == "acct-a"
    assert application["application_ad_configuration"] == CREATE["application_ad_configuration"]
    app_id, headers = application["application_id"], api.headers("acct-a")
    assert api.client.get(f"/v1/ssai/applications/application/{app_id}", headers=headers).json() == application
    listed = api.client.get("/v1/ssai/applications/account/acct-a", headers=headers).json()
    assert listed == [application]

    update = copy.deepcopy(CREATE)
    update["application_ad_configuration"]["ad_configuration_description"] = "Some Updated Description Value"
    update["application_ad_configuration"]["ad_configuration_url_format"] = "https://updated-ad-provider-host.com/x"
    update["account_id"] = "acct-a"
    updated = api.client.put(f"/v1/ssai/applications/application/{app_id}", json=update, headers=headers)
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert set(body) == APPLICATION_KEYS and body["application_id"] == app_id
    assert (
        body["application_ad_configuration"]["ad_configuration_url_format"] == "https://updated-ad-provider-host.com/x"
    )

    deleted = api.client.delete(f"/v1/ssai/applications/application/{app_id}", headers=headers)
    assert deleted.json() == {"application_id": app_id, "deleted": True}
    gone = api.client.get(f"/v1/ssai/applications/application/{app_id}", headers=headers)
    assert gone.status_code == 404 and app_id in gone.json()["error"]


def test_another_account_sees_nothing_and_changes_nothing(api: Api) -> None:
    app_id = create(api)["application"]["application_id"]
    other = api.headers("acct-b")
    path = f"/v1/ssai/applications/application/{app_id}"
    assert api.client.get(path, headers=other).status_code == 404
    assert api.client.put(path, json=CREATE, headers=other).status_code == 404
    assert api.client.delete(path, headers=other).status_code == 404
    assert api.client.get("/v1/ssai/applications/account/acct-a", headers=other).status_code == 404
    assert (
        api.client.post("/v1/ssai/applications", json={**CREATE, "account_id": "acct-a"}, headers=other).status_code
        == 404
    )
    assert api.client.get("/v1/ssai/applications/account/acct-b", headers=other).json() == []
    mine = api.client.get(path, headers=api.headers("acct-a")).json()
    assert mine["application_description"] == CREATE["application_description"], "unchanged by acct-b"


@pytest.mark.parametrize(
    "headers", [{}, {"X-API-KEY": ""}, {"X-API-KEY": "sk_0000.nope"}, {"Authorization": "Bearer x"}]
)
def test_missing_or_wrong_keys_get_401_with_a_reason(api: Api, headers: dict[str, str]) -> None:
    response = api.client.get("/v1/ssai/applications/account/acct-a", headers=headers)
    assert response.status_code == 401
    assert "X-API-KEY" in response.json()["error"]


def test_a_bad_body_is_refused_naming_the_field_and_nothing_is_stored(api: Api) -> None:
    body = copy.deepcopy(CREATE)
    body["application_ad_configuration"]["ad_configuration_url_format"] = "ftp://ads.example.com/vast"
    response = api.client.post("/v1/ssai/applications", json=body, headers=api.headers("acct-a"))
    assert response.status_code == 400
    message = response.json()["error"]
    assert "ad_configuration_url_format" in message and "ftp://ads.example.com/vast" in message
    big = b"{" + b" " * BodyLimit.CONTROL + b"}"
    refused = api.client.post("/v1/ssai/applications", content=big, headers=api.headers("acct-a"))
    assert refused.status_code == 413 and refused.json()["error"].endswith(f"at most {BodyLimit.CONTROL} bytes")
    assert api.client.get("/v1/ssai/applications/account/acct-a", headers=api.headers("acct-a")).json() == []


SLATE_KEYS = {
    "media_source_asset_id",
    "account_id",
    "media_source_asset_default",
    "media_source_asset_type",
    "media_source_asset_url",
    "media_source_asset_status",
    "media_source_asset_description",
}


def test_slates_add_list_delete_with_the_seed_shapes(api: Api) -> None:
    headers = api.headers("acct-a")
    first = api.client.post("/v1/ssai/slates", json=api.slate, headers=headers).json()
    assert SLATE_KEYS <= set(first)
    assert first["media_source_asset_type"] == "slate" and first["media_source_asset_status"] == "transcoding"
    assert (first["account_id"], first["media_source_asset_default"]) == ("acct-a", True)
    assert first["media_source_asset_url"] == api.slate["source_url"]
    second = api.client.post("/v1/ssai/slates", json={**api.slate, "account_id": "acct-a"}, headers=headers).json()
    assert second["media_source_asset_default"] is False, "one default slate per account: the first"
    listed = api.client.get("/v1/ssai/slates/account/acct-a", headers=headers).json()
    assert [s["media_source_asset_id"] for s in listed] == [
        first["media_source_asset_id"],
        second["media_source_asset_id"],
    ]

    other = api.headers("acct-b")
    path = f"/v1/ssai/slates/slate/{first['media_source_asset_id']}"
    assert api.client.delete(path, headers=other).status_code == 404
    assert api.client.get("/v1/ssai/slates/account/acct-a", headers=other).status_code == 404
    deleted = api.client.delete(path, headers=headers).json()
    assert deleted["media_source_asset_id"] == first["media_source_asset_id"] and SLATE_KEYS <= set(deleted)
    (left,) = api.client.get("/v1/ssai/slates/account/acct-a", headers=headers).json()
    assert left["media_source_asset_default"] is True, "the default passed to the remaining slate"


def test_a_slate_whose_source_is_internal_ends_in_error(api: Api) -> None:
    headers = api.headers("acct-a")
    body = {"source_url": "http://169.254.169.254/latest/meta-data/slate.mp4"}
    added = api.client.post("/v1/ssai/slates", json=body, headers=headers).json()
    assert added["media_source_asset_status"] == "transcoding"
    for _ in range(100):
        (slate,) = api.client.get("/v1/ssai/slates/account/acct-a", headers=headers).json()
        if slate["media_source_asset_status"] != "transcoding":
            break
        time.sleep(0.05)
    assert slate["media_source_asset_status"] == "error"
    assert "refused" in slate["media_source_asset_error"], "the egress policy keeps slates off internal addresses"
