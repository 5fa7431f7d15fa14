"""The session state store, behind one interface (`base.SessionStore`); `session_store` picks the implementation."""

from __future__ import annotations

import time
from collections.abc import Callable

from proxy.playback.store.base import SessionStore
from proxy.playback.store.memory import MemorySessionStore
from proxy.settings import Settings

__all__ = ["MemorySessionStore", "SessionStore", "session_store"]


def session_store(settings: Settings, clock: Callable[[], float] = time.monotonic) -> SessionStore:
    """The store the settings ask for: in this process's memory, the embedded default (one process)."""
    return MemorySessionStore(clock)
