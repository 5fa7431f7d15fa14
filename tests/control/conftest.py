"""A fresh, migrated database per test, on SQLite and on PostgreSQL (127.0.0.1:5432, trust auth, database
`test`, as on the development and CI machines). A machine without PostgreSQL skips those with a message."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from starlette.testclient import TestClient

from proxy.control import accounts
from proxy.control.db import Database
from proxy.settings import Settings
from proxy.web.app import create_app

POSTGRES = "postgresql://postgres@127.0.0.1:5432"


async def _admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(f"{POSTGRES}/test", timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        pytest.skip(f"PostgreSQL at {POSTGRES}/test is not reachable ({error}): these tests need it")


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """ "" (SQLite in tmp_path, the default) or the URL of a new PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield ""
        return
    name = f"ssai_test_{uuid.uuid4().hex[:12]}"
    admin = await _admin()
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def database(database_url: str, tmp_path: Path) -> AsyncIterator[Database]:
    db = Database.from_settings(database_url, tmp_path)
    await db.migrate()
    yield db
    await db.close()


@pytest.fixture(scope="session")
def stalled_url() -> Iterator[str]:
    """A video URL whose server takes connections and never answers: a slate made from it stays `transcoding`
    for the whole test (the download waits minutes), so neither its status nor the default moves under a test."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/slate-to-ingest.mp4"


class Api:
    """The app on a test client, two accounts with an API key and OAuth clients each, and a slate body whose
    source stalls (`slate`)."""

    def __init__(
        self, client: TestClient, keys: dict[str, str], clients: dict[str, tuple[str, str]], slate_url: str
    ) -> None:
        self.client, self.keys, self.clients = client, keys, clients
        self.slate = {"source_url": slate_url, "source_description": "be right back"}

    def headers(self, account: str) -> dict[str, str]:
        return {"X-API-KEY": self.keys[account]}


@pytest.fixture
async def credentials(database: Database) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    keys, clients = {}, {}
    for account in ("acct-a", "acct-b"):
        await accounts.create_account(database, account.upper(), account)
        keys[account] = await accounts.create_api_key(database, account)
        clients[account] = await accounts.create_client(database, account, ("video-cloud/video/all",))
        clients[f"{account}-read"] = await accounts.create_client(database, account, ("video-cloud/video/read",))
    return keys, clients


@pytest.fixture
def api(
    database_url: str,
    tmp_path: Path,
    credentials: tuple[dict[str, str], dict[str, tuple[str, str]]],
    stalled_url: str,
) -> Iterator[Api]:
    # Loopback allowed: slate sources are test servers on 127.0.0.1 (link-local addresses stay refused).
    settings = Settings(data_dir=tmp_path, database_url=database_url, egress_allow_loopback=True)
    with TestClient(create_app(settings)) as client:
        yield Api(client, *credentials, stalled_url)
