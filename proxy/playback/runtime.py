"""A channel at run time: its origin pollers, its break tracker, its slate, and its sessions' playlists.

Each track's origin playlist is fetched by one background poller (proxy/net/poller.py) while anybody watches
it; each new `Window` is fed to the break tracker (video tracks only: audio playlists often carry no markers).
The channel's slate is its own (proxy/playback/slate.py), looked for after each poll until ready. The
playlist request itself never awaits once a window exists.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import replace
from typing import Any

from proxy.ads.models import Ad, BreakPosition
from proxy.errors import NotFound, OriginError, PlaylistParseError
from proxy.hls.breaks import Break, BreakTracker, due_breaks
from proxy.hls.fill import Creative, Fill, FillPlan
from proxy.hls.master import SESSION_SLOT, MasterPlaylist, Track, parse_master
from proxy.hls.profile import TranscodeProfile, derive_profile
from proxy.hls.render import Window, render, resolve
from proxy.media.creatives import CreativeLoader
from proxy.media.pipeline import MediaPipeline
from proxy.net.origin import HttpClient
from proxy.net.poller import TrackPoller, TrackSource
from proxy.playback import urls
from proxy.playback.decisions import DecisionService, Profile, plan_for
from proxy.playback.positions import session_position
from proxy.playback.sessions import Decided, Session
from proxy.playback.slate import ChannelSlate
from proxy.playback.store import SessionStore
from proxy.settings import ChannelConfig, Settings

log = logging.getLogger("proxy.playback.runtime")
RENDER_CACHE_LIMIT = 4096  # distinct decision histories cached per window; more are rendered every time


class ChannelRuntime:
    def __init__(
        self,
        config: ChannelConfig,
        settings: Settings,
        client: HttpClient,
        loader: CreativeLoader,
        decisions: DecisionService,
        sessions: SessionStore,
        clock: Callable[[], float] = time.monotonic,
        pipeline: MediaPipeline | None = None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.client = client
        self.decisions = decisions
        self.clock = clock
        self.pipeline = pipeline
        self.master: MasterPlaylist | None = None
        self.channel_slate = ChannelSlate(config, loader if config.slate_trusted else decisions.loader, pipeline, log)
        self.transcode_profile: TranscodeProfile | None = None
        self.target_duration = 0
        self.tracker = BreakTracker(max_duration=settings.max_break_duration, clock=clock)
        self.pollers: dict[str, TrackPoller] = {}
        self.fills: dict[tuple[str, str], Fill] = {}
        self.session_store = sessions
        self.low_msn = 0
        self._started: asyncio.Task[None] | None = None

    @property
    def slate(self) -> Creative | None:
        return self.channel_slate.creative

    @property
    def sessions(self) -> Mapping[str, Session]:
        """The live sessions of this channel version, by id (for prefetch)."""
        return self.session_store.of_channel(self.config.key)

    @property
    def idle_after(self) -> float:
        return max(60.0, self.settings.session_idle_targets * self.target_duration)

    @property
    def decision_wait(self) -> float:
        # A player reloads an unchanged playlist after TD/2 and gives up past 1.5 TD (perf-reliability.md §3.2).
        return min(self.settings.decision_wait, self.target_duration / 2)

    @property
    def active_within(self) -> float:
        """A session is active while its last playlist request is this recent: a player reloads a live playlist
        about every target duration (RFC 8216bis §6.3.4), and a break's personalised requests leave within the
        decision wait and the spread after the break is seen. An inactive one causes no ad request."""
        return self.target_duration + self.decision_wait + self.settings.ad_spread

    async def start(self) -> None:
        started = self._started
        if started is None or (started.done() and (started.cancelled() or started.exception() is not None)):
            started = self._started = asyncio.ensure_future(self._start())  # a failed start is retried
        await asyncio.shield(started)

    async def _start(self) -> None:
        path = urls.media_base(self.config.name, SESSION_SLOT)
        body = await self.client.get(self.config.origin, timeout=self.settings.origin_timeout)
        try:
            self.master = parse_master(body, self.config.origin, path)
        except PlaylistParseError as error:
            self.client.count(error)
            raise
        video = self.master.variants[0]
        poller = self.poller(video.name)
        await poller.first.wait()
        if poller.window is None:
            await poller.poll()  # a retried start asks again rather than repeat the last failure
        window = poller.current()
        self.target_duration = window.playlist.target_duration
        self.transcode_profile = self._derive_profile(video, window)
        if self.config.slate:
            await self.channel_slate.load(self.master.tracks, self.target_duration, self.transcode_profile)

    def _derive_profile(self, video: Track, window: Window) -> TranscodeProfile | None:
        assert self.master is not None
        try:
            profile = derive_profile(self.master, {video.name: window.playlist})
        except ValueError as error:
            log.error("channel %s: no transcode profile, MP4 ads will be skipped: %s", self.config.name, error)
            return None
        for warning in profile.warnings:
            log.warning("channel %s: %s", self.config.name, warning)
        if self.pipeline is not None:
            self.pipeline.register(profile)
        return profile

    def figures(self) -> dict[str, Any]:
        """Breaks known, live sessions and the tracks polled, for /metrics."""
        return {"breaks": len(self.tracker.breaks), "sessions": len(self.sessions), "tracks": sorted(self.pollers)}

    def poller(self, track_name: str) -> TrackPoller:
        poller = self.pollers.get(track_name)
        if poller is None:
            if self.master is None:
                raise OriginError(f"channel {self.config.name!r} has not loaded its master playlist")
            track = next((t for t in self.master.tracks if t.name == track_name), None)
            if track is None:
                raise NotFound(f"track {track_name!r}: expected one of {[t.name for t in self.master.tracks]}")
            poller = self.pollers[track_name] = TrackPoller(self, self._source(track), self.client, log)
        return poller

    def _source(self, track: Track) -> TrackSource:
        config = self.config
        url, timeout = resolve(config.origin, track.uri), self.settings.origin_timeout
        return TrackSource(config.name, track, url, timeout, config.content_segment_prefix, config.content_redirect)

    async def after_poll(self) -> None:
        await self.channel_slate.refresh()

    def on_idle(self, poller: TrackPoller) -> None:
        self.pollers.pop(poller.track.name, None)

    def on_window(self, track: Track, window: Window) -> None:
        # The oldest segment any current window of this channel still shows: fills before it can be folded.
        self.low_msn = min((p.window.first_msn for p in self.pollers.values() if p.window is not None), default=0)
        if not track.name.startswith("v"):
            return
        for brk in self.tracker.feed(window.playlist, time.time()):
            self.prefetch(brk)
        if len(self.fills) > 64:  # sessions keep the fills they use; the shared index forgets old breaks
            low = self.low_msn
            self.fills = {k: f for k, f in self.fills.items() if f.brk.end_msn is None or f.brk.end_msn >= low}

    def profile(self) -> Profile:
        assert self.master is not None
        return Profile(self.master.tracks, self.target_duration, self.slate, self.transcode_profile)

    def prefetch(self, brk: Break) -> None:
        """Start the decision of every active session that will see this break, when it is first seen. One that
        stopped asking for playlists is skipped, counted SESSION_INACTIVE. With a personal ad tag that is final: no
        ad request and no ads in that break if it comes back (so each session's break has one outcome: ads,
        DECISION_LATE or inactive); a shared decision it can still join."""
        if not brk.from_start:
            return
        profile, active_within = self.profile(), self.active_within
        since, personal = self.clock() - active_within, self.decisions.personal(self.config)
        for session in self.sessions.values():
            if brk.start_msn <= session.join_msn:
                continue
            if session.seen_at < since:
                self.decisions.counts["SESSION_INACTIVE"] += 1
                if personal:
                    self.session_store.skip_inactive(session, brk.start_msn)
            else:
                self.decisions.start(self.config, profile, session, brk, self.position(session, brk), active_within)

    def position(self, session: Session, brk: Break) -> BreakPosition:
        return session_position(self.tracker.breaks, session, brk, self.target_duration)

    def edge(self) -> tuple[int, float]:
        return (self.tracker.last_msn or 0), self.tracker.next_time

    # -- the hot path -------------------------------------------------------------------------------------

    def playlist(self, session: Session, track_name: str) -> bytes | Coroutine[None, None, bytes]:
        """The session's playlist: its bytes at once when no decision came in since its last request (no await on
        the hot path), else a coroutine that freezes the decisions through the session store, then renders."""
        window = self.poller(track_name).current()
        self.session_store.seen(session)
        hold, ready = self._decide_due(session, window)
        if not track_name.startswith("v") and self.tracker.last_msn is not None:
            hold = min(hold or self.tracker.last_msn + 1, self.tracker.last_msn + 1)
        if ready:
            return self._frozen_then_rendered(session, track_name, window, hold, ready)
        return self._rendered(session, track_name, window, hold)

    async def _frozen_then_rendered(
        self, session: Session, track_name: str, window: Window, hold: int | None, ready: list[tuple[Break, Decided]]
    ) -> bytes:
        for brk, decided in ready:
            await self.session_store.freeze(session, brk.id, brk.start_msn, decided)
        return self._rendered(session, track_name, window, hold)

    def _rendered(self, session: Session, track_name: str, window: Window, hold: int | None) -> bytes:
        fills = session.fills
        if fills:
            session.fold(self.low_msn)
        key = (hold, session.shift, *fills) if fills else (hold, session.shift)
        body = window.rendered.get(key)
        if body is None:
            body = render(window, track_name, fills or (), hold, session.shift[:2])
            if len(window.rendered) < RENDER_CACHE_LIMIT:
                window.rendered[key] = body
        return body

    def _decide_due(self, session: Session, window: Window) -> tuple[int | None, list[tuple[Break, Decided]]]:
        """The decisions to freeze of breaks now in the window, and where to hold the window if one must wait."""
        ready: list[tuple[Break, Decided]] = []
        for brk in due_breaks(self.tracker.breaks, session.last_start, session.join_msn, window.last_msn):
            decision = self.decisions.peek(session.id, brk)
            if decision is not None:
                # Each session's break is counted once: here (decided without ads: the reasons are counted per
                # decision), DECISION_LATE below, or SESSION_INACTIVE (at prefetch or when its turn came).
                inactive = any(skip.reason == "SESSION_INACTIVE" for skip in decision.skipped)
                self.decisions.counts["breaks_without_ads"] += not decision.ads and not inactive
                ready.append((brk, self._decided(session, brk, decision.plan, decision.ads, decision.break_tracking)))
            elif brk.start_msn <= session.inactive_msn:  # skipped while the session was away (prefetch)
                ready.append((brk, self._decided(session, brk, plan_for([], self.slate), ())))
            elif self.clock() - brk.seen_at >= self.decision_wait or brk.start_msn <= window.first_msn + 2:
                # Late: slate. A hold may only shorten the window at the live edge, never empty it (§4.8).
                self.decisions.forget(session.id, brk)
                self.decisions.counts["DECISION_LATE"] += 1
                ready.append((brk, self._decided(session, brk, plan_for([], self.slate), ())))
            else:
                position = self.position(session, brk)
                self.decisions.start(self.config, self.profile(), session, brk, position, self.active_within)
                return brk.start_msn, ready
        return None, ready

    def _decided(
        self,
        session: Session,
        brk: Break,
        plan: FillPlan,
        ads: tuple[Ad, ...],
        break_tracking: tuple[tuple[str, str], ...] = (),
    ) -> Decided:
        if session.server_beacons and plan.ads:  # ad segments through the redirect endpoint
            plan = replace(plan, key=plan.key + "|redirect", redirect=True)
        fill = None
        if not plan.empty:
            fill = self.fills.get((brk.id, plan.key))
            if fill is None:
                fill = self.fills[(brk.id, plan.key)] = Fill(brk, plan)
        return Decided(fill, ads, break_tracking)

    async def close(self) -> None:
        for poller in list(self.pollers.values()):
            await poller.stop()
