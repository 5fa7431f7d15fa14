"""The click-through tracking API (Tencent Cloud StreamPackage SSAI): per session, the ads actually inserted, each
event returned once."""

from __future__ import annotations

from collections import Counter
from typing import Any

from proxy.ads.events import event_offsets, event_urls
from proxy.ads.models import Ad
from proxy.hls.fill import Fill
from proxy.playback.clicks import click_path, landing_pages
from proxy.playback.eventlog import LISTED, EventRecorder, ad_id_of
from proxy.playback.sessions import Session
from proxy.playback.store import SessionStore

LISTED_ONCE = "tracking"  # the once-record of an ad given to the tracking API: (break id, ad index, LISTED_ONCE)


def iso_duration(seconds: float) -> str:
    return f"PT{seconds:.1f}S"


def _events(
    ad: Ad, durations: tuple[float, ...], start: float, clicks: tuple[str, ...], *, client: bool
) -> list[dict[str, Any]]:
    """StreamPackage's tracking API gives clickThrough only, the server firing the rest; with client-side reporting the
    player gets every event with its beacon URLs and the time to fire it."""
    events = []
    if client:
        for event, offset in event_offsets(durations).items():
            urls = event_urls(ad, event)
            if urls:
                at = start + offset
                events.append(_event(event, urls, at))
        if ad.click_tracking:
            events.append(_event("clickTracking", ad.click_tracking, start))
    if clicks:
        events.append(_event("clickThrough", clicks, start))
    return events


def _clicks(session: Session, break_id: str, ad_index: int, ad: Ad, counts: Counter[str] | None) -> tuple[str, ...]:
    """The clickThrough URLs: the ad's http(s) landing pages (`proxy.playback.clicks`), or with server-side beacons the
    proxy's click URL, which fires the ad's ClickTracking on the way."""
    usable = landing_pages(ad, counts)
    return (click_path(session, break_id, ad_index),) if usable and session.server_beacons else usable


def _event(event: str, urls: tuple[str, ...], at: float) -> dict[str, Any]:
    return {
        "eventType": event,
        "beaconUrls": list(urls),
        "startTime": iso_duration(at),
        "startTimeInSeconds": round(at, 3),
    }


async def _ads_json(
    sessions: SessionStore,
    session: Session,
    fill: Fill,
    ads: tuple[Any, ...],
    avail_start: float,
    first_msn: int,
    counts: Counter[str] | None,
) -> list[dict[str, Any]]:
    settled = fill.settled()
    published = fill.published(fill.brk.elapsed) if settled is None else settled[0]
    out = []
    for k, item in enumerate(fill.items[:published]):
        if item.index != 0 or item.ad_index is None:
            continue
        if not await sessions.claim(session, (fill.brk.id, item.ad_index, LISTED_ONCE)):
            continue
        ad = ads[item.ad_index]
        start = avail_start + item.start
        clicks = _clicks(session, fill.brk.id, item.ad_index, ad, counts)
        events = _events(ad, item.creative.durations, start, clicks, client=not session.server_beacons)
        if not events:
            continue  # StreamPackage: only clickThrough is returned; an ad without one has nothing to say
        out.append(
            {
                "adId": ad_id_of(ad),
                "duration": iso_duration(item.creative.duration),
                "durationInSeconds": round(item.creative.duration, 3),
                "startTime": iso_duration(start),
                "startTimeInSeconds": round(start, 3),
                "adSystem": ad.ad_system,
                "title": ad.title,
                "adServerId": ad.ad_id,
                "trackingEvents": events,
                # Not in StreamPackage's: where the ad is in the session's playlists, so a player can match segments.
                "mediaSequence": first_msn + k,
                "segmentCount": len(item.creative.durations),
            }
        )
    return out


def _record_listed(events: EventRecorder, session: Session, break_id: str, ads: list[dict[str, Any]]) -> None:
    """Client-side reporting: each beacon URL handed to the player goes into the session's event log (`listed`)."""
    for ad in ads:
        for event in ad["trackingEvents"]:
            for _url in event["beaconUrls"]:
                events.record(session, event["eventType"], ad["adId"], break_id, LISTED)


async def tracking_document(
    sessions: SessionStore,
    session: Session,
    click_counts: Counter[str] | None = None,
    events: EventRecorder | None = None,
) -> dict[str, Any]:
    """The ads inserted since the last call; a landing page left out is counted in `click_counts` (`omitted`);
    with client-side reporting what the player is told to fire is recorded by `events`."""
    sessions.adopt(session)  # in a cluster, breaks another process decided, though none was rendered here yet
    avails = []
    shift_msn, _, shift_time = session.shift
    for fill in session.fills or ():
        brk = fill.brk
        decided = sessions.decided(session, brk.id)
        avail_start = brk.start_time - session.join_time + shift_time
        first_msn = brk.start_msn + shift_msn
        ads = await _ads_json(
            sessions, session, fill, decided.ads if decided else (), avail_start, first_msn, click_counts
        )
        if ads and events is not None and not session.server_beacons:
            _record_listed(events, session, brk.id, ads)
        if ads:
            avails.append(
                {"ads": ads, "startTime": iso_duration(avail_start), "startTimeInSeconds": round(avail_start, 3)}
            )
        change = fill.shift()
        if change is None:
            break
        shift_msn, shift_time = shift_msn + change[0], shift_time + change[2]
    return {"avails": avails}
