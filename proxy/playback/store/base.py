"""The session store interface; backends: memory (here), Redis (scale-out, later)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from proxy.playback.sessions import Session


class SessionStore(Protocol):
    shared: bool  # False: sessions live in this process only

    def get(self, session_id: str) -> Session | None: ...

    def add(self, session: Session) -> None: ...

    def expire(self, now: float) -> int: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Session]: ...
