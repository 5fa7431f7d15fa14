"""A lenient lexer for HLS attribute lists and the value types ad markers use.

RFC 8216bis §4.2 defines an attribute list as comma-separated `NAME=value` pairs with upper-case
names and double-quoted strings. Origins and vendor documents bend every part of that
(observed in real playlists): `, ` separators, mixed-case names (`ElapsedTime`), positional values
with no name (`#EXT-X-CUE-OUT:4,SpliceType=VOD_DAI`), empty values (`SignalID=`), curly quotes
copied from the SCTE 35 PDF (`CUE=”...”`), `\\"` escaped quotes copied from JSON docs
(`ID=\\"1\\"`), space before a comma (x9k3 `CUE="…" ,CUE-OUT=YES `). `parse_attributes` accepts all
of them and never raises; the typed helpers below raise `ValueError` naming the bad value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime

# Curly quotes from documents and backslash-escaped quotes from JSON samples mean a plain quote:
# no origin quotes a value that itself contains a quote (RFC 8216bis §4.2 forbids `"` in quoted-string).
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"'})

# One item: optional NAME= then a quoted value (closing quote optional: truncated lines) or a bare
# value up to the next comma. Names take the RFC characters plus lower case and `_` (vendor names).
_ITEM = re.compile(
    r"""\s*(?:(?P<name>[A-Za-z0-9_-]+)\s*=\s*)?(?P<value>"[^"]*(?:"|$)|[^,]*?)\s*(?:,|$)""",
)

_DECIMAL = re.compile(r"\s*(?:\d+(?:\.\d*)?|\.\d+)\s*")
_ISO_DURATION = re.compile(
    r"P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class AttributeList:
    """`named` maps upper-cased names to unquoted values; `positional` keeps values given without a name."""

    named: dict[str, str] = field(default_factory=dict)
    positional: tuple[str, ...] = ()

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of `name` (any case), or `default`."""
        return self.named.get(name.upper(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.upper() in self.named


def parse_attributes(text: str) -> AttributeList:
    """Split an attribute list leniently; never raises. The first of duplicate names wins."""
    text = text.translate(_QUOTES).replace('\\"', '"')
    named: dict[str, str] = {}
    positional: list[str] = []
    pos, end = 0, len(text)
    while pos < end:
        match = _ITEM.match(text, pos)
        if match is None or match.end() == pos:  # pragma: no cover - the pattern matches any text
            break
        pos = match.end()
        name, value = match.group("name"), _unquote(match.group("value"))
        if name is not None:
            named.setdefault(name.upper(), value)
        elif value:
            positional.append(value)
    return AttributeList(named, tuple(positional))


def _unquote(value: str) -> str:
    if value.startswith('"'):
        return value[1:-1] if len(value) > 1 and value.endswith('"') else value[1:]
    return value.strip()


def parse_seconds(text: str) -> float:
    """A non-negative decimal number of seconds (RFC 8216bis §4.2 decimal-floating-point).

    `float()` alone would also take `nan`, `inf`, `-3` and `1e3`, none of which a marker means.
    """
    if _DECIMAL.fullmatch(text) is None:
        raise ValueError(f"{text[:40]!r} is not a duration; expected a non-negative decimal number of seconds")
    return _finite(float(text), text)


def _finite(seconds: float, text: str) -> float:
    if not math.isfinite(seconds):
        raise ValueError(f"{text[:40]!r} is too large; expected a duration in seconds")
    return seconds


def parse_iso8601_duration(text: str) -> float:
    """Seconds in an ISO 8601 duration such as `PT10S` or `PT1M30.5S` (Envivio CUE-SPAN TIMEFROMSIGNAL)."""
    stripped = text.strip()
    match = _ISO_DURATION.fullmatch(stripped)
    if match is None or not any(match.groupdict().values()):
        try:
            return parse_seconds(stripped)  # lenient: a bare number of seconds
        except ValueError:
            raise ValueError(f"{text[:40]!r} is not an ISO 8601 duration; expected e.g. PT10S") from None
    parts = {key: float(value) if value else 0.0 for key, value in match.groupdict().items()}
    return _finite(parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"], text)


def parse_date(text: str) -> datetime:
    """An RFC 8216bis §4.2 / ISO 8601 date-time with a time zone (`Z` or an offset)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a date; expected ISO 8601 like 2023-01-31T06:28:53.331Z") from None
    if value.tzinfo is None:
        raise ValueError(f"{text[:40]!r} has no time zone; expected a Z or +hh:mm suffix")
    return value
