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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from proxy.ads.models import Ad
from proxy.hls.fill import FillPlan
from proxy.playback.sessions import Decided, OnceKey, Session


@dataclass(frozen=True, slots=True)
class FrozenDecision:
    """A session's frozen decision for a break as another process sees it: the plan to lay over the break (None:
    the content plays) and the ads in it. `Decided` is this laid over this process's own `Break`."""

    plan: FillPlan | None
    ads: tuple[Ad, ...]
    break_tracking: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, decided: Decided) -> FrozenDecision:
        return cls(decided.fill.plan if decided.fill is not None else None, decided.ads, decided.break_tracking)


# Lays a decision another process froze over this process's own break (its fill shared with this process's
# sessions of the same plan): the break's start and the decision; None when this process does not know the break
# (it slid out of the origin's window before this process started).
Rebuild = Callable[[Session, str, FrozenDecision], tuple[int, Decided] | None]


class SessionStore(Protocol):
    shared: bool  # False: sessions live in this process only

    # -- the local view: no await ----------------------------------------------------------------------

    def peek(self, session_id: str) -> Session | None:
        """The session if this process holds it (None: unknown here, `load` may still find it)."""
        ...

    def decided(self, session: Session, break_id: str) -> Decided | None:
        """The session's frozen decision for the break as this process knows it, None before it is frozen (or once
        it was folded). A shared store adopts here what it loaded with the session."""
        ...

    def adopt(self, session: Session) -> None:
        """Every decision loaded with the session and not adopted yet, in break order, for a reader of its fills
        as a whole (the tracking API) in a process that has not rendered its breaks yet."""
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

    def folded(self, session: Session, break_ids: Sequence[str]) -> None:
        """The session folded `break_ids` into its shift (`Session.fold`): a process that loads it later starts from
        that shift, so it renders the same numbers without knowing breaks that left the origin's window before it
        started; their decisions and once-records may go."""
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

    async def decision(self, session: Session, break_id: str) -> Decided | None:
        """The session's frozen decision for the break, from this process's view or the shared store (another
        process may have frozen it since this one last rendered the session's playlist)."""
        ...

    async def freeze(self, session: Session, break_id: str, start_msn: int, decided: Decided) -> Decided:
        """Freeze the session's decision for a break; the one frozen first (by any process) is kept and returned."""
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

    async def close(self) -> None:
        """Send on what is still local (a shared store's keep-alives) and let go of connections."""
        ...

    def figures(self) -> dict[str, object]:
        """What the store is (`kind`) and what went wrong with it, for the operator's metrics."""
        ...
