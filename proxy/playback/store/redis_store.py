"""Sessions in Redis, so any process of a cluster serves any session and a restart loses none.

Per session one hash, `{prefix}:s:{id}`, that expires with the session (Redis TTL): its record (`r`: channel,
version, where it joined, who made it), parameters (`p`), when it expires (`e`, wall-clock seconds: every
process's keep-alive moves it), its frozen decisions (`d:{break}`, written with HSETNX: the first wins) and its
once-records for the session's life (`o:{key}`, HSETNX). Once-records with a shorter time to live are keys of
their own (`{prefix}:o:{id}:{key}`). Decisions name their creatives, each written once for the cluster
(`{prefix}:c:{digest of its key}`).

The local view is a `MemorySessionStore` of the sessions this process has served: a playlist request reads it
without a round trip, and a frozen decision, which never changes, is kept in it for the break's life. Keep-alives
are sent on in one pipeline every `flush_every` seconds, and only when the session's expiry has caught up with the
one last written, which is written `ahead` seconds late: a player polling every target duration costs Redis one
write per `ahead` seconds, not one per request, and a session lives at most `ahead` seconds past its idle time
(never less: Redis's expiry is never earlier than a process's own).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from proxy.errors import StoreUnavailable
from proxy.net.redis_client import pipeline, text
from proxy.playback.sessions import Decided, OnceKey, Session
from proxy.playback.store import codec
from proxy.playback.store.base import FrozenDecision, Rebuild
from proxy.playback.store.creatives import SharedCreatives
from proxy.playback.store.memory import MemorySessionStore

log = logging.getLogger("proxy.playback.store")

# A session's hash outlives its expiry by this much, so that a process whose local copy expired can still read
# that another process kept it alive (the `e` field) before dropping it.
GRACE = 60.0
# How far ahead of a session's expiry a keep-alive writes it (see the module's docstring).
AHEAD = 10.0

# A claim with a time to live, compared on the store's clock (the injected one in tests): claimed unless a claim
# younger than the TTL stands. The key's own expiry only collects it.
_CLAIM = """
local at = redis.call('GET', KEYS[1])
if at and tonumber(ARGV[1]) - tonumber(at) < tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
"""


# A fold: the session's shift (`h`) replaces its folded breaks' decisions (`d:{id}`) and once-records (fields that
# start `o:["{id}",`, the JSON of a once key), so a hash holds only the breaks still in some window. ARGV: the shift,
# the hash's TTL (ms), then per break its decision's field and its once-records' prefix.
_FOLD = """
redis.call('HSET', KEYS[1], 'h', ARGV[1])
local names = redis.call('HKEYS', KEYS[1])
for i = 3, #ARGV, 2 do
  redis.call('HDEL', KEYS[1], ARGV[i])
  local prefix = ARGV[i + 1]
  for _, name in ipairs(names) do
    if string.sub(name, 1, #prefix) == prefix then redis.call('HDEL', KEYS[1], name) end
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


def _break_fields(break_id: str) -> tuple[str, str]:
    """A break's decision field and the prefix of its once-records' fields in a session's hash."""
    return f"d:{break_id}", f"o:[{orjson.dumps(break_id).decode()},"


class RedisSessionStore:
    shared = True

    def __init__(
        self,
        redis: Redis,
        rebuild: Rebuild,
        *,
        prefix: str = "ssai",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        flush_every: float = 1.0,
        ahead: float = AHEAD,
        creatives: SharedCreatives | None = None,
    ) -> None:
        """`clock` is the service's (a session's expiry and activity locally); `wall` is shared by every process
        (expiry and claim times in Redis)."""
        self.redis, self.rebuild, self.prefix = redis, rebuild, prefix
        self.clock, self.wall, self.flush_every, self.ahead = clock, wall, flush_every, ahead
        self.local = MemorySessionStore(clock)
        self.counts: Counter[str] = Counter()
        self._loaded: dict[
            str, dict[str, bytes | str]
        ] = {}  # session id -> its decisions frozen elsewhere, not adopted
        self.creatives = creatives or SharedCreatives(redis, prefix)
        self._freezing: dict[tuple[str, str], asyncio.Future[Decided]] = {}
        self._dirty: dict[str, Session] = {}  # kept alive since the last flush
        self._written: dict[str, float] = {}  # session id -> the expiry Redis holds (this process's clock)
        self._folded: dict[str, tuple[Session, list[str]]] = {}  # breaks folded since the last flush
        self._flusher: asyncio.Task[None] | None = None
        self._claim = self.redis.register_script(_CLAIM)
        self._fold = self.redis.register_script(_FOLD)

    def _key(self, session_id: str) -> str:
        return f"{self.prefix}:s:{session_id}"

    def _wall_at(self, local_at: float) -> float:
        return self.wall() + (local_at - self.clock())

    # -- the local view ------------------------------------------------------------------------------------

    def peek(self, session_id: str) -> Session | None:
        return self.local.peek(session_id)

    def decided(self, session: Session, break_id: str) -> Decided | None:
        decided = self.local.decided(session, break_id)
        if decided is not None:
            return decided
        loaded = self._loaded.get(session.id)
        raw = loaded.pop(break_id, None) if loaded else None
        if raw is None:
            return None
        try:
            frozen = self.creatives.decode(raw)
        except KeyError:  # a creative not fetched with the session: the next freeze asks the store again
            return None
        return self._adopt(session, break_id, frozen)

    def adopt(self, session: Session) -> None:
        loaded = self._loaded.get(session.id) or {}
        for break_id in sorted(loaded, key=lambda name: codec.decision_start(loaded[name])):
            self.decided(session, break_id)  # adopts it (and takes it out of `loaded`)

    def of_channel(self, key: tuple[str, str]) -> Mapping[str, Session]:
        return self.local.of_channel(key)

    def keep_alive(self, session: Session, idle_after: float) -> None:
        self.local.keep_alive(session, idle_after)
        if session.expires_at > self._written.get(session.id, -math.inf):
            self._dirty[session.id] = session
            self._flush_soon()

    def _flush_soon(self) -> None:
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_forever())

    def seen(self, session: Session) -> None:
        self.local.seen(session)

    def skip_inactive(self, session: Session, start_msn: int) -> None:
        self.local.skip_inactive(session, start_msn)

    def folded(self, session: Session, break_ids: Sequence[str]) -> None:
        _, before = self._folded.get(session.id, (session, []))
        self._folded[session.id] = (session, [*before, *break_ids])
        self._flush_soon()

    def drop_once(self, session: Session, place: str, below: int) -> None:
        """Nothing to do: a session's once-records go with its hash."""

    def __len__(self) -> int:
        return len(self.local)

    def __iter__(self) -> Iterator[Session]:
        return iter(self.local)

    # -- through Redis -------------------------------------------------------------------------------------

    async def create(self, session: Session) -> None:
        key, expires = self._key(session.id), self._wall_at(session.expires_at)
        fields: dict[str | bytes, bytes | float] = {"r": codec.encode_record(session), "e": expires}
        if session.params:
            fields["p"] = codec.encode_params(session.params)
        async with self._guard("create"):
            async with pipeline(self.redis, transaction=True) as pipe:
                pipe.hset(key, mapping=fields)
                pipe.pexpire(key, self._ttl_ms(expires))
                await pipe.execute()
        self._written[session.id] = session.expires_at
        await self.local.create(session)

    async def load(self, session_id: str) -> Session | None:
        session = self.local.peek(session_id)
        if session is not None:
            return session
        async with self._guard("load"):
            replied = await self.redis.hgetall(self._key(session_id))
        fields = {text(name): value for name, value in replied.items()}
        if "r" not in fields or float(fields["e"]) <= self.wall():
            return None
        expires_at = self.clock() + float(fields["e"]) - self.wall()
        session = codec.decode_record(session_id, fields["r"], fields.get("p"), expires_at)
        if "h" in fields:  # breaks folded by another process: in the shift, not adopted again
            codec.decode_shift(session, fields["h"])
        decisions = {
            name[2:]: raw
            for name, raw in fields.items()
            if name.startswith("d:") and codec.decision_start(raw) > session.folded_through
        }
        async with self._guard("creatives"):
            await self.creatives.fetch(decisions.values())
        self._loaded[session_id] = decisions
        self._written[session_id] = expires_at
        await self.local.create(session)
        return session

    async def decision(self, session: Session, break_id: str) -> Decided | None:
        decided = self.decided(session, break_id)
        if decided is not None:
            return decided
        async with self._guard("decision"):
            raw = await self.redis.hget(self._key(session.id), f"d:{break_id}")
        if raw is None:
            return None
        return await self._adopt_raw(session, break_id, raw)

    async def freeze(self, session: Session, break_id: str, start_msn: int, decided: Decided) -> Decided:
        known = self.decided(session, break_id)
        if known is not None:
            return known
        flight = self._freezing.get((session.id, break_id))
        if flight is not None:  # one round trip per session and break, however many requests race for it here
            return await asyncio.shield(flight)
        flight = self._freezing[(session.id, break_id)] = asyncio.get_running_loop().create_future()
        try:
            frozen = await self._freeze(session, break_id, start_msn, decided)
            flight.set_result(frozen)
            return frozen
        except BaseException as error:
            flight.set_exception(error)
            flight.exception()  # retrieved: the racing requests, if any, get it from their await
            raise
        finally:
            del self._freezing[(session.id, break_id)]

    async def _freeze(self, session: Session, break_id: str, start_msn: int, decided: Decided) -> Decided:
        frozen = FrozenDecision.of(decided)
        try:
            await self.creatives.write(frozen)
            async with pipeline(self.redis, transaction=True) as pipe:
                pipe.hsetnx(self._key(session.id), f"d:{break_id}", codec.encode_decision(frozen, start_msn))
                pipe.hget(self._key(session.id), f"d:{break_id}")
                won, raw = await pipe.execute()
        except RedisError as error:  # degraded: this process's decision stands for the requests it serves
            self._failed("freeze", error)
            won = True
        if not won:
            adopted = await self._adopt_raw(session, break_id, raw)
            if adopted is not None:
                return adopted
            log.warning("session %s break %s: the decision frozen elsewhere cannot be used here", session.id, break_id)
        session.decide(break_id, start_msn, decided)
        return decided

    async def claim(self, session: Session, key: OnceKey, ttl: float = math.inf) -> bool:
        field = orjson.dumps(key).decode()
        try:
            if math.isinf(ttl):
                return bool(await self.redis.hsetnx(self._key(session.id), f"o:{field}", 1))
            ms = max(1, int(ttl * 1000))
            name = f"{self.prefix}:o:{session.id}:{field}"
            return bool(await self._claim(keys=[name], args=[repr(self.wall()), repr(ttl), ms]))
        except RedisError as error:  # degraded: this process's own record, so at least it fires once
            self._failed("claim", error)
            return await self.local.claim(session, key, ttl)

    async def set_params(self, session: Session, params: Mapping[str, str]) -> None:
        async with self._guard("set_params"):
            await self.redis.hset(self._key(session.id), "p", codec.encode_params(params))
        await self.local.set_params(session, params)

    async def expire(self) -> list[Session]:
        """Sessions idle here past their expiry are dropped from this process; from Redis too unless another
        process kept them alive since (then this one keeps its copy until that expiry)."""
        await self.flush()
        now = self.clock()
        candidates = [session for session in self.local if session.expires_at <= now]
        if not candidates:
            return []
        try:
            async with pipeline(self.redis, transaction=False) as pipe:
                for session in candidates:
                    pipe.hget(self._key(session.id), "e")
                expiries = await pipe.execute()
        except RedisError as error:
            self._failed("expire", error)
            expiries = [None] * len(candidates)
        wall = self.wall()
        for session, expires in zip(candidates, expiries, strict=True):
            if expires is not None and float(expires) > wall:
                session.expires_at = self._written[session.id] = now + float(expires) - wall
        stale = await self.local.expire()
        for session in stale:
            self._loaded.pop(session.id, None)
            self._written.pop(session.id, None)
        await self._delete(stale)
        return stale

    # -- housekeeping --------------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Send the keep-alives and folds since the last flush: each session's expiry (and its hash's TTL after
        it) and shift."""
        (dirty, self._dirty), (folded, self._folded) = (self._dirty, {}), (self._folded, {})
        if not dirty and not folded:
            return
        written = {session.id: session.expires_at + self.ahead for session in dirty.values()}
        try:
            async with pipeline(self.redis, transaction=False) as pipe:
                for session in dirty.values():
                    expires = self._wall_at(written[session.id])
                    pipe.hset(self._key(session.id), "e", expires)
                    pipe.pexpire(self._key(session.id), self._ttl_ms(expires))
                for session, break_ids in folded.values():
                    expires = self._wall_at(max(session.expires_at, self._written.get(session.id, -math.inf)))
                    fields = [part for break_id in break_ids for part in _break_fields(break_id)]
                    args: list[bytes | str | int] = [codec.encode_shift(session), self._ttl_ms(expires), *fields]
                    await self._fold(keys=[self._key(session.id)], args=args, client=pipe)
                await pipe.execute()
        except RedisError as error:
            self._failed("flush", error)
            self._dirty = {**dirty, **self._dirty}  # the next flush
            for session, break_ids in folded.values():
                self.folded(session, break_ids)
            return
        self._written.update(written)

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self.flush()

    def figures(self) -> dict[str, Any]:
        return {"kind": "redis", "errors": dict(self.counts)}

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.flush_every)
            await self.flush()

    async def _delete(self, sessions: list[Session]) -> None:
        if sessions:
            try:
                await self.redis.delete(*(self._key(session.id) for session in sessions))
            except RedisError as error:
                self._failed("expire", error)  # their hashes expire by TTL anyway

    def _ttl_ms(self, expires: float) -> int:
        return max(1, int((expires - self.wall() + GRACE) * 1000))

    # -- decisions frozen elsewhere ----------------------------------------------------------------------

    async def _adopt_raw(self, session: Session, break_id: str, raw: bytes | str) -> Decided | None:
        async with self._guard("creatives"):
            await self.creatives.fetch([raw])
        try:
            frozen = self.creatives.decode(raw)
        except KeyError as error:
            log.warning("session %s break %s: part %s missing from the store", session.id, break_id, error)
            return None
        return self._adopt(session, break_id, frozen)

    def _adopt(self, session: Session, break_id: str, frozen: FrozenDecision) -> Decided | None:
        rebuilt = self.rebuild(session, break_id, frozen)
        if rebuilt is None:
            return None
        start_msn, decided = rebuilt
        session.decide(break_id, start_msn, decided)
        return decided

    # -- failures ------------------------------------------------------------------------------------------

    def _failed(self, operation: str, error: Exception) -> None:
        self.counts[operation] += 1
        log.warning("session store: %s failed (%s: %s), degraded", operation, type(error).__name__, error)

    @contextlib.asynccontextmanager
    async def _guard(self, operation: str) -> AsyncIterator[None]:
        try:
            yield
        except RedisError as error:
            self._failed(operation, error)
            raise StoreUnavailable(f"session store unreachable during {operation}: {error}") from None
