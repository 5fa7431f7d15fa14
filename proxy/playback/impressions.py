"""Server-side ad beacons: fired when a player asks the redirect endpoint for an ad segment.

Nothing fires when a playlist is built or fetched: only a segment request says the ad is being played. The
events of a segment come from `proxy.ads.events`; each (session, break, ad, event) fires at most once within
the beacon guard TTL, whatever variant or rendition asked (AWS MediaTailor, "Server-side ad tracking"),
through the bounded beacon queue, so the redirect itself never waits on a tracking server. Each URL queued is
recorded in the session's event log (`proxy.playback.eventlog`) with its ad and break.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime

from proxy.ads.errors import tracking_url
from proxy.ads.events import event_urls, segment_events
from proxy.errors import NotFound
from proxy.hls.fill import Fill, Item
from proxy.hls.render import Window
from proxy.playback.beacons import BeaconQueue
from proxy.playback.decisions import DecisionService
from proxy.playback.eventlog import EventRecorder, ad_id_of
from proxy.playback.sessions import Decided, OnceKey, Session
from proxy.playback.store import SessionStore
from proxy.settings import ChannelConfig

# Video Cloud SSAI API beacon template types fired with a VAST event of an ad. content_* and segment_* need content
# segments through the redirect too, which this proxy does not do (README, "Beacons").
TEMPLATE_KINDS = {
    "start": ("ad_start",),
    "firstQuartile": ("ad_first_quartile", "ad_quartiles"),
    "midpoint": ("ad_midpoint", "ad_quartiles"),
    "thirdQuartile": ("ad_third_quartile", "ad_quartiles"),
    "complete": ("ad_complete",),
}


VMAP_EVENTS = {"ad_break_start": "breakStart", "ad_break_end": "breakEnd"}  # VMAP 1.0.1 §2.3.3


class ImpressionTracker:
    def __init__(
        self,
        beacons: BeaconQueue,
        decisions: DecisionService,
        sessions: SessionStore,
        guard_ttl: float,
        events: EventRecorder | None = None,
    ) -> None:
        self.beacons, self.decisions, self.sessions, self.guard_ttl = beacons, decisions, sessions, guard_ttl
        self.events = events if events is not None else EventRecorder(0)

    async def segment(self, config: ChannelConfig, session: Session, track: str, break_id: str, k: int) -> str:
        """The real URL of item `k` of the session's break `break_id` in `track`; its beacons are queued."""
        decided = await self.sessions.decision(session, break_id)
        fill = decided.fill if decided is not None else None
        if decided is None or fill is None or not 0 <= k < len(fill.items):
            raise NotFound(f"ad segment {k} of break {break_id!r}: not in this session's playlists (any more)")
        item = fill.items[k]
        uris = item.creative.uris.get(track)
        if uris is None:
            raise NotFound(f"track {track!r}: expected one of {sorted(item.creative.uris)}")
        if item.ad_index is not None and session.server_beacons:
            await self._fire(config, session, fill, item, decided)
        if session.server_beacons and config.content_redirect:
            await self._segment_beacons(config, session, break_id, k)
        await self.beacons.journaled()  # the player gets its segment once its beacons would survive this process
        return uris[item.index]

    async def content(self, config: ChannelConfig, session: Session, window: Window, msn: int) -> str:
        """The origin URL of content segment `msn` (routed through the proxy for segment/content templates)."""
        url = window.origin_uri(msn)
        if url is None:
            raise NotFound(f"content segment {msn}: expected one of {window.first_msn}..{window.last_msn}")
        if session.server_beacons and config.content_redirect:
            # Content segments that slid out of the window are never asked for again.
            self.sessions.drop_once(session, "content", window.first_msn)
            await self._segment_beacons(config, session, "content", msn)
            await self.beacons.journaled()
        return url

    async def _segment_beacons(self, config: ChannelConfig, session: Session, place: str, position: int) -> None:
        """Video Cloud SSAI API `segment_start` for a segment first requested (whatever the track), `segment_end` for
        the one before it, `content_start` at the session's first content segment."""
        if not await self.sessions.claim(session, (place, position, "segment_start")):
            return
        first = await self.sessions.claim(session, ("session", 0, "segment_start"))
        kinds = ("segment_start",) + (() if first else ("segment_end",))
        if place == "content" and await self.sessions.claim(session, ("session", 0, "content_start")):
            kinds += ("content_start",)
        urls = self.decisions.template_beacons(config, session, None, kinds)
        if urls:
            headers = self.decisions.beacon_headers(config, session, None)
            for kind, url in urls:
                self.queue(session, url, headers, kind, break_id=None if place == "content" else place)

    async def _fire(self, config: ChannelConfig, session: Session, fill: Fill, item: Item, decided: Decided) -> None:
        assert item.ad_index is not None
        ad = decided.ads[item.ad_index]
        ad_id, break_id = ad_id_of(ad), fill.brk.id
        headers: dict[str, str] | None = None
        for event in segment_events(item.creative.durations, item.index):
            if not await self.first_time(config, session, (fill.brk.id, item.ad_index, event)):
                continue
            headers = headers if headers is not None else self.decisions.beacon_headers(config, session, fill.brk)
            self.fire_vast(session, event_urls(ad, event), headers, event, ad_id=ad_id, break_id=break_id)
            kinds = self._kinds(event, fill, item)
            for kind, url in self.decisions.template_beacons(config, session, fill.brk, kinds):
                self.queue(session, url, headers, kind, ad_id=ad_id, break_id=break_id)
            for vmap_event in (VMAP_EVENTS[kind] for kind in kinds if kind in VMAP_EVENTS):
                templates = [template for name, template in decided.break_tracking if name == vmap_event]
                self.fire_vast(session, templates, headers, vmap_event, break_id=break_id)

    async def first_time(self, config: ChannelConfig, session: Session, key: OnceKey) -> bool:
        """The beacon guard: True (and `key` recorded) unless `key` fired for the session within the guard TTL
        (the session's whole life with Video Cloud SSAI API `extend_beacon_guard_ttl`)."""
        ttl = math.inf if config.extend_beacon_guard_ttl else self.guard_ttl
        return await self.sessions.claim(session, key, ttl)

    def fire_vast(
        self,
        session: Session,
        templates: Iterable[str],
        headers: dict[str, str],
        event: str,
        *,
        ad_id: str | None = None,
        break_id: str | None = None,
    ) -> None:
        """Queue VAST tracking URLs with their macros expanded for the session's viewer."""
        for template in templates:
            url = tracking_url(template, timestamp=datetime.now(UTC), macros=self._macros(session))
            self.queue(session, url, headers, event, ad_id=ad_id, break_id=break_id)

    def queue(
        self,
        session: Session,
        url: str,
        headers: dict[str, str],
        event: str,
        *,
        ad_id: str | None = None,
        break_id: str | None = None,
    ) -> None:
        """Queue one beacon of the session, recorded in its event log with the ad and break it is for."""
        self.beacons.fire(url, headers, event, self.events.record(session, event, ad_id, break_id))

    @staticmethod
    def _kinds(event: str, fill: Fill, item: Item) -> tuple[str, ...]:
        kinds = TEMPLATE_KINDS.get(event, ())
        if event == "start" and item.ad_index == 0:
            kinds += ("ad_break_start",)
        if event == "complete" and item.ad_index == len(fill.plan.ads) - 1:
            kinds += ("ad_break_end",)
        return kinds

    def loaded(self, config: ChannelConfig, session: Session) -> None:
        """Video Cloud SSAI API `on_load`: the session's first master playlist was served."""
        if session.server_beacons and config.beacon_templates:
            urls = self.decisions.template_beacons(config, session, None, ("on_load",))
            if urls:
                headers = self.decisions.beacon_headers(config, session, None)
                for kind, url in urls:
                    self.queue(session, url, headers, kind)

    @staticmethod
    def _macros(session: Session) -> dict[str, str]:
        client = session.client
        macros = {"SERVERSIDE": "1"}  # VAST 4.1 [SERVERSIDE]: 1 = the server sent it on the player's behalf
        if client is not None:
            macros.update(DEVICEIP=client.ip, DEVICEUA=client.user_agent)
        return macros
