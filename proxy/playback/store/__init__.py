"""The session state store, behind one interface (`base.SessionStore`); `session_store` picks the implementation."""

from __future__ import annotations

import time
from collections.abc import Callable

from proxy.playback.store.base import FrozenDecision, Rebuild, SessionStore
from proxy.playback.store.creatives import SharedCreatives
from proxy.playback.store.memory import MemorySessionStore
from proxy.playback.store.redis_store import RedisSessionStore
from proxy.settings import Settings

__all__ = [
    "FrozenDecision",
    "MemorySessionStore",
    "Rebuild",
    "SessionStore",
    "SharedCreatives",
    "session_store",
]


def session_store(
    settings: Settings,
    rebuild: Rebuild,
    clock: Callable[[], float] = time.monotonic,
    creatives: SharedCreatives | None = None,
) -> SessionStore:
    """The store the settings ask for: in Redis when the process shares creatives through it (`redis_url` set),
    else in this process's memory (one process)."""
    if creatives is None:
        return MemorySessionStore(clock)
    prefix = settings.redis_prefix
    return RedisSessionStore(creatives.redis, rebuild, prefix=prefix, clock=clock, creatives=creatives)
