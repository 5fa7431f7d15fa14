"""When each session of a channel gets the decision of each break, and what it plays when none came in time.

A break's decisions are started for every active session when the break is first seen (prefetch), so the ad
requests are made before the players reach it; a session's playlist request then freezes the decisions of the
breaks now in its window, holds its window at a break whose decision may still come, and plays slate for one
that came too late or that the session missed while away. The fills so decided are shared by the sessions
that got the same plan. The decisions themselves are asked for by the `DecisionService` (decisions.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from proxy.ads.models import Ad, BreakPosition
from proxy.hls.breaks import Break, BreakTracker, due_breaks
from proxy.hls.fill import Creative, Fill, FillPlan
from proxy.hls.render import Window
from proxy.playback.avail_log import Outcome, log_avail
from proxy.playback.decisions import DecisionService, Profile, plan_for
from proxy.playback.positions import session_position
from proxy.playback.sessions import Decided, Session
from proxy.playback.store import FrozenDecision, SessionStore
from proxy.settings import ChannelConfig, Settings

FILLS_KEPT = 64  # sessions keep the fills they use; past this many the shared index forgets the old breaks


class DecidingChannel(Protocol):
    """What the break decisions read of their channel, each time: its target duration and slate may change."""

    @property
    def target_duration(self) -> int: ...

    @property
    def slate(self) -> Creative | None: ...

    def profile(self) -> Profile: ...


class BreakDecisions:
    """The decisions of one channel version's breaks for its sessions, and the fills they share."""

    def __init__(
        self,
        channel: DecidingChannel,
        config: ChannelConfig,
        settings: Settings,
        decisions: DecisionService,
        sessions: SessionStore,
        tracker: BreakTracker,
        clock: Callable[[], float],
    ) -> None:
        self.channel = channel
        self.config = config
        self.settings = settings
        self.decisions = decisions
        self.session_store = sessions
        self.tracker = tracker
        self.clock = clock
        self.fills: dict[tuple[str, str], Fill] = {}

    @property
    def decision_wait(self) -> float:
        # A player reloads an unchanged playlist after TD/2 and gives up past 1.5 TD (perf-reliability.md §3.2).
        return min(self.settings.decision_wait, self.channel.target_duration / 2)

    @property
    def active_within(self) -> float:
        """A session is active while its last playlist request is this recent: a player reloads a live playlist
        about every target duration (RFC 8216bis §6.3.4), and a break's personalised requests leave within the
        decision wait and the spread after the break is seen. An inactive one causes no ad request."""
        return self.channel.target_duration + self.decision_wait + self.settings.ad_spread

    def prefetch(self, brk: Break) -> None:
        """Start the decision of every active session that will see this break, when it is first seen. One that
        stopped asking for playlists is skipped, counted SESSION_INACTIVE. With a personal ad tag that is final: no
        ad request and no ads in that break if it comes back (so each session's break has one outcome: ads,
        DECISION_LATE or inactive); a shared decision it can still join."""
        if not brk.from_start:
            return
        profile, active_within = self.channel.profile(), self.active_within
        since, personal = self.clock() - active_within, self.decisions.personal(self.config)
        for session in self.session_store.of_channel(self.config.key).values():
            if brk.start_msn <= session.join_msn:
                continue
            if session.seen_at < since:
                self.decisions.count(self.config.name, "SESSION_INACTIVE")
                if personal:
                    self.session_store.skip_inactive(session, brk.start_msn)
            else:
                self.decisions.start(self.config, profile, session, brk, self.position(session, brk), active_within)

    def position(self, session: Session, brk: Break) -> BreakPosition:
        return session_position(self.tracker.breaks, session, brk, self.channel.target_duration)

    def due(self, session: Session, window: Window) -> tuple[int | None, list[tuple[Break, Decided]]]:
        """The decisions to freeze of breaks now in the window, and where to hold the window if one must wait."""
        ready: list[tuple[Break, Decided]] = []
        for brk in due_breaks(self.tracker.breaks, session.last_start, session.join_msn, window.last_msn):
            if self.session_store.decided(session, brk.id) is not None:
                continue  # frozen by another process of a shared store, adopted now
            decision = self.decisions.peek(session.id, brk)
            if decision is not None:
                # Each session's break is counted once: here (decided without ads: the reasons are counted per
                # decision), DECISION_LATE below, or SESSION_INACTIVE (at prefetch or when its turn came).
                inactive = any(skip.reason == "SESSION_INACTIVE" for skip in decision.skipped)
                self.decisions.count(self.config.name, "breaks_without_ads", not decision.ads and not inactive)
                outcome: Outcome = "inactive" if inactive else "ads" if decision.ads else "no_ads"
                log_avail(self.config.name, session, brk, outcome, decision.ads, decision.skipped)
                ready.append((brk, self._decided(session, brk, decision.plan, decision.ads, decision.break_tracking)))
            elif brk.start_msn <= session.inactive_msn:  # skipped while the session was away (prefetch)
                log_avail(self.config.name, session, brk, "inactive")
                ready.append((brk, self._decided(session, brk, plan_for([], self.channel.slate), ())))
            elif self._held_for(session, brk) >= self.decision_wait or brk.start_msn <= window.first_msn + 2:
                # Late: slate. A hold may only shorten the window at the live edge, never empty it.
                self.decisions.forget(session.id, brk)
                self.decisions.count(self.config.name, "DECISION_LATE")
                log_avail(self.config.name, session, brk, "late")
                ready.append((brk, self._decided(session, brk, plan_for([], self.channel.slate), ())))
            else:
                position = self.position(session, brk)
                self.decisions.start(self.config, self.channel.profile(), session, brk, position, self.active_within)
                return brk.start_msn, ready
        return None, ready

    def _held_for(self, session: Session, brk: Break) -> float:
        """How long this session's window has been held before `brk` (0 at its first request since the break was
        seen). The wait is the session's own: a player sees its playlist stand still only from its own request, so
        one that polls late in the break's first seconds still gets the decision wait before its break is late."""
        now = self.clock()
        if session.held is None or session.held[0] != brk.id:
            session.held = (brk.id, now)
        return now - session.held[1]

    def _decided(
        self,
        session: Session,
        brk: Break,
        plan: FillPlan,
        ads: tuple[Ad, ...],
        break_tracking: tuple[tuple[str, str], ...] = (),
    ) -> Decided:
        if session.server_beacons and plan.ads:  # ad segments through the redirect endpoint: it fires the beacons
            plan = replace(plan, key=plan.key + "|redirect", redirect=True)
        return Decided(self._fill(brk, plan), ads, break_tracking)

    def _fill(self, brk: Break, plan: FillPlan | None) -> Fill | None:
        if plan is None or plan.empty:
            return None
        fill = self.fills.get((brk.id, plan.key))
        if fill is None:
            fill = self.fills[(brk.id, plan.key)] = Fill(brk, plan)
        return fill

    def rebuild(self, break_id: str, frozen: FrozenDecision) -> tuple[int, Decided] | None:
        """A decision another process froze, laid over this process's break (None: a break it never saw)."""
        brk = next((brk for brk in reversed(self.tracker.breaks) if brk.id == break_id), None)
        if brk is None:
            return None
        return brk.start_msn, Decided(self._fill(brk, frozen.plan), frozen.ads, frozen.break_tracking)

    def forget_fills_before(self, low_msn: int) -> None:
        """Forget the shared fills of breaks that ended before `low_msn`, the oldest segment any window shows."""
        if len(self.fills) > FILLS_KEPT:
            self.fills = {k: f for k, f in self.fills.items() if f.brk.end_msn is None or f.brk.end_msn >= low_msn}
