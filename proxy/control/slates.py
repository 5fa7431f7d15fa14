"""Slates (Brightcove Live API "Managing slates"): an account's own videos filling unused ad time, kept in the database.

A slate is added from a source URL (fetched through the egress policy: an account names it) and prepared by the
media pipeline for every channel profile the proxy serves; with no channel profile known yet, the source is
downloaded and probed, so a bad URL is reported at once. Its status is `transcoding` while a job works on it,
`ready` when they are all done, `error` when one failed (with the reason). The status is stored: the process
running the jobs writes it when they end, so every process and a restart report the same thing, and reading
slates never queues work. Jobs live in memory: a start queues again what the last process left `transcoding`.

An account has at most one default slate (a unique index), never one in `error`: the first slate added to an
account without a default becomes it, `set_default` moves it, a default that fails hands it to the account's
newest ready slate (or nobody), a slate that becomes ready takes it when nobody has it, and deleting the default
hands it to the oldest remaining slate not in error. A failed slate is prepared again by `retry`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from proxy.control.db import Database
from proxy.control.db.schema import slates
from proxy.errors import BadRequest, Conflict
from proxy.hls.profile import TranscodeProfile
from proxy.media.jobs import Job
from proxy.media.pipeline import MediaPipeline

SlateStatus = Literal["transcoding", "ready", "error"]
KEY_PREFIX = "slate:"


def slate_key(source_url: str) -> str:
    """The pipeline key of a slate: shared by every slate (and channel file entry) with the same source."""
    return f"{KEY_PREFIX}{source_url}"


@dataclass(frozen=True, slots=True)
class Slate:
    id: str
    account_id: str
    source_url: str
    description: str
    default: bool
    status: SlateStatus = "transcoding"
    error: str | None = None


def _slate(row: sa.Row[Any]) -> Slate:
    return Slate(row.id, row.account_id, row.source_url, row.description, row.is_default, row.status, row.error)


def _of(account_id: str) -> sa.ColumnElement[bool]:
    return slates.c.account_id == account_id


class SlateLibrary:
    def __init__(self, db: Database, pipeline: MediaPipeline) -> None:
        self.db, self.pipeline = db, pipeline
        self.on_change: Callable[[], Awaitable[None]] | None = None  # a default moved: channels are rebuilt
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()  # one status write at a time, each from the jobs' latest state
        pipeline.on_profile.append(self._new_profile)
        pipeline.jobs.on_finished.append(self._job_finished)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _new_profile(self, profile: TranscodeProfile) -> None:
        """A channel with a new ladder started: every slate is prepared for it now, not on the next look."""
        self._spawn(self._prepare_all(profile))

    def _job_finished(self, job: Job) -> None:
        if job.key.startswith(KEY_PREFIX):
            self._spawn(self._record(job.key.removeprefix(KEY_PREFIX)))

    async def settled(self) -> None:
        """Until the preparations and status writes started in the background are done (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks)

    async def close(self) -> None:
        """Stop the background writes (the database closes next)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _prepare_all(self, profile: TranscodeProfile) -> None:
        """Slates in error are left alone until retried: their source failed already."""
        for source_url, accounts in (await self._sources(slates.c.status != "error")).items():
            self.pipeline.prepare(
                slate_key(source_url), source_url, profile, kind="slate", trusted=False, accounts=accounts
            )
            await self._record(source_url)

    async def resume(self) -> None:
        """At start-up: the slates the last process left `transcoding` get their jobs again."""
        for source_url, accounts in (await self._sources(slates.c.status == "transcoding")).items():
            self._queue(source_url, accounts)
            await self._record(source_url)

    async def _sources(self, where: sa.ColumnElement[bool]) -> dict[str, set[str]]:
        """The source URLs of the slates `where` selects, each with the accounts that have one of them."""
        found: dict[str, set[str]] = {}
        for row in await self.db.fetch(sa.select(slates.c.source_url, slates.c.account_id).where(where)):
            found.setdefault(row.source_url, set()).add(row.account_id)
        return found

    async def add(self, account_id: str, source_url: str, description: str = "") -> Slate:
        slate_id = str(uuid.uuid4())
        async with self._lock:  # the answer is the status at the add: no job's end is written before it is read
            try:
                await self._insert(slate_id, account_id, source_url, description, may_be_default=True)
            except sa.exc.IntegrityError:  # a concurrent add made the account's default first (the unique index)
                await self._insert(slate_id, account_id, source_url, description, may_be_default=False)
            self._queue(source_url, (account_id,))
            changed = await self._write_status(source_url)
            added = await self.get(account_id, slate_id)
        await self._changed(changed)
        assert added is not None  # only deleted through the API, which this call has not answered yet
        return added

    async def _insert(
        self, slate_id: str, account_id: str, source_url: str, description: str, *, may_be_default: bool
    ) -> None:
        async with self.db.transaction() as connection:
            default = sa.select(slates.c.id).where(_of(account_id), slates.c.is_default)
            has_default = (await connection.execute(default)).first() is not None
            await connection.execute(
                sa.insert(slates).values(
                    id=slate_id,
                    account_id=account_id,
                    source_url=source_url,
                    description=description,
                    is_default=may_be_default and not has_default,
                    created_at=datetime.now(UTC),
                    status="transcoding",
                )
            )

    async def of_account(self, account_id: str) -> list[Slate]:
        query = sa.select(slates).where(_of(account_id)).order_by(slates.c.created_at, slates.c.id)
        return [_slate(row) for row in await self.db.fetch(query)]

    async def get(self, account_id: str, slate_id: str) -> Slate | None:
        rows = await self.db.fetch(sa.select(slates).where(slates.c.id == slate_id, _of(account_id)))
        return _slate(rows[0]) if rows else None

    async def default(self, account_id: str) -> Slate | None:
        return next((slate for slate in await self.of_account(account_id) if slate.default), None)

    async def update(
        self, account_id: str, slate_id: str, *, default: bool | None, description: str | None
    ) -> Slate | None:
        """Brightcove Live API has no update: this one changes the description and makes a slate the default."""
        async with self.db.transaction() as connection:
            owned = sa.select(slates).where(slates.c.id == slate_id, _of(account_id)).with_for_update()
            row = (await connection.execute(owned)).first()
            if row is None:
                return None
            if default is not None and default != row.is_default:
                await _make_default(connection, _slate(row), default)
            if description is not None:
                change = sa.update(slates).where(slates.c.id == slate_id).values(description=description)
                await connection.execute(change)
        return await self.get(account_id, slate_id)

    async def retry(self, account_id: str, slate_id: str) -> Slate | None:
        """Prepare a failed slate again now, whatever `SSAI_TRANSCODE_RETRY_AFTER` says."""
        slate = await self.get(account_id, slate_id)
        if slate is None:
            return None
        if slate.status != "error":
            raise Conflict(f"slate {slate_id!r} is {slate.status}: only a slate in error can be retried")
        async with self._lock:
            for job_id in self._job_ids(slate_key(slate.source_url)):
                self.pipeline.jobs.forget(job_id)
            self._queue(slate.source_url, (account_id,))
            changed = await self._write_status(slate.source_url)
            retried = await self.get(account_id, slate_id)
        await self._changed(changed)
        return retried

    async def delete(self, account_id: str, slate_id: str) -> Slate | None:
        owned = sa.and_(slates.c.id == slate_id, _of(account_id))
        async with self.db.transaction() as connection:
            row = (await connection.execute(sa.select(slates).where(owned))).first()
            if row is None:
                return None
            await connection.execute(sa.delete(slates).where(owned))
            if row.is_default:  # the oldest remaining slate not in error, in the same transaction
                oldest = sa.select(slates.c.id).where(_of(account_id), slates.c.status != "error")
                next_id = (
                    await connection.execute(oldest.order_by(slates.c.created_at, slates.c.id).limit(1))
                ).scalar()
                if next_id is not None:
                    await connection.execute(sa.update(slates).where(slates.c.id == next_id).values(is_default=True))
        return _slate(row)

    def _job_ids(self, key: str) -> list[str]:
        profiles = [*self.pipeline.profiles.values(), None]
        return [self.pipeline.job_id(profile, key) for profile in profiles]

    def _queue(self, source_url: str, accounts: Iterable[str]) -> None:
        """Jobs preparing `source_url` for every known profile (none for those on disk), or its probe, listed to
        `accounts` (those whose slates use it)."""
        key = slate_key(source_url)
        profiles = list(self.pipeline.profiles.values())
        for profile in profiles:
            self.pipeline.prepare(key, source_url, profile, kind="slate", trusted=False, accounts=accounts)
        probe = self.pipeline.jobs.get(self.pipeline.job_id(None, key))
        if probe is not None:
            probe.accounts.update(accounts)
        if not profiles and (probe is None or probe.state == "error"):
            self.pipeline.probe_source(key, source_url, trusted=False, accounts=accounts)

    def _observed(self, source_url: str) -> tuple[SlateStatus, str | None]:
        """What this process's jobs say of `source_url`: a failure first, then work in progress, else ready."""
        jobs = [job for job_id in self._job_ids(slate_key(source_url)) if (job := self.pipeline.jobs.get(job_id))]
        failed = next((job for job in jobs if job.state == "error"), None)
        if failed is not None:
            return "error", f"{failed.stage}: {failed.error}"
        return ("transcoding", None) if any(job.active for job in jobs) else ("ready", None)

    async def _record(self, source_url: str) -> None:
        async with self._lock:
            changed = await self._write_status(source_url)
        await self._changed(changed)

    async def _write_status(self, source_url: str) -> bool:
        """With the lock held: the jobs' latest word on `source_url` stored; True when a slate changed."""
        status, error = self._observed(source_url)
        async with self.db.transaction() as connection:
            return await _store_status(connection, source_url, status, error)

    async def _changed(self, changed: bool) -> None:
        if changed and self.on_change is not None:
            await self.on_change()

    def as_document(self, slate: Slate) -> dict[str, Any]:
        """Brightcove Live API's `media_source_asset_*` shape, with `media_source_asset_error` for a slate in error."""
        document: dict[str, Any] = {
            "media_source_asset_id": slate.id,
            "account_id": slate.account_id,
            "media_source_asset_default": slate.default,
            "media_source_asset_type": "slate",
            "media_source_asset_url": slate.source_url,
            "media_source_asset_status": slate.status,
            "media_source_asset_description": slate.description,
        }
        if slate.error is not None:
            document["media_source_asset_error"] = slate.error
        return document


async def _make_default(connection: AsyncConnection, slate: Slate, default: bool) -> None:
    if not default:
        raise BadRequest(
            f"media_source_asset_default = False: slate {slate.id!r} is the account's default; expected true "
            "(an account keeps one default slate: make another slate the default instead)"
        )
    if slate.status == "error":
        raise BadRequest(
            f"media_source_asset_default = True: slate {slate.id!r} is in error ({slate.error}); expected a slate "
            f"that is ready or transcoding (retry it first: POST /v1/ssai/slates/slate/{slate.id}/retry)"
        )
    unset = sa.update(slates).where(_of(slate.account_id), slates.c.is_default).values(is_default=False)
    await connection.execute(unset)  # first: the unique index allows one default at any moment
    await connection.execute(sa.update(slates).where(slates.c.id == slate.id).values(is_default=True))


async def _store_status(connection: AsyncConnection, source_url: str, status: str, error: str | None) -> bool:
    """Write `status` to the slates of `source_url` that say otherwise; True when one changed."""
    differs = sa.or_(slates.c.status != status, slates.c.error.is_distinct_from(error))
    stale = sa.select(slates).where(slates.c.source_url == source_url, differs).with_for_update()
    rows = (await connection.execute(stale)).all()
    if not rows:
        return False
    ids = [row.id for row in rows]
    await connection.execute(sa.update(slates).where(slates.c.id.in_(ids)).values(status=status, error=error))
    for account_id in sorted({row.account_id for row in rows}):
        await _settle_default(connection, account_id)
    return True


async def _settle_default(connection: AsyncConnection, account_id: str) -> None:
    """A default in error hands over to the newest ready slate (or nobody); an account without a default takes
    its newest ready slate."""
    newest_first = sa.select(slates).where(_of(account_id)).order_by(slates.c.created_at.desc(), slates.c.id.desc())
    rows = (await connection.execute(newest_first)).all()
    current = next((row for row in rows if row.is_default), None)
    if current is not None and current.status != "error":
        return
    if current is not None:
        await connection.execute(sa.update(slates).where(slates.c.id == current.id).values(is_default=False))
    successor = next((row for row in rows if row.status == "ready"), None)
    if successor is not None:
        await connection.execute(sa.update(slates).where(slates.c.id == successor.id).values(is_default=True))
