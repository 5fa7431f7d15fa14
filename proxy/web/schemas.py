"""Request bodies of the control API (issue #5), validated before anything is stored.

- `ApplicationBody`: seed 002 "Create/Update an ad configuration" (`POST /applications`, `PUT …/application/ID`;
  the update is a whole body, as in the seed).
- `SlateBody`: seed 002 "Add slate asset"; `SlateUpdate`: this product's change of a slate (the default).
- `SsaiConfig`: seed 003 `ssai_configs`, every field of its "Configuration field details" table; a PUT is partial
  (the seed's update sample is `{"name": …}`), so `merge_ssai_config` merges it into the stored document and
  validates the result.
- `ChannelBody`: this product's own operator API (no seed): an origin, the ad configuration and slate driving it.
- `CuePointBody`: a manual cue point (seed 002 "Using manual cue points" refers to a document the seed lacks).

Every model refuses unknown fields and values of the wrong JSON type (no "1" for 1, no 1 for true): an operator
typo must fail loudly, not configure a default. Lengths are bounded so one body cannot store megabytes. Ad tag
and header templates and XSLT transforms are compiled here with the same code the proxy runs them with, so a
stored configuration always compiles later. `parse` turns the first error into one `BadRequest` sentence:
`path = value: expected …`, the value cut to `SHOWN_CHARS`.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from proxy.ads import xslt
from proxy.ads.macros import compile_ad_tag, compile_headers
from proxy.errors import BadRequest, RequestTooLarge, TransformRefused
from proxy.settings import ad_response_of, flat_metadata
from proxy.web.limits import BodyLimit

__all__ = [
    "AdConfiguration",
    "BEACON_TYPES",
    "RESPONSE_TYPES",
    "AdTransform",
    "ApplicationBody",
    "BeaconTemplate",
    "BeaconUrl",
    "ChannelBody",
    "ChannelOptions",
    "CuePointBody",
    "Discontinuities",
    "MAX_TRANSFORMS",
    "MAX_XSLT",
    "SHOWN_CHARS",
    "SlateBody",
    "SlateUpdate",
    "SsaiAdConfig",
    "SsaiConfig",
    "TemplateUrl",
    "ad_response_of",
    "decode_object",
    "merge_channel",
    "merge_patch",
    "merge_ssai_config",
    "model_schemas",
    "parse",
    "validate",
]

T = TypeVar("T", bound=BaseModel)

SHOWN_CHARS = 200  # at most this much of a bad value is echoed back
MAX_TEXT = 1000  # names and descriptions
MAX_URL = 4096  # URLs and templates
MAX_XSLT = 64 * 1024
MAX_TRANSFORMS = 20  # with MAX_XSLT, what makes an ad configuration the largest body (proxy/web/limits.py)
MAX_METADATA = 100  # a channel's metadata values, nested ones counted
_METADATA_KEY = re.compile(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*")
_HEADER_TOKEN = r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$"  # RFC 9110 §5.6.2 token, as proxy.ads.macros checks it
RESPONSE_TYPES = ("Dfp", "Vast", "SmartXML")  # seed 002's spelling
BeaconType = Literal[
    "content_start", "content_first_quartile", "content_midpoint", "content_third_quartile", "content_complete",
    "content_quartiles", "content_interval", "ad_start", "ad_first_quartile", "ad_midpoint", "ad_third_quartile",
    "ad_complete", "ad_quartiles", "ad_break_start", "ad_break_end", "segment_start", "segment_end", "on_load",
]  # fmt: skip
BEACON_TYPES: tuple[str, ...] = typing.get_args(BeaconType)  # seed 003's 18 values
# Seed 003 answers with these beside the body; they are the server's, never the client's.
SSAI_SERVER_FIELDS = frozenset({"config_id", "account_id", "created_timestamp", "updated_timestamp"})


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


def _refusal(error: TransformRefused) -> ValueError:
    """proxy.ads.xslt's reason, cut: it may quote an expression of the stylesheet at length."""
    reason = error.detail
    if len(reason) > SHOWN_CHARS:
        reason = reason[:SHOWN_CHARS] + "…"
    return ValueError(f"expected a transform the proxy accepts: {reason}")


def _stylesheet(value: str) -> str:
    try:
        xslt.compile_check(value)
    except TransformRefused as error:
        raise _refusal(error) from None
    except ValueError:  # a lone surrogate cannot be encoded as UTF-8 (only from Python callers: JSON refuses it)
        raise ValueError("expected an XSLT 1.0 stylesheet in valid UTF-8") from None
    return value


def _xpath(value: str) -> str:
    try:
        xslt.check_xpath(value)
    except TransformRefused as error:
        raise _refusal(error) from None
    return value


def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    """Seed 003 `metadata.*`: strings, or objects of them (rendered as dotted paths), bounded in size."""
    try:
        flat = flat_metadata(value)
    except ValueError as error:
        raise ValueError(f"expected strings or nested objects of strings; {error}") from None
    if len(flat) > MAX_METADATA:
        raise ValueError(f"expected at most {MAX_METADATA} values, got {len(flat)}")
    for path, text in flat.items():
        if len(text) > MAX_TEXT or not _METADATA_KEY.fullmatch(path):
            raise ValueError(f"metadata.{path} = {text[:SHOWN_CHARS]!r}: expected a key of [A-Za-z0-9_-] and a value "
                             f"of at most {MAX_TEXT} characters")  # fmt: skip
    return value


def _response_type(value: str) -> str:
    """Seed 002's response type in any case, stored in the seed's spelling."""
    for name in RESPONSE_TYPES:
        if value.lower() == name.lower():
            return name
    raise ValueError(f"expected one of {', '.join(map(repr, RESPONSE_TYPES))}")


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
VariableName = Annotated[str, Field(max_length=256, pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*$")]
Defaults = Annotated[dict[VariableName, Annotated[str, Field(max_length=MAX_URL)]], Field(max_length=50)]
DataKey = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
METADATA_SCHEMA = {
    "propertyNames": {"pattern": f"^{_METADATA_KEY.pattern}$"},
    "additionalProperties": {"anyOf": [{"type": "string", "maxLength": MAX_TEXT}, {"type": "object"}]},
    "maxProperties": MAX_METADATA,
}
Metadata = Annotated[dict[str, Any], Field(json_schema_extra=METADATA_SCHEMA), AfterValidator(_metadata)]
Versions = Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=20)]


class _Body(BaseModel):
    # strict: JSON types as sent, no coercion; frozen: a validated body is not edited in place.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


# --- seed 002: applications (ad configurations) and slates ---


class AdTransform(_Body):
    """One of `ad_configuration_transforms`: `xslt` applied to an ad response when `xpath` matches it."""

    xpath: Annotated[str, Field(max_length=MAX_URL, description="an XPath 1.0 selector"), AfterValidator(_xpath)]
    xslt: Annotated[str, Field(max_length=MAX_XSLT, description="an XSLT 1.0 stylesheet"), AfterValidator(_stylesheet)]


class AdConfiguration(_Body):
    """Seed 002 `application_ad_configuration`."""

    ad_configuration_description: Text = ""
    ad_configuration_expected_response_type: Annotated[
        str,
        Field(description="one of 'Dfp', 'Vast', 'SmartXML' (any case)", json_schema_extra={"enum": RESPONSE_TYPES}),
        AfterValidator(_response_type),
    ]
    ad_configuration_headers: Headers = Field(default_factory=dict, description="header name → value template")
    ad_configuration_headers_for_impressions: bool = False
    ad_configuration_strategy: Literal["SingleAdResponse", "MultipleAdResponse"] = "MultipleAdResponse"
    ad_configuration_transforms: list[AdTransform] = Field(default_factory=list, max_length=MAX_TRANSFORMS)
    ad_configuration_url_format: UrlTemplate = Field(description="the ad tag: an http(s) URL template")


class ApplicationBody(_Body):
    """Seed 002 application, for create and update alike (the seed's update sends the whole body)."""

    application_ad_configuration: AdConfiguration = Field(description="the ad configuration object")
    application_description: Text = ""
    account_id: AccountId | None = None


class SlateBody(_Body):
    """Seed 002 "Add slate asset": a video the media pipeline transcodes to each channel's ladder."""

    source_url: WebUrl = Field(description="the http(s) URL of the slate video")
    account_id: AccountId | None = None
    source_description: Text = ""


class SlateUpdate(_Body):
    """A slate's change (seed 002 only adds and deletes slates): `media_source_asset_default: true` makes it the
    account's default slate (`default` is accepted for it), and the description may change."""

    media_source_asset_default: bool | None = Field(default=None, description="true: the account's default")
    default: bool | None = Field(default=None, description="the same as media_source_asset_default")
    media_source_asset_description: Text | None = None

    @field_validator("default")
    @classmethod
    def _one_default(cls, default: bool | None, info: ValidationInfo) -> bool | None:
        given = info.data.get("media_source_asset_default")
        if default is not None and given is not None and default != given:
            raise ValueError(f"expected {given!r} as media_source_asset_default, or only one of the two")
        return default

    @property
    def wanted_default(self) -> bool | None:
        return self.media_source_asset_default if self.media_source_asset_default is not None else self.default


# --- seed 003: ssai_configs ---


class Discontinuities(_Body):
    """Seed 003 `discontinuities`: stored and returned; this proxy's HLS always has them at every boundary
    (RFC 8216bis §6.2), and it serves no DASH."""

    dash: Versions = Field(default_factory=list)
    hls: Versions = Field(default_factory=list)


class TemplateUrl(_Body):
    template: UrlTemplate = Field(description="the ad tag: an http(s) URL template")
    defaults: Defaults = Field(default_factory=dict, description="variable name → default value or template")


class SsaiAdConfig(_Body):
    """Seed 003 `ad_config`."""

    expected_ad_response: Literal["dfp_ad_rules", "dfp_vmap", "smart_xml", "vast_3_0"] = Field(
        description="how the ad response is parsed"
    )
    disable_server_beacons: bool = False
    template_url: TemplateUrl = Field(description="the ad tag template object")


class BeaconUrl(_Body):
    template: UrlTemplate = Field(description="the beacon: an http(s) URL template")


class BeaconTemplate(_Body):
    type: BeaconType = Field(description="when the beacon fires")
    template_url: BeaconUrl = Field(description="the beacon template object")


class SsaiConfig(_Body):
    """Seed 003 ssai_config. Required on create: `name` (what lists show) and `ad_config` (a configuration
    without an ad tag inserts nothing); the rest has the seed's defaults."""

    name: Annotated[str, Field(min_length=1, max_length=MAX_TEXT, description="a human readable name")]
    vmap_response_namespace: Literal["uo", "bc"] = "bc"
    description: Text = ""
    discontinuities: Discontinuities | None = None  # None: not set (the seed gives no default)
    ad_config: SsaiAdConfig = Field(description="the ad configuration object")
    beacon_templates: list[BeaconTemplate] = Field(default_factory=list, max_length=50)
    extend_beacon_guard_ttl: bool = False


# --- this product's channels, and cue points ---


class ChannelOptions(_Body):
    # skip_running: a viewer joining mid-break gets the content for that break (README "Choices").
    break_policy: Literal["skip_running"] = "skip_running"


class ChannelBody(_Body):
    """A channel: its name is in the players' URLs (/v1/ssai/session/{name}/…), so it is short and URL-safe."""

    name: Annotated[
        str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$", description="the name in playback URLs")
    ]
    origin: WebUrl = Field(description="the http(s) URL of the origin's master playlist")
    application_id: Identifier | None = None  # seed 002 ad configuration, or…
    config_id: Identifier | None = None  # … seed 003's; at most one of them
    slate_id: Identifier | None = None
    content_segment_prefix: WebUrl | None = None
    ad_segment_prefix: WebUrl | None = None
    metadata: Metadata = Field(default_factory=dict, description="seed 003 metadata.* values: strings or objects")
    options: ChannelOptions = Field(default_factory=ChannelOptions)

    @field_validator("config_id")
    @classmethod
    def _one_ad_configuration(cls, config_id: str | None, info: ValidationInfo) -> str | None:
        # Fields validate in order: application_id is already in info.data when it was valid.
        application_id = info.data.get("application_id")
        if config_id is not None and application_id is not None:
            raise ValueError(f"expected no config_id when application_id is set ({application_id!r}): at most one")
        return config_id


class CuePointBody(_Body):
    """A manual cue point: a break of `duration` seconds starting `timecode` seconds from now (now when absent);
    `ad_server_data` fills the ad tag's free variables for that break (seed 002 "Using manual cue points")."""

    duration: float = Field(gt=0, le=600, description="the break's length in seconds")
    timecode: float | None = Field(default=None, ge=0, le=3600, description="seconds from now")
    ad_server_data: dict[DataKey, Annotated[str, Field(max_length=MAX_TEXT)]] = Field(
        default_factory=dict, max_length=50
    )


_BODIES: tuple[type[BaseModel], ...] = (
    ApplicationBody,
    SlateBody,
    SlateUpdate,
    SsaiConfig,
    ChannelBody,
    CuePointBody,
)


# --- error messages ---


def _shown(value: object) -> str:
    """`value` as Python writes it, cut to SHOWN_CHARS (text and bytes are cut before repr: a body may be MiBs)."""
    if isinstance(value, str | bytes):
        text = repr(value[:SHOWN_CHARS])
        if len(value) > SHOWN_CHARS:
            unit = "characters" if isinstance(value, str) else "bytes"
            return f"{text[:SHOWN_CHARS]}… ({len(value)} {unit})"
    else:
        text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}…"


def _unwrap(kind: Any) -> Any:
    """The type under Annotated[…] and `X | None`."""
    while True:
        origin = typing.get_origin(kind)
        if origin is Annotated:
            kind = typing.get_args(kind)[0]
        elif origin in (typing.Union, types.UnionType):
            kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
        else:
            return kind


class _Place:
    """Where an error's loc points: its written path, the type found there, its field and its parent type."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.path = ""
        self.kind: Any = model
        self.parent: Any = None
        self.field: FieldInfo | None = None

    def step(self, item: str | int) -> None:
        kind, self.parent, self.field = _unwrap(self.kind), self.kind, None
        origin = typing.get_origin(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel) and item in kind.model_fields:
            self.field = kind.model_fields[str(item)]
            self.path, self.kind = f"{self.path}.{item}", self.field.annotation
        elif origin is dict:
            self.path, self.kind = f"{self.path}[{item!r}]", typing.get_args(kind)[1]
        elif origin is list and isinstance(item, int):
            self.path, self.kind = f"{self.path}[{item}]", typing.get_args(kind)[0]
        else:
            self.path, self.kind = f"{self.path}.{item}" if isinstance(item, str) else f"{self.path}[{item}]", Any

    @property
    def name(self) -> str:
        return self.path.lstrip(".") or "body"


def _fields_of(kind: Any) -> str:
    kind = _unwrap(kind)
    names = list(kind.model_fields) if isinstance(kind, type) and issubclass(kind, BaseModel) else []
    return ", ".join(names) or "none"


_TYPES = {
    "string_type": "a string",
    "bool_type": "true or false",
    "float_type": "a number",
    "int_type": "an integer",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "finite_number": "a finite number",
}
_LIMITS: dict[str, Callable[[dict[str, Any]], str]] = {
    "string_too_long": lambda ctx: f"at most {ctx['max_length']} characters",
    "string_too_short": lambda ctx: f"at least {ctx['min_length']} character{'s' if ctx['min_length'] != 1 else ''}",
    "string_pattern_mismatch": lambda ctx: f"text matching {ctx['pattern']}",
    "too_long": lambda ctx: f"at most {ctx['max_length']} {_items(ctx)}",
    "too_short": lambda ctx: f"at least {ctx['min_length']} {_items(ctx)}",
    "greater_than": lambda ctx: f"a number > {ctx['gt']:g}",
    "greater_than_equal": lambda ctx: f"a number >= {ctx['ge']:g}",
    "less_than": lambda ctx: f"a number < {ctx['lt']:g}",
    "less_than_equal": lambda ctx: f"a number <= {ctx['le']:g}",
}


def _items(ctx: dict[str, Any]) -> str:
    return "entries" if ctx.get("field_type") == "Dictionary" else "items"


def _expected(error: ErrorDetails, place: _Place) -> str:
    """The "expected …" part of one pydantic error."""
    kind, ctx = error["type"], error.get("ctx", {})
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    if kind == "literal_error":
        options = typing.get_args(_unwrap(place.kind))
        return f"expected one of {', '.join(map(repr, options))}" if options else f"expected {ctx['expected']}"
    if kind == "extra_forbidden":
        return f"unknown field, expected one of {_fields_of(place.parent)}"
    if kind in _TYPES:
        return f"expected {_TYPES[kind]}"
    if kind in _LIMITS:
        return f"expected {_LIMITS[kind](ctx)}"
    message = error["msg"]  # a pydantic error the tables above do not know
    return f"expected {message[:1].lower()}{message[1:]}"


def _message(model: type[BaseModel], error: ErrorDetails) -> str:
    place, loc = _Place(model), list(error["loc"])
    # A key's loc is (…, key, "[key]"), its input the key; a value stored under a key named "[key]" is not one.
    is_key = len(loc) >= 2 and loc[-1] == "[key]" and error["input"] == loc[-2]
    for item in loc[:-2] if is_key else loc:
        place.step(item)
    if error["type"] == "missing":
        what = place.field.description if place.field is not None and place.field.description else "a value"
        return f"{place.name} is missing: expected {what}"
    if is_key:
        return f"{place.name} has the key {_shown(error['input'])}: {_expected(error, place)}"
    return f"{place.name} = {_shown(error['input'])}: {_expected(error, place)}"


# --- parsing and merging ---


def decode_object(raw: bytes) -> dict[str, Any]:
    """A control-plane request body as a JSON object; `RequestTooLarge` over its limit, `BadRequest` for anything
    else. (The handlers refuse an over-limit body before reading it whole, with the same limit.)"""
    if len(raw) > BodyLimit.CONTROL:
        raise RequestTooLarge(len(raw), BodyLimit.CONTROL)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadRequest(
            f"body is not JSON: {_shown(raw)} ({str(error)[:SHOWN_CHARS]}): expected a JSON object"
        ) from None
    if not isinstance(value, dict):
        raise BadRequest(f"body = {_shown(value)}: expected a JSON object")
    return value


def validate(model: type[T], value: object) -> T:
    """`value` (decoded JSON) as a `model`; `BadRequest` naming the first error's path, value and expectation."""
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise BadRequest(_message(model, error.errors(include_url=False)[0])) from None


class AccountRef(_Body):
    """An account id as every body names one; the command line (`account create --id`) checks its ids with it."""

    account_id: AccountId


def account_id(value: str) -> str:
    """`value` when the API accepts it as an account id; `BadRequest` quoting it otherwise."""
    return validate(AccountRef, {"account_id": value}).account_id


def parse(model: type[T], raw: bytes) -> T:
    """A request body (JSON bytes) as a `model`; `BadRequest` otherwise."""
    return validate(model, decode_object(raw))


def merge_patch(stored: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7396 JSON merge patch: objects merge key by key, null removes a key (the field returns to its
    default), anything else (lists included) replaces the stored value."""
    merged = dict(stored)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping):
            below = merged.get(key)
            merged[key] = merge_patch(below if isinstance(below, Mapping) else {}, value)
        else:
            merged[key] = value
    return merged


def merge_ssai_config(stored: dict[str, Any], patch: dict[str, Any]) -> SsaiConfig:
    """Seed 003's partial PUT: `patch` merged into the stored body (the server's own fields, e.g. config_id,
    are dropped from `stored`; in `patch` they are unknown fields) and validated as a whole, so an update can
    never store an invalid configuration."""
    body = {key: value for key, value in stored.items() if key not in SSAI_SERVER_FIELDS}
    return validate(SsaiConfig, merge_patch(body, patch))


def merge_channel(stored: dict[str, Any], patch: dict[str, Any]) -> ChannelBody:
    """A channel's partial update, validated as a whole. The name cannot change: players hold it in their URLs."""
    if "name" in patch and patch["name"] != stored.get("name"):
        raise BadRequest(
            f"name = {_shown(patch['name'])}: expected {_shown(stored.get('name'))} (a channel is never renamed)"
        )
    return validate(ChannelBody, merge_patch(stored, patch))


def model_schemas() -> dict[str, Any]:
    """The JSON Schema of every request body, by model name (nested models under each one's `$defs`)."""
    return {model.__name__: model.model_json_schema() for model in _BODIES}
