"""VMAP 1.0 / 1.0.1 and Google Ad Manager ad rules into an `AdSchedule` (reference/ads.md §6-§7).

Namespaces: `http://www.iab.net/videosuite/vmap` (the spec's, Google's), `http://www.iab.net/vmap-1.0` (the spec's
example copies) and `https://www.iab.net/videosuite/vmap` (Adobe) are all accepted, as is none: elements are matched
by local name. The spec's example copies leave `xsi:` unbound; the parser accepts undeclared prefixes.

Google ad rules are plain VMAP with one AdBreak per ad slot (bumper, ads by `ppos`, bumper): `slots` groups
consecutive AdBreaks of the same (timeOffset, breakId) into the break they describe.

For live SSAI (`live_break`): VMAP has no provision for live (VMAP 1.0.1 §1.5), and the proxy asks the ad server
once per break, so a response maps to the break being filled: the first mid-roll slot (a timeOffset that is neither
the start nor the end: `HH:MM:SS` > 0, 0 < n% < 100, or the positional `#m` meant for live), its linear AdBreaks
in document order; when there is no mid-roll, the pre-roll slot (what ad servers answer a request without
position); a post-roll never plays in a live break.
"""

from __future__ import annotations

import re
from dataclasses import replace
from itertools import groupby

from lxml import etree

from proxy.ads.errors import AdParseError, ErrorCode
from proxy.ads.models import AdBreak, AdSchedule, Skip, TimeOffset
from proxy.ads.vast import parse_document, parse_duration
from proxy.ads.xmlsafe import attribute, boolean, child, children, local_name, parse_xml, text

_PERCENT = re.compile(r"([0-9]{1,3}(?:\.[0-9]+)?)%")
_POSITION = re.compile(r"#([0-9]{1,6})")


def parse_time_offset(value: str) -> TimeOffset:
    """AdBreak@timeOffset (VMAP 1.0.1 §2.3.1): `start`, `end`, `hh:mm:ss[.mmm]`, `n%` (0-100) or `#m` (m ≥ 1)."""
    raw = value.strip()
    if raw == "start":
        return TimeOffset("start", 0.0, raw)
    if raw == "end":
        return TimeOffset("end", 0.0, raw)
    if (percent := _PERCENT.fullmatch(raw)) and float(percent[1]) <= 100:
        return TimeOffset("percent", float(percent[1]), raw)
    if (position := _POSITION.fullmatch(raw)) and int(position[1]) >= 1:
        return TimeOffset("position", float(position[1]), raw)
    try:
        return TimeOffset("time", parse_duration(raw), raw)
    except AdParseError:
        raise AdParseError(
            ErrorCode.VMAP_SCHEMA, f"timeOffset {value!r}: expected start, end, hh:mm:ss.mmm, n% or #m"
        ) from None


def _repeat_after(value: str) -> float | None:
    """@repeatAfter (hh:mm:ss[.mmm]); the invalid values met in samples (`00:00:`, `1337`, `apple`, "") are ignored."""
    try:
        return parse_duration(value) if value.strip() else None
    except AdParseError:
        return None


def _tracking(node: etree._Element) -> tuple[tuple[str, str], ...]:
    """TrackingEvents/Tracking@event: breakStart, breakEnd, error (§2.3.3)."""
    found = children(child(node, "TrackingEvents"), "Tracking")
    return tuple((attribute(event, "event"), url) for event in found if (url := text(event)))


def _is_bumper(node: etree._Element) -> bool:
    return any(attribute(ext, "type") == "bumper" for ext in children(child(node, "Extensions"), "Extension"))


def _vast_data(source: etree._Element) -> etree._Element | None:
    """The document in AdSource/VASTAdData (or VASTData, a misspelling some docs use, ads.md §6); the VASTAdData
    element itself when it holds none, so that parse_document reports it."""
    for name in ("VASTAdData", "VASTData"):
        if (data := child(source, name)) is not None:
            return next((node for node in data if local_name(node)), data)
    return None


def _source(node: etree._Element, brk: AdBreak) -> AdBreak:
    """AdSource (§2.3.2): VASTAdData (inline VAST, not CDATA), AdTagURI, or CustomAdData (not supported here)."""
    source = child(node, "AdSource")
    if source is None:
        return brk  # an AdBreak may carry only tracking
    errors = tuple(url for event, url in brk.tracking if event == "error")
    brk = replace(
        brk,
        source_id=attribute(source, "id"),
        allow_multiple_ads=boolean(attribute(source, "allowMultipleAds"), True),
        follow_redirects=boolean(attribute(source, "followRedirects"), True),
    )
    vast, tag, custom = _vast_data(source), child(source, "AdTagURI"), child(source, "CustomAdData")
    if vast is not None:  # an element that is not <VAST> (VAST 1, nothing) is reported by parse_document
        try:
            return replace(brk, vast=parse_document(vast))
        except AdParseError as error:
            code = ErrorCode.VMAP_AD_RESPONSE_PARSING
            return replace(brk, skip=Skip(brk.source_id, error.reason, error.detail, code, errors))
    if tag is not None:
        return replace(brk, ad_tag_uri=text(tag), template_type=attribute(tag, "templateType"))
    if custom is not None:
        detail = f"CustomAdData templateType {attribute(custom, 'templateType')!r}: expected VASTAdData or AdTagURI"
        return replace(
            brk, skip=Skip(brk.source_id, "VAST_PARSING_ERROR", detail, ErrorCode.VMAP_TEMPLATE_TYPE, errors)
        )
    return brk


def _ad_break(node: etree._Element) -> AdBreak | Skip:
    """AdBreak (§2.3.1); one without a usable timeOffset is left out, reported to its `error` tracking (§2.5)."""
    tracking = _tracking(node)
    try:
        offset = parse_time_offset(attribute(node, "timeOffset"))
    except AdParseError as error:
        errors = tuple(url for event, url in tracking if event == "error")
        return Skip(attribute(node, "breakId"), error.reason, error.detail, error.code, errors)
    types = tuple(kind.strip() for kind in attribute(node, "breakType").split(",") if kind.strip())
    brk = AdBreak(
        break_id=attribute(node, "breakId"),
        offset=offset,
        break_types=types or ("linear",),
        repeat_after=_repeat_after(attribute(node, "repeatAfter")),
        tracking=tracking,
        bumper=_is_bumper(node),
    )
    return _source(node, brk)


def parse_vmap(source: bytes | etree._Element) -> AdSchedule:
    """A VMAP document: every AdBreak in document order (Google ad rules: one per slot; see `slots`).

    Raises AdParseError (an AdResponseError) when it is not XML or not VMAP 1.x."""
    root = parse_xml(source, lenient_namespaces=True) if isinstance(source, bytes) else source
    if local_name(root) != "VMAP":
        raise AdParseError(ErrorCode.VMAP_SCHEMA, f"root element <{local_name(root)}>: expected <VMAP>")
    version = attribute(root, "version")
    if version and not version.startswith("1"):
        raise AdParseError(ErrorCode.VMAP_VERSION, f"VMAP version {version!r}: expected 1.0")
    found = [_ad_break(node) for node in children(root, "AdBreak")]
    breaks = tuple(brk for brk in found if isinstance(brk, AdBreak))
    return AdSchedule(breaks, "vmap", version, tuple(skip for skip in found if isinstance(skip, Skip)))


def slots(schedule: AdSchedule) -> list[tuple[AdBreak, ...]]:
    """Consecutive AdBreaks of the same (timeOffset, breakId) form one break (Google ad rules, ads.md §7)."""
    grouped = groupby(schedule.breaks, key=lambda brk: (brk.offset.raw, brk.break_id))
    return [tuple(group) for _, group in grouped]


def live_break(schedule: AdSchedule) -> tuple[AdBreak, ...]:
    """The AdBreaks that fill a live break: the first mid-roll slot, else the pre-roll slot (module docstring)."""
    linear = [tuple(brk for brk in slot if brk.is_linear) for slot in slots(schedule)]
    linear = [slot for slot in linear if slot]
    mid = [slot for slot in linear if not slot[0].offset.is_preroll and not slot[0].offset.is_postroll]
    pre = [slot for slot in linear if slot[0].offset.is_preroll]
    return mid[0] if mid else pre[0] if pre else ()
