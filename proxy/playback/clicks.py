"""Click tracking, server side (Tencent Cloud StreamPackage SSAI click-through: "impression, clickTracking and other
events are automatically processed by the server").

With server-side beacons the tracking API's clickThrough is the proxy's `/v1/ssai/click/{channel}/{session}/{ad}`
(`{ad}` = `{break id}.{ad index}`, the ad's place in the session's decision) instead of the landing page. A viewer's
click opens it: the ad's VAST ClickTracking URLs (its Wrappers' first, merged by `proxy.ads.chain`, VAST 4.3
§2.3.5.2) are queued once per (session, ad) within the beacon guard TTL, with the headers, macros, egress policy
and retries of impressions (`proxy.playback.impressions`), and the answer is a 302 to the ad's ClickThrough.

A landing page is opened by the viewer's browser, so it must be an http(s) URL with a host (the egress policy's
scheme check): a `javascript:` or `data:` ClickThrough would run in the player page's origin. Such a one is left
out of the tracking API (counted `omitted`) and the click route refuses it (404, counted `refused`), firing nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any
from urllib.parse import quote, urlsplit

from proxy.ads.models import Ad
from proxy.errors import NotFound
from proxy.net.egress import ALLOWED_SCHEMES
from proxy.playback import urls
from proxy.playback.eventlog import ad_id_of
from proxy.playback.impressions import ImpressionTracker
from proxy.playback.sessions import Decided, Session
from proxy.playback.store import SessionStore
from proxy.settings import ChannelConfig

log = logging.getLogger("proxy.playback.clicks")
EVENT = "clickTracking"  # the beacon event name in /metrics beacon_events
URL_SAFE = "!#$%&'()*+,/:;=?@[]~"  # reserved and already-escaped characters stay as they are in a Location


def click_path(session: Session, break_id: str, ad_index: int) -> str:
    """The click URL of an ad of the session, relative to the proxy like the session's manifestUrl."""
    return urls.click_url(session.channel, session.id, f"{break_id}.{ad_index}")


def landing_refusal(url: str) -> str | None:
    """Why `url` may not be a landing page (None: it may): an absolute http(s) URL with a host, no whitespace."""
    if any(char.isspace() or not char.isprintable() for char in url):
        return "whitespace or control characters in the URL"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as error:
        return f"not a URL ({error})"
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        return f"scheme {parts.scheme.lower()!r}, expected http or https"
    return None if host else "no host"


def landing_pages(ad: Ad, counts: Counter[str] | None = None) -> tuple[str, ...]:
    """The ad's ClickThrough URLs that may be landing pages; each one refused is counted in `counts` (`omitted`)."""
    usable = []
    for url in ad.click_through:
        refusal = landing_refusal(url)
        if refusal is None:
            usable.append(url)
        elif counts is not None:
            counts["omitted"] += 1
            log.info("ad %s: ClickThrough %r left out of the tracking API: %s", ad.ad_id, url[:200], refusal)
    return tuple(usable)


async def _inserted(sessions: SessionStore, session: Session, ad_ref: str) -> tuple[Decided, int]:
    """The decision and ad index named by `{break}.{index}`, when that ad is in the session's playlists."""
    break_id, _, index = ad_ref.rpartition(".")
    decided = await sessions.decision(session, break_id) if break_id else None
    if decided is None or decided.fill is None or not (index.isascii() and index.isdigit()):
        raise NotFound(f"ad {ad_ref!r}: expected {{break}}.{{index}} of an ad in this session's playlists")
    if int(index) >= len(decided.ads):
        raise NotFound(f"ad {ad_ref!r}: break {break_id} has {len(decided.ads)} ad(s) for this session")
    return decided, int(index)


class ClickTracker:
    def __init__(self, impressions: ImpressionTracker) -> None:
        self.impressions = impressions  # its beacon guard, headers, macros and queue
        # redirected (302s), unique (first click of a session's ad), refused (route), omitted (tracking API)
        self.counts: Counter[str] = Counter()

    def figures(self) -> dict[str, Any]:
        return {"clicks": dict(self.counts)}

    async def click(self, config: ChannelConfig, session: Session, ad_ref: str) -> str:
        """The landing page of the session's ad `ad_ref`; with server-side beacons its ClickTracking is queued."""
        decided, index = await _inserted(self.impressions.sessions, session, ad_ref)
        ad = decided.ads[index]
        usable = landing_pages(ad)
        if not usable:
            if not ad.click_through:
                raise NotFound(f"ad {ad_ref!r}: its VAST has no ClickThrough (no landing page)")
            self.counts["refused"] += 1
            refused = ad.click_through[0]
            log.info("ad %s: click to ClickThrough %r refused", ad.ad_id, refused[:200])
            raise NotFound(f"ad {ad_ref!r}: landing page {refused[:200]!r} refused: {landing_refusal(refused)}")
        if session.server_beacons:  # with client-side reporting the player fires ClickTracking itself
            await self._track(config, session, decided, index)
            await self.impressions.beacons.journaled()
        self.counts["redirected"] += 1
        return usable[0] if usable[0].isascii() else quote(usable[0], safe=URL_SAFE)

    async def _track(self, config: ChannelConfig, session: Session, decided: Decided, index: int) -> None:
        assert decided.fill is not None
        brk = decided.fill.brk
        if not await self.impressions.first_time(config, session, (brk.id, index, EVENT)):
            return
        self.counts["unique"] += 1
        templates = decided.ads[index].click_tracking
        if templates:
            headers = self.impressions.decisions.beacon_headers(config, session, brk)
            ad_id = ad_id_of(decided.ads[index])
            self.impressions.fire_vast(session, templates, headers, EVENT, ad_id=ad_id, break_id=brk.id)
