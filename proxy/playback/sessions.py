"""A viewer's session: where it joined the channel, its ad parameters and the fills frozen for it.

A `Session` is the local view a session store (`proxy.playback.store`) hands out: the playlist request reads it
without awaiting anything, and only the store writes what must outlive the request (parameters, activity,
frozen decisions, once-records).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from proxy.ads.models import Ad
from proxy.errors import BadRequest
from proxy.hls.fill import Fill
from proxy.playback.eventlog import EventLog

MAX_PARAMS_CHARS = 2000  # MediaTailor's limit on all manifest query parameters together

# A once-record: (place, position, event), e.g. (break id, ad index, VAST event), ("content", msn, kind).
OnceKey = tuple[str, int, str]


def check_params(params: Mapping[str, str]) -> None:
    """A session's ad parameters, at creation or added later, stay within MediaTailor's limit."""
    if sum(len(k) + len(v) for k, v in params.items()) > MAX_PARAMS_CHARS:
        raise BadRequest(f"ad parameters total more than {MAX_PARAMS_CHARS} characters")


@dataclass(frozen=True, slots=True)
class Client:
    """Who created the session (Brightcove Live API: client.ipaddress, client.useragent, client.referer at creation;
    Video Cloud SSAI API: system.x_forwarded_for, the X-Forwarded-For header as sent)."""

    ip: str
    user_agent: str
    referer: str
    forwarded_for: str = ""


class Decided:
    """A break's frozen outcome for one session: its fill (None = the content plays) and the ads in it."""

    __slots__ = ("fill", "ads", "break_tracking")

    def __init__(
        self, fill: Fill | None, ads: tuple[Ad, ...], break_tracking: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.fill = fill
        self.ads = ads
        self.break_tracking = break_tracking  # VMAP breakStart/breakEnd of the break's ad response


class Session:
    # Slots and lazily created containers keep an idle session small (100,000 of them in ≤ 200 MB).
    __slots__ = (
        "shift",
        "folded_through",
        "folded_count",
        "client",
        "id",
        "channel",
        "version",
        "join_msn",
        "join_time",
        "params",
        "expires_at",
        "seen_at",
        "inactive_msn",
        "held",
        "decided",
        "fills",
        "last_start",
        "server_beacons",
        "once",
        "events",
    )

    def __init__(
        self, channel: str, join_msn: int, join_time: float, params: Mapping[str, str], expires_at: float
    ) -> None:
        self.id = secrets.token_hex(16)
        self.client: Client | None = None  # the viewer at session creation, for ad requests and beacons
        self.channel = channel
        self.version = ""  # the channel configuration's version it started with (ChannelConfig.version)
        self.join_msn = join_msn  # breaks starting at or before this segment play as content (joined mid-break)
        self.join_time = join_time  # channel timeline seconds at the start of join_msn + 1
        self.params = dict(params) if params else None
        self.expires_at = expires_at
        # The service clock at its last playlist request: a session that stopped asking is inactive and gets no
        # ad requests (BreakDecisions.active_within) long before it expires; the start of the last break skipped
        # for that (it plays without ads if the session comes back).
        self.seen_at = 0.0
        self.inactive_msn = -1
        # The break this session's window is held before, waiting for its decision, and since when (service clock).
        self.held: tuple[str, float] | None = None
        self.decided: dict[str, Decided] | None = None
        self.fills: list[Fill] | None = None  # the filled breaks, in start order
        self.last_start = join_msn  # the start of the last break decided for this session
        # The server fires this session's beacons (else the player does, from the tracking API).
        self.server_beacons = False
        # When each once-record was claimed (beacon guard, segment beacons, ads given to the tracking API), kept
        # here by the in-memory store (`SessionStore.claim`).
        self.once: dict[OnceKey, float] | None = None
        self.events: EventLog | None = None  # its beacons and what became of them, for the player page
        # What fills that slid out of every window add to this session's numbers: (msn, dsn, seconds), and the start
        # of the last break so folded (-1: none).
        self.shift: tuple[int, int, float] = (0, 0, 0.0)
        self.folded_through = -1
        self.folded_count = 0  # decisions folded away: with those held, the session's avails so far

    def fold(self, below_msn: int) -> list[str]:
        """Fold the fills that ended before `below_msn` into `shift`, so a long session renders as fast as
        a new one: render walks only the fills still in some window; drop the decisions without a fill (the
        content played) of breaks out of every window, so a session holds only the breaks still in one. The ids of
        the breaks folded."""
        fills, gone = self.fills, []
        while fills:
            change, end = fills[0].shift(), fills[0].end_msn()
            if change is None or end is None or end >= below_msn:
                break
            msn, dsn, seconds = self.shift
            self.shift = (msn + change[0], dsn + change[1], seconds + change[2])
            self.folded_through = fills[0].brk.start_msn
            folded = fills.pop(0).brk.id
            gone.append(folded)
            if self.decided is not None:
                self.decided.pop(folded, None)
            self._forget_once(folded)
        decided = self.decided
        if decided is not None and len(decided) > len(fills or ()) + 1:
            gone += self._drop_plain(decided, below_msn)
        self.folded_count += len(gone)
        return gone

    def _drop_plain(self, decided: dict[str, Decided], below_msn: int) -> list[str]:
        """Decisions without a fill whose break is out of every window: breaks do not overlap, so one ended before
        the next decided break started; once that one starts before `below_msn`, it is out. A break's id is its
        first segment's media sequence number (`Break.id`)."""
        starts, gone = sorted(int(break_id) for break_id in decided), []
        for start, after in zip(starts, starts[1:], strict=False):
            if after >= below_msn:
                break
            if decided[str(start)].fill is None:
                del decided[str(start)]
                self._forget_once(str(start))
                self.folded_through = max(self.folded_through, start)
                gone.append(str(start))
        return gone

    def _forget_once(self, break_id: str) -> None:
        if self.once is not None:
            self.once = {key: at for key, at in self.once.items() if key[0] != break_id}

    def timeline_shift(self, before_msn: int) -> float:
        """Seconds the session's timeline has moved against the origin's by the breaks it played before
        `before_msn`: what their ads and slate lasted minus the content they replaced (`Fill.shift`)."""
        seconds = self.shift[2]
        for fill in self.fills or ():
            change = fill.shift() if fill.brk.start_msn < before_msn else None
            seconds += change[2] if change is not None else 0.0
        return seconds

    def decide(self, break_id: str, start_msn: int, decided: Decided) -> None:
        if self.decided is None:
            self.decided = {}
        self.decided[break_id] = decided
        self.last_start = max(self.last_start, start_msn)
        if decided.fill is not None:
            if self.fills is None:
                self.fills = []
            self.fills.append(decided.fill)
