"""Ad-break markers on one media segment → `Cue`s (every family of proxy.hls.cues.Dialect).

`detect()` gets the non-URI lines attached to one segment and returns its break signals in line
order. Every marker family is read; when several families signal the same kind
(out / cont / in) on one segment only the highest family's cues of that kind are kept
(most specific and standard first):

    DATERANGE > CUE-OUT / CUE-OUT-CONT / CUE-IN / CUE-SPAN > EXT-X-SCTE35 / EXT-SCTE35
    > SPLICEPOINT-SCTE35 > EXT-OATCLS-SCTE35 alone > Adobe EXT-X-CUE

A kept cue without SCTE-35 bytes takes those of the highest lower-ranked cue of the same kind. An
EXT-OATCLS-SCTE35 never adds a cue when a CUE-OUT-family tag is on the segment: it only lends its
bytes. A bad marker never raises: its value is dropped (or its cue skipped) with a warning on the
`proxy.hls.markers` logger, counted in `SKIPPED` by reason. Tag names are case-sensitive
(RFC 8216bis §4.1), so `# EXT-X-CUE-IN` (a comment) and the doc typo `#EXT-X-OUT` are not markers.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace

from proxy.hls import scte35
from proxy.hls.attributes import AttributeList, parse_attributes, parse_date, parse_iso8601_duration, parse_seconds
from proxy.hls.cues import Cue, CueKind, Dialect
from proxy.hls.tags import (
    EXT_OATCLS_SCTE35,
    EXT_SCTE35,
    EXT_X_CUE,
    EXT_X_CUE_CONT,
    EXT_X_CUE_IN,
    EXT_X_CUE_OUT,
    EXT_X_CUE_OUT_CONT,
    EXT_X_CUE_SPAN,
    EXT_X_DATERANGE,
    EXT_X_SCTE35,
    EXT_X_SPLICEPOINT_SCTE35,
)

log = logging.getLogger("proxy.hls.markers")

SKIPPED: Counter[str] = Counter()  # reason → markers (or marker values) dropped since start-up

_PREFIXES = (
    EXT_X_CUE,  # CUE-OUT, CUE-OUT-CONT, CUE-IN, CUE-SPAN, Adobe CUE and CUE-CONT
    f"{EXT_X_DATERANGE}:",
    f"{EXT_OATCLS_SCTE35}:",
    f"{EXT_X_SPLICEPOINT_SCTE35}:",
    f"{EXT_X_SCTE35}:",
    f"{EXT_SCTE35}:",
)
_RANK: dict[Dialect, int] = {
    "daterange": 0,
    "cue-out": 1,
    "cue-span": 1,
    "scte35": 2,
    "splicepoint": 3,
    "oatcls": 4,
    "adobe": 5,
}
_KINDS: tuple[CueKind, ...] = ("out", "cont", "in")
_MARKER_IDS = ("ID", "BREAKID", "SIGNALID")  # Envivio / hls.js fixture / Adobe KB
_ADOBE_TYPES: dict[str, CueKind] = {"SPLICEOUT": "out", "SPLICEIN": "in"}

Parser = Callable[[str, str], Cue | None]


def detect(tag_lines: Sequence[str]) -> tuple[Cue, ...]:
    """The break signals among the tag lines of one media segment, in line order."""
    if not any(line.startswith(_PREFIXES) for line in tag_lines):
        return ()
    found: list[tuple[int, Cue]] = []
    for index, line in enumerate(tag_lines):
        cue = _parse_line(line)
        if cue is not None:
            found.append((index, cue))
    return _resolve(found)


def _parse_line(line: str) -> Cue | None:
    tag, _, value = line.rstrip().partition(":")
    parser = _PARSERS.get(tag)
    if parser is None:
        return None
    try:
        return parser(tag, value.strip())
    except Exception:  # a parser bug costs one cue, never the playlist
        _bad("parser-error", tag, value, "unexpected error", exc_info=True)
        return None


def _resolve(found: list[tuple[int, Cue]]) -> tuple[Cue, ...]:
    cue_out_family = any(_RANK[cue.dialect] == _RANK["cue-out"] for _, cue in found)
    kept: list[tuple[int, Cue]] = []
    for kind in _KINDS:
        same = sorted((item for item in found if item[1].kind == kind), key=lambda item: _RANK[item[1].dialect])
        emitters = [item for item in same if not (cue_out_family and item[1].dialect == "oatcls")]
        if not emitters:
            continue
        best = _RANK[emitters[0][1].dialect]
        lender = next((cue.scte35 for _, cue in same if cue.scte35 is not None), None)
        for index, cue in emitters:
            if _RANK[cue.dialect] == best:
                kept.append((index, cue if cue.scte35 is not None else replace(cue, scte35=lender)))
    return tuple(cue for _, cue in sorted(kept, key=lambda item: item[0]))


def _bad(reason: str, tag: str, value: str, detail: str, *, exc_info: bool = False) -> None:
    SKIPPED[reason] += 1
    log.warning("%s %r: %s (%s)", tag, value[:120], detail, reason, exc_info=exc_info)


def _seconds(tag: str, name: str, text: str | None) -> float | None:
    if not text:
        return None
    try:
        return parse_seconds(text)
    except ValueError as exc:
        _bad("bad-number", tag, f"{name}={text}", str(exc))
        return None


def _payload(tag: str, text: str | None) -> tuple[bytes | None, scte35.SpliceInfo | None]:
    """The section bytes (when they start with table_id 0xFC) and their decode, warning on failure."""
    if not text:
        return None, None
    try:
        raw = scte35.to_bytes(text)
        if raw[:1] != b"\xfc":
            raise scte35.Scte35Error(f"{text[:40]!r} starts with {raw[:1].hex() or 'nothing'}: expected 0xFC")
    except scte35.Scte35Error as exc:
        _bad("bad-scte35", tag, text, str(exc))
        return None, None
    try:
        return raw, scte35.decode(raw)
    except scte35.Scte35Error as exc:
        _bad("bad-scte35", tag, text, str(exc))
        return raw, None


def _first(attrs: AttributeList) -> str | None:
    return attrs.positional[0] if attrs.positional else None


def _marker_id(attrs: AttributeList) -> str | None:
    return next((value for name in _MARKER_IDS if (value := attrs.get(name))), None)


# --- EXT-X-CUE-OUT family (de-facto, no spec; Elemental style) ------------------------------------


def _cue_out(tag: str, value: str) -> Cue:
    """`30.000`, `DURATION=120`, `DURATION=366,ID=…,CUE="…"`, `4,SpliceType=…`, `177.100,SignalID=`, bare."""
    attrs = parse_attributes(value)
    duration = _seconds(tag, "duration", attrs.get("DURATION") or _first(attrs))
    cue_bytes, _ = _payload(tag, attrs.get("CUE"))
    return Cue("out", "cue-out", duration=duration, break_id=_marker_id(attrs), scte35=cue_bytes)


def _cue_out_cont(tag: str, value: str) -> Cue:
    """`ElapsedTime=7.960,Duration=50,SCTE35=…`, `2.000/30`, `10/4, SpliceType=…`, `d` alone, bare."""
    attrs = parse_attributes(value)
    elapsed, duration = attrs.get("ELAPSEDTIME"), attrs.get("DURATION")
    first = _first(attrs)
    if first is not None and "/" in first:
        slash_elapsed, _, slash_duration = first.partition("/")
        elapsed, duration = elapsed or slash_elapsed, duration or slash_duration
    elif first is not None:
        duration = duration or first  # a lone number is the duration, as the m3u8 library reads it
    return Cue(
        "cont",
        "cue-out",
        duration=_seconds(tag, "duration", duration),
        elapsed=_seconds(tag, "elapsed", elapsed),
        break_id=_marker_id(attrs),
        scte35=_payload(tag, attrs.get("SCTE35"))[0],
    )


def _cue_in(tag: str, value: str) -> Cue:
    """Bare, `ID=16777323` (Envivio), `4,SpliceType=VOD_DAI` (ESAM), `177.100,SignalID=` (Adobe KB)."""
    attrs = parse_attributes(value)
    return Cue("in", "cue-out", break_id=_marker_id(attrs), scte35=_payload(tag, attrs.get("CUE"))[0])


def _cue_span(tag: str, value: str) -> Cue:
    """Envivio continuation: `TIMEFROMSIGNAL=PT10S,ID=16777323` (ISO 8601 time since the OUT)."""
    attrs = parse_attributes(value)
    elapsed = None
    if text := attrs.get("TIMEFROMSIGNAL"):
        try:
            elapsed = parse_iso8601_duration(text)
        except ValueError as exc:
            _bad("bad-number", tag, value, str(exc))
    return Cue("cont", "cue-span", elapsed=elapsed, break_id=_marker_id(attrs))


# --- EXT-X-DATERANGE (RFC 8216bis §4.4.5.1.1) -----------------------------------------------------


def _daterange(tag: str, value: str) -> Cue | None:
    attrs = parse_attributes(value)
    if attrs.get("SCTE35-OUT"):
        return _daterange_out(tag, attrs)
    closes = bool(attrs.get("DURATION") or attrs.get("END-DATE"))
    if attrs.get("SCTE35-IN") or (closes and _may_close_break(attrs)):
        return _daterange_in(tag, attrs, closes)
    return None  # SCTE35-CMD, interstitials and other date ranges are not break markers


def _daterange_out(tag: str, attrs: AttributeList) -> Cue:
    """OUT, planned length from DURATION (MediaTailor: OUT+DURATION in one tag), PLANNED-DURATION or the payload."""
    cue_bytes, info = _payload(tag, attrs.get("SCTE35-OUT"))
    duration = _seconds(tag, "DURATION", attrs.get("DURATION"))
    if duration is None:
        duration = _seconds(tag, "PLANNED-DURATION", attrs.get("PLANNED-DURATION"))
    if duration is None and info is not None:
        duration = scte35.break_signal(info)[1]
    return Cue("out", "daterange", duration=duration, break_id=attrs.get("ID") or None, scte35=cue_bytes)


def _daterange_in(tag: str, attrs: AttributeList, closes: bool) -> Cue:
    """IN; with DURATION or END-DATE it also gives the actual length (RFC 8216bis §4.4.5.1.1)."""
    duration = _seconds(tag, "DURATION", attrs.get("DURATION")) if closes else None
    if closes and duration is None:
        duration = _date_span(tag, attrs)
    cue_bytes, _ = _payload(tag, attrs.get("SCTE35-IN"))
    return Cue("in", "daterange", duration=duration, break_id=attrs.get("ID") or None, closes=closes, scte35=cue_bytes)


def _may_close_break(attrs: AttributeList) -> bool:
    """A DATERANGE with DURATION / END-DATE and no SCTE35-* closes the break of the same ID
    (AWS MediaPackage) unless it is SCTE35-CMD or has a CLASS of its own (Apple
    interstitials). SCTE 35 §12.2.1 sets CLASS to a segmentation_type_id, so a number is accepted."""
    if "SCTE35-CMD" in attrs:
        return False
    klass = (attrs.get("CLASS") or "").strip()
    if not klass:
        return True
    try:
        return 0 <= int(klass, 0) <= 0xFF
    except ValueError:
        return False


def _date_span(tag: str, attrs: AttributeList) -> float | None:
    start, end = attrs.get("START-DATE"), attrs.get("END-DATE")
    if not (start and end):
        return None
    try:
        seconds = (parse_date(end) - parse_date(start)).total_seconds()
    except ValueError as exc:
        _bad("bad-date", tag, f"START-DATE={start},END-DATE={end}", str(exc))
        return None
    if seconds < 0:
        _bad("bad-date", tag, f"START-DATE={start},END-DATE={end}", "END-DATE before START-DATE")
        return None
    return seconds


# --- Markers that carry a splice_info_section (SCTE 35 §12.2, vendor tags) ------------------------


def _oatcls(tag: str, value: str) -> Cue | None:
    return _from_payload(tag, value, "oatcls")


def _splicepoint(tag: str, value: str) -> Cue | None:
    """One tag for start and end: the direction is in the payload (0x34 / 0x35, AWS MediaTailor "HLS ad markers")."""
    return _from_payload(tag, value, "splicepoint")


def _from_payload(tag: str, text: str, dialect: Dialect) -> Cue | None:
    cue_bytes, info = _payload(tag, text)
    if info is None:
        return None
    direction, seconds, event = scte35.break_signal(info)
    if direction is None:
        return None  # not an avail message (Program Start, reserved 0x0C, splice_null …): no cue
    return Cue(direction, dialect, duration=seconds, break_id=event, scte35=cue_bytes)


def _x_scte35(tag: str, value: str) -> Cue | None:
    """SCTE 35 §12.2: CUE-OUT=YES / CONT and CUE-IN=YES say the kind; without them the tag is informational."""
    return _scte35_tag(tag, value, kind_from_payload=False)


def _ext_scte35(tag: str, value: str) -> Cue | None:
    """SCTE 67 style `CUE="…", ID="123", TIME=123.12`: the kind comes from the decoded CUE."""
    return _scte35_tag(tag, value, kind_from_payload=True)


def _scte35_tag(tag: str, value: str, *, kind_from_payload: bool) -> Cue | None:
    attrs = parse_attributes(value)
    kind = _scte35_kind(attrs)
    if kind is None and not kind_from_payload:
        return None
    cue_bytes, info = _payload(tag, attrs.get("CUE"))
    direction, planned, event = scte35.break_signal(info) if info is not None else (None, None, None)
    kind = kind or direction
    if kind is None:
        return None
    duration = _seconds(tag, "DURATION", attrs.get("DURATION"))
    return Cue(
        kind,
        "scte35",
        duration=planned if duration is None and kind == "out" else duration,
        elapsed=_seconds(tag, "ELAPSED", attrs.get("ELAPSED")) if kind == "cont" else None,
        break_id=attrs.get("ID") or event,
        scte35=cue_bytes,
    )


def _scte35_kind(attrs: AttributeList) -> CueKind | None:
    cue_out, cue_in = (attrs.get("CUE-OUT") or "").upper(), (attrs.get("CUE-IN") or "").upper()
    if cue_out == "YES":
        return "out"
    if cue_out == "CONT":
        return "cont"
    return "in" if cue_in == "YES" else None


# --- Adobe EXT-X-CUE / EXT-X-CUE-CONT (Adobe Primetime) -------------------------------------------


def _adobe_cue(tag: str, value: str) -> Cue | None:
    attrs = parse_attributes(value)
    kind = _ADOBE_TYPES.get((attrs.get("TYPE") or "").upper())
    if kind is None:
        _bad("unknown-type", tag, value, "expected TYPE=SpliceOut or TYPE=SpliceIn")
        return None
    # DURATION "0" means unknown in the Primetime packager's mapping of break_duration.
    duration = _seconds(tag, "DURATION", attrs.get("DURATION")) or None
    return Cue(kind, "adobe", duration=duration if kind == "out" else None, break_id=attrs.get("ID") or None)


def _adobe_cont(tag: str, value: str) -> Cue:
    attrs = parse_attributes(value)
    return Cue(
        "cont",
        "adobe",
        duration=_seconds(tag, "DURATION", attrs.get("DURATION")) or None,
        elapsed=_seconds(tag, "AVAIL-DUR-ELAPSED", attrs.get("AVAIL-DUR-ELAPSED")),
        break_id=attrs.get("ID") or None,
    )


_PARSERS: dict[str, Parser] = {
    EXT_X_CUE_OUT: _cue_out,
    EXT_X_CUE_OUT_CONT: _cue_out_cont,
    EXT_X_CUE_IN: _cue_in,
    EXT_X_CUE_SPAN: _cue_span,
    EXT_X_DATERANGE: _daterange,
    EXT_OATCLS_SCTE35: _oatcls,
    EXT_X_SPLICEPOINT_SCTE35: _splicepoint,
    EXT_X_SCTE35: _x_scte35,
    EXT_SCTE35: _ext_scte35,
    EXT_X_CUE: _adobe_cue,
    EXT_X_CUE_CONT: _adobe_cont,
}
