"""Sessions in a dict: the embedded default (one process). The local view is the store itself."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType

from proxy.playback.sessions import Decided, OnceKey, Session

NONE: Mapping[str, Session] = MappingProxyType({})


class MemorySessionStore:
    shared = False

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._channels: dict[tuple[str, str], dict[str, Session]] = {}  # by ChannelConfig.key, for prefetch

    def peek(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def decided(self, session: Session, break_id: str) -> Decided | None:
        decided = session.decided
        return decided.get(break_id) if decided else None

    def adopt(self, session: Session) -> None:
        """Nothing to adopt: no other process freezes this store's decisions."""

    def of_channel(self, key: tuple[str, str]) -> Mapping[str, Session]:
        return self._channels.get(key, NONE)

    def keep_alive(self, session: Session, idle_after: float) -> None:
        session.expires_at = self.clock() + idle_after

    def seen(self, session: Session) -> None:
        session.seen_at = self.clock()

    def skip_inactive(self, session: Session, start_msn: int) -> None:
        session.inactive_msn = start_msn

    def folded(self, session: Session, break_ids: Sequence[str]) -> None:
        """Nothing to send on: no other process loads it."""

    def drop_once(self, session: Session, place: str, below: int) -> None:
        once = session.once
        if once:
            for key in [key for key in once if key[0] == place and key[1] < below]:
                del once[key]

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._sessions.values()))

    async def create(self, session: Session) -> None:
        self._sessions[session.id] = session
        self._channels.setdefault((session.channel, session.version), {})[session.id] = session

    async def load(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    async def decision(self, session: Session, break_id: str) -> Decided | None:
        return self.decided(session, break_id)

    async def freeze(self, session: Session, break_id: str, start_msn: int, decided: Decided) -> Decided:
        frozen = self.decided(session, break_id)
        if frozen is None:
            session.decide(break_id, start_msn, decided)
            frozen = decided
        return frozen

    async def claim(self, session: Session, key: OnceKey, ttl: float = math.inf) -> bool:
        now, once = self.clock(), session.once
        if once is None:
            once = session.once = {}
        if now - once.get(key, -ttl) < ttl:
            return False
        once[key] = now
        return True

    async def set_params(self, session: Session, params: Mapping[str, str]) -> None:
        session.params = dict(params)

    async def expire(self) -> list[Session]:
        now = self.clock()
        stale = [session for session in self._sessions.values() if session.expires_at <= now]
        for session in stale:
            del self._sessions[session.id]
            key = (session.channel, session.version)
            channel = self._channels.get(key)
            if channel is not None:
                channel.pop(session.id, None)
                if not channel:
                    del self._channels[key]
        return stale

    async def close(self) -> None:
        """Nothing to send on: the sessions end with the process."""

    def figures(self) -> dict[str, object]:
        return {"kind": "memory"}
