"""Accounts, API keys, OAuth clients and bearer tokens (proxy/control/accounts.py) on both databases."""

from __future__ import annotations

import base64
import time

import orjson
import pytest
import sqlalchemy as sa

from proxy.control import accounts
from proxy.control.db import Database, engine_url
from proxy.control.db.schema import api_keys, oauth_clients
from proxy.errors import BadRequest, ConfigError, Unauthorized


async def test_an_api_key_is_shown_once_and_stored_hashed(database: Database) -> None:
    account = await accounts.create_account(database, "Acme")
    key = await accounts.create_api_key(database, account)
    assert key.startswith("sk_") and len(key) > 40
    (row,) = await database.fetch(sa.select(api_keys))
    assert key.split(".", 1)[1] not in str(tuple(row)), "the secret is never stored"
    assert await accounts.check_api_key(database, key) == accounts.Principal(account, write=True)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),
        lambda k: "",
        lambda k: "sk_x.y",
        lambda k: k.replace("sk_", "sk_0"),
        lambda k: k.split(".")[0],
    ],
)
async def test_wrong_keys_are_refused(database: Database, mangle: object) -> None:
    account = await accounts.create_account(database, "Acme")
    key = await accounts.create_api_key(database, account)
    with pytest.raises(Unauthorized, match="X-API-KEY is not a valid API key"):
        await accounts.check_api_key(database, mangle(key))  # type: ignore[operator]


async def test_client_credentials_give_a_short_lived_token_with_the_client_operations(database: Database) -> None:
    account = await accounts.create_account(database, "Acme")
    reader_id, reader_secret = await accounts.create_client(database, account, ("video-cloud/video/read",))
    writer_id, writer_secret = await accounts.create_client(database, account, ("video-cloud/video/all",))
    (row, _) = await database.fetch(sa.select(oauth_clients))
    assert reader_secret not in str(tuple(row))
    read = await accounts.issue_token(database, reader_id, reader_secret)
    write = await accounts.issue_token(database, writer_id, writer_secret)
    assert await accounts.check_token(database, read) == accounts.Principal(account, write=False)
    assert await accounts.check_token(database, write) == accounts.Principal(account, write=True)
    with pytest.raises(Unauthorized, match="do not match"):
        await accounts.issue_token(database, reader_id, writer_secret)
    with pytest.raises(BadRequest, match="expected some of"):
        await accounts.create_client(database, account, ("video-cloud/everything",))


async def test_forged_and_expired_tokens_are_refused(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    account = await accounts.create_account(database, "Acme")
    other = await accounts.create_account(database, "Other")
    client_id, secret = await accounts.create_client(database, account, ("video-cloud/video/all",))
    token = await accounts.issue_token(database, client_id, secret)
    payload, signature = token.split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(orjson.dumps({**claims, "acct": other})).rstrip(b"=").decode()
    for bad in (f"{forged}.{signature}", f"{payload}.{signature[:-2]}", "garbage", ""):
        with pytest.raises(Unauthorized, match="not one this proxy issued"):
            await accounts.check_token(database, bad)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + accounts.TOKEN_SECONDS + 1)
    with pytest.raises(Unauthorized, match="expired"):
        await accounts.check_token(database, token)


async def test_migrating_twice_keeps_the_data(database: Database) -> None:
    account = await accounts.create_account(database, "Acme")
    key = await accounts.create_api_key(database, account)
    await database.migrate()
    assert (await accounts.check_api_key(database, key)).account_id == account


def test_database_urls(tmp_path: object) -> None:
    from pathlib import Path

    assert engine_url("", Path("/srv/data")) == "sqlite+aiosqlite:////srv/data/ssai.db"
    assert engine_url("postgresql://u@h/db", Path(".")) == "postgresql+asyncpg://u@h/db"
    with pytest.raises(ConfigError, match="mysql://h/db"):
        engine_url("mysql://h/db", Path("."))
