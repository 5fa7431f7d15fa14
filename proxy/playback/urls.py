"""The URL layout of playback, in one place: every path a player follows, as the route templates the web layer
serves and the builders the rest of playback writes into its answers (manifestUrl, trackingUrl, the master's
media playlist URIs, clickThrough, the asset base URL).

    POST {SESSION}                        a session (the tracking API); GET: implicit initialisation (the Live SSAI API)
    GET  {MASTER}?session_id=ID           the session's master playlist
    GET  {MEDIA}                          a media playlist, stitched
    GET  {AD_SEGMENT} and {CONTENT_SEGMENT}
                                          302s to an ad's / the origin's segment (server-side beacons), written
                                          relative to the media playlist by proxy/hls (`seg/…`, `cseg/…`)
    GET  {TRACKING} and {SESSION_EVENTS}  the tracking API and the session's beacon log
    GET  {CLICK}                          302 to an ad's landing page, its ClickTracking fired on the way
    GET  {ASSET}                          transcoded renditions (unless a CDN serves the asset folder)

The paths are relative to the proxy, as the tracking API's manifestUrl is: a player resolves them against the proxy's
address (RFC 3986 §5).
"""

from __future__ import annotations

PREFIX = "/v1/ssai"
SESSION = PREFIX + "/session/{channel}/{name}.m3u8"
MASTER = PREFIX + "/master/{channel}/main.m3u8"
MEDIA_BASE = PREFIX + "/media/{channel}/{session}"
MEDIA = MEDIA_BASE + "/{track}.m3u8"
AD_SEGMENT = MEDIA_BASE + "/seg/{track}/{brk}/{item}"
CONTENT_SEGMENT = MEDIA_BASE + "/cseg/{track}/{item}"
TRACKING = PREFIX + "/tracking/{channel}/{session}"
SESSION_EVENTS = TRACKING + "/events"
CLICK = PREFIX + "/click/{channel}/{session}/{ad}"
ASSETS = PREFIX + "/assets"  # the default of Settings.asset_base_url
ASSET = ASSETS + "/{path:path}"

ROUTE_TEMPLATES = (SESSION, MASTER, MEDIA, AD_SEGMENT, CONTENT_SEGMENT, TRACKING, SESSION_EVENTS, CLICK, ASSET)
# What players and their pages call, by path prefix: each route template above starts with one of them.
PLAYER_PREFIXES = tuple(f"{PREFIX}/{part}/" for part in ("session", "master", "media", "tracking", "assets", "click"))
SESSION_NAME = "main"  # the name a channel's playback URL uses (any name opens the same session kind)


def session_url(channel: str) -> str:
    """A channel's playback URL: POST opens a session, GET plays one (implicit initialisation)."""
    return SESSION.format(channel=channel, name=SESSION_NAME)


def manifest_url(channel: str, session_id: str, pages: tuple[str, ...] = ()) -> str:
    """The Video Cloud SSAI API "Client-side macros": each `{{ page.NAME }}` of the ad configuration is listed as
    `NAME={NAME}` for the player to fill in; the values it sends back on the master request feed those variables."""
    fill = "".join(f"&{name}={{{name}}}" for name in pages)
    return MASTER.format(channel=channel) + f"?session_id={session_id}{fill}"


def media_base(channel: str, session_id: str) -> str:
    """The folder of a session's media playlists; the segment redirects are relative to it."""
    return MEDIA_BASE.format(channel=channel, session=session_id)


def media_url(channel: str, session_id: str, track: str) -> str:
    return MEDIA.format(channel=channel, session=session_id, track=track)


def ad_segment_url(channel: str, session_id: str, track: str, break_id: str, item: str) -> str:
    return AD_SEGMENT.format(channel=channel, session=session_id, track=track, brk=break_id, item=item)


def content_segment_url(channel: str, session_id: str, track: str, item: str) -> str:
    return CONTENT_SEGMENT.format(channel=channel, session=session_id, track=track, item=item)


def tracking_url(channel: str, session_id: str) -> str:
    return TRACKING.format(channel=channel, session=session_id)


def session_events_url(channel: str, session_id: str) -> str:
    return SESSION_EVENTS.format(channel=channel, session=session_id)


def click_url(channel: str, session_id: str, ad_ref: str) -> str:
    """The click URL of one ad of a session; `ad_ref` is `BREAK.INDEX`."""
    return CLICK.format(channel=channel, session=session_id, ad=ad_ref)
