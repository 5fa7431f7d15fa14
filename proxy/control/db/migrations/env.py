"""Alembic's environment: migrations always run on the connection `proxy.control.db.Database.migrate` hands over
(async engines: SQLite through aiosqlite, PostgreSQL through asyncpg), never on one of their own."""

from __future__ import annotations

from alembic import context

from proxy.control.db.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
