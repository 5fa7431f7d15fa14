"""Accounts and their credentials: API keys (Brightcove Live API `X-API-KEY`), OAuth clients and bearer tokens
(Video Cloud SSAI API).

A key or client secret is shown once, when made; only its SHA-256 is stored (they are 256-bit random values, so
a fast hash is enough: there is nothing to brute-force). A presented secret is looked up by its public id and
compared in constant time, and an unknown id costs the same comparison, so timing tells nothing. Bearer tokens
are stateless: the account, operations and expiry signed with HMAC-SHA256 under a key kept in the database, so
any process of the deployment can check a token another one issued.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import sqlalchemy as sa

from proxy.control.db import Database
from proxy.control.db.schema import accounts, api_keys, oauth_clients, signing_keys
from proxy.errors import BadRequest, Conflict, Unauthorized

OPERATIONS = ("video-cloud/video/read", "video-cloud/video/all")  # Video Cloud SSAI API's operations
TOKEN_SECONDS = 300  # Brightcove's access tokens live five minutes
_DUMMY = hashlib.sha256(b"no such credential").hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an account, and what it may do (`write` False for a read-only OAuth client)."""

    account_id: str
    write: bool


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(presented: str, prefix: str) -> tuple[str, str]:
    """`{prefix}_{id}.{secret}` → (id, secret); anything else gives ids that match nothing."""
    body = presented.removeprefix(f"{prefix}_") if presented.startswith(f"{prefix}_") else ""
    public, _, secret = body.partition(".")
    return public, secret


def _matches(stored: str | None, secret: str) -> bool:
    return hmac.compare_digest(stored or _DUMMY, _sha256(secret)) and stored is not None


async def create_account(db: Database, name: str, account_id: str | None = None) -> str:
    account_id = account_id or uuid.uuid4().hex
    try:
        async with db.transaction() as connection:
            row = {"id": account_id, "name": name, "created_at": datetime.now(UTC)}
            await connection.execute(sa.insert(accounts).values(**row))
    except sa.exc.IntegrityError:  # the primary key: an account of that id exists
        raise Conflict(
            f"account {account_id!r} exists already: expected a new id (or none, for a random one)"
        ) from None
    return account_id


async def account_exists(db: Database, account_id: str) -> bool:
    return bool(await db.fetch(sa.select(accounts.c.id).where(accounts.c.id == account_id)))


async def create_api_key(db: Database, account_id: str) -> str:
    """A new key for `account_id`, in full: the only time it is seen."""
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    async with db.transaction() as connection:
        await connection.execute(
            sa.insert(api_keys).values(
                id=key_id, account_id=account_id, secret_sha256=_sha256(secret), created_at=datetime.now(UTC)
            )
        )
    return f"sk_{key_id}.{secret}"


async def check_api_key(db: Database, presented: str) -> Principal:
    key_id, secret = _split(presented, "sk")
    rows = await db.fetch(sa.select(api_keys.c.account_id, api_keys.c.secret_sha256).where(api_keys.c.id == key_id))
    stored = rows[0].secret_sha256 if rows else None
    if not _matches(stored, secret):
        raise Unauthorized("X-API-KEY is not a valid API key")
    return Principal(rows[0].account_id, write=True)


async def create_client(db: Database, account_id: str, operations: tuple[str, ...]) -> tuple[str, str]:
    """A new OAuth client: (client_id, client_secret), the secret shown once."""
    unknown = [op for op in operations if op not in OPERATIONS]
    if unknown or not operations:
        raise BadRequest(f"operations {list(operations)!r}: expected some of {list(OPERATIONS)}")
    client_id, secret = secrets.token_hex(12), secrets.token_urlsafe(32)
    async with db.transaction() as connection:
        await connection.execute(
            sa.insert(oauth_clients).values(
                id=client_id,
                account_id=account_id,
                secret_sha256=_sha256(secret),
                operations=list(operations),
                created_at=datetime.now(UTC),
            )
        )
    return client_id, secret


async def issue_token(db: Database, client_id: str, client_secret: str) -> str:
    """OAuth 2.0 client credentials (RFC 6749 §4.4): a bearer token for the client's account and operations."""
    rows = await db.fetch(sa.select(oauth_clients).where(oauth_clients.c.id == client_id[:64]))
    stored = rows[0].secret_sha256 if rows else None
    if not _matches(stored, client_secret):
        raise Unauthorized("client_id and client_secret do not match a client")
    claims = {"acct": rows[0].account_id, "ops": rows[0].operations, "exp": int(time.time()) + TOKEN_SECONDS}
    payload = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=")
    return f"{payload.decode()}.{await _sign(db, payload)}"


async def check_token(db: Database, token: str) -> Principal:
    payload, _, signature = token.encode().partition(b".")
    if not hmac.compare_digest(signature.decode(errors="replace"), await _sign(db, payload)):
        raise Unauthorized("the bearer token is not one this proxy issued")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    if claims["exp"] < time.time():
        raise Unauthorized(f"the bearer token expired at {claims['exp']} (tokens live {TOKEN_SECONDS} s)")
    return Principal(claims["acct"], write="video-cloud/video/all" in claims["ops"])


async def _sign(db: Database, payload: bytes) -> str:
    key = db.cache.get("signing_key")
    if key is None:
        rows = await db.fetch(sa.select(signing_keys.c.secret).where(signing_keys.c.id == 1))
        key = db.cache["signing_key"] = rows[0].secret
    digest = hmac.new(key.encode(), payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
