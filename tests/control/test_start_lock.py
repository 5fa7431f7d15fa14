"""Processes that start together (`serve --workers`, a control process and edges) migrate the database and store the
channel file one at a time (Database.exclusive: a PostgreSQL advisory lock, a lock file beside SQLite): four
ControlPlanes opened at once on a fresh database all start, with one copy of the channel file's channel."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import sqlalchemy as sa

from proxy.control.db import Database
from proxy.control.db.schema import channels
from proxy.control.plane import ControlPlane
from proxy.media.pipeline import MediaPipeline
from proxy.settings import ChannelConfig, Settings


async def test_one_holder_at_a_time(database_url: str, tmp_path: Path) -> None:
    first, second = (Database.from_settings(database_url, tmp_path) for _ in range(2))
    try:
        async with first.exclusive():
            waiting = asyncio.ensure_future(_hold(second))
            await asyncio.sleep(0.3)
            assert not waiting.done(), "a second holder got in while the first held it"
        await asyncio.wait_for(waiting, 30)  # and gets in once the first lets go
    finally:
        await first.close()
        await second.close()


async def _hold(db: Database) -> None:
    async with db.exclusive():
        pass


async def test_planes_opened_together_migrate_and_bootstrap_once(database_url: str, tmp_path: Path) -> None:
    channel = ChannelConfig("news", "https://origin.example/master.m3u8")
    settings = Settings(data_dir=tmp_path, database_url=database_url, channels={"news": channel})
    # The slate library subscribes to the pipeline; a fresh database has no slate to resume.
    pipeline = cast(MediaPipeline, SimpleNamespace(on_profile=[], jobs=SimpleNamespace(on_finished=[])))
    planes = await asyncio.gather(*(ControlPlane.open(settings, pipeline) for _ in range(4)))
    try:
        rows = await planes[0].db.fetch(sa.select(channels.c.name))
        assert [row.name for row in rows] == ["news"]
    finally:
        for plane in planes:
            await plane.close()
