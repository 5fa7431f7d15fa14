"""The control plane's database: SQLite in the data directory by default, PostgreSQL for a `postgresql://` URL.

SQLAlchemy Core over async drivers (aiosqlite, asyncpg) rather than two hand-written SQL dialects, and Alembic
migrations run at start-up so an upgrade never loses data (one schema, many processes). Every
write goes through `transaction()`: all or nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from proxy.control.datadir import make_data_dir
from proxy.errors import ConfigError

MIGRATIONS = Path(__file__).parent / "migrations"
START_LOCK = 0x55A1_0001  # the advisory lock key of `Database.exclusive` (any fixed 64-bit number)


def engine_url(url: str, data_dir: Path) -> str:
    """The SQLAlchemy URL for a configured one: empty means SQLite in the data directory."""
    if not url:
        return f"sqlite+aiosqlite:///{data_dir / 'ssai.db'}"
    scheme, sep, rest = url.partition("://")
    drivers = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}
    if not sep or scheme not in drivers:
        raise ConfigError(f"SSAI_DATABASE_URL has value {url!r}: expected postgresql://… or sqlite:///…")
    return f"{drivers[scheme]}://{rest}"


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.cache: dict[str, str] = {}  # values that never change once written (the token signing key)
        self.engine: AsyncEngine = create_async_engine(url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    @classmethod
    def from_settings(cls, url: str, data_dir: Path) -> Database:
        if not url:
            make_data_dir(data_dir)
        return cls(engine_url(url, data_dir))

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Held by one process at a time across the cluster (PostgreSQL: an advisory lock; SQLite: a lock on a file
        beside the database): processes that start together migrate and store the channel file one after another,
        instead of racing to create the same tables and rows."""
        if self.engine.dialect.name == "postgresql":
            async with self.engine.connect() as connection:
                await connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": START_LOCK})
                try:
                    yield
                finally:
                    await connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": START_LOCK})
                    await connection.commit()
            return
        database = self.engine.url.database
        if not database or database == ":memory:":
            yield
            return
        with open(f"{database}.lock", "a+b") as lock:
            await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    async def migrate(self) -> None:
        """Bring the schema to the newest revision (a no-op when it is there already)."""
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin, every start
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        async with self.engine.begin() as connection:

            def upgrade(sync_connection: sa.Connection) -> None:
                config.attributes["connection"] = sync_connection
                command.upgrade(config, "head")

            await connection.run_sync(upgrade)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as connection:
            yield connection

    async def fetch(self, query: sa.Executable) -> list[sa.Row[Any]]:
        async with self.engine.connect() as connection:
            return list((await connection.execute(query)).all())

    async def close(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers run beside the one writer.
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
