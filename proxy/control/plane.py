"""The control plane: the database and the account-owned things the control APIs manage.

Its write methods apply their own consequences: a write that changes what a channel plays (its document, the
ad configuration or slate it names, the account's default slate, a cue point) tells the subscriber
(`on_change`, this process's channel directory) itself, so no caller has to remember to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from proxy.control.accounts import Principal, check_api_key, check_token, issue_token
from proxy.control.channelstore import ChannelStore, StoredChannel
from proxy.control.db import Database
from proxy.control.db.schema import applications, ssai_configs
from proxy.control.documents import DocumentStore, Stored
from proxy.control.slates import Slate, SlateLibrary
from proxy.errors import Forbidden, NotFound, Unauthorized
from proxy.media.pipeline import MediaPipeline
from proxy.settings import Settings


class ControlPlane:
    def __init__(self, db: Database, pipeline: MediaPipeline) -> None:
        self.db = db
        self.applications = DocumentStore(db, applications)
        self.ssai_configs = DocumentStore(db, ssai_configs)
        self.slates = SlateLibrary(db, pipeline)
        self.slates.on_change = self.changed  # a failed default slate hands over: channels follow at once
        self.channels = ChannelStore(db)
        # Applies a write to this process's channels at once (ChannelDirectory.refresh); others poll the store.
        self.on_change: Callable[[], Awaitable[None]] | None = None

    async def changed(self) -> None:
        if self.on_change is not None:
            await self.on_change()

    @classmethod
    async def open(cls, settings: Settings, pipeline: MediaPipeline) -> ControlPlane:
        db = Database.from_settings(settings.database_url, settings.data_dir)
        control = cls(db, pipeline)
        async with db.exclusive():
            await db.migrate()
            await control.channels.bootstrap(settings.bootstrap_account, settings.channels)
        if settings.role != "edge":  # slate jobs are the control processes' (an edge's cores are the players')
            await control.slates.resume()
        return control

    async def close(self) -> None:
        await self.slates.close()
        await self.db.close()

    async def by_api_key(self, header: str | None) -> Principal:
        if not header:
            raise Unauthorized("no X-API-KEY header: expected an API key made with `ssai-proxy key create ACCOUNT`")
        return await check_api_key(self.db, header.strip())

    async def by_bearer(self, header: str | None, *, write: bool) -> Principal:
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("no `Authorization: Bearer …` header: expected a token from POST /v4/access_token")
        principal = await check_token(self.db, token.strip())
        if write and not principal.write:
            raise Forbidden("this token's client has video-cloud/video/read only: expected video-cloud/video/all")
        return principal

    async def by_either(self, headers: Mapping[str, str], *, write: bool) -> Principal:
        """Channels belong to both API families: an `X-API-KEY` (the Live SSAI API) or a bearer token (the Video Cloud
        SSAI API)."""
        if headers.get("x-api-key"):
            return await self.by_api_key(headers["x-api-key"])
        if headers.get("authorization"):
            return await self.by_bearer(headers["authorization"], write=write)
        raise Unauthorized("no X-API-KEY or `Authorization: Bearer …` header: expected one of them")

    async def issue_token(self, client_id: str, secret: str) -> str:
        """A bearer token for an OAuth client's credentials (RFC 6749 §4.4); Unauthorized for wrong ones."""
        return await issue_token(self.db, client_id, secret)

    async def create_application(self, account_id: str, document: dict[str, Any]) -> Stored:
        stored = await self.applications.create(account_id, document)
        await self.changed()
        return stored

    async def update_application(self, account_id: str, app_id: str, document: dict[str, Any]) -> Stored | None:
        """The updated application, or None when it does not exist (deleted meanwhile)."""
        updated = await self.applications.update(account_id, app_id, document)
        if updated is not None:
            await self.changed()  # channels naming it use it in new sessions
        return updated

    async def delete_application(self, account_id: str, app_id: str) -> bool:
        """False when it does not exist; Conflict while a channel names it (so no channel plays it: no news)."""
        if await self.applications.get(account_id, app_id) is None:
            return False
        await self.channels.refuse_if_used(account_id, "application_id", app_id, "application")
        return await self.applications.delete(account_id, app_id)

    async def create_ssai_config(self, account_id: str, document: dict[str, Any]) -> Stored:
        return await self.ssai_configs.create(account_id, document)  # new: no channel names it yet

    async def update_ssai_config(self, account_id: str, config_id: str, document: dict[str, Any]) -> Stored | None:
        """The updated configuration, or None when it does not exist (deleted meanwhile)."""
        updated = await self.ssai_configs.update(account_id, config_id, document)
        if updated is not None:
            await self.changed()  # channels naming it use it in new sessions
        return updated

    async def delete_ssai_config(self, account_id: str, config_id: str) -> bool:
        """False when it does not exist; Conflict while a channel names it (so no channel plays it: no news)."""
        if await self.ssai_configs.get(account_id, config_id) is None:
            return False
        await self.channels.refuse_if_used(account_id, "config_id", config_id, "ssai_config")
        return await self.ssai_configs.delete(account_id, config_id)

    async def add_slate(self, account_id: str, source_url: str, description: str) -> Slate:
        """The slate as added; a first slate is the account's default, used by channels naming none."""
        slate = await self.slates.add(account_id, source_url, description)
        await self.changed()
        return slate

    async def update_slate(self, slate: Slate, *, default: bool | None, description: str | None) -> Slate | None:
        """The updated slate, or None when it was deleted meanwhile."""
        updated = await self.slates.update(slate.account_id, slate.id, default=default, description=description)
        if updated is not None and updated.default != slate.default:
            await self.changed()  # channels using the account's default play the new one in new sessions
        return updated

    async def delete_slate(self, account_id: str, slate_id: str) -> Slate | None:
        """The deleted slate, or None when it does not exist; Conflict while a channel names it."""
        if await self.slates.get(account_id, slate_id) is None:
            return None
        await self.channels.refuse_if_used(account_id, "slate_id", slate_id, "slate")
        slate = await self.slates.delete(account_id, slate_id)
        if slate is not None:
            await self.changed()
        return slate

    async def create_channel(self, account_id: str, name: str, document: dict[str, Any]) -> StoredChannel:
        stored = await self.channels.create(account_id, name, document)
        await self.changed()
        return stored

    async def update_channel(self, account_id: str, name: str, document: dict[str, Any]) -> StoredChannel | None:
        """The updated channel, or None when it does not exist (deleted meanwhile)."""
        updated = await self.channels.update(account_id, name, document)
        if updated is not None:
            await self.changed()
        return updated

    async def delete_channel(self, account_id: str, name: str) -> bool:
        """Sessions already playing it go on until they expire; no new session starts."""
        deleted = await self.channels.delete(account_id, name)
        if deleted:
            await self.changed()
        return deleted

    async def add_cuepoint(
        self, account_id: str, name: str, starts_at: float, duration: float, data: Mapping[str, str]
    ) -> dict[str, Any] | None:
        """The cue point, or None when the channel does not exist."""
        cuepoint = await self.channels.add_cuepoint(account_id, name, starts_at, duration, data)
        if cuepoint is not None:
            await self.changed()
        return cuepoint


def own_account(principal: Principal, account_id: str | None) -> str:
    """The account a request acts on: its credential's. Naming another one finds nothing (404, not 403)."""
    if account_id is not None and account_id != principal.account_id:
        raise NotFound(f"account {account_id!r} does not exist")
    return principal.account_id
