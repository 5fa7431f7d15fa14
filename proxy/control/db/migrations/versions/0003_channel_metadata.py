"""Channels carry `metadata` (Video Cloud SSAI API `{{ metadata.* }}` ad tag variables): every API channel stored before
gets an empty one, so a GET shows the field and its body can be sent back with PUT as it is. Channel-file
channels keep their file entry (the file's `metadata` table, when it has one, is stored at start-up)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003_channel_metadata"
down_revision = "0002_slate_status"
branch_labels = None
depends_on = None

# The table as this step knows it (written out: later migrations may change proxy/control/db/schema.py).
_channels = sa.table("channels", sa.column("name", sa.String), sa.column("document", sa.JSON))


def _rewrite(change: Any) -> None:
    connection = op.get_bind()
    for name, document in connection.execute(sa.select(_channels.c.name, _channels.c.document)).all():
        document = dict(document)
        if "file" in document:
            continue
        changed = change(document)
        if changed is not None:
            connection.execute(sa.update(_channels).where(_channels.c.name == name).values(document=changed))


def upgrade() -> None:
    _rewrite(lambda document: None if "metadata" in document else {**document, "metadata": {}})


def downgrade() -> None:
    _rewrite(
        lambda document: {k: v for k, v in document.items() if k != "metadata"} if "metadata" in document else None
    )
