"""The media job list is an account's: its credential is required, it lists the jobs that account's slates and
channels asked for, and a job two accounts share (the same slate source) is listed to both without naming
the other."""

from __future__ import annotations

from typing import Any

from tests.control.conftest import Api
from tests.control.test_vc_api import token


def jobs_of(api: Api, headers: dict[str, str]) -> dict[str, Any]:
    response = api.client.get("/v1/ssai/jobs", headers=headers)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def add_slate(api: Api, account: str, source_url: str) -> None:
    body = {"source_url": source_url, "source_description": "be right back"}
    response = api.client.post("/v1/ssai/slates", json=body, headers=api.headers(account))
    assert response.status_code == 200, response.text


def test_no_credential_no_job_list(api: Api) -> None:
    add_slate(api, "acct-a", api.slate["source_url"])
    for headers in ({}, {"X-API-KEY": "sk_nobody.wrong"}, {"Authorization": "Bearer forged.token"}):
        refused = api.client.get("/v1/ssai/jobs", headers=headers)
        assert refused.status_code == 401, refused.text
        assert api.slate["source_url"] not in refused.text


def test_an_account_sees_its_own_jobs_only(api: Api) -> None:
    own, theirs = api.slate["source_url"], api.slate["source_url"] + "?theirs"
    add_slate(api, "acct-a", theirs)
    assert jobs_of(api, api.headers("acct-b")) == {"counts": {}, "jobs": []}
    add_slate(api, "acct-b", own)
    listed = jobs_of(api, api.headers("acct-b"))
    assert [job["source"] for job in listed["jobs"]] == [own]
    assert listed["counts"] == {listed["jobs"][0]["state"]: 1}
    assert theirs not in str(listed)
    assert [job["source"] for job in jobs_of(api, token(api, "acct-b-read"))["jobs"]] == [own]  # a token too


def test_a_shared_job_is_listed_to_both_without_the_other_account(api: Api) -> None:
    shared = api.slate["source_url"]
    add_slate(api, "acct-a", shared)
    add_slate(api, "acct-b", shared)
    seen_by_a = jobs_of(api, api.headers("acct-a"))["jobs"]
    seen_by_b = jobs_of(api, api.headers("acct-b"))["jobs"]
    assert [job["source"] for job in seen_by_a] == [shared]
    assert [job["id"] for job in seen_by_b] == [job["id"] for job in seen_by_a]  # one job, not two
    for job in seen_by_b:
        assert "acct-a" not in str(job).lower() and "account" not in str(job)
