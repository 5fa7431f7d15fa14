"""Round trips: a body that a GET answered can be sent back with PUT as it is.

The fields the server owns (ids, the account, timestamps, a slate's status) are read-only: a PUT may carry
them, and they are accepted when they equal what is stored and refused (400, naming the field and quoting both
values) when they differ, before anything is written. They are never taken from the body.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from proxy.errors import BadRequest

SHOWN_CHARS = 200  # as proxy.web.schemas: a bad value is echoed back cut to this


def current_values(document: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """The read-only `fields` of a GET answer, None for one it leaves out (a slate's error when it has none)."""
    return {field: document.get(field) for field in fields}


def without_read_only(body: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """`body` without the read-only fields of `current`; `BadRequest` for the first one sent with another value."""
    rest = dict(body)
    for field, value in current.items():
        if field in rest:
            sent = rest.pop(field)
            if not _same(sent, value):
                raise BadRequest(
                    f"{field} = {_shown(sent)}: expected {_shown(value)}, its current value "
                    "(read-only: set by the server; leave it out or send it unchanged)"
                )
    return rest


def _same(sent: object, value: object) -> bool:
    """Equal, or the same instant written another way (RFC 3339 allows `Z` or `+00:00`, any fraction digits)."""
    if sent == value:
        return True
    if isinstance(sent, str) and isinstance(value, str) and "T" in value:
        try:
            return datetime.fromisoformat(sent) == datetime.fromisoformat(value)
        except ValueError:
            return False
    return False


def _shown(value: object) -> str:
    text = repr(value[: SHOWN_CHARS + 1] if isinstance(value, str) else value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}…"
