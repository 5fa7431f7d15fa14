"""Channels and cue points in the control store, and the channel configurations built from them.

A channel's document (`proxy.web.schemas.ChannelBody`) names its ad configuration by id, a Brightcove Live API
application or a Video Cloud SSAI API ssai_config of the same account, and its slate (the account's default slate when
it names none). `ChannelDirectory` rebuilds every channel's `ChannelConfig` from those rows every `refresh`
seconds, and at once after a write in this process, so a change reaches the new sessions of every process
within that time; a config's version is a digest of the rows it was built from.

Channels of the channel file are stored too (a bootstrap, under one account) so the API lists them and cue
points reach them; the file stays their source: the API refuses to change or delete them.

Channel names are one namespace for every account: a name is the channel's playback URL
(/v1/ssai/session/NAME/main.m3u8), which players ask for without credentials, so whether a name is in use is
public by design. A taken name is refused alike whoever holds it, saying nothing of the holder; a name freed
by one account carries nothing of it to the next (its cue points go with the channel).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from proxy.ads.config import compile_ad_config
from proxy.control.db import Database
from proxy.control.db.schema import accounts, applications, channels, cuepoints, slates, ssai_configs
from proxy.control.documents import utc
from proxy.errors import BadRequest, Conflict, ProxyError
from proxy.hls.breaks import CuePoint
from proxy.settings import ChannelConfig, Transform, ad_response_of, channel_from_dict, flat_metadata

log = logging.getLogger("proxy.control.channelstore")
REFERENCES = {"application_id": applications, "config_id": ssai_configs, "slate_id": slates}
KEEP_CUEPOINTS = 600.0  # seconds after its end a cue point is still handed to the trackers
MAX_CUEPOINT = 600.0  # the longest cue point (CuePointBody.duration): bounds the start-time query


@dataclass(frozen=True, slots=True)
class StoredChannel:
    name: str
    account_id: str
    document: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @property
    def from_file(self) -> bool:
        return "file" in self.document


def _channel(row: sa.Row[Any]) -> StoredChannel:
    return StoredChannel(row.name, row.account_id, dict(row.document), utc(row.created_at), utc(row.updated_at))


def file_document(config: ChannelConfig) -> dict[str, Any]:
    """A channel-file entry as stored: its settings as the file gives them (read back by channel_from_dict)."""
    own = ("name", "version", "slate_trusted", "account_id")  # not the file's
    raw = {k: v for k, v in asdict(config).items() if k not in own and v not in (None, {}, (), "")}
    if config.beacon_templates:  # the file's own {type, template} tables
        raw["beacon_templates"] = [{"type": kind, "template": url} for kind, url in config.beacon_templates]
    return {"file": orjson.loads(orjson.dumps(raw))}


class ChannelStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _owned(self, account_id: str, name: str) -> sa.ColumnElement[bool]:
        return sa.and_(channels.c.name == name, channels.c.account_id == account_id)

    async def create(self, account_id: str, name: str, document: dict[str, Any]) -> StoredChannel:
        now = datetime.now(UTC)
        async with self.db.transaction() as connection:
            await self._check_references(connection, account_id, document)
            if (await connection.execute(sa.select(channels.c.name).where(channels.c.name == name))).first():
                raise Conflict(
                    f"name = {name!r} is taken: channel names are shared by every account (a name is its public "
                    f"playback URL, /v1/ssai/session/{name}/main.m3u8); expected another name"
                )
            await connection.execute(sa.delete(cuepoints).where(cuepoints.c.channel == name))  # none of a former one
            values = {"name": name, "account_id": account_id, "document": document}
            await connection.execute(sa.insert(channels).values(**values, created_at=now, updated_at=now))
        return StoredChannel(name, account_id, document, now, now)

    async def get(self, account_id: str, name: str) -> StoredChannel | None:
        rows = await self.db.fetch(sa.select(channels).where(self._owned(account_id, name)))
        return _channel(rows[0]) if rows else None

    async def of_account(self, account_id: str) -> list[StoredChannel]:
        query = sa.select(channels).where(channels.c.account_id == account_id).order_by(channels.c.created_at)
        return [_channel(row) for row in await self.db.fetch(query)]

    async def update(self, account_id: str, name: str, document: dict[str, Any]) -> StoredChannel | None:
        now = datetime.now(UTC)
        async with self.db.transaction() as connection:
            await self._check_references(connection, account_id, document)
            change = sa.update(channels).where(self._owned(account_id, name)).values(document=document, updated_at=now)
            if (await connection.execute(change)).rowcount != 1:
                return None
        return await self.get(account_id, name)

    async def delete(self, account_id: str, name: str) -> bool:
        """The channel and its cue points: the next channel of that name, maybe another account's, starts clean."""
        async with self.db.transaction() as connection:
            if (await connection.execute(sa.delete(channels).where(self._owned(account_id, name)))).rowcount != 1:
                return False
            await connection.execute(sa.delete(cuepoints).where(cuepoints.c.channel == name))
            return True

    async def _check_references(self, connection: Any, account_id: str, document: Mapping[str, Any]) -> None:
        for field, table in REFERENCES.items():
            wanted = document.get(field)
            if wanted is None:
                continue
            owned = sa.and_(table.c.id == wanted, table.c.account_id == account_id)
            if (await connection.execute(sa.select(table.c.id).where(owned))).first() is None:
                raise BadRequest(f"{field} = {wanted!r}: expected the id of one of this account's {table.name}")

    async def users_of(self, account_id: str, field: str, doc_id: str) -> list[str]:
        """The channels of the account whose document names `doc_id` in `field` (a configuration in use)."""
        rows = await self.db.fetch(sa.select(channels).where(channels.c.account_id == account_id))
        return sorted(row.name for row in rows if dict(row.document).get(field) == doc_id)

    async def refuse_if_used(self, account_id: str, field: str, doc_id: str, what: str) -> None:
        users = await self.users_of(account_id, field, doc_id)
        if users:
            raise Conflict(f"{what} {doc_id!r} drives channel(s) {users}: change or delete those channels first")

    async def add_cuepoint(
        self, account_id: str, name: str, starts_at: float, duration: float, data: Mapping[str, str]
    ) -> dict[str, Any] | None:
        if await self.get(account_id, name) is None:
            return None
        cuepoint = {"id": str(uuid.uuid4()), "starts_at": starts_at, "duration": duration, "ad_server_data": dict(data)}
        async with self.db.transaction() as connection:
            await connection.execute(
                sa.insert(cuepoints).values(channel=name, created_at=datetime.now(UTC), **cuepoint)
            )
        return cuepoint

    async def cuepoints_of(self, account_id: str, name: str) -> list[dict[str, Any]] | None:
        if await self.get(account_id, name) is None:
            return None
        query = sa.select(cuepoints).where(cuepoints.c.channel == name).order_by(cuepoints.c.starts_at)
        return [_cuepoint(row) for row in await self.db.fetch(query)]

    async def recent_cuepoints(self, now: float) -> list[tuple[str, CuePoint]]:
        """Cue points not ended more than KEEP_CUEPOINTS ago, with their channel."""
        query = sa.select(cuepoints).where(cuepoints.c.starts_at >= now - KEEP_CUEPOINTS - MAX_CUEPOINT)
        found = [(row.channel, row) for row in await self.db.fetch(query)]
        return [
            (channel, CuePoint(row.id, row.starts_at, row.duration, dict(row.ad_server_data)))
            for channel, row in found
            if row.starts_at + row.duration >= now - KEEP_CUEPOINTS
        ]

    async def bootstrap(self, account_id: str, configs: Mapping[str, ChannelConfig]) -> None:
        """Store the channel file's channels (replacing what an earlier start stored) under `account_id`."""
        now = datetime.now(UTC)
        async with self.db.transaction() as connection:
            if (await connection.execute(sa.select(accounts.c.id).where(accounts.c.id == account_id))).first() is None:
                await connection.execute(sa.insert(accounts).values(id=account_id, name=account_id, created_at=now))
            for name, config in configs.items():
                document = file_document(config)
                row = (await connection.execute(sa.select(channels).where(channels.c.name == name))).first()
                if row is None:
                    values = {"name": name, "account_id": account_id, "document": document}
                    await connection.execute(sa.insert(channels).values(**values, created_at=now, updated_at=now))
                elif row.account_id != account_id or "file" not in dict(row.document):
                    log.error("channel file: channel %r is an API channel of account %r: file entry ignored",
                              name, row.account_id)  # fmt: skip
                elif dict(row.document) != document:
                    change = sa.update(channels).where(channels.c.name == name)
                    await connection.execute(change.values(document=document, updated_at=now))

    async def configs(self) -> dict[str, ChannelConfig]:
        """Every stored channel as the proxy plays it; a channel whose configuration cannot be built is left
        out, logged (it was validated when written, so only a changed proxy version could get here)."""
        rows = [_channel(row) for row in await self.db.fetch(sa.select(channels))]
        docs = {field: await self._documents(table) for field, table in REFERENCES.items()}
        defaults = {row.account_id: row for row in docs["slate_id"].values() if row.is_default}
        built: dict[str, ChannelConfig] = {}
        for channel in rows:
            try:
                built[channel.name] = build_config(channel, docs, defaults)
            except (ProxyError, ValueError, KeyError) as error:
                log.error("channel %s: not served: %s", channel.name, getattr(error, "message", error))
        return built

    async def _documents(self, table: sa.Table) -> dict[str, sa.Row[Any]]:
        return {row.id: row for row in await self.db.fetch(sa.select(table))}


def _cuepoint(row: sa.Row[Any]) -> dict[str, Any]:
    return {"id": row.id, "starts_at": row.starts_at, "duration": row.duration, "ad_server_data": row.ad_server_data}


def _version(*parts: object) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=6).hexdigest()


def build_config(
    channel: StoredChannel, docs: Mapping[str, Mapping[str, sa.Row[Any]]], defaults: Mapping[str, sa.Row[Any]]
) -> ChannelConfig:
    if channel.from_file:
        config = channel_from_dict(channel.name, channel.document["file"])
        return replace(config, version=_version(channel.document), account_id=channel.account_id)
    doc = channel.document
    slate = docs["slate_id"].get(doc["slate_id"]) if doc.get("slate_id") else defaults.get(channel.account_id)
    ad = _application(docs["application_id"][doc["application_id"]]) if doc.get("application_id") else {}
    if doc.get("config_id"):
        ad = _ssai_config(docs["config_id"][doc["config_id"]])
    used = [docs[f][doc[f]].updated_at for f in ("application_id", "config_id") if doc.get(f)]
    config = ChannelConfig(
        name=channel.name,
        account_id=channel.account_id,
        origin=doc["origin"],
        slate=slate.source_url if slate is not None else None,
        slate_trusted=False,  # an account's URL: the egress policy applies
        content_segment_prefix=doc.get("content_segment_prefix"),
        ad_segment_prefix=doc.get("ad_segment_prefix"),
        metadata=flat_metadata(doc.get("metadata", {})),
        version=_version(channel.updated_at, used, slate.id if slate is not None else None),
        **ad,
    )
    compile_ad_config(config)
    return config


def _application(row: sa.Row[Any]) -> dict[str, Any]:
    ad = dict(row.document)["application_ad_configuration"]
    return {
        "ad_tag": ad["ad_configuration_url_format"],
        "ad_description": ad.get("ad_configuration_description", ""),
        "ad_headers": dict(ad.get("ad_configuration_headers", {})),
        "ad_headers_for_impressions": bool(ad.get("ad_configuration_headers_for_impressions", False)),
        "ad_response": ad_response_of(ad["ad_configuration_expected_response_type"]),
        "ad_transforms": tuple(Transform(t["xpath"], t["xslt"]) for t in ad.get("ad_configuration_transforms", [])),
    }


def _ssai_config(row: sa.Row[Any]) -> dict[str, Any]:
    document = dict(row.document)
    ad = document["ad_config"]
    return {
        "ad_tag": ad["template_url"]["template"],
        "ad_description": document.get("description", ""),
        "ad_defaults": dict(ad["template_url"].get("defaults", {})),
        "ad_response": ad_response_of(ad["expected_ad_response"]),
        "server_beacons": not ad.get("disable_server_beacons", False),
        "extend_beacon_guard_ttl": bool(document.get("extend_beacon_guard_ttl", False)),
        "beacon_templates": tuple(
            (item["type"], item["template_url"]["template"]) for item in document.get("beacon_templates", [])
        ),
    }


class ChannelDirectory:
    """Keeps the service's channels and cue points in step with the store."""

    def __init__(
        self,
        store: ChannelStore,
        apply: Callable[[Mapping[str, ChannelConfig]], None],
        schedule: Callable[[str, CuePoint], None],
        refresh: float,
    ) -> None:
        self.store, self.apply, self.schedule, self.every = store, apply, schedule, refresh
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        async with self._lock:
            self.apply(await self.store.configs())
            for channel, cuepoint in await self.store.recent_cuepoints(time.time()):
                self.schedule(channel, cuepoint)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.refresh()
            except (OSError, sa.exc.SQLAlchemyError) as error:  # the database is away: keep what we have
                log.warning("channel store unreachable, channels unchanged: %s", error)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
