"""The control plane: the database and the account-owned things the control APIs manage (issue #5)."""

from __future__ import annotations

from proxy.accounts import Principal, check_api_key, check_token
from proxy.db import Database
from proxy.db.schema import applications, ssai_configs
from proxy.documents import DocumentStore
from proxy.errors import Forbidden, NotFound, Unauthorized
from proxy.pipeline import MediaPipeline
from proxy.settings import Settings
from proxy.slates import SlateLibrary


class ControlPlane:
    def __init__(self, db: Database, pipeline: MediaPipeline) -> None:
        self.db = db
        self.applications = DocumentStore(db, applications)
        self.ssai_configs = DocumentStore(db, ssai_configs)
        self.slates = SlateLibrary(db, pipeline)

    @classmethod
    async def open(cls, settings: Settings, pipeline: MediaPipeline) -> ControlPlane:
        db = Database.from_settings(settings.database_url, settings.data_dir)
        await db.migrate()
        return cls(db, pipeline)

    async def close(self) -> None:
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


def own_account(principal: Principal, account_id: str | None) -> str:
    """The account a request acts on: its credential's. Naming another one finds nothing (404, not 403)."""
    if account_id is not None and account_id != principal.account_id:
        raise NotFound(f"account {account_id!r} does not exist")
    return principal.account_id
