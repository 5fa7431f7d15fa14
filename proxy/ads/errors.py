"""VAST error codes and the macros of the URLs the stitcher requests on the viewer's behalf.

Codes: VAST 4.3 "Error Reporting" table and VMAP 1.0.1 §2.5. Macros: VAST 4.3 §6:
`[NAME]` (and the `%%NAME%%` spelling seen in the wild) is replaced, brackets included, by the value
percent-encoded like `encodeURIComponent`; macros the caller has no value for are left untouched ("do not replace
all unknown macros with -1"), except [ASSETURI], which is -1 ("unknown") when no asset is concerned.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import IntEnum
from urllib.parse import quote

from proxy.errors import AdResponseError


class ErrorCode(IntEnum):
    XML_PARSING = 100
    SCHEMA_VALIDATION = 101
    VERSION_NOT_SUPPORTED = 102
    TRAFFICKING = 200  # unexpected ad type
    LINEARITY = 201  # expecting different linearity
    DURATION = 202  # expecting different duration
    SIZE = 203
    CATEGORY_REQUIRED = 204
    CATEGORY_BLOCKED = 205
    BREAK_SHORTENED = 206
    WRAPPER = 300  # general Wrapper error
    WRAPPER_TIMEOUT = 301  # VAST URI of a Wrapper unavailable or timed out
    WRAPPER_LIMIT = 302  # Wrapper limit reached (also a Wrapper loop)
    NO_ADS_AFTER_WRAPPER = 303  # no VAST response after one or more Wrappers; also any no-ad response
    INLINE_TIMEOUT = 304
    LINEAR = 400
    MEDIA_NOT_FOUND = 401
    MEDIA_TIMEOUT = 402
    NO_SUPPORTED_MEDIA = 403
    MEDIA_DISPLAY = 405
    MEZZANINE_REQUIRED = 406
    MEZZANINE_DOWNLOADING = 407
    CONDITIONAL_AD_REJECTED = 408
    INTERACTIVE_NOT_EXECUTED = 409
    VERIFICATION_NOT_EXECUTED = 410
    MEZZANINE_NOT_TO_SPEC = 411
    NONLINEAR = 500
    NONLINEAR_SIZE = 501
    NONLINEAR_FETCH = 502
    NONLINEAR_TYPE = 503
    COMPANION = 600
    COMPANION_SIZE = 601
    COMPANION_REQUIRED = 602
    COMPANION_FETCH = 603
    COMPANION_TYPE = 604
    UNDEFINED = 900
    VPAID = 901
    INTERACTIVE = 902
    # VMAP 1.0.1 §2.5, for a VMAP AdBreak's `error` tracking ([ERROR_CODE])
    VMAP_SCHEMA = 1000
    VMAP_VERSION = 1001
    VMAP_PARSING = 1002
    VMAP_BREAK_TYPE = 1003
    VMAP_AD_RESPONSE = 1004
    VMAP_TEMPLATE_TYPE = 1005
    VMAP_AD_RESPONSE_PARSING = 1006
    VMAP_AD_RESPONSE_TIMEOUT = 1007
    VMAP_AD_RESPONSE_RETRIEVAL = 1008


class AdParseError(AdResponseError):
    """An ad response (or one ad of it) that cannot be used; `code` is the VAST error code to report for it,
    `detail` the message without the reason prefix that `message` carries."""

    skip_reason = "VAST_PARSING_ERROR"

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(self.skip_reason, detail)
        self.code = code
        self.detail = detail


_MACRO = re.compile(r"\[([A-Za-z_]+)\]|%%([A-Za-z_]+)%%")
_UNRESERVED = "-_.!~*'()"  # what encodeURIComponent leaves alone (VAST 4.3 §6 formatting rules)


def encode(value: str) -> str:
    return quote(value, safe=_UNRESERVED, errors="replace")


MacroValue = str | tuple[str, ...]


def expand(template: str, values: Mapping[str, MacroValue]) -> str:
    """Replace `[NAME]` / `%%NAME%%` for every NAME (upper-cased: `[timestamp]` exists in the wild) in `values`.

    Values are raw (not yet encoded); an `Array<T>` macro is given as a tuple, joined with unencoded commas (§6).
    Anything else is left as it is, Google's `[gw_fbsaeid]` and `%5BAD_MT%5D` included."""

    def replace(match: re.Match[str]) -> str:
        value = values.get((match[1] or match[2]).upper())
        if value is None:
            return match[0]
        return encode(value) if isinstance(value, str) else ",".join(encode(part) for part in value)

    return _MACRO.sub(replace, template)


def timestamp_text(moment: datetime) -> str:
    """[TIMESTAMP]: ISO 8601 with milliseconds and the UTC offset; a naive datetime is taken as UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.isoformat(timespec="milliseconds")


def cachebusting() -> str:
    """[CACHEBUSTING]: a random 8-digit number (not for security, only against caches; `secrets` leaves the
    global `random` state alone, which background beacons must not disturb)."""
    return str(10_000_000 + secrets.randbelow(90_000_000))


def error_code_text(code: int) -> str:
    """[ERRORCODE] is 3 digits (VMAP's [ERROR_CODE] may be 1000-1008); anything else is 900, undefined error."""
    return str(code) if 100 <= code <= 999 or 1000 <= code <= 1008 else str(ErrorCode.UNDEFINED.value)


def tracking_macros(
    *,
    timestamp: datetime,
    asset_uri: str | None = None,
    cachebuster: str | None = None,
    macros: Mapping[str, MacroValue] | None = None,
) -> dict[str, MacroValue]:
    """The values of the macros every tracking and error URI may use, `macros` (e.g. SERVERSIDE, DEVICEIP,
    DEVICEUA, SERVERUA, PODSEQUENCE, UNIVERSALADID, ADSERVINGID, BREAKPOSITION) added by name."""
    busting = cachebuster or cachebusting()
    values: dict[str, MacroValue] = {
        "TIMESTAMP": timestamp_text(timestamp),
        "CACHEBUSTING": busting,
        "RANDOM": busting,  # the VAST 2 era name, still in samples (vast_client_js/sample.xml)
        "ASSETURI": asset_uri or "-1",
    }
    values.update({name.upper(): value for name, value in (macros or {}).items()})
    return values


def tracking_url(
    template: str,
    *,
    timestamp: datetime,
    asset_uri: str | None = None,
    cachebuster: str | None = None,
    macros: Mapping[str, MacroValue] | None = None,
) -> str:
    """An Impression/Tracking/ClickTracking URI ready to request. [ERRORCODE] is for Error URIs only (§6)."""
    return expand(
        template, tracking_macros(timestamp=timestamp, asset_uri=asset_uri, cachebuster=cachebuster, macros=macros)
    )


def error_url(
    template: str,
    code: int,
    *,
    timestamp: datetime,
    asset_uri: str | None = None,
    cachebuster: str | None = None,
    message: str = "",
    macros: Mapping[str, MacroValue] | None = None,
) -> str:
    """An <Error> URI (or a VMAP `error` tracking URI) ready to request, [ERRORCODE] / [ERROR_CODE] filled."""
    values = tracking_macros(timestamp=timestamp, asset_uri=asset_uri, cachebuster=cachebuster, macros=macros)
    values["ERRORCODE"] = values["ERROR_CODE"] = error_code_text(code)
    if message:
        values["ERROR_MESSAGE"] = message
    return expand(template, values)
