"""What a player's requests ask of playback, one call each, so the web handlers only parse and render: the
master and media playlists of a session, the targets of its segment and click redirects, the page variables
its manifestUrl lists. Only the first request of a track waits for the origin's first fetch."""

from __future__ import annotations

from proxy.playback.runtime import ChannelRuntime
from proxy.playback.service import Service
from proxy.playback.sessions import Session


async def _fetched(runtime: ChannelRuntime, track: str) -> None:
    """Returns once the track has a window or an error: a rendition nobody had asked for yet waits here."""
    poller = runtime.poller(track)
    if poller.window is None and poller.error is None:
        await poller.first.wait()


def page_names(service: Service, session: Session) -> tuple[str, ...]:
    """The Video Cloud SSAI API's client-side macros of the session's ad configuration, for its manifestUrl to list."""
    return service.decisions.page_names(service.runtime_of(session).config)


async def master_playlist(service: Service, session: Session) -> bytes:
    runtime = service.runtime_of(session)
    await runtime.start()
    assert runtime.master is not None
    return runtime.master.render(session.id)


async def media_playlist(service: Service, session: Session, track: str) -> bytes:
    runtime = service.runtime_of(session)
    poller = runtime.poller(track)
    if poller.window is None and poller.error is None:
        await poller.first.wait()  # only the first request of a track waits for its first fetch
    body = runtime.playlist(session, track)
    if not isinstance(body, bytes):  # decisions came in: frozen through the session store first
        body = await body
    return body


async def ad_segment(service: Service, session: Session, track: str, break_id: str, number: int) -> str:
    """The ad segment's URL; the session's beacons for it are queued, never awaited."""
    return await service.impressions.segment(service.runtime_of(session).config, session, track, break_id, number)


async def content_segment(service: Service, session: Session, track: str, number: int) -> str:
    """The origin's segment URL, for configurations whose beacon templates need content requests."""
    runtime = service.runtime_of(session)
    await _fetched(runtime, track)
    return await service.impressions.content(runtime.config, session, runtime.poller(track).current(), number)


async def click(service: Service, session: Session, ad_ref: str) -> str:
    """The ad's landing page; with server-side beacons its ClickTracking is queued once."""
    return await service.clicks.click(service.runtime_of(session).config, session, ad_ref)
