"""Account-owned JSON documents in the database: Brightcove Live API applications and Video Cloud SSAI API ssai_configs.

Every read and write names the account; a document of another account is simply not found (the API answers
404, never 403, so ids of other accounts cannot be probed). Each write is one transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from proxy.control.db import Database


@dataclass(frozen=True, slots=True)
class Stored:
    id: str
    account_id: str
    document: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def _stored(row: sa.Row[Any]) -> Stored:
    return Stored(row.id, row.account_id, dict(row.document), utc(row.created_at), utc(row.updated_at))


def utc(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)  # SQLite drops the zone


class DocumentStore:
    def __init__(self, db: Database, table: sa.Table) -> None:
        self.db, self.table = db, table

    def _owned(self, account_id: str, doc_id: str) -> sa.ColumnElement[bool]:
        return sa.and_(self.table.c.id == doc_id, self.table.c.account_id == account_id)

    async def create(self, account_id: str, document: dict[str, Any]) -> Stored:
        now = datetime.now(UTC)
        stored = Stored(str(uuid.uuid4()), account_id, document, now, now)
        query = sa.insert(self.table).values(
            id=stored.id,
            account_id=account_id,
            document=document,
            created_at=stored.created_at,
            updated_at=stored.created_at,
        )
        async with self.db.transaction() as connection:
            await connection.execute(query)
        return stored

    async def get(self, account_id: str, doc_id: str) -> Stored | None:
        rows = await self.db.fetch(sa.select(self.table).where(self._owned(account_id, doc_id)))
        return _stored(rows[0]) if rows else None

    async def list(self, account_id: str) -> list[Stored]:
        query = sa.select(self.table).where(self.table.c.account_id == account_id).order_by(self.table.c.created_at)
        return [_stored(row) for row in await self.db.fetch(query)]

    async def update(self, account_id: str, doc_id: str, document: dict[str, Any]) -> Stored | None:
        now = datetime.now(UTC)
        query = sa.update(self.table).where(self._owned(account_id, doc_id)).values(document=document, updated_at=now)
        async with self.db.transaction() as connection:
            if (await connection.execute(query)).rowcount != 1:
                return None
        return await self.get(account_id, doc_id)

    async def delete(self, account_id: str, doc_id: str) -> bool:
        async with self.db.transaction() as connection:
            return (
                await connection.execute(sa.delete(self.table).where(self._owned(account_id, doc_id)))
            ).rowcount == 1
