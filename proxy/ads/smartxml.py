"""FreeWheel SmartXML (`resp=xml` / `smrx`) into an `AdSchedule`.

No public capture exists: the structure follows Microsoft Player Framework's FreeWheelFactory and FreeWheel's
RendererConfiguration builder (no namespace). A break is a
`siteSection/videoPlayer/videoAsset/adSlots/temporalAdSlot`; its ads are `selectedAds/adReference`, in order (a pod,
numbered 1..n), joined to `ads/ad[@adId]/creatives/creative[@creativeId]/creativeRenditions/creativeRendition`.
The referenced rendition comes first among the MediaFiles, then the creative's other renditions of the same replica.
A rendition with `wrapperType="external/vast-2"` is a VAST tag: it becomes a `Wrapper` that the resolver follows.
`fallbackAds/adReference` become stand-alone (buffet) replacements. Callbacks: IMPRESSION/defaultImpression is the
impression, IMPRESSION quartiles the VAST quartile events, CLICK/defaultClick the click-through, ERROR the error
URLs; each `trackingURLs/url@value` goes with its callback. Slot callbacks `slotImpression`/`slotEnd` become the
break's breakStart/breakEnd tracking. A slot is matched to a live break like a VMAP AdBreak (proxy.ads.vmap):
`preroll` is `start`, `postroll` is `end`, a `midroll` at timePosition t is the timecode t, `customId` the breakId.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from proxy.ads.errors import AdParseError, ErrorCode
from proxy.ads.models import Ad, AdBreak, AdSchedule, MediaFile, Skip, TimeOffset, VastDocument, Wrapper
from proxy.ads.xmlsafe import attribute, child, children, local_name, parse_xml

_QUARTILES = {"firstQuartile": "firstQuartile", "midPoint": "midpoint", "thirdQuartile": "thirdQuartile"}
_SLOT_EVENTS = {"slotImpression": "breakStart", "slotEnd": "breakEnd"}
_Creatives = dict[tuple[str, str], etree._Element]


@dataclass
class _Callbacks:
    impressions: list[str] = field(default_factory=list)
    tracking: list[tuple[str, str]] = field(default_factory=list)
    click_through: list[str] = field(default_factory=list)
    click_tracking: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _float(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if 0 <= number < float("inf") else None


def _urls(callback: etree._Element) -> list[str]:
    third_party = [attribute(url, "value") for url in children(child(callback, "trackingURLs"), "url")]
    return [url for url in (attribute(callback, "url"), *third_party) if url]


def _callbacks(node: etree._Element) -> _Callbacks:
    found = _Callbacks()
    for callback in children(child(node, "eventCallbacks"), "eventCallback"):
        kind, name, urls = attribute(callback, "type").upper(), attribute(callback, "name"), _urls(callback)
        if kind == "IMPRESSION" and name == "defaultImpression":
            found.impressions += urls
        elif kind == "CLICK" and attribute(callback, "showBrowser").lower() == "true":
            found.click_through += urls[:1]
            found.click_tracking += urls[1:]
        elif kind in ("CLICK", "CLICKTRACKING"):
            found.click_tracking += urls
        elif kind == "ERROR":
            found.errors += urls
        else:
            event = _QUARTILES.get(name, name or kind.lower())
            found.tracking += [(event, url) for url in urls]
    return found


def _media_file(rendition: etree._Element, duration: float) -> MediaFile | None:
    asset = child(rendition, "asset")
    url = attribute(asset, "url") if asset is not None else ""
    if asset is None or not url:
        return None
    mime = attribute(asset, "mimeType") or attribute(asset, "contentType") or attribute(rendition, "contentType")
    size = _float(attribute(asset, "bytes"))
    bitrate = int(size * 8 / 1000 / duration) if size and duration else 0
    delivery = "streaming" if "mpegurl" in mime.lower() else "progressive"
    width, height = _float(attribute(rendition, "width")) or 0, _float(attribute(rendition, "height")) or 0
    return MediaFile(url, mime, delivery, bitrate, int(width), int(height))


def _renditions(creative: etree._Element, reference: etree._Element) -> list[etree._Element]:
    """The referenced rendition first, then the others of the same replica (respect replicaId)."""
    wanted, replica = attribute(reference, "creativeRenditionId"), attribute(reference, "replicaId")
    every = list(children(child(creative, "creativeRenditions"), "creativeRendition"))
    same = [r for r in every if not replica or attribute(r, "adReplicaId") in ("", replica)]
    return sorted(same, key=lambda rendition: attribute(rendition, "creativeRenditionId") != wanted)


def _entry(reference: etree._Element, creatives: _Creatives, sequence: int | None) -> Ad | Wrapper | Skip:
    ad_id, creative_id = attribute(reference, "adId"), attribute(reference, "creativeId")
    creative = creatives.get((ad_id, creative_id))
    calls = _callbacks(reference)
    if creative is None:
        detail = f"adReference adId {ad_id!r} creativeId {creative_id!r}: expected an ads/ad/creatives/creative"
        return Skip(ad_id, "VAST_PARSING_ERROR", detail, ErrorCode.SCHEMA_VALIDATION, tuple(calls.errors))
    renditions = _renditions(creative, reference)
    if renditions and (wrapper_url := attribute(renditions[0], "wrapperUrl")):
        return Wrapper(
            ad_id=ad_id,
            sequence=sequence,
            ad_system="FreeWheel",
            ad_tag_uri=wrapper_url,
            impressions=tuple(calls.impressions),
            errors=tuple(calls.errors),
            tracking=tuple(calls.tracking),
            click_tracking=tuple(calls.click_tracking),
            click_through=tuple(calls.click_through),
        )
    duration = _float(attribute(creative, "duration"))
    if duration is None:
        detail = f"creative duration {attribute(creative, 'duration')!r}: expected seconds"
        return Skip(ad_id, "VAST_PARSING_ERROR", detail, ErrorCode.SCHEMA_VALIDATION, tuple(calls.errors))
    media = (_media_file(r, duration) for r in renditions if not attribute(r, "wrapperUrl"))
    return Ad(
        ad_id=ad_id,
        sequence=sequence,
        ad_system="FreeWheel",
        title="",
        creative_id=creative_id,
        duration=duration,
        media_files=tuple(m for m in media if m is not None),
        impressions=tuple(calls.impressions),
        click_through=tuple(calls.click_through),
        click_tracking=tuple(calls.click_tracking),
        tracking=tuple(calls.tracking),
        errors=tuple(calls.errors),
    )


def _document(slot: etree._Element, creatives: _Creatives) -> VastDocument:
    selected = list(children(child(slot, "selectedAds"), "adReference"))
    found = [_entry(ref, creatives, index) for index, ref in enumerate(selected, 1)]
    seen = {(attribute(ref, "adId"), attribute(ref, "creativeId")) for ref in selected}
    for ref in selected:
        for fallback in children(child(ref, "fallbackAds"), "adReference"):
            key = (attribute(fallback, "adId"), attribute(fallback, "creativeId"))
            if key not in seen:
                seen.add(key)
                found.append(_entry(fallback, creatives, None))
    entries = tuple(entry for entry in found if not isinstance(entry, Skip))
    return VastDocument(entries, tuple(entry for entry in found if isinstance(entry, Skip)))


def _offset(slot: etree._Element) -> TimeOffset:
    kind, position = attribute(slot, "timePositionClass").lower(), attribute(slot, "timePosition")
    if kind == "preroll":
        return TimeOffset("start", 0.0, kind)
    if kind == "postroll":
        return TimeOffset("end", 0.0, kind)
    seconds = _float(position)
    if seconds is None:
        raise AdParseError(ErrorCode.SCHEMA_VALIDATION, f"temporalAdSlot timePosition {position!r}: expected seconds")
    return TimeOffset("time", seconds, position)


def _slot(slot: etree._Element, creatives: _Creatives) -> AdBreak | Skip:
    kind = attribute(slot, "timePositionClass").lower()
    try:
        offset = _offset(slot)
    except AdParseError as error:
        return Skip(attribute(slot, "customId"), error.skip_reason, error.detail, error.code)
    callbacks = children(child(slot, "eventCallbacks"), "eventCallback")
    tracking = tuple(
        (_SLOT_EVENTS.get(name, name), url)
        for callback in callbacks
        for name in [attribute(callback, "name")]
        for url in _urls(callback)
    )
    return AdBreak(
        break_id=attribute(slot, "customId"),
        offset=offset,
        break_types=("nonlinear",) if kind == "overlay" else ("linear",),
        source_id=attribute(slot, "customId"),
        vast=_document(slot, creatives),
        tracking=tracking,
    )


def _creatives(root: etree._Element) -> _Creatives:
    return {
        (attribute(ad, "adId"), attribute(creative, "creativeId")): creative
        for ad in children(child(root, "ads"), "ad")
        for creative in children(child(ad, "creatives"), "creative")
    }


def parse_smartxml(source: bytes | etree._Element) -> AdSchedule:
    """A SmartXML response: one AdBreak per temporalAdSlot, in document order (a slot without a usable time
    position is left out, in `skipped`). Raises AdParseError when the root is not <adResponse>."""
    root = parse_xml(source, lenient_namespaces=True) if isinstance(source, bytes) else source
    if local_name(root) != "adResponse":
        raise AdParseError(ErrorCode.SCHEMA_VALIDATION, f"root element <{local_name(root)}>: expected <adResponse>")
    creatives = _creatives(root)
    asset = child(child(child(root, "siteSection"), "videoPlayer"), "videoAsset")
    found = [_slot(slot, creatives) for slot in children(child(asset, "adSlots"), "temporalAdSlot")]
    breaks = tuple(brk for brk in found if isinstance(brk, AdBreak))
    skipped = tuple(skip for skip in found if isinstance(skip, Skip))
    return AdSchedule(breaks, "smartxml", attribute(root, "version"), skipped)
