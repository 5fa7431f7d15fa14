"""What an ad response says, in one model whatever format it came in (VAST 2/3/4, VMAP 1.0, Google ad rules,
FreeWheel SmartXML). Companion, NonLinear, Icon and verification data is left out: a stitched live stream plays
linear video only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# VPAID/JS/Flash are code to run, never video a stitcher can play (VAST 4.3 MediaFile `apiFramework`).
_INTERACTIVE_TYPES = ("application/javascript", "application/x-javascript", "application/x-shockwave-flash")


@dataclass(frozen=True, slots=True)
class MediaFile:
    url: str
    mime_type: str
    delivery: str
    bitrate: int  # kb/s, 0 when not given
    width: int
    height: int
    api_framework: str = ""
    codec: str = ""

    @property
    def is_hls(self) -> bool:
        return self.mime_type.lower() in ("application/x-mpegurl", "application/vnd.apple.mpegurl")

    @property
    def is_interactive(self) -> bool:
        return self.api_framework.upper() == "VPAID" or self.mime_type.lower() in _INTERACTIVE_TYPES


@dataclass(frozen=True, slots=True)
class Ad:
    """A linear InLine ad, with the URLs of every Wrapper that led to it merged in (VAST 4.3 §2.3.5)."""

    ad_id: str
    sequence: int | None  # pod position (Ad@sequence; the outermost Wrapper's when wrapped); None: stand-alone
    ad_system: str
    title: str
    creative_id: str
    duration: float
    media_files: tuple[MediaFile, ...]
    impressions: tuple[str, ...] = ()
    click_through: tuple[str, ...] = ()
    click_tracking: tuple[str, ...] = ()
    tracking: tuple[tuple[str, str], ...] = ()  # (event, url)
    errors: tuple[str, ...] = ()  # every <Error> URI to notify for this ad: the Wrappers' then the InLine's
    universal_ad_id: str = ""  # "registry value" of the first Creative/UniversalAdId (VAST 4.x), as [UNIVERSALADID]
    ad_serving_id: str = ""  # AdServingId (VAST 4.1), for [ADSERVINGID]
    mezzanine: tuple[MediaFile, ...] = ()  # MediaFiles/Mezzanine (VAST 4.0), the source for transcoding
    wrapper_chain: tuple[str, ...] = ()  # VASTAdTagURIs followed to reach this InLine, outermost first

    @property
    def key(self) -> str:
        """Creatives are keyed by id, or by media URL when there is none (MediaTailor's cache key)."""
        return self.creative_id or (self.media_files[0].url if self.media_files else self.ad_id)


@dataclass(frozen=True, slots=True)
class Wrapper:
    """A VAST <Wrapper> ad (or a SmartXML rendition served by a VAST tag): what to fetch, and what to merge into
    the InLine ads found there (VAST 4.3 "Wrapper": its attributes, with their defaults)."""

    ad_id: str
    sequence: int | None
    ad_system: str
    ad_tag_uri: str  # as written: may be relative to the document it came in
    impressions: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    tracking: tuple[tuple[str, str], ...] = ()
    click_tracking: tuple[str, ...] = ()
    click_through: tuple[str, ...] = ()  # VAST 2 wrappers may carry one; the InLine's wins (§2.3.5.2)
    follow_additional_wrappers: bool = True
    allow_multiple_ads: bool = False
    fallback_on_no_ad: bool | None = None  # None: not said


@dataclass(frozen=True, slots=True)
class Skip:
    """An ad (or a whole response) that will not play. `code` is the VAST error code to report to `error_urls`
    (0: nothing to report); `reason` is MediaTailor's skip reason name (AVAIL_DURATION_EXCEEDED, …)."""

    ad_id: str
    reason: str
    detail: str
    code: int = 0
    error_urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VastDocument:
    """One VAST document as written: its usable <Ad>s in document order, before any Wrapper is followed."""

    entries: tuple[Ad | Wrapper, ...]
    skipped: tuple[Skip, ...] = ()
    errors: tuple[str, ...] = ()  # root <Error> URIs, for a no-ad response (VAST 4.3 "Error (VAST)")
    version: str = ""


@dataclass(frozen=True, slots=True)
class AdResponse:
    """One VAST document without following its Wrappers (`proxy.ads.chain.resolve` follows them)."""

    ads: tuple[Ad, ...]  # InLine ads in play order: the pod by sequence, or every stand-alone ad
    skipped: tuple[Skip, ...] = field(default_factory=tuple)
    wrappers: tuple[Wrapper, ...] = ()  # every Wrapper ad, in document order
    buffet: tuple[Ad, ...] = ()  # stand-alone InLine ads left out because there is a pod: replacements
    errors: tuple[str, ...] = ()  # root <Error> URIs (no-ad response)


@dataclass(frozen=True, slots=True)
class TimeOffset:
    """VMAP AdBreak@timeOffset (VMAP 1.0.1 §2.3.1); SmartXML timePositionClass/timePosition."""

    kind: Literal["start", "end", "time", "percent", "position"]
    value: float = 0.0  # seconds ("time"), percent ("percent"), m of #m ("position")
    raw: str = ""

    @property
    def is_preroll(self) -> bool:
        return self.kind == "start" or (self.kind in ("time", "percent") and self.value == 0)

    @property
    def is_postroll(self) -> bool:
        return self.kind == "end" or (self.kind == "percent" and self.value >= 100)


@dataclass(frozen=True, slots=True)
class BreakPosition:
    """Where a live break falls for whoever it is decided for: a session, or the whole channel when one decision
    serves every session. `proxy.ads.vmap` says how VMAP and SmartXML time offsets match it."""

    index: int = 1  # 1-based: the n-th break (VMAP `#n`)
    start: float = 0.0  # seconds from the start (the session's creation) to the break's first segment
    previous: float | None = None  # `start` of the previous break; None for the first
    preroll: bool = False  # the first break, at the very start (within one target duration)
    break_id: str = ""  # the origin's identity of the break (DATERANGE ID, SCTE-35 event id, cue point id)


@dataclass(frozen=True, slots=True)
class AdBreak:
    """One VMAP AdBreak (Google ad rules: one per ad slot) or one SmartXML temporalAdSlot."""

    break_id: str
    offset: TimeOffset
    break_types: tuple[str, ...] = ("linear",)
    repeat_after: float | None = None
    source_id: str = ""
    ad_tag_uri: str = ""  # AdSource/AdTagURI: a VAST tag to fetch and resolve
    template_type: str = ""
    vast: VastDocument | None = None  # AdSource/VASTAdData (or the ads SmartXML selected for the slot)
    allow_multiple_ads: bool = True  # VMAP: "if not specified, the video player accepts playing multiple ads"
    follow_redirects: bool = True
    tracking: tuple[tuple[str, str], ...] = ()  # breakStart, breakEnd, error
    bumper: bool = False  # Google ad rules <vmap:Extension type="bumper">
    skip: Skip | None = None  # the source cannot be used (CustomAdData, a bad inline VAST): what to report

    @property
    def is_linear(self) -> bool:
        return "linear" in self.break_types


@dataclass(frozen=True, slots=True)
class AdSchedule:
    """A VMAP / Google ad rules / SmartXML response: the breaks in document order."""

    breaks: tuple[AdBreak, ...]
    format: Literal["vmap", "smartxml"]
    version: str = ""
    skipped: tuple[Skip, ...] = ()  # AdBreaks / slots left out (no usable time offset), with what to report


@dataclass(frozen=True, slots=True)
class ResolvedResponse:
    """What to play for a break once every Wrapper is followed (`proxy.ads.chain`)."""

    ads: tuple[Ad, ...]  # play order, Wrapper URLs merged in
    skipped: tuple[Skip, ...] = ()  # every failure, with its VAST code and the Error URIs to notify
    buffet: tuple[Ad, ...] = ()  # stand-alone ads not used: replacements for a pod ad that fails later
    break_tracking: tuple[tuple[str, str], ...] = ()  # VMAP breakStart/breakEnd/error, SmartXML slot callbacks
    fetched: tuple[str, ...] = ()  # every URL requested, in order
