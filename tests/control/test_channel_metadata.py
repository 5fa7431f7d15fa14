"""A channel's `metadata` (Video Cloud SSAI API `{{ metadata.* }}`): validated, stored, returned, updated; and the
migration that gives channels stored before it an empty one. Its values reaching ad requests:
tests/playback/test_ad_variables.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from proxy.control.db import MIGRATIONS, Database
from proxy.control.db.schema import accounts, channels
from tests.control.conftest import Api

ORIGIN = "https://origin.example/live/master.m3u8"
METADATA = {"video_id": "5975635167001", "custom_fields": {"genre": "drama", "rating": {"fr": "12"}}}


def test_metadata_is_stored_returned_and_updated(api: Api) -> None:
    headers = api.headers("acct-a")
    created = api.client.post(
        "/v1/ssai/channels", json={"name": "news", "origin": ORIGIN, "metadata": METADATA}, headers=headers
    )
    assert created.status_code == 201, created.text
    assert api.client.get("/v1/ssai/channels/news", headers=headers).json()["metadata"] == METADATA
    playing = api.client.app.state.service.configs["news"]  # type: ignore[attr-defined]
    assert dict(playing.metadata) == {
        "video_id": "5975635167001",
        "custom_fields.genre": "drama",
        "custom_fields.rating.fr": "12",
    }
    changed = api.client.put("/v1/ssai/channels/news", json={"metadata": {"video_id": "42"}}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["metadata"] == {**METADATA, "video_id": "42"}  # a merge patch, as every channel PUT
    plain = api.client.post("/v1/ssai/channels", json={"name": "plain", "origin": ORIGIN}, headers=headers)
    assert plain.json()["metadata"] == {}


@pytest.mark.parametrize(
    ("metadata", "quoted"),
    [
        ({"video_id": 5}, "metadata.video_id = 5"),
        ({"custom_fields": {"genre": ["a"]}}, "metadata.custom_fields.genre = ['a']"),
        ("title", "'title'"),
        ({"a b": "x"}, "metadata.a b = 'x'"),
        ({f"k{n}": "v" for n in range(101)}, "at most 100 values"),
        ({"long": "x" * 1001}, "metadata.long = 'xxx"),
    ],
)
def test_bad_metadata_names_the_field_and_stores_nothing(api: Api, metadata: Any, quoted: str) -> None:
    body = {"name": "news", "origin": ORIGIN, "metadata": metadata}
    refused = api.client.post("/v1/ssai/channels", json=body, headers=api.headers("acct-a"))
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"].startswith("metadata") and quoted in refused.json()["error"]
    assert api.client.get("/v1/ssai/channels", headers=api.headers("acct-a")).json() == []


async def _upgrade(db: Database, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    async with db.engine.begin() as connection:

        def upgrade(sync_connection: sa.Connection) -> None:
            config.attributes["connection"] = sync_connection
            command.upgrade(config, revision)

        await connection.run_sync(upgrade)


async def test_channels_stored_before_metadata_get_an_empty_one(database_url: str, tmp_path: Path) -> None:
    db = Database.from_settings(database_url, tmp_path)
    await _upgrade(db, "0001")
    now = datetime.now(UTC)
    api_doc = {"name": "old", "origin": ORIGIN, "options": {"break_policy": "skip_running"}}
    file_doc = {"file": {"origin": ORIGIN}}
    async with db.transaction() as connection:
        await connection.execute(sa.insert(accounts).values(id="a", name="A", created_at=now))
        for name, document in (("old", api_doc), ("filed", file_doc)):
            row = {"name": name, "account_id": "a", "document": document, "created_at": now, "updated_at": now}
            await connection.execute(sa.insert(channels).values(**row))
    await db.migrate()
    stored = {row.name: dict(row.document) for row in await db.fetch(sa.select(channels))}
    await db.close()
    assert stored == {"old": {**api_doc, "metadata": {}}, "filed": file_doc}
