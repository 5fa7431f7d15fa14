"""The context of one ad request: everything its ad tag variables can take a value from.

It is split by lifetime so each part is built once: `ChannelInfo` per channel, `ViewerInfo` per session,
`BreakInfo` per break (shared by every session, the SCTE-35 section decoded once), then `AdContext` per ad
request (time and a random seed). proxy.ads.template_vars says which variable reads what.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from proxy.ads.scte35_vars import scte_values
from proxy.hls.scte35 import SpliceInfo, try_decode

_EMPTY: Mapping[str, str] = {}


@dataclass(frozen=True)
class ViewerInfo:
    """One session, as seen when it was created (Brightcove Live API: "at session creation").

    client_ip: the viewer's address (the web layer picks the X-Forwarded-For client it trusts, else the
    peer); forwarded_for: the raw X-Forwarded-For header; params: the session's query or `adsParams`
    values, decoded once (an `ads.` prefix already removed).
    """

    session_id: str
    client_ip: str = ""
    forwarded_for: str = ""
    user_agent: str = ""
    referer: str = ""
    params: Mapping[str, str] = field(default_factory=dict)
    session_number: int | None = None  # MediaTailor's numeric [session.id]; derived when None

    @cached_property
    def number(self) -> str:
        """A stable 63-bit number for this session id (MediaTailor: "a unique numeric identifier")."""
        if self.session_number is not None:
            return str(self.session_number)
        digest = hashlib.blake2b(self.session_id.encode("utf-8", "replace"), digest_size=8).digest()
        return str(int.from_bytes(digest, "big") >> 1)

    @cached_property
    def uuid(self) -> str:
        """The session id itself when it is 32 hex digits (ours are), else a UUID derived from it."""
        try:
            return str(uuid.UUID(hex=self.session_id))
        except ValueError:
            return str(uuid.uuid5(uuid.NAMESPACE_URL, self.session_id))

    @cached_property
    def ip_ua_hash(self) -> str:
        """MD5(ip_address + user_agent) in hex (Video Cloud `system.unique_user_id`, Live `client.ipuaid`)."""
        text = (self.client_ip + self.user_agent).encode("utf-8", "replace")
        return hashlib.md5(text, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class BreakInfo:
    """One ad break, the same for every session.

    duration: seconds asked of the ad server (the planned duration, or the default of 300 s).
    scte35: the SpliceInfo, or the raw section (`Cue.scte35`) decoded on first use.
    ad_server_data: a cue point's `ad_server_data` (free names). asset: the EXT-X-ASSET attributes with
    their values as in the origin, quotes removed. origin_time: epoch seconds of the cue-out segment
    (its PROGRAM-DATE-TIME) when the origin has one.
    """

    duration: float
    scte35: SpliceInfo | bytes | str | None = None
    ad_server_data: Mapping[str, str] = field(default_factory=dict)
    asset: Mapping[str, str] = field(default_factory=dict)
    origin_time: float | None = None

    @cached_property
    def scte(self) -> Mapping[str, str]:
        info = self.scte35 if isinstance(self.scte35, SpliceInfo | None) else try_decode(self.scte35)
        return scte_values(info) if info is not None else _EMPTY


@dataclass(frozen=True)
class ChannelInfo:
    """Configuration values: the Live job id and ad configuration description, Video Cloud metadata."""

    job_id: str = ""
    description: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AdContext:
    """Everything one ad request's variables can come from.

    viewer None renders the personal variables empty: that is the request a decision service shares
    between every viewer of a break when the template is not personal. now: epoch seconds. seed: a
    random 64-bit number per request, from which every random variable is derived (the same name gives
    the same value in the URL and the headers of one request). avail_index: this break's 1-based
    position among the session's breaks. session_break_time: epoch seconds of the break in the
    session's playlist (Brightcove Live API `live.adbreak.timestamputc.session`).
    """

    brk: BreakInfo
    now: float
    seed: int
    viewer: ViewerInfo | None = None
    channel: ChannelInfo = field(default_factory=ChannelInfo)
    avail_index: int | None = None
    session_break_time: float | None = None
