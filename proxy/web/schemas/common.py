"""What every control API body shares: limits on its values, the checks of URLs, templates and headers, the
field types built on them, and `Body`, the strict base of every model."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from proxy.ads.macros import compile_ad_tag, compile_headers

SHOWN_CHARS = 200  # at most this much of a bad value is echoed back
MAX_TEXT = 1000  # names and descriptions
MAX_URL = 4096  # URLs and templates
_HEADER_TOKEN = r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$"  # RFC 9110 §5.6.2 token, as proxy.ads.macros checks it


# --- value checks (a ValueError's message is the "expected …" part of the error) ---


def _http_url(value: str) -> str:
    """An http(s) URL with a host; no blank or control character (urlsplit silently drops tabs and newlines)."""
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # an unclosed IPv6 bracket ("http://[::1"), a port that is not a number
        port_ok = False
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ValueError("expected an http(s) URL such as 'https://host/path'")
    if any(char <= " " or char == "\x7f" for char in value):
        raise ValueError("expected an http(s) URL without blanks or control characters")
    return value


def _url_template(value: str) -> str:
    """An ad tag or beacon template the proxy compiles (proxy.ads.macros), addressed to an http(s) server, without
    control characters (a URL has none, RFC 3986 §2; blanks may sit in `{{ name }}` placeholders)."""
    if any(char < " " or char == "\x7f" for char in value):
        raise ValueError("expected an http(s) URL template without control characters (TAB, CR, LF, NUL…)")
    try:
        compile_ad_tag(value)
    except ValueError:
        raise ValueError("expected a URL template starting with a literal scheme and '//', e.g. 'https://'") from None
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an http(s) URL template such as 'https://ads.example/tag?ip={{client.ipaddress}}'")
    return value


def _header_name(name: str) -> str:
    try:
        compile_headers({name: ""})
    except ValueError:
        raise ValueError("expected an RFC 9110 token such as 'X-Custom-Header'") from None
    return name


def _header_value(value: str) -> str:
    try:
        compile_headers({"X-Checked": value})
    except ValueError:
        raise ValueError("expected text without control characters (CR, LF, NUL…)") from None
    return value


# --- field types ---

# What the checks above refuse, written in the JSON Schema of the OpenAPI document (ECMA-262 patterns, JSON
# Schema 2020-12 §7.3.5 `format: uri`) so that a client learns it there; the checks themselves stay the judges
# (a pattern cannot say "the port is a number"), and are never looser than these.
_HTTP = "^[Hh][Tt][Tt][Pp][Ss]?://"
WEB_URL_SCHEMA = {"format": "uri", "pattern": _HTTP + r"[^\x00-\x20\x7f/?#]+([/?#][^\x00-\x20\x7f]*)?$"}
URL_TEMPLATE_SCHEMA = {"pattern": _HTTP + r"[^\x00-\x1f\x7f/?#][^\x00-\x1f\x7f]*$"}
HEADER_NAME_SCHEMA = {"pattern": _HEADER_TOKEN}
HEADER_VALUE_SCHEMA = {"pattern": r"^[^\x00-\x08\x0a-\x1f\x7f]*$"}  # HTAB is the one control character allowed

Text = Annotated[str, Field(max_length=MAX_TEXT)]
WebUrl = Annotated[str, Field(max_length=MAX_URL, json_schema_extra=WEB_URL_SCHEMA), AfterValidator(_http_url)]
UrlTemplate = Annotated[
    str, Field(max_length=MAX_URL, json_schema_extra=URL_TEMPLATE_SCHEMA), AfterValidator(_url_template)
]
HeaderName = Annotated[
    str, Field(min_length=1, max_length=256, json_schema_extra=HEADER_NAME_SCHEMA), AfterValidator(_header_name)
]
HeaderValue = Annotated[
    str, Field(max_length=MAX_URL, json_schema_extra=HEADER_VALUE_SCHEMA), AfterValidator(_header_value)
]
Headers = Annotated[dict[HeaderName, HeaderValue], Field(max_length=50)]
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")]
# An account id is stored in a 64-character column (migration 0001): refuse longer ones here, not in the database.
AccountId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class Body(BaseModel):
    # strict: JSON types as sent, no coercion; frozen: a validated body is not edited in place.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)
