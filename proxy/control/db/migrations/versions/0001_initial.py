"""The first schema: accounts, keys, OAuth clients, the token signing key, applications, ssai_configs, slates,
channels, cue points. Written out rather than taken from proxy/control/db/schema.py, so this step stays what
it was when later migrations change the schema."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _when(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _owner() -> sa.Column[object]:
    return sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)


def _secrets() -> None:
    for name in ("api_keys", "oauth_clients"):
        extra = [sa.Column("operations", sa.JSON, nullable=False)] if name == "oauth_clients" else []
        op.create_table(
            name,
            sa.Column("id", sa.String(32), primary_key=True),
            _owner(),
            sa.Column("secret_sha256", sa.String(64), nullable=False),
            *extra,
            _when("created_at"),
        )
    keys = op.create_table(
        "signing_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("secret", sa.String(128), nullable=False),
    )
    op.bulk_insert(keys, [{"id": 1, "secret": secrets.token_urlsafe(48)}])


def _documents() -> None:
    for name in ("applications", "ssai_configs"):
        op.create_table(
            name,
            sa.Column("id", sa.String(64), primary_key=True),
            _owner(),
            sa.Column("document", sa.JSON, nullable=False),
            _when("created_at"),
            _when("updated_at"),
        )
        op.create_index(f"ix_{name}_account", name, ["account_id"])


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        _when("created_at"),
    )
    _secrets()
    _documents()
    op.create_table(
        "slates",
        sa.Column("id", sa.String(64), primary_key=True),
        _owner(),
        sa.Column("source_url", sa.String(4096), nullable=False),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False),
        _when("created_at"),
    )
    op.create_index("ix_slates_account", "slates", ["account_id"])
    op.create_table(
        "channels",
        sa.Column("name", sa.String(64), primary_key=True),
        _owner(),
        sa.Column("document", sa.JSON, nullable=False),
        _when("created_at"),
        _when("updated_at"),
    )
    op.create_index("ix_channels_account", "channels", ["account_id"])
    op.create_table(
        "cuepoints",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(64), sa.ForeignKey("channels.name", ondelete="CASCADE"), nullable=False),
        sa.Column("starts_at", sa.Float, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("ad_server_data", sa.JSON, nullable=False),
        _when("created_at"),
    )
    op.create_index("ix_cuepoints_channel", "cuepoints", ["channel", "starts_at"])


def downgrade() -> None:
    for name in ("cuepoints", "channels", "slates", "ssai_configs", "applications"):
        op.drop_table(name)
    for name in ("signing_keys", "oauth_clients", "api_keys", "accounts"):
        op.drop_table(name)
