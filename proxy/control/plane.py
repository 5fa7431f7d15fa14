"""The control plane: the database and the account-owned things the control APIs manage (issue #5)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from proxy.control.accounts import Principal, check_api_key, check_token
from proxy.control.channelstore import ChannelStore
from proxy.control.db import Database
from proxy.control.db.schema import applications, ssai_configs
from proxy.control.documents import DocumentStore
from proxy.control.slates import SlateLibrary
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
        await db.migrate()
        control = cls(db, pipeline)
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
        """Channels belong to both API families: an `X-API-KEY` (seed 002) or a bearer token (seed 003)."""
        if headers.get("x-api-key"):
            return await self.by_api_key(headers["x-api-key"])
        if headers.get("authorization"):
            return await self.by_bearer(headers["authorization"], write=write)
        raise Unauthorized("no X-API-KEY or `Authorization: Bearer …` header: expected one of them")


def own_account(principal: Principal, account_id: str | None) -> str:
    """The account a request acts on: its credential's. Naming another one finds nothing (404, not 403)."""
    if account_id is not None and account_id != principal.account_id:
        raise NotFound(f"account {account_id!r} does not exist")
    return principal.account_id
