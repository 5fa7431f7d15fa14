"""Slates keep their status and error reason (Brightcove Live API `media_source_asset_status`), so a restart or another
process reports what the media pipeline found, and an account has at most one default slate (a partial unique
index). Slates stored before are `transcoding`: the next start queues their preparation again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_slate_status"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("slates", sa.Column("status", sa.String(16), nullable=False, server_default="transcoding"))
    op.add_column("slates", sa.Column("error", sa.Text, nullable=True))
    only_default = sa.text("is_default")
    op.create_index(
        "ux_slates_default",
        "slates",
        ["account_id"],
        unique=True,
        sqlite_where=only_default,
        postgresql_where=only_default,
    )


def downgrade() -> None:
    op.drop_index("ux_slates_default", "slates")
    with op.batch_alter_table("slates") as batch:
        batch.drop_column("error")
        batch.drop_column("status")
