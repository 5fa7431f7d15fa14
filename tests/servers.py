from __future__ import annotations

from pathlib import Path

from proxy.control import accounts
from proxy.control.db import Database
from proxy.demo.testing import LOCAL_POLICY, free_port, local_settings, run_server

__all__ = ["LOCAL_POLICY", "api_key", "free_port", "key_and_client", "local_settings", "oauth_client", "run_server"]


async def api_key(data_dir: Path, account: str = "op", name: str = "Operator") -> str:
    """An API key of a new account in the store of `data_dir` (before the app opens it), as an operator makes
    one with `ssai-proxy account create` and `key create`."""
    db = Database.from_settings("", data_dir)
    await db.migrate()
    await accounts.create_account(db, name, account)
    key = await accounts.create_api_key(db, account)
    await db.close()
    return key


async def oauth_client(
    data_dir: Path, account: str = "op", operations: tuple[str, ...] = ("video-cloud/video/all",)
) -> tuple[str, str]:
    """(client_id, client_secret) of a new OAuth client of `account` in the store of `data_dir`, as an operator
    makes one with `ssai-proxy client create`."""
    db = Database.from_settings("", data_dir)
    await db.migrate()
    client = await accounts.create_client(db, account, operations)
    await db.close()
    return client


async def key_and_client(data_dir: Path, account: str = "op") -> tuple[str, tuple[str, str]]:
    """An API key and a read-write OAuth client (id, secret) of a new account in the store of `data_dir`."""
    key = await api_key(data_dir, account)
    return key, await oauth_client(data_dir, account)
