"""Where every ad tag variable takes its value from: the table of names.

`proxy.ads.macros` compiles templates; this module says, for each variable name, how to read its value
from an `AdContext`, how the value is encoded in a URL and who it depends on (`Variable.scope`).
Sources: Brightcove Live API "Ad configuration variables", Video Cloud SSAI API "Ad variables",
AWS MediaTailor "ADS dynamic variables", IAB VAST 4.3 §6 macros (`[MACRO]`s).

The values come from an `AdContext` (proxy.ads.context); the scte.* / scte35_* ones from the break's SCTE-35
section (proxy.ads.scte35_vars).
"""

from __future__ import annotations

import math
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from proxy.ads.context import AdContext, ViewerInfo
from proxy.ads.scte35_vars import PRIVATE_DATA, SCTE_NAMES

# channel: configuration only; break: the break's markers (same for every viewer); time: the clock;
# session: the viewer or their session; request: drawn per ad request. The last two are personal.
Scope = Literal["channel", "break", "time", "session", "request"]
# encoded: percent-encoded; raw: inserted as given (only what is never valid in a URL is encoded).
Encoding = Literal["encoded", "raw"]
Resolver = Callable[[AdContext], str]

PERSONAL: frozenset[Scope] = frozenset({"session", "request"})


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    scope: Scope
    encoding: Encoding
    resolve: Resolver
    known: bool = True

    @property
    def personal(self) -> bool:
        return self.scope in PERSONAL


# --- value helpers ----------------------------------------------------------------------------------------


def _mix(seed: int, stream: int) -> int:
    """splitmix64 of (seed, stream): independent 64-bit draws per variable from one seed, no state."""
    z = (seed + (stream + 1) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


def _signed(bits: int, width: int) -> int:
    bits &= (1 << width) - 1
    return bits - (1 << width) if bits >> (width - 1) else bits


def _uuid4(bits: int) -> str:
    return str(uuid.UUID(int=(bits << 64) | _mix(bits, 0), version=4))


def _half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _ms(seconds: float | None) -> str:
    return "" if seconds is None or not math.isfinite(seconds) else str(_half_up(seconds * 1000))


def _secs(seconds: float) -> str:
    return str(_half_up(seconds)) if math.isfinite(seconds) else ""


def _iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")


# --- resolver factories -----------------------------------------------------------------------------------


def _viewer(get: Callable[[ViewerInfo], str]) -> Resolver:
    return lambda ctx: get(ctx.viewer) if ctx.viewer is not None else ""


def _random(name: str, draw: Callable[[int], object]) -> Resolver:
    stream = zlib.crc32(name.encode())
    return lambda ctx: str(draw(_mix(ctx.seed, stream)))


def _clock(fmt: Callable[[float], str]) -> Resolver:
    return lambda ctx: fmt(ctx.now)


def _duration(fmt: Callable[[float], str]) -> Resolver:
    return lambda ctx: fmt(ctx.brk.duration)


def _scte(name: str) -> Resolver:
    return lambda ctx: ctx.brk.scte.get(name, "")


def _param(name: str) -> Resolver:
    return lambda ctx: ctx.viewer.params.get(name, "") if ctx.viewer is not None else ""


def _page(name: str) -> Resolver:
    """Video Cloud SSAI API "Client-side macros": the value the player filled in for `name={name}` of its manifestUrl
    and sent back on a master request; the placeholder itself, unfilled, is no value."""
    unfilled = "{" + name + "}"

    def resolve(ctx: AdContext) -> str:
        value = ctx.viewer.params.get(name, "") if ctx.viewer is not None else ""
        return "" if value == unfilled else value

    return resolve


def _free(name: str) -> Resolver:
    """A free name (Brightcove Live API "Targeting ads using ad macros"): the cue point's ad_server_data first (the
    operator's value for this break), then the session's query parameters."""

    def resolve(ctx: AdContext) -> str:
        value = ctx.brk.ad_server_data.get(name, "")
        if value or ctx.viewer is None:
            return value
        return ctx.viewer.params.get(name, "")

    return resolve


def _empty(ctx: AdContext) -> str:
    return ""


_RANDOMS: dict[str, Callable[[int], object]] = {
    # Brightcove Live API table
    "random.int32": lambda r: _signed(r, 32),
    "random.int64": lambda r: _signed(r, 64),
    "random.uint32": lambda r: r & 0xFFFFFFFF,
    "random.uint64": lambda r: r,
    "random.uuid": _uuid4,
    # Video Cloud SSAI API system.*: "random 64-bit integer" as a non-negative 63-bit number, valid signed or not
    "system.uuid": _uuid4,
    "system.random_guid": _uuid4,
    "system.random_number_32": lambda r: r & 0x7FFFFFFF,
    "system.xfp.correlator": lambda r: r >> 1,
    "system.xfp.scor": lambda r: r >> 1,
    # MediaTailor avail.random: 0 to 10,000,000,000 per request
    "avail.random": lambda r: r % 10_000_000_001,
    # VAST 4.3 §6 (IAB): CACHEBUSTING a random 8-digit integer, TRANSACTIONID a UUID
    "CACHEBUSTING": lambda r: 10_000_000 + r % 90_000_000,
    "TRANSACTIONID": _uuid4,
}

_SESSION: dict[str, Callable[[ViewerInfo], str]] = {
    "session.session_id": lambda v: v.session_id,  # Brightcove Live API
    "client.useragent": lambda v: v.user_agent,
    "client.ipaddress": lambda v: v.client_ip,
    "client.referrer": lambda v: v.referer,
    "client.referer": lambda v: v.referer,
    "client.ipuaid": lambda v: v.ip_ua_hash,
    "system.user_agent": lambda v: v.user_agent,  # Video Cloud SSAI API
    "system.referer": lambda v: v.referer,
    "system.ip_address": lambda v: v.client_ip,
    "system.x_forwarded_for": lambda v: v.forwarded_for,
    "system.unique_user_id": lambda v: v.ip_ua_hash,
    "system.xfp.ip_address": lambda v: v.client_ip,
    "system.xfp.unique_user_id": lambda v: v.ip_ua_hash,
    "session.id": lambda v: v.number,  # MediaTailor: numeric, one per session
    "session.uuid": lambda v: v.uuid,
    "session.client_ip": lambda v: v.client_ip,
    "session.referer": lambda v: v.referer,
    "session.user_agent": lambda v: v.user_agent,
    "DEVICEIP": lambda v: v.client_ip,  # VAST 4.3 §6
    "DEVICEUA": lambda v: v.user_agent,
    "PAGEURL": lambda v: v.referer,
}

_TIME: dict[str, Callable[[float], str]] = {
    "server.timestamputc": lambda now: str(math.floor(now * 1000)),  # Brightcove Live API: epoch milliseconds
    "live.adbreak.timestamputc.wallclock": lambda now: str(math.floor(now * 1000)),
    "system.unix_timestamp": lambda now: str(math.floor(now)),  # Video Cloud SSAI API: unix timestamp, seconds
    "system.timestamp_utc": lambda now: str(math.floor(now)),
    "TIMESTAMP": _iso,  # VAST 4.3 §6: ISO 8601 with milliseconds
}

_BREAK: dict[str, Resolver] = {
    "live.adbreakdurationms": _duration(_ms),  # Brightcove Live API
    "live.adbreakduration": _duration(lambda s: repr(float(s)) if math.isfinite(s) else ""),  # a double
    "live.adbreakdurationint": _duration(_secs),
    "live.adbreak.timestamputc.origin": lambda ctx: _ms(ctx.brk.origin_time),
    "session.avail_duration_ms": _duration(_ms),  # MediaTailor
    "session.avail_duration_secs": _duration(_secs),  # "rounded": half up
}


def _table() -> dict[str, Variable]:
    table: dict[str, Variable] = {}
    for name, draw in _RANDOMS.items():
        table[name] = Variable(name, "request", "encoded", _random(name, draw))
    for name, get in _SESSION.items():
        table[name] = Variable(name, "session", "encoded", _viewer(get))
    for name, clock in _TIME.items():
        table[name] = Variable(name, "time", "encoded", _clock(clock))
    for name, resolve in _BREAK.items():
        table[name] = Variable(name, "break", "encoded", resolve)
    for name in SCTE_NAMES:
        table[name] = Variable(name, "break", "encoded", _scte(name))
    extra = [
        Variable("job.job_id", "channel", "encoded", lambda ctx: ctx.channel.job_id),
        Variable("application_ad_configuration.description", "channel", "encoded", lambda c: c.channel.description),
        Variable("live.adbreak", "channel", "encoded", _empty),  # Brightcove Live API: "(currently unused)"
        Variable("live.adbreak.timestamputc.session", "session", "encoded", lambda c: _ms(c.session_break_time)),
        Variable("avail.index", "session", "encoded", lambda c: "" if c.avail_index is None else str(c.avail_index)),
        Variable("SERVERSIDE", "channel", "encoded", lambda ctx: "1"),  # IAB: 1 = server on behalf of the client
    ]
    return table | {v.name: v for v in extra}


TABLE: Mapping[str, Variable] = _table()
# Namespaces whose every name is listed above: another name in them is unknown (renders empty, logged).
KNOWN_NAMESPACES = frozenset(
    {"session", "job", "application_ad_configuration", "random", "server", "client", "live", "system", "avail"}
    | {"scte"}
)
# Undotted names a `[NAME]` may use (scte35_*, IAB macros); another `[word]` is text (IAB: leave unknown macros).
BRACKET_WORDS = frozenset(name for name in TABLE if "." not in name)


def _prefixed(name: str) -> Variable | None:
    """The open namespaces: any name under them is valid and may simply have no value."""
    head, dot, rest = name.partition(".")
    if not dot:
        return None
    if head == "url":  # Video Cloud SSAI API: query params, "not url encoded when inserting into the template"
        return Variable(name, "session", "raw", _param(rest))
    if head == "player_params":  # MediaTailor: "URL-decodes the values once before substituting them"
        return Variable(name, "session", "raw", _param(rest))
    if head == "metadata":  # Video Cloud SSAI API: "URL encoded before being inserted"
        return Variable(name, "channel", "encoded", lambda ctx: ctx.channel.metadata.get(rest, ""))
    if head == "asset":  # MediaTailor: EXT-X-ASSET values are URL-encoded in the origin, passed as they are
        return Variable(name, "break", "raw", lambda ctx: ctx.brk.asset.get(rest, ""))
    if head == "page":  # Video Cloud SSAI API: client-side macros, never sent as written; the player's value or empty
        return Variable(name, "session", "encoded", _page(rest))
    if name.startswith(PRIVATE_DATA) and name[len(PRIVATE_DATA) :].isdigit():
        return Variable(name, "break", "encoded", _scte(name))
    return None


def page_names(variables: Iterable[str]) -> tuple[str, ...]:
    """The client-side macros among `variables`, without their `page.` prefix, sorted."""
    return tuple(sorted({name.removeprefix("page.") for name in variables if name.startswith("page.")}))


def lookup(name: str) -> Variable:
    """The variable a placeholder names: the table, the open namespaces, an unknown name of a known
    namespace (known=False, renders empty), or else a free name (Brightcove Live API: from the session's query
    parameters or the cue point's ad_server_data)."""
    found = TABLE.get(name) or _prefixed(name)
    if found is not None:
        return found
    if name.partition(".")[0] in KNOWN_NAMESPACES:
        return Variable(name, "channel", "encoded", _empty, known=False)
    return Variable(name, "session", "encoded", _free(name))
