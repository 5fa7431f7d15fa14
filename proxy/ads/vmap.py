"""VMAP 1.0 / 1.0.1 and Google Ad Manager ad rules into an `AdSchedule`.

Namespaces: `http://www.iab.net/videosuite/vmap` (the spec's, Google's), `http://www.iab.net/vmap-1.0` (the spec's
example copies) and `https://www.iab.net/videosuite/vmap` (Adobe) are all accepted, as is none: elements are matched
by local name. The spec's example copies leave `xsi:` unbound; the parser accepts undeclared prefixes.

Google ad rules are plain VMAP with one AdBreak per ad slot (bumper, ads by `ppos`, bumper): `slots` groups
consecutive AdBreaks of the same (timeOffset, breakId) into the break they describe.

For live SSAI (`live_break`): VMAP has no provision for live (VMAP 1.0.1 §1.5) and the proxy asks the ad server
once per break, so a response maps to the break being filled by its `BreakPosition`: the session's n-th break, its
start in seconds since the session began, the previous break's, whether it is the session's pre-roll, and the
identity the origin gave it. Every linear AdBreak that matches contributes, in document order (Google ad rules:
every slot of every matching group), and the pod is all their ads; the caller then drops what does not fit.
An AdBreak matches when (VMAP 1.0.1 §2.3.1 timeOffset, breakId, repeatAfter):

- its breakId is the break's identity (exact, case-insensitive, or the same number: SCTE-35 `0x1F` is `31`);
- `start` (`0%`, `00:00:00`): the session's first break when it begins within a target duration of the session's
  start (a live pre-roll); a later break is no pre-roll;
- `HH:MM:SS(.mmm)` t: the AdBreak is due t seconds after the session's start and plays at the first break that
  starts at or after that (a break matches when a due time lies after the previous break's start and at or before
  its own: it is never played twice for one due time, nor late once another break has passed it);
- `repeatAfter` r (time offsets): due again at t + r, t + 2r, … (`start` with r: at r, 2r, …);
- `#n`: the session's n-th break; with `repeatAfter` r, also every round(r)-th break after it (a position has no
  time, so r's seconds count breaks: `#1` with `00:00:01` is every break);
- `n%` with 0 < n < 100: a live stream has no duration to take a percentage of, so it is due at every break;
- `end` (`100%`): never (a live stream has no end).

A decision shared by every session (an ad tag with no per-viewer variable) uses the channel's position: breaks
counted, and time taken, from when the proxy started following the channel; it is never a pre-roll.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from itertools import groupby

from lxml import etree

from proxy.ads.errors import AdParseError, ErrorCode
from proxy.ads.models import AdBreak, AdSchedule, BreakPosition, Skip, TimeOffset
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
    """The document in AdSource/VASTAdData (or VASTData, a misspelling some docs use); the VASTAdData
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
            return replace(brk, skip=Skip(brk.source_id, error.skip_reason, error.detail, code, errors))
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
        return Skip(attribute(node, "breakId"), error.skip_reason, error.detail, error.code, errors)
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
    """Consecutive AdBreaks of the same (timeOffset, breakId) form one break (Google Ad Manager ad rules)."""
    grouped = groupby(schedule.breaks, key=lambda brk: (brk.offset.raw, brk.break_id))
    return [tuple(group) for _, group in grouped]


def live_break(schedule: AdSchedule, position: BreakPosition) -> tuple[AdBreak, ...]:
    """The linear AdBreaks that fill the live break at `position`, in document order (module docstring)."""
    return tuple(brk for brk in schedule.breaks if brk.is_linear and matches(brk, position))


def matches(brk: AdBreak, position: BreakPosition) -> bool:
    """Whether the AdBreak (or SmartXML slot) is due at the live break at `position` (module docstring)."""
    if position.break_id and brk.break_id and same_id(brk.break_id, position.break_id):
        return True
    offset = brk.offset
    if offset.kind == "position":
        return _nth(int(offset.value), brk.repeat_after, position.index)
    if offset.kind == "percent" and 0 < offset.value < 100:
        return True
    if offset.is_postroll:
        return False
    return _due(offset.value if offset.kind == "time" else 0.0, brk.repeat_after, position)


def _nth(first: int, repeat: float | None, index: int) -> bool:
    every = max(1, round(repeat)) if repeat else 0
    return index == first or (every > 0 and index > first and (index - first) % every == 0)


def _due(at: float, repeat: float | None, position: BreakPosition) -> bool:
    """The first due time (at, at + r, …) after the previous break's start is at or before this break's start;
    the due time 0 only at a pre-roll."""
    after = position.previous
    due = at
    if after is not None and due <= after:
        if not repeat:
            return False
        due = at + (math.floor((after - at) / repeat) + 1) * repeat
    if due == 0 and not position.preroll:
        if not repeat:
            return False
        due = repeat
    return due <= position.start


def same_id(one: str, other: str) -> bool:
    """Break identities: the same text (case-insensitive) or the same number (`0x1F`, `31`)."""
    if one.strip().lower() == other.strip().lower():
        return True
    numbers = [_number(value) for value in (one, other)]
    return numbers[0] is not None and numbers[0] == numbers[1]


def _number(value: str) -> int | None:
    text_value = value.strip().lower()
    try:
        return int(text_value, 16) if text_value.startswith("0x") else int(text_value, 10)
    except ValueError:
        return None
