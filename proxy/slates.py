"""Slates (seed 002 "Managing slates"): an account's own videos filling unused ad time, kept in the database.

A slate is added from a source URL (fetched through the egress policy: an account names it) and prepared by the
media pipeline for every channel profile the proxy serves; its status is `transcoding` until every one of
them is ready, `ready` then, `error` when its source cannot be downloaded, probed or transcoded (with the
reason). With no channel profile known yet, the source is downloaded and probed, so a bad URL is reported at
once. Status is not stored: it is what the asset folder and this process's jobs say, so every process agrees
once the renditions are on disk. The first slate of an account is its default; deleting the default makes the
oldest remaining one the default.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa

from proxy.db import Database
from proxy.db.schema import slates
from proxy.hls.profile import TranscodeProfile
from proxy.jobs import Job
from proxy.pipeline import MediaPipeline

SlateStatus = Literal["transcoding", "ready", "error"]


def slate_key(source_url: str) -> str:
    """The pipeline key of a slate: shared by every slate (and channel file entry) with the same source."""
    return f"slate:{source_url}"


@dataclass(frozen=True, slots=True)
class Slate:
    id: str
    account_id: str
    source_url: str
    description: str
    default: bool


def _slate(row: sa.Row[Any]) -> Slate:
    return Slate(row.id, row.account_id, row.source_url, row.description, row.is_default)


class SlateLibrary:
    def __init__(self, db: Database, pipeline: MediaPipeline) -> None:
        self.db, self.pipeline = db, pipeline
        self._tasks: set[asyncio.Task[None]] = set()
        pipeline.on_profile.append(self._new_profile)

    def _new_profile(self, profile: TranscodeProfile) -> None:
        """A channel with a new ladder started: every slate is prepared for it now, not on the next look."""
        task = asyncio.ensure_future(self._prepare_all(profile))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settled(self) -> None:
        """Until the preparations started for new profiles have been queued (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks)

    async def _prepare_all(self, profile: TranscodeProfile) -> None:
        for row in await self.db.fetch(sa.select(slates.c.source_url).distinct()):
            self.pipeline.prepare(slate_key(row.source_url), row.source_url, profile, kind="slate", trusted=False)

    async def add(self, account_id: str, source_url: str, description: str = "") -> Slate:
        slate_id = str(uuid.uuid4())
        async with self.db.transaction() as connection:
            owned = await connection.execute(sa.select(slates.c.id).where(slates.c.account_id == account_id).limit(1))
            slate = Slate(slate_id, account_id, source_url, description, owned.first() is None)
            await connection.execute(
                sa.insert(slates).values(
                    id=slate.id,
                    account_id=account_id,
                    source_url=source_url,
                    description=description,
                    is_default=slate.default,
                    created_at=datetime.now(UTC),
                )
            )
        self._jobs(slate)
        return slate

    async def of_account(self, account_id: str) -> list[Slate]:
        query = sa.select(slates).where(slates.c.account_id == account_id).order_by(slates.c.created_at, slates.c.id)
        return [_slate(row) for row in await self.db.fetch(query)]

    async def get(self, account_id: str, slate_id: str) -> Slate | None:
        query = sa.select(slates).where(slates.c.id == slate_id, slates.c.account_id == account_id)
        rows = await self.db.fetch(query)
        return _slate(rows[0]) if rows else None

    async def default(self, account_id: str) -> Slate | None:
        return next((slate for slate in await self.of_account(account_id) if slate.default), None)

    async def delete(self, account_id: str, slate_id: str) -> Slate | None:
        owned = sa.and_(slates.c.id == slate_id, slates.c.account_id == account_id)
        async with self.db.transaction() as connection:
            row = (await connection.execute(sa.select(slates).where(owned))).first()
            if row is None:
                return None
            await connection.execute(sa.delete(slates).where(owned))
            if row.is_default:  # the oldest remaining slate becomes the default, in the same transaction
                oldest = sa.select(slates.c.id).where(slates.c.account_id == account_id)
                oldest = oldest.order_by(slates.c.created_at, slates.c.id).limit(1)
                next_id = (await connection.execute(oldest)).scalar()
                if next_id is not None:
                    await connection.execute(sa.update(slates).where(slates.c.id == next_id).values(is_default=True))
        return _slate(row)

    def status(self, slate: Slate) -> tuple[SlateStatus, str | None]:
        """The slate's status and, for `error`, why. Profiles added since it was checked get their job now."""
        jobs = self._jobs(slate)
        failed = next((job for job in jobs if job.state == "error"), None)
        if failed is not None:
            return "error", f"{failed.stage}: {failed.error}"
        if any(job.active for job in jobs):
            return "transcoding", None
        return "ready", None

    def _jobs(self, slate: Slate) -> list[Job]:
        """The jobs preparing `slate` for every known profile (none for those on disk), or its probe."""
        key = slate_key(slate.source_url)
        profiles = list(self.pipeline.profiles.values())
        if not profiles:
            probe = self.pipeline.jobs.get(self.pipeline.job_id(None, key))
            return [probe or self.pipeline.probe_source(key, slate.source_url, trusted=False)]
        prepared = (
            self.pipeline.prepare(key, slate.source_url, profile, kind="slate", trusted=False) for profile in profiles
        )
        return [job for job in prepared if job is not None]

    def as_seed(self, slate: Slate) -> dict[str, Any]:
        """Seed 002's `media_source_asset_*` shape."""
        status, error = self.status(slate)
        document: dict[str, Any] = {
            "media_source_asset_id": slate.id,
            "account_id": slate.account_id,
            "media_source_asset_default": slate.default,
            "media_source_asset_type": "slate",
            "media_source_asset_url": slate.source_url,
            "media_source_asset_status": status,
            "media_source_asset_description": slate.description,
        }
        if error is not None:
            document["media_source_asset_error"] = error
        return document
