"""Ad tag templates and custom headers: compiled once, rendered per ad request without a regex.

Three placeholder syntaxes, mixed freely, every name usable in each (names: `proxy.ads.template_vars`):
- `{{client.ipaddress}}`, `{{deviceid}}`: Brightcove Live API; `{{ system.ip_address }}`, `{{ url.x }}`:
  Video Cloud SSAI API (whitespace allowed inside the braces).
- `[session.id]`, `[player_params.x]`, `[scte.event_id]`, `[avail.index]`: MediaTailor
  (AWS MediaTailor "ADS dynamic variables"). A bracket is a placeholder only around a dotted name or an undotted name
  of the table (`[scte35_eventID]`, the IAB macros we fill: `[CACHEBUSTING]`, `[TIMESTAMP]`, …
  IAB VAST 4.3 §6); `http://[::1]:8080/`, `%5Bx%5D`, `[word]` and `[ADCATEGORIES]` stay text.

Encoding (in URLs): `url.*` (Video Cloud SSAI API "URL variables": "not url encoded"), `player_params.*`
(MediaTailor: values "URL-decoded once before substituting them") and `asset.*` (MediaTailor: already
URL-encoded in the origin) are inserted raw: only what is never valid in a URL (space, controls,
non-ASCII, `"<>\\^`{|}`) and `#` (which would cut the query) are percent-encoded. Everything else is
percent-encoded (Video Cloud SSAI API: `system.*` and `metadata.*` "must be URI-encoded"; Brightcove Live API does not
say, and encoding is the safe reading). `{{ page.* }}` (Video Cloud SSAI API "Client-side macros") is never sent as
written: it is the value the player sent back for it (see proxy.web.playlists), else empty. An unknown name of a known
namespace renders empty and is logged once, when compiled.

`defaults` (Video Cloud SSAI API `template_url.defaults`) give a value to a variable that renders empty: a literal or
text referring to other variables (`{"url.foo": "{{ metadata.title_id }}"}`). A default is encoded like
the variable it stands for, and a variable it refers to by the stricter of the two rules. A default that
refers back to itself (directly or through others) stops there and renders empty.

Scheme, host and port: a template must start with a literal `scheme://`; the authority runs to the first
literal `/`, `?` or `#`. Only configuration values (scope "channel") may fill a placeholder there, always
percent-encoded, so they cannot add a delimiter, `@` or `:`; anything else placed there renders empty
(logged when compiled). Past that delimiter no value can change what urlsplit or a WHATWG parser takes
as the scheme, host or port.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from proxy.ads.context import AdContext
from proxy.ads.template_vars import BRACKET_WORDS, Encoding, Resolver, lookup

log = logging.getLogger("proxy.ads.macros")
counts: Counter[str] = Counter()  # unknown_variables, refused_variables, default_loops (at compile time)

_NAME = r"[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*"
_PLACEHOLDER = re.compile(rf"\{{\{{\s*({_NAME})\s*\}}\}}|\[({_NAME})\]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §5.6.2 token
_RAW_SAFE = "!$&'()*+,/:;=?@[]%"  # reserved characters a raw value keeps; `#` is not among them
_DELIMITERS = "/?#"
_MAX_DEPTH = 8  # defaults referring to defaults: deeper chains are cut like a loop
_CONTROLS = {code: None for code in (*range(32), 127)} | {9: " "}
_CONTROL_CHARS = frozenset(chr(code) for code in (*range(32), 127)) - {"\t"}

__all__ = [
    "AdTagTemplate",
    "HeaderTemplate",
    "compile_ad_tag",
    "compile_headers",
    "counts",
    "forwarding_headers",
]


@dataclass(frozen=True, slots=True)
class _Ref:
    name: str
    text: str  # the placeholder as written


def _encoded(value: str) -> str:
    return quote(value, safe="", errors="replace")


def _raw(value: str) -> str:
    return quote(value, safe=_RAW_SAFE, errors="replace")


def _header(value: str) -> str:
    """A header value from a variable: controls dropped (no CR/LF can split the header), tab as a space,
    text that is not valid UTF-8 (a lone surrogate) replaced, surrounding blanks trimmed."""
    value = value.translate(_CONTROLS)
    if not value.isascii():
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value.strip()


_ENCODERS: dict[str, Callable[[str], str]] = {"encoded": _encoded, "raw": _raw, "header": _header}


class _Slot:
    """One placeholder: its resolver, its encoder and the compiled default used when it is empty."""

    __slots__ = ("resolve", "encode", "fallback")

    def __init__(self, resolve: Resolver, encode: Callable[[str], str], fallback: tuple[Piece, ...] | None):
        self.resolve = resolve
        self.encode = encode
        self.fallback = fallback

    def render(self, ctx: AdContext) -> str:
        value = self.resolve(ctx)
        if value:
            return self.encode(value)
        if self.fallback is None:
            return ""
        return _join(self.fallback, ctx)


Piece = str | _Slot


def _join(pieces: tuple[Piece, ...], ctx: AdContext) -> str:
    return "".join([piece if isinstance(piece, str) else piece.render(ctx) for piece in pieces])


def _tokens(text: str) -> list[str | _Ref]:
    found: list[str | _Ref] = []
    at = 0
    for match in _PLACEHOLDER.finditer(text):
        curly, square = match.group(1), match.group(2)
        if square is not None and "." not in square and square not in BRACKET_WORDS:
            continue  # `[word]` is text
        found += [text[at : match.start()], _Ref(curly or square or "", match.group(0))]
        at = match.end()
    found.append(text[at:])
    return found


def _authority_end(template: str, tokens: list[str | _Ref]) -> int:
    """The index of the token holding the first literal `/?#` after `scheme://`: placeholders before it
    sit in the scheme or authority."""
    first = tokens[0]
    scheme = _SCHEME.match(first) if isinstance(first, str) else None
    if scheme is None:
        raise ValueError(f"ad tag template {template!r}: expected a literal scheme and '//' first, e.g. 'https://'")
    for index, token in enumerate(tokens):
        if isinstance(token, str):
            text = token[scheme.end() :] if index == 0 else token
            if any(delimiter in text for delimiter in _DELIMITERS):
                return index
    return len(tokens)


class _Compiler:
    """Turns tokens into pieces and records what the template uses, for `personal` and the logs."""

    def __init__(self, defaults: Mapping[str, str], header: bool) -> None:
        self.defaults = {name.strip(): _tokens(text) for name, text in defaults.items()}
        self.header = header
        self.variables: set[str] = set()
        self.unknown: set[str] = set()
        self.refused: set[str] = set()
        self.loops: set[str] = set()
        self.personal = False

    def pieces(self, tokens: list[str | _Ref], authority_end: int = 0) -> tuple[Piece, ...]:
        pieces: list[Piece] = []
        for index, token in enumerate(tokens):
            piece = token if isinstance(token, str) else self.slot(token, None, index < authority_end, ())
            if isinstance(piece, str) and pieces and isinstance(pieces[-1], str):
                pieces[-1] += piece
            elif piece != "":
                pieces.append(piece)
        return tuple(pieces)

    def slot(self, ref: _Ref, target: str | None, authority: bool, stack: tuple[str, ...]) -> Piece:
        variable = lookup(ref.name)
        self.variables.add(variable.name)
        if not variable.known:
            self.unknown.add(variable.name)
        resolve = variable.resolve
        if authority and variable.scope != "channel":
            self.refused.add(variable.name)
            resolve = _nothing
        elif variable.personal:
            self.personal = True
        encoding = self._encoding(target, variable.encoding, authority)
        return _Slot(resolve, _ENCODERS[encoding], self._fallback(variable.name, encoding, authority, stack))

    def _encoding(self, target: str | None, own: Encoding, authority: bool) -> str:
        if self.header:
            return "header"
        if authority or target == "encoded" or own == "encoded":
            return "encoded"
        return "raw"

    def _fallback(self, name: str, encoding: str, authority: bool, stack: tuple[str, ...]) -> tuple[Piece, ...] | None:
        tokens = self.defaults.get(name)
        if tokens is None:
            return None
        if name in stack or len(stack) >= _MAX_DEPTH:
            self.loops.add(name)
            return None
        encode = _ENCODERS[encoding]
        inner = (*stack, name)
        pieces = [encode(t) if isinstance(t, str) else self.slot(t, encoding, authority, inner) for t in tokens]
        return tuple(piece for piece in pieces if piece != "")

    def report(self, what: str) -> None:
        if self.unknown:
            counts["unknown_variables"] += len(self.unknown)
            log.warning(
                "%s: unknown variable(s) %s render empty; expected a name of the Live, Video Cloud or MediaTailor "
                "tables (proxy.ads.template_vars)",
                what,
                ", ".join(sorted(self.unknown)),
            )
        if self.refused:
            counts["refused_variables"] += len(self.refused)
            log.warning(
                "%s: %s sit in the scheme, host or port and render empty there; expected only configuration "
                "values (job.*, application_ad_configuration.*, metadata.*) before the first '/', '?' or '#'",
                what,
                ", ".join(sorted(self.refused)),
            )
        if self.loops:
            counts["default_loops"] += len(self.loops)
            log.warning(
                "%s: the defaults of %s refer back to themselves (or nest deeper than %d); expected a default that "
                "ends in a literal or another variable; the loop renders empty",
                what,
                ", ".join(sorted(self.loops)),
                _MAX_DEPTH,
            )


def _nothing(ctx: AdContext) -> str:
    return ""


@dataclass(frozen=True, slots=True, eq=False)
class AdTagTemplate:
    """A compiled ad tag. personal False: the URL depends on no viewer, session or per-request random
    value, so one rendered URL (and one ad response) can serve every viewer of a break."""

    template: str
    personal: bool
    variables: frozenset[str]
    unknown: frozenset[str]
    refused: frozenset[str]
    pieces: tuple[Piece, ...] = field(repr=False)

    def render(self, ctx: AdContext) -> str:
        return _join(self.pieces, ctx)


def compile_ad_tag(template: str, *, defaults: Mapping[str, str] | None = None) -> AdTagTemplate:
    """Compile an ad tag URL template; raises ValueError when it does not start with `scheme://`."""
    tokens = _tokens(template)
    end = _authority_end(template, tokens)
    compiler = _Compiler(defaults or {}, header=False)
    pieces = compiler.pieces(tokens, end)
    compiler.report(f"ad tag {template!r}")
    return AdTagTemplate(
        template,
        compiler.personal,
        frozenset(compiler.variables),
        frozenset(compiler.unknown),
        frozenset(compiler.refused),
        pieces,
    )


@dataclass(frozen=True, slots=True, eq=False)
class HeaderTemplate:
    """Compiled custom headers (Brightcove Live API `ad_configuration_headers`). Values are not URL-encoded; a header
    whose value renders empty is left out."""

    personal: bool
    variables: frozenset[str]
    unknown: frozenset[str]
    headers: tuple[tuple[str, tuple[Piece, ...]], ...] = field(repr=False)

    def render(self, ctx: AdContext) -> dict[str, str]:
        rendered = {}
        for name, pieces in self.headers:
            value = _join(pieces, ctx).strip()
            if value:
                rendered[name] = value
        return rendered


def compile_headers(headers: Mapping[str, str], *, defaults: Mapping[str, str] | None = None) -> HeaderTemplate:
    """Compile header templates; raises ValueError for a name that is not an RFC 9110 token or literal
    text holding a control character (CR, LF, NUL…)."""
    compiler = _Compiler(defaults or {}, header=True)
    compiled = []
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"ad request header name {name!r}: expected an RFC 9110 token such as 'X-Custom-Header'")
        tokens = _tokens(value)
        for token in tokens:
            if isinstance(token, str) and any(char in _CONTROL_CHARS for char in token):
                raise ValueError(f"ad request header {name}: value {value!r} holds a control character; expected text")
        compiled.append((name, compiler.pieces(tokens)))
    compiler.report(f"ad request headers {sorted(headers)!r}")
    return HeaderTemplate(
        compiler.personal, frozenset(compiler.variables), frozenset(compiler.unknown), tuple(compiled)
    )


def forwarding_headers(ctx: AdContext, *, pass_user_agent: bool = False) -> dict[str, str]:
    """The viewer's identity for an ad request made on their behalf (VAST 4.3 §1.1.3;
    Brightcove Live API "Standard headers are handled by default"): X-Forwarded-For, X-Device-IP,
    X-Device-User-Agent and X-Device-Referer when known. `User-Agent` stays the proxy's own, as IAB asks,
    unless `pass_user_agent` (MediaTailor's behaviour, for ad servers that ignore X-Device-*). Nothing for
    a request shared by every viewer (`ctx.viewer` None)."""
    viewer = ctx.viewer
    if viewer is None:
        return {}
    headers = {
        "X-Forwarded-For": viewer.client_ip,
        "X-Device-IP": viewer.client_ip,
        "X-Device-User-Agent": viewer.user_agent,
        "X-Device-Referer": viewer.referer,
    }
    if pass_user_agent:
        headers["User-Agent"] = viewer.user_agent
    return {name: clean for name, value in headers.items() if (clean := _header(value))}
