"""`ssai-proxy account|key|client create`: credentials made on the command line, shown once, usable at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from proxy.cli import main
from proxy.control import accounts
from proxy.control.db import Database


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, str]:
    main(list(argv))
    lines = capsys.readouterr().out.splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)


async def principal(data_dir: Path, key: str) -> accounts.Principal:
    db = Database.from_settings("", data_dir)
    try:
        return await accounts.check_api_key(db, key)
    finally:
        await db.close()


def test_credentials_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path)
    assert run(capsys, "account", "create", "Acme", "--id", "acme", "--data-dir", data) == {"account_id": "acme"}
    key = run(capsys, "key", "create", "acme", "--data-dir", data)["X-API-KEY"]
    assert asyncio.run(principal(tmp_path, key)) == accounts.Principal("acme", write=True)
    client = run(capsys, "client", "create", "acme", "--operations", "video-cloud/video/read", "--data-dir", data)
    assert {"client_id", "client_secret"} <= set(client) and len(client["client_secret"]) > 30
    with pytest.raises(SystemExit) as exited:
        main(["key", "create", "nobody", "--data-dir", data])
    assert exited.value.code == 2 and "account 'nobody' does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["client", "create", "acme", "--operations", "everything", "--data-dir", data])
    assert "expected some of" in capsys.readouterr().err
