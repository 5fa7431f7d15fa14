"""The control plane's tables, in SQLAlchemy Core: one description for SQLite and PostgreSQL.

Documents whose shape a public API defines (an application, an ssai_config, a channel) are stored whole as JSON,
validated by proxy/web/schemas/ before they are written; the columns beside them are what is looked up
or must be unique. Every row belongs to an account, and every query of the API filters by it.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()


def _when(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    _when("created_at"),
)

# API keys (Brightcove Live API `X-API-KEY`) and OAuth clients (Video Cloud SSAI API): only a SHA-256 of the
# secret is kept.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    _when("created_at"),
)

oauth_clients = sa.Table(
    "oauth_clients",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("operations", sa.JSON, nullable=False),
    _when("created_at"),
)

# The key that signs bearer tokens: one row, made by the first migration, shared by every process.
signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("secret", sa.String(128), nullable=False),
)


def _document(name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.Index(f"ix_{name}_account", "account_id"),
    )


applications = _document("applications")  # Brightcove Live API
ssai_configs = _document("ssai_configs")  # Video Cloud SSAI API

slates = sa.Table(
    "slates",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("source_url", sa.String(4096), nullable=False),
    sa.Column("description", sa.String(1000), nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False),
    _when("created_at"),
    # Stored, so every process and a restart agree (migration 0002): transcoding, ready or error, and why.
    sa.Column("status", sa.String(16), nullable=False, server_default="transcoding"),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_slates_account", "account_id"),
    # At most one default slate per account, whatever writes race.
    sa.Index(
        "ux_slates_default",
        "account_id",
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    ),
)

# A channel's name is in its playback URLs, so it is unique across accounts.
channels = sa.Table(
    "channels",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    _when("created_at"),
    _when("updated_at"),
    sa.Index("ix_channels_account", "account_id"),
)

cuepoints = sa.Table(
    "cuepoints",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("channel", sa.String(64), sa.ForeignKey("channels.name", ondelete="CASCADE"), nullable=False),
    sa.Column("starts_at", sa.Float, nullable=False),  # Unix time
    sa.Column("duration", sa.Float, nullable=False),
    sa.Column("ad_server_data", sa.JSON, nullable=False),
    _when("created_at"),
    sa.Index("ix_cuepoints_channel", "channel", "starts_at"),
)
