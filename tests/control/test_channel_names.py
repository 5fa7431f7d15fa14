"""Channel names across accounts: one namespace (a name is its public playback URL), so a taken name is refused,
alike whoever holds it and saying nothing of the holder; another account's channel answers as one that does
not exist; a name one account frees carries nothing of it (cue points, ad server data) to the next holder."""

from __future__ import annotations

from typing import Any

import pytest

from tests.control.conftest import Api
from tests.control.test_channels_api import ORIGIN, application, channel

SECRET = "acct-a-campaign-7e1"


def post_channel(api: Api, account: str, name: str) -> tuple[int, Any]:
    response = api.client.post("/v1/ssai/channels", json={"name": name, "origin": ORIGIN}, headers=api.headers(account))
    return response.status_code, response.json()


def test_a_taken_name_is_refused_alike_whoever_holds_it(api: Api) -> None:
    holder = channel(api, "news", "acct-a", application_id=application(api), metadata={"owner": SECRET})
    own = post_channel(api, "acct-a", "news")
    other = post_channel(api, "acct-b", "news")
    assert own == other, "the holder's own retry and another account's get the same answer"
    status, body = other
    assert status == 409
    assert body == {
        "error": "name = 'news' is taken: channel names are shared by every account (a name is its public "
        "playback URL, /v1/ssai/session/news/main.m3u8); expected another name"
    }
    for held in (holder["account_id"], "ACCT-A", holder["application_id"], ORIGIN, SECRET, "file"):
        assert held not in str(body)


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("put", "", {"origin": ORIGIN}),
        ("delete", "", None),
        ("post", "/cuepoint", {"duration": 30}),
        ("get", "/cuepoints", None),
    ],
)
def test_another_accounts_channel_answers_as_a_name_nobody_has(
    api: Api, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    channel(api, "news", "acct-a")
    headers = api.headers("acct-b")
    held = api.client.request(method, f"/v1/ssai/channels/news{suffix}", json=body, headers=headers)
    free = api.client.request(method, f"/v1/ssai/channels/nobody{suffix}", json=body, headers=headers)
    assert held.status_code == free.status_code == 404
    assert held.json() == {"error": free.json()["error"].replace("'nobody'", "'news'")}


def test_a_freed_name_carries_nothing_to_the_next_account(api: Api) -> None:
    channel(api, "news", "acct-a")
    planned = {"timecode": 120, "duration": 30, "ad_server_data": {"campaign": SECRET}}
    answer = api.client.post("/v1/ssai/channels/news/cuepoint", json=planned, headers=api.headers("acct-a"))
    assert answer.status_code == 200, answer.text
    assert api.client.delete("/v1/ssai/channels/news", headers=api.headers("acct-a")).status_code == 200
    channel(api, "news", "acct-b")
    listed = api.client.get("/v1/ssai/channels/news/cuepoints", headers=api.headers("acct-b"))
    assert listed.status_code == 200 and listed.json() == [], "acct-a's cue point is not acct-b's"
    service = api.client.app.state.service  # type: ignore[attr-defined]
    assert SECRET not in str(service.cuepoints.get("news", {})), "nor scheduled on acct-b's channel"
