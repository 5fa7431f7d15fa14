"""VAST 2/3/4 Inline responses into `AdResponse` (the wrapper chain and other formats are issue #3).

Parsed with defusedxml: a DTD, an entity or an external reference is refused, never expanded
(reference/ads.md, XML attacks). Namespaces are ignored so namespaced VAST 4 parses like VAST 2.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from proxy.ads.models import Ad, AdResponse, MediaFile, Skip
from proxy.errors import AdResponseError

MAX_BYTES = 1024 * 1024
_DURATION = re.compile(r"([0-9]{1,4}):([0-9]{1,2}):([0-9]{1,2}(?:\.[0-9]*)?)")  # ASCII digits, no sign


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(node: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in node if _local(child.tag) == name]


def _child(node: ET.Element | None, name: str) -> ET.Element | None:
    if node is None:
        return None
    found = _children(node, name)
    return found[0] if found else None


def _text(node: ET.Element | None) -> str:
    return (node.text or "").strip() if node is not None else ""


def _texts(node: ET.Element | None, name: str) -> tuple[str, ...]:
    if node is None:
        return ()
    return tuple(text for child in node.iter() if _local(child.tag) == name and (text := _text(child)))


def parse_duration(value: str) -> float:
    """VAST `HH:MM:SS` or `HH:MM:SS.mmm` into seconds: digits only, so never negative, NaN or infinite."""
    match = _DURATION.fullmatch(value.strip())
    if match is None:
        raise AdResponseError("VAST_PARSING_ERROR", f"Duration {value!r}: expected HH:MM:SS.mmm")
    return int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3])


def _int(value: str | None) -> int:
    try:
        return int(float(value)) if value else 0
    except (ValueError, OverflowError):  # "abc", "nan"; "1e999" is an infinite float
        return 0


def _media_files(linear: ET.Element) -> tuple[MediaFile, ...]:
    files = _child(linear, "MediaFiles")
    found = []
    for node in _children(files, "MediaFile") if files is not None else []:
        if url := _text(node):
            bitrate = node.get("bitrate") or node.get("maxBitrate")
            found.append(
                MediaFile(
                    url,
                    node.get("type", ""),
                    node.get("delivery", ""),
                    _int(bitrate),
                    _int(node.get("width")),
                    _int(node.get("height")),
                )
            )
    return tuple(found)


def _linear_ad(ad: ET.Element, inline: ET.Element) -> Ad | None:
    creatives = _child(inline, "Creatives")
    for creative in _children(creatives, "Creative") if creatives is not None else []:
        linear = _child(creative, "Linear")
        if linear is None:
            continue
        clicks = _child(linear, "VideoClicks")
        events = _child(linear, "TrackingEvents")
        tracking = tuple(
            (node.get("event", ""), url)
            for node in (_children(events, "Tracking") if events is not None else [])
            if (url := _text(node))
        )
        sequence = ad.get("sequence")
        return Ad(
            ad_id=ad.get("id", ""),
            sequence=_int(sequence) if sequence else None,
            ad_system=_text(_child(inline, "AdSystem")),
            title=_text(_child(inline, "AdTitle")),
            creative_id=creative.get("id") or creative.get("adId") or "",
            duration=parse_duration(_text(_child(linear, "Duration"))),
            media_files=_media_files(linear),
            impressions=tuple(text for node in _children(inline, "Impression") if (text := _text(node))),
            click_through=_texts(clicks, "ClickThrough"),
            click_tracking=_texts(clicks, "ClickTracking"),
            tracking=tracking,
            errors=tuple(_text(node) for node in _children(inline, "Error") if _text(node)),
        )
    return None


def parse_vast(body: bytes) -> AdResponse:
    if len(body) > MAX_BYTES:
        raise AdResponseError("VAST_PARSING_ERROR", f"response of {len(body)} bytes: expected at most {MAX_BYTES}")
    try:
        root = fromstring(body, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException) as error:
        raise AdResponseError("VAST_PARSING_ERROR", f"not usable XML: {error}") from None
    if _local(root.tag) != "VAST":
        raise AdResponseError("VAST_PARSING_ERROR", f"root element <{_local(root.tag)}>: expected <VAST>")
    ads: list[Ad] = []
    skipped: list[Skip] = []
    for node in _children(root, "Ad"):
        inline = _child(node, "InLine")
        if inline is None:
            skipped.append(Skip(node.get("id", ""), "INVALID_VAST_WRAPPER_AD", "wrapper ads are not followed yet"))
            continue
        try:
            ad = _linear_ad(node, inline)
        except AdResponseError as error:
            skipped.append(Skip(node.get("id", ""), error.reason, error.message))
            continue
        if ad is None:
            skipped.append(Skip(node.get("id", ""), "NO_LINEAR_CREATIVE", "the ad has no Linear creative"))
        else:
            ads.append(ad)
    return AdResponse(_pod_order(ads), tuple(skipped))


def _pod_order(ads: list[Ad]) -> tuple[Ad, ...]:
    """A pod (ads with `sequence`) plays in order; stand-alone ads only when there is no pod (VAST 3 §2.3.2)."""
    pod = sorted((ad for ad in ads if ad.sequence is not None), key=lambda ad: ad.sequence or 0)
    return tuple(pod) if pod else tuple(ads)
