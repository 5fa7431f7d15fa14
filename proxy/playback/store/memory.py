"""Sessions in a dict: the embedded default (one process)."""

from __future__ import annotations

from collections.abc import Iterator

from proxy.playback.sessions import Session


class MemorySessionStore:
    shared = False

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def add(self, session: Session) -> None:
        self._sessions[session.id] = session

    def expire(self, now: float) -> int:
        stale = [sid for sid, session in self._sessions.items() if session.expires_at <= now]
        for sid in stale:
            del self._sessions[sid]
        return len(stale)

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._sessions.values()))
