"""A channel at run time: its origin pollers, its break tracker, its slate, and its sessions' playlists.

Each track's origin playlist is fetched by one background poller every half target duration while
anybody watches it, whatever the number of sessions (coalescing by construction), compiled once into a
`Window`, and fed to the break tracker (video tracks only: audio playlists often carry no markers). The
playlist request itself never awaits once a window exists (ARCHITECTURE.md §3).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from proxy.ads.models import Ad, BreakPosition
from proxy.errors import AdError, NotFound, OriginError, PlaylistParseError, ProxyError
from proxy.hls.breaks import Break, BreakTracker, due_breaks
from proxy.hls.fill import Creative, Fill, FillPlan
from proxy.hls.master import SESSION_SLOT, MasterPlaylist, Track, parse_master
from proxy.hls.playlist import parse_media
from proxy.hls.profile import TranscodeProfile, derive_profile
from proxy.hls.render import Window, render, resolve
from proxy.media.creatives import CreativeLoader, CreativeMisfit
from proxy.media.pipeline import MediaPipeline, NotReady
from proxy.net.origin import HttpClient
from proxy.playback import urls
from proxy.playback.decisions import DecisionService, Profile, plan_for
from proxy.playback.positions import session_position
from proxy.playback.sessions import Decided, Session
from proxy.settings import ChannelConfig, Settings

log = logging.getLogger("proxy.playback.runtime")
RENDER_CACHE_LIMIT = 4096  # distinct decision histories cached per window; more are rendered every time


class TrackPoller:
    def __init__(self, channel: ChannelRuntime, track: Track, url: str) -> None:
        self.channel = channel
        self.track = track
        self.url = url
        self.window: Window | None = None
        self.error: OriginError | None = None
        self.failing_since: float | None = None
        self.reported: tuple[str, str] | None = None  # the failure last logged: each poll repeating it is only counted
        self.last_request = time.monotonic()
        self.first = asyncio.Event()
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        channel = self.channel
        while time.monotonic() - self.last_request < channel.idle_after:
            await self.poll()
            await channel.refresh_slate()
            interval = channel.target_duration / 2 if channel.target_duration else 1.0
            await asyncio.sleep(interval)
        channel.pollers.pop(self.track.name, None)

    def _report(self, error: OriginError) -> None:
        """Logged when the problem changes, not at every poll: an origin that stays broken would fill the log
        (every failure is counted in `origin_errors`). A bad line is one problem wherever the window puts it."""
        excerpt = error.excerpt if isinstance(error, PlaylistParseError) else ""
        problem = (type(error).__name__, excerpt or error.message)
        if problem == self.reported:
            return
        self.reported = problem
        shown = f" (the body read {excerpt!r})" if excerpt else ""
        log.warning("channel %s track %s: %s%s", self.channel.config.name, self.track.name, error.message, shown)

    async def poll(self) -> None:
        try:
            body = await self.channel.client.get(self.url, timeout=self.channel.settings.origin_timeout)
            playlist = parse_media(body, self.url)
        except OriginError as error:
            self.error = error
            self.failing_since = self.failing_since or time.monotonic()
            if isinstance(error, PlaylistParseError):  # the client counted fetch failures; this one is the body's
                self.channel.client.count(error)
            self._report(error)
        else:
            if self.reported is not None:
                log.info(
                    "channel %s track %s: the origin answers well again", self.channel.config.name, self.track.name
                )
                self.reported = None
            config = self.channel.config
            track = self.track.name if config.content_redirect else None
            self.window = Window(playlist, self.url, config.content_segment_prefix, redirect_track=track)
            self.error, self.failing_since = None, None
            self.channel.on_window(self.track, self.window)
        self.first.set()

    def current(self) -> Window:
        """The window to serve: the last good one for up to one target duration of origin failure."""
        self.last_request = time.monotonic()
        window, error = self.window, self.error
        if error is not None and self.failing_since is not None:
            if window is None or time.monotonic() - self.failing_since > self.channel.target_duration:
                raise error
        if window is None:
            raise OriginError(f"no playlist from {self.url} yet")
        return window


class ChannelRuntime:
    def __init__(
        self,
        config: ChannelConfig,
        settings: Settings,
        client: HttpClient,
        loader: CreativeLoader,
        decisions: DecisionService,
        clock: Callable[[], float] = time.monotonic,
        pipeline: MediaPipeline | None = None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.client = client
        self.loader = loader
        self.decisions = decisions
        self.clock = clock
        self.pipeline = pipeline
        self.master: MasterPlaylist | None = None
        self.slate: Creative | None = None
        self.slate_status: NotReady | None = None  # why a transcoded slate is not there yet
        self.slate_remade = False  # an HLS slate that does not fit as it is: the media pipeline remakes it
        self.transcode_profile: TranscodeProfile | None = None
        self.target_duration = 0
        self.tracker = BreakTracker(max_duration=settings.max_break_duration, clock=clock)
        self.pollers: dict[str, TrackPoller] = {}
        self.fills: dict[tuple[str, str], Fill] = {}
        self.sessions: dict[str, Session] = {}  # live sessions of this channel, for prefetch
        self.low_msn = 0
        self._started: asyncio.Task[None] | None = None

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
            await self._load_slate()

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

    async def _load_slate(self) -> None:
        assert self.master is not None and self.config.slate is not None
        if not is_playlist(self.config.slate):
            await self.refresh_slate()
            return
        loader = self.loader if self.config.slate_trusted else self.decisions.loader  # egress-checked
        tracks, prefix = self.master.tracks, self.config.ad_segment_prefix
        try:
            self.slate = await loader.load(
                "slate", self.config.slate, tracks, self.target_duration, prefix, self.transcode_profile
            )
        except CreativeMisfit as misfit:
            log.info("channel %s: slate %s is remade for the channel: %s", self.config.name, self.config.slate, misfit)
            self.slate_remade = self.pipeline is not None
            await self.refresh_slate()
        except (OriginError, AdError) as error:
            log.error(
                "channel %s: slate %s unusable, breaks fall back to content: %s",
                self.config.name,
                self.config.slate,
                error.message,
            )

    async def refresh_slate(self) -> None:
        """A slate from a video file, or an HLS one that does not fit the channel as it is: look for its
        renditions until they are ready (its job runs meanwhile)."""
        source, profile = self.config.slate, self.transcode_profile
        if self.slate is not None or source is None or self.master is None:
            return
        if is_playlist(source) and not self.slate_remade:
            return
        if self.pipeline is None or profile is None:
            return
        ready = await self.pipeline.creative(
            f"slate:{source}",
            source,
            profile,
            self.master.tracks,
            self.config.ad_segment_prefix,
            kind="slate",
            trusted=self.config.slate_trusted,
            account=self.config.account_id,
        )
        if isinstance(ready, NotReady):
            if ready != self.slate_status:
                log.info("channel %s: slate %s not ready: %s: %s", self.config.name, source, ready.reason, ready.detail)
            self.slate_status = ready
        else:
            self.slate, self.slate_status = ready, None
            log.info("channel %s: slate %s ready", self.config.name, source)

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
            poller = self.pollers[track_name] = TrackPoller(self, track, resolve(self.config.origin, track.uri))
        return poller

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
                    session.inactive_msn = brk.start_msn
            else:
                self.decisions.start(self.config, profile, session, brk, self.position(session, brk), active_within)

    def position(self, session: Session, brk: Break) -> BreakPosition:
        return session_position(self.tracker.breaks, session, brk, self.target_duration)

    def join(self, session: Session) -> None:
        self.sessions[session.id] = session

    def leave(self, session: Session) -> None:
        self.sessions.pop(session.id, None)

    def edge(self) -> tuple[int, float]:
        return (self.tracker.last_msn or 0), self.tracker.next_time

    # -- the hot path -------------------------------------------------------------------------------------

    def playlist(self, session: Session, track_name: str) -> bytes:
        window = self.poller(track_name).current()
        session.seen_at = self.clock()
        hold = self._decide_due(session, window)
        if not track_name.startswith("v") and self.tracker.last_msn is not None:
            hold = min(hold or self.tracker.last_msn + 1, self.tracker.last_msn + 1)
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

    def _decide_due(self, session: Session, window: Window) -> int | None:
        """Freeze the plans of breaks now in the window; return where to hold the window if one must wait."""
        for brk in due_breaks(self.tracker.breaks, session.last_start, session.join_msn, window.last_msn):
            decision = self.decisions.peek(session.id, brk)
            if decision is not None:
                # Each session's break is counted once: here (decided without ads: the reasons are counted per
                # decision), DECISION_LATE below, or SESSION_INACTIVE (at prefetch or when its turn came).
                inactive = any(skip.reason == "SESSION_INACTIVE" for skip in decision.skipped)
                self.decisions.counts["breaks_without_ads"] += not decision.ads and not inactive
                self._freeze(session, brk, decision.plan, decision.ads, decision.break_tracking)
            elif brk.start_msn <= session.inactive_msn:  # skipped while the session was away (prefetch)
                self._freeze(session, brk, plan_for([], self.slate), ())
            elif self.clock() - brk.seen_at >= self.decision_wait or brk.start_msn <= window.first_msn + 2:
                # Late: slate. A hold may only shorten the window at the live edge, never empty it (§4.8).
                self.decisions.forget(session.id, brk)
                self.decisions.counts["DECISION_LATE"] += 1
                self._freeze(session, brk, plan_for([], self.slate), ())
            else:
                position = self.position(session, brk)
                self.decisions.start(self.config, self.profile(), session, brk, position, self.active_within)
                return brk.start_msn
        return None

    def _freeze(
        self,
        session: Session,
        brk: Break,
        plan: FillPlan,
        ads: tuple[Ad, ...],
        break_tracking: tuple[tuple[str, str], ...] = (),
    ) -> None:
        if session.server_beacons and plan.ads:  # ad segments through the redirect endpoint (issue #6)
            plan = replace(plan, key=plan.key + "|redirect", redirect=True)
        fill = None
        if not plan.empty:
            fill = self.fills.get((brk.id, plan.key))
            if fill is None:
                fill = self.fills[(brk.id, plan.key)] = Fill(brk, plan)
        session.decide(brk.id, brk.start_msn, Decided(fill, ads, break_tracking))

    async def close(self) -> None:
        for poller in list(self.pollers.values()):
            poller.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ProxyError):
                await poller.task


def is_playlist(url: str) -> bool:
    """A preconditioned HLS slate (used as it is) rather than a video file to transcode."""
    return urlsplit(url).path.lower().endswith((".m3u8", ".m3u"))
