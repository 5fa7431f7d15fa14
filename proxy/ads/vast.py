"""VAST 2.0 / 3.0 / 4.x documents into the model (IAB VAST 4.3).

Parsed with the hardened parser of `proxy.ads.xmlsafe` (no DTD, no entity, no network, size and depth limits).
Elements are matched by local name, so namespaced VAST 4 (`http://www.iab.com/VAST`) parses like VAST 2.
`parse_document` keeps InLine and Wrapper ads in document order for the Wrapper resolver (`proxy.ads.chain`);
`parse_vast` is the one-document view: InLine ads in play order, Wrappers listed, not followed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lxml import etree

from proxy.ads.errors import AdParseError, ErrorCode
from proxy.ads.models import Ad, AdResponse, MediaFile, Skip, VastDocument, Wrapper
from proxy.ads.xmlsafe import MAX_BYTES, attribute, boolean, child, children, local_name, parse_xml, text, texts

__all__ = ["MAX_BYTES", "parse_document", "parse_duration", "parse_vast", "play_order", "response_of"]

_DURATION = re.compile(r"([0-9]{1,4}):([0-9]{1,2}):([0-9]{1,2}(?:\.[0-9]*)?)")  # ASCII digits, no sign
_VERSION = re.compile(r"[234](?:\.[0-9]+)*")  # VAST 1.0 had another root; 5+ does not exist yet
Entry = Ad | Wrapper


def parse_duration(value: str) -> float:
    """VAST `HH:MM:SS` or `HH:MM:SS.mmm` (VAST 4.3 "Duration") into seconds: digits only, never negative, NaN or inf."""
    match = _DURATION.fullmatch(value.strip())
    if match is None:
        raise AdParseError(ErrorCode.SCHEMA_VALIDATION, f"Duration {value!r}: expected HH:MM:SS.mmm")
    return int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3])


def _int(value: str | None) -> int:
    try:
        return int(float(value)) if value else 0
    except (ValueError, OverflowError):  # "abc", "nan"; "1e999" is an infinite float
        return 0


def _sequence(ad: etree._Element) -> int | None:
    value = attribute(ad, "sequence")
    return _int(value) if value else None


def _media_file(node: etree._Element) -> MediaFile | None:
    url = text(node)
    if not url:
        return None
    bitrate = attribute(node, "bitrate") or attribute(node, "maxBitrate")
    return MediaFile(
        url,
        attribute(node, "type"),
        attribute(node, "delivery"),
        _int(bitrate),
        _int(attribute(node, "width")),
        _int(attribute(node, "height")),
        attribute(node, "apiFramework"),
        attribute(node, "codec"),
    )


def _media(linear: etree._Element, name: str) -> tuple[MediaFile, ...]:
    """MediaFiles/MediaFile or MediaFiles/Mezzanine (VAST 4.0+; VAST 4.3 "MediaFile", "Mezzanine")."""
    found = (_media_file(node) for node in children(child(linear, "MediaFiles"), name))
    return tuple(media for media in found if media is not None)


def _tracking(creative_body: etree._Element) -> tuple[tuple[str, str], ...]:
    """TrackingEvents/Tracking (VAST 4.3 "Tracking"); a `progress` event keeps its offset:
    `progress@00:00:30`, `progress@60%`."""
    events = []
    for node in children(child(creative_body, "TrackingEvents"), "Tracking"):
        event, offset = attribute(node, "event"), attribute(node, "offset")
        if url := text(node):
            events.append((f"{event}@{offset}" if event == "progress" and offset else event, url))
    return tuple(events)


def _linears(container: etree._Element) -> list[tuple[etree._Element, etree._Element]]:
    """(Creative, Linear) pairs of Creatives/Creative (VAST 4.3 "Creative"), in order."""
    pairs = []
    for creative in children(child(container, "Creatives"), "Creative"):
        if (linear := child(creative, "Linear")) is not None:
            pairs.append((creative, linear))
    return pairs


def _universal_ad_id(creative: etree._Element) -> str:
    node = child(creative, "UniversalAdId")  # VAST 4.0 put the id in @idValue, 4.1+ in the text ("UniversalAdId")
    if node is None:
        return ""
    value = text(node) or attribute(node, "idValue")
    return f"{attribute(node, 'idRegistry')} {value}".strip()


def _no_linear(ad_id: str, container: etree._Element, errors: tuple[str, ...]) -> Skip:
    nonlinear = any(child(c, "NonLinearAds") is not None for c in children(child(container, "Creatives"), "Creative"))
    detail = "the ad has no Linear creative" + (" (NonLinear only)" if nonlinear else "")
    code = ErrorCode.LINEARITY if nonlinear else ErrorCode.TRAFFICKING  # expecting different linearity / ad type
    return Skip(ad_id, "NO_LINEAR_CREATIVE", detail, code, errors)


def _inline(ad: etree._Element, inline: etree._Element) -> Ad | Skip:
    """<InLine> (VAST 4.3 "InLine"): its first Linear creative, with the ad-level URLs."""
    ad_id, errors = attribute(ad, "id"), texts(inline, "Error")
    linears = _linears(inline)
    if not linears:
        return _no_linear(ad_id, inline, errors)
    creative, linear = linears[0]
    try:
        duration = parse_duration(text(child(linear, "Duration")))
    except AdParseError as error:
        return Skip(ad_id, error.skip_reason, error.detail, error.code, errors)
    clicks = child(linear, "VideoClicks")
    return Ad(
        ad_id=ad_id,
        sequence=_sequence(ad),
        ad_system=text(child(inline, "AdSystem")),
        title=text(child(inline, "AdTitle")),
        creative_id=attribute(creative, "id") or attribute(creative, "adId"),
        duration=duration,
        media_files=_media(linear, "MediaFile"),
        impressions=texts(inline, "Impression"),
        click_through=texts(clicks, "ClickThrough"),
        click_tracking=texts(clicks, "ClickTracking"),
        tracking=_tracking(linear),
        errors=errors,
        universal_ad_id=_universal_ad_id(creative),
        ad_serving_id=text(child(inline, "AdServingId")),
        mezzanine=_media(linear, "Mezzanine"),
    )


def _ad_tag_uri(wrapper: etree._Element) -> str:
    """VASTAdTagURI (VAST 4.3 "VASTAdTagURI"), or the VAST 1 style VASTAdTagURL/URL still met in VAST 2 wrappers."""
    return text(child(wrapper, "VASTAdTagURI")) or text(child(child(wrapper, "VASTAdTagURL"), "URL"))


def _wrapper(ad: etree._Element, wrapper: etree._Element) -> Wrapper | Skip:
    """<Wrapper> (VAST 4.3 "Wrapper"): where to go next, and the tracking of every Linear creative it carries."""
    ad_id, errors = attribute(ad, "id"), texts(wrapper, "Error")
    uri = _ad_tag_uri(wrapper)
    if not uri:
        return Skip(
            ad_id, "INVALID_VAST_WRAPPER_AD", "Wrapper without VASTAdTagURI", ErrorCode.SCHEMA_VALIDATION, errors
        )
    linears = [linear for _, linear in _linears(wrapper)]
    clicks = [child(linear, "VideoClicks") for linear in linears]
    fallback = attribute(wrapper, "fallbackOnNoAd")
    return Wrapper(
        ad_id=ad_id,
        sequence=_sequence(ad),
        ad_system=text(child(wrapper, "AdSystem")),
        ad_tag_uri=uri,
        impressions=texts(wrapper, "Impression"),
        errors=errors,
        tracking=tuple(event for linear in linears for event in _tracking(linear)),
        click_tracking=tuple(url for node in clicks for url in texts(node, "ClickTracking")),
        click_through=tuple(url for node in clicks for url in texts(node, "ClickThrough")),
        follow_additional_wrappers=boolean(attribute(wrapper, "followAdditionalWrappers"), True),
        allow_multiple_ads=boolean(attribute(wrapper, "allowMultipleAds"), False),
        fallback_on_no_ad=boolean(fallback, False) if fallback else None,
    )


def _entry(ad: etree._Element) -> Entry | Skip:
    """<Ad> has exactly one of <InLine> / <Wrapper> (VAST 4.3 "The Ad Element")."""
    inline, wrapper = child(ad, "InLine"), child(ad, "Wrapper")
    if inline is not None and wrapper is None:
        return _inline(ad, inline)
    if wrapper is not None and inline is None:
        return _wrapper(ad, wrapper)
    found = "both <InLine> and <Wrapper>" if inline is not None else "neither <InLine> nor <Wrapper>"
    return Skip(attribute(ad, "id"), "VAST_PARSING_ERROR", f"<Ad> with {found}: expected one", 101)


def _root(source: bytes | etree._Element) -> etree._Element:
    root = parse_xml(source, lenient_namespaces=True) if isinstance(source, bytes) else source
    name = local_name(root)
    if name == "VideoAdServingTemplate":
        raise AdParseError(
            ErrorCode.VERSION_NOT_SUPPORTED,
            "root element <VideoAdServingTemplate> (VAST 1.0): expected <VAST> 2.0 or later",
        )
    if name != "VAST":
        raise AdParseError(ErrorCode.SCHEMA_VALIDATION, f"root element <{name}>: expected <VAST>")
    version = attribute(root, "version")
    if version and not _VERSION.fullmatch(version):
        raise AdParseError(ErrorCode.VERSION_NOT_SUPPORTED, f"VAST version {version!r}: expected 2.x, 3.x or 4.x")
    return root


def parse_document(source: bytes | etree._Element) -> VastDocument:
    """A VAST document (bytes, or the <VAST> element of a VMAP VASTAdData) with its usable <Ad>s in order.

    Raises AdParseError (an AdResponseError) with the VAST code to report: 100 not XML, 101 not VAST, 102 VAST 1."""
    root = _root(source)
    entries: list[Entry] = []
    skipped: list[Skip] = []
    for node in children(root, "Ad"):
        found = _entry(node)
        if isinstance(found, Skip):
            skipped.append(found)
        else:
            entries.append(found)
    return VastDocument(tuple(entries), tuple(skipped), texts(root, "Error"), attribute(root, "version"))


def play_order(entries: Sequence[Entry]) -> tuple[list[Entry], list[Entry]]:
    """(what plays, the buffet), VAST 4.3 "Ad Pods and Stand-Alone Ads": a pod (Ad@sequence) plays in sequence
    order and leaves the stand-alone ads as replacements; without a pod every stand-alone ad plays, in order."""
    pod = sorted((entry for entry in entries if entry.sequence is not None), key=lambda entry: entry.sequence or 0)
    alone = [entry for entry in entries if entry.sequence is None]
    return (pod, alone) if pod else (alone, [])


def parse_vast(source: bytes | etree._Element) -> AdResponse:
    """One VAST document without following its Wrappers: `proxy.ads.chain.resolve` replaces this for ad decisions."""
    return response_of(parse_document(source))


def response_of(document: VastDocument) -> AdResponse:
    """The one-document view: InLine ads in play order, buffet InLines apart, Wrappers listed (not followed)."""
    play, buffet = play_order(document.entries)
    return AdResponse(
        ads=tuple(entry for entry in play if isinstance(entry, Ad)),
        skipped=document.skipped,
        wrappers=tuple(entry for entry in document.entries if isinstance(entry, Wrapper)),
        buffet=tuple(entry for entry in buffet if isinstance(entry, Ad)),
        errors=document.errors,
    )
