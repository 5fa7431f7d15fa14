"""One background poller per track of a channel: its origin media playlist fetched every half target duration
while anybody watches it, whatever the number of sessions (coalescing by construction), compiled once into a
`Window`, the last good one kept. A player reloads a live playlist about every target duration (RFC 8216bis
§6.3.4): polling at half that sees each new segment within half a target duration of the origin.

The poller knows nothing of sessions or breaks: it tells its owner (the channel, a `PollOwner`) of each new
window, asks it after each poll, and leaves its registry once nobody has asked for the track for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from proxy.errors import OriginError, PlaylistParseError, ProxyError
from proxy.hls.master import Track
from proxy.hls.playlist import parse_media
from proxy.hls.render import Window

log = logging.getLogger("proxy.net.poller")


class PlaylistClient(Protocol):
    """What fetches the playlists (the origin client, proxy/net/origin.py) and counts the bodies that do not parse."""

    async def get(self, url: str, *, timeout: float) -> bytes: ...

    def count(self, error: OriginError) -> None: ...


class PollOwner(Protocol):
    """What a poller asks of the channel it polls for, and what it tells it."""

    @property
    def target_duration(self) -> int: ...  # 0 until the first window: then polled every second

    @property
    def idle_after(self) -> float: ...  # seconds without a request for the track after which polling stops

    def on_window(self, track: Track, window: Window) -> None: ...

    async def after_poll(self) -> None: ...

    def on_idle(self, poller: TrackPoller) -> None: ...


@dataclass(frozen=True, slots=True)
class TrackSource:
    """Where one track's playlist comes from, and how the windows compiled from it name their segments."""

    channel: str  # named in the log
    track: Track
    url: str
    timeout: float
    segment_prefix: str | None = None  # a content segment URL prefix (CDN) replacing the origin's directory
    redirect: bool = False  # content segments through the proxy's redirect endpoint (`Window.redirect_track`)


class TrackPoller:
    def __init__(
        self, owner: PollOwner, source: TrackSource, client: PlaylistClient, logger: logging.Logger = log
    ) -> None:
        self.owner = owner
        self.source = source
        self.track = source.track
        self.url = source.url
        self.client = client
        self.log = logger
        self.window: Window | None = None
        self.error: OriginError | None = None
        self.failing_since: float | None = None
        self.reported: tuple[str, str] | None = None  # the failure last logged: each poll repeating it is only counted
        self.last_request = time.monotonic()
        self.first = asyncio.Event()
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        owner = self.owner
        while time.monotonic() - self.last_request < owner.idle_after:
            await self.poll()
            await owner.after_poll()
            interval = owner.target_duration / 2 if owner.target_duration else 1.0
            await asyncio.sleep(interval)
        owner.on_idle(self)

    def _report(self, error: OriginError) -> None:
        """Logged when the problem changes, not at every poll: an origin that stays broken would fill the log
        (every failure is counted in `origin_errors`). A bad line is one problem wherever the window puts it."""
        excerpt = error.excerpt if isinstance(error, PlaylistParseError) else ""
        problem = (type(error).__name__, excerpt or error.message)
        if problem == self.reported:
            return
        self.reported = problem
        shown = f" (the body read {excerpt!r})" if excerpt else ""
        self.log.warning("channel %s track %s: %s%s", self.source.channel, self.track.name, error.message, shown)

    async def poll(self) -> None:
        source = self.source
        try:
            body = await self.client.get(self.url, timeout=source.timeout)
            playlist = parse_media(body, self.url)
        except OriginError as error:
            self.error = error
            self.failing_since = self.failing_since or time.monotonic()
            if isinstance(error, PlaylistParseError):  # the client counted fetch failures; this one is the body's
                self.client.count(error)
            self._report(error)
        else:
            if self.reported is not None:
                self.log.info("channel %s track %s: the origin answers well again", source.channel, self.track.name)
                self.reported = None
            track = self.track.name if source.redirect else None
            self.window = Window(playlist, self.url, source.segment_prefix, redirect_track=track)
            self.error, self.failing_since = None, None
            self.owner.on_window(self.track, self.window)
        self.first.set()

    def current(self) -> Window:
        """The window to serve: the last good one for up to one target duration of origin failure."""
        self.last_request = time.monotonic()
        window, error = self.window, self.error
        if error is not None and self.failing_since is not None:
            if window is None or time.monotonic() - self.failing_since > self.owner.target_duration:
                raise error
        if window is None:
            raise OriginError(f"no playlist from {self.url} yet")
        return window

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ProxyError):
            await self.task
