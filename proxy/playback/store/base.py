"""The session store: everything a session needs across requests goes through one of these.

Two speeds. What a playlist request reads once its breaks are decided is served synchronously from the
store's local view: `peek` and `decided` answer from memory (the `Session` objects the store hands out),
without awaiting or parsing anything; a frozen decision never changes, so a shared store may cache it
forever. The writes of every request (`keep_alive`, `seen`, `skip_inactive`) are local too: a shared store
sends them on later, and losing one costs an expiry or an activity check a few seconds of precision.

What would cross the network in a shared store is a coroutine: creating a session, loading one this process
has not seen, freezing a break's decision (the first frozen wins), claiming a once-record (`SET NX`
semantics, with a time to live), setting parameters, expiring idle sessions.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Protocol

from proxy.playback.sessions import Decided, OnceKey, Session


class SessionStore(Protocol):
    shared: bool  # False: sessions live in this process only

    # -- the local view: no await ----------------------------------------------------------------------

    def peek(self, session_id: str) -> Session | None:
        """The session if this process holds it (None: unknown here, `load` may still find it)."""
        ...

    def decided(self, session: Session, break_id: str) -> Decided | None:
        """The session's frozen decision for the break, None before it is frozen (or once it was folded)."""
        ...

    def of_channel(self, key: tuple[str, str]) -> Mapping[str, Session]:
        """The live sessions this process holds of a channel version (`ChannelConfig.key`), by id."""
        ...

    def keep_alive(self, session: Session, idle_after: float) -> None:
        """A request of the session's player: it expires `idle_after` seconds from now, not before."""
        ...

    def seen(self, session: Session) -> None:
        """A playlist request of the session now: it is active (`Session.seen_at`)."""
        ...

    def skip_inactive(self, session: Session, start_msn: int) -> None:
        """Breaks starting at or before `start_msn` play without ads: the session was away when they were seen."""
        ...

    def drop_once(self, session: Session, place: str, below: int) -> None:
        """Once-records of `place` at positions below `below` will not be claimed again: they may go."""
        ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Session]: ...

    # -- what a shared store does over the network ---------------------------------------------------

    async def create(self, session: Session) -> None:
        """Store a new session (its record, parameters and expiry)."""
        ...

    async def load(self, session_id: str) -> Session | None:
        """The session, from this process's view or the shared store; None when it does not exist (any more)."""
        ...

    async def freeze(self, session: Session, break_id: str, start_msn: int, decided: Decided) -> Decided:
        """Freeze the session's decision for a break; the one frozen first is kept and returned."""
        ...

    async def claim(self, session: Session, key: OnceKey, ttl: float = math.inf) -> bool:
        """True once for `key` within `ttl` seconds (infinite: the session's life), however many ask."""
        ...

    async def set_params(self, session: Session, params: Mapping[str, str]) -> None:
        """The session's ad parameters from now on (for breaks not decided yet)."""
        ...

    async def expire(self) -> list[Session]:
        """Remove the sessions idle past their expiry; the ones removed."""
        ...
