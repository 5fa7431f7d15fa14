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
from typing import Any

from proxy.errors import NotFound, OriginError, PlaylistParseError
from proxy.hls.breaks import Break, BreakTracker
from proxy.hls.fill import Creative
from proxy.hls.master import SESSION_SLOT, MasterPlaylist, Track, parse_master
from proxy.hls.profile import TranscodeProfile, derive_profile
from proxy.hls.render import Window, render, resolve
from proxy.media.creatives import CreativeLoader
from proxy.media.pipeline import MediaPipeline
from proxy.net.origin import HttpClient
from proxy.net.poller import TrackPoller, TrackSource
from proxy.playback import urls
from proxy.playback.break_decisions import BreakDecisions
from proxy.playback.decisions import DecisionService, Profile
from proxy.playback.sessions import Decided, Session
from proxy.playback.slate import ChannelSlate
from proxy.playback.store import SessionStore
from proxy.playback.timeline import TimelineAnchor
from proxy.settings import ChannelConfig, Settings

log = logging.getLogger("proxy.playback.runtime")
RENDER_CACHE_LIMIT = 4096  # distinct decision histories cached per window; more are rendered every time


class ChannelRuntime:
    """One channel version at run time: started on its first session, told of each new window by its pollers (it
    is their `PollOwner`), and answering its sessions' playlist requests. When each session gets each break's
    decision is its `BreakDecisions`' concern (break_decisions.py)."""

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
        anchor: TimelineAnchor | None = None,
    ) -> None:
        self.config = config
        self.anchor = anchor  # in a cluster, the timeline its processes share (timeline.py)
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
        self.session_store = sessions
        self.break_decisions = BreakDecisions(self, config, settings, decisions, sessions, self.tracker, clock)
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
        if self.anchor is not None:
            await self.anchor.join(self.tracker, lambda: poller.current().playlist)
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
            self.break_decisions.prefetch(brk)
        if self.anchor is not None:
            self.anchor.publish(self.tracker, window.playlist)
        self.break_decisions.forget_fills_before(self.low_msn)

    def profile(self) -> Profile:
        assert self.master is not None
        return Profile(self.master.tracks, self.target_duration, self.slate, self.transcode_profile)

    def edge(self) -> tuple[int, float]:
        return (self.tracker.last_msn or 0), self.tracker.next_time

    # -- the hot path -------------------------------------------------------------------------------------

    def playlist(self, session: Session, track_name: str) -> bytes | Coroutine[None, None, bytes]:
        """The session's playlist: its bytes at once when no decision came in since its last request (no await on
        the hot path), else a coroutine that freezes the decisions through the session store, then renders."""
        window = self.poller(track_name).current()
        self.session_store.seen(session)
        hold, ready = self.break_decisions.due(session, window)
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
        fills, decided = session.fills, session.decided
        if fills or decided is not None and len(decided) > 1:
            folded = session.fold(self.low_msn)
            if folded:
                self.session_store.folded(session, folded)
        key = (hold, session.shift, *fills) if fills else (hold, session.shift)
        body = window.rendered.get(key)
        if body is None:
            body = render(window, track_name, fills or (), hold, session.shift[:2])
            if len(window.rendered) < RENDER_CACHE_LIMIT:
                window.rendered[key] = body
        return body

    async def close(self) -> None:
        for poller in list(self.pollers.values()):
            await poller.stop()
        if self.anchor is not None:
            await self.anchor.close()
