"""Checks of user XSLT stylesheets and XPath selectors (`ad_configuration_transforms`), before anything runs.

Layer 1 of proxy/playback/transforms.py's sandbox (OWASP XXE Prevention Cheat Sheet; lxml docs,
"I/O access control in XSLT"): a stylesheet is parsed with the hardened parser and refused for a DOCTYPE, `xsl:include`
/ `xsl:import`, `document()`, extension elements, namespaces and functions, elements outside XSLT 1.0 and
`xsl:message terminate="yes"`; it is then compiled with every XSLTAccessControl right denied. Pure: lxml only,
used at configuration time and again inside the worker processes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from proxy.ads.xmlsafe import hardened_parser
from proxy.errors import BadRequest, TransformRefused

XSL_NS = "http://www.w3.org/1999/XSL/Transform"
KiB = 1024
MiB = 1024 * KiB

MAX_STYLESHEET_BYTES = 256 * KiB
MAX_XPATH_CHARS = 4 * KiB

# XSLT 1.0 instructions and top-level elements (XSLT 1.0 §2-§16): anything else in the XSL namespace is refused,
# notably xsl:include/xsl:import (checked first, for a precise message) and libxslt's XSLT 1.1 xsl:document.
XSL_ELEMENTS = frozenset(
    {
        "stylesheet", "transform", "output", "strip-space", "preserve-space", "key", "decimal-format",
        "namespace-alias", "attribute-set", "variable", "param", "template", "apply-templates", "apply-imports",
        "call-template", "with-param", "sort", "for-each", "if", "choose", "when", "otherwise", "value-of",
        "copy-of", "copy", "element", "attribute", "text", "comment", "processing-instruction", "number",
        "message", "fallback",
    }
)  # fmt: skip
# Attributes of XSL elements that hold an XPath expression or a pattern; other attributes may hold AVTs.
XSL_EXPRESSION_ATTRIBUTES = frozenset({"select", "test", "match", "use", "count", "from", "value"})
XPATH_FUNCTIONS = frozenset(
    {
        "last", "position", "count", "id", "local-name", "namespace-uri", "name", "string", "concat",
        "starts-with", "contains", "substring-before", "substring-after", "substring", "string-length",
        "normalize-space", "translate", "boolean", "not", "true", "false", "lang", "number", "sum", "floor",
        "ceiling", "round",
    }
)  # fmt: skip
NODE_TESTS = frozenset({"node", "text", "comment", "processing-instruction"})
OPERATOR_NAMES = frozenset({"and", "or", "div", "mod"})  # `a and (b)` is not a call of and()
# document() is refused: it reads files and URLs (lxml docs); the other XSLT 1.0 functions read nothing.
XSLT_FUNCTIONS = frozenset(
    {"key", "format-number", "current", "unparsed-entity-uri", "generate-id", "system-property"}
    | {"element-available", "function-available"}
)
# Extension namespaces libxslt/lxml (or other processors) give meaning to: declaring one is refused.
EXTENSION_NAMESPACES = {
    "http://exslt.org/common": "EXSLT common (exsl:document writes files)",
    "http://exslt.org/functions": "EXSLT functions",
    "http://exslt.org/dynamic": "EXSLT dynamic (dyn:evaluate)",
    "http://exslt.org/strings": "EXSLT strings",
    "http://exslt.org/regular-expressions": "EXSLT regular expressions (ReDoS)",
    "http://exslt.org/math": "EXSLT math",
    "http://exslt.org/sets": "EXSLT sets",
    "http://exslt.org/dates-and-times": "EXSLT dates and times",
    "http://exslt.org/random": "EXSLT random",
    "http://xmlsoft.org/XSLT/namespace": "libxslt extensions",
    "http://xmlsoft.org/XSLT/": "libxslt extensions",
    "http://icl.com/saxon": "Saxon extensions",
    "http://saxon.sf.net/": "Saxon extensions",
    "http://xml.apache.org/xalan": "Xalan extensions",
    "http://xml.apache.org/xslt": "Xalan extensions",
    "http://xml.apache.org/xalan/redirect": "Xalan redirect (writes files)",
    "org.apache.xalan.xslt.extensions.Redirect": "Xalan redirect (writes files)",
    "http://php.net/xsl": "PHP functions",
    "urn:schemas-microsoft-com:xslt": "MSXSL script",
    "http://www.jclark.com/xt": "XT extensions",
    "http://exslt.org/": "EXSLT",
    "http://www.w3.org/2001/XInclude": "XInclude (loads files or URLs)",
    "http://www.w3.org/2003/XInclude": "XInclude (loads files or URLs)",
}

_TOKEN = re.compile(
    r"""(?P<string>"[^"]*"|'[^']*')
      | (?P<number>\d+(?:\.\d*)?|\.\d+)
      | (?P<name>[^\W\d][\w.\-\u00b7]*(?::[^\W\d][\w.\-\u00b7]*)?)
      | (?P<space>\s+)
      | (?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)


class StylesheetRefused(ValueError):
    """A stylesheet or XPath refused by the static checks; the message names the construct and what is expected."""


def _hardened_parser(*, encoding: str | None = None) -> etree.XMLParser:
    # One per call (lxml FAQ: a parser shared across threads serialises them).
    return hardened_parser(encoding=encoding)


def _deny_all_access() -> etree.XSLTAccessControl:
    factory: Any = etree.XSLTAccessControl  # lxml-stubs declares no constructor arguments
    access: etree.XSLTAccessControl = factory(
        read_file=False, write_file=False, create_dir=False, read_network=False, write_network=False
    )
    return access


def _prolog_has_doctype(data: bytes) -> bool:
    """True when a DOCTYPE comes before the root element (ASCII-compatible encodings; a linear scan, no regex)."""
    pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    end = min(len(data), 64 * KiB)
    while pos < end:
        if data[pos : pos + 1].isspace():
            pos += 1
        elif data.startswith(b"<?", pos):
            close = data.find(b"?>", pos + 2)
            if close < 0:
                return False
            pos = close + 2
        elif data.startswith(b"<!--", pos):
            close = data.find(b"-->", pos + 4)
            if close < 0:
                return False
            pos = close + 3
        else:
            return data.startswith(b"<!DOCTYPE", pos)
    return False


def _refuse_dtd_and_entities(root: etree._Element, what: str) -> None:
    docinfo = root.getroottree().docinfo
    # Any DOCTYPE (internal subset, SYSTEM or PUBLIC id) gives an internalDTD node (verified, lxml 6.1.3).
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.public_id:
        raise StylesheetRefused(f"{what} has a DOCTYPE: expected none (DTDs and entities are refused)")
    for entity in root.iter(etree.Entity):
        raise StylesheetRefused(f"{what} has an entity reference {entity.text!r}: expected none")


def _parse_untrusted(data: bytes, what: str, *, encoding: str | None = None) -> etree._Element:
    if _prolog_has_doctype(data):
        raise StylesheetRefused(f"{what} has a DOCTYPE: expected none (DTDs and entities are refused)")
    try:
        root = etree.fromstring(data, _hardened_parser(encoding=encoding))
    except etree.XMLSyntaxError as exc:
        raise StylesheetRefused(f"{what} is not well-formed XML: {exc}") from exc
    except PermissionError as exc:
        raise StylesheetRefused(f"{what} refers to an external resource: {exc}") from exc
    _refuse_dtd_and_entities(root, what)
    return root


def _tokens(expression: str) -> Iterator[tuple[str, str]]:
    for match in _TOKEN.finditer(expression):
        kind = match.lastgroup or "other"
        if kind != "space":
            yield kind, match.group()


def _check_expression(expression: str, where: str, *, xslt: bool) -> None:
    """Refuse calls of functions outside XPath 1.0 (and XSLT 1.0 when `xslt`), prefixed (extension)
    functions, and document()."""
    tokens = list(_tokens(expression))
    for index, (kind, text) in enumerate(tokens):
        if kind != "name" or index + 1 >= len(tokens) or tokens[index + 1][1] != "(":
            continue
        if ":" in text:
            raise StylesheetRefused(
                f"{where}: extension function {text}() in {expression!r}: expected XPath/XSLT 1.0 functions only"
            )
        if text == "document" and xslt:
            raise StylesheetRefused(
                f"{where}: document() in {expression!r} reads files or URLs: expected a self-contained transform"
            )
        allowed = XPATH_FUNCTIONS | NODE_TESTS | OPERATOR_NAMES | (XSLT_FUNCTIONS if xslt else frozenset())
        if text not in allowed:
            raise StylesheetRefused(
                f"{where}: function {text}() in {expression!r}: expected an XPath{'/XSLT' if xslt else ''} 1.0 function"
            )


def _avt_expressions(value: str) -> Iterator[str]:
    """The expressions inside the braces of an attribute value template ('{{' and '}}' are literal braces)."""
    pos, length = 0, len(value)
    while pos < length:
        char = value[pos]
        if char in "{}" and value.startswith(char * 2, pos):
            pos += 2
        elif char == "{":
            start, quote = pos + 1, ""
            pos += 1
            while pos < length and (quote or value[pos] != "}"):
                if quote and value[pos] == quote:
                    quote = ""
                elif not quote and value[pos] in "'\"":
                    quote = value[pos]
                pos += 1
            yield value[start:pos]
            pos += 1
        else:
            pos += 1


def _qname(element: etree._Element) -> str:
    qname = etree.QName(element)
    prefix = element.prefix
    return f"{prefix}:{qname.localname}" if prefix else qname.localname


def _check_stylesheet_tree(root: etree._Element) -> None:
    if etree.QName(root).namespace != XSL_NS or etree.QName(root).localname not in {"stylesheet", "transform"}:
        raise StylesheetRefused(
            f"root element <{_qname(root)}>: expected xsl:stylesheet or xsl:transform in namespace {XSL_NS}"
        )
    for element in root.iter(etree.Element):
        qname = etree.QName(element)
        where = f"<{_qname(element)}> line {element.sourceline}"
        for prefix, uri in (element.nsmap or {}).items():
            if uri in EXTENSION_NAMESPACES:
                raise StylesheetRefused(
                    f"{where}: namespace {prefix or '(default)'}={uri!r} ({EXTENSION_NAMESPACES[uri]}): "
                    "expected no extension namespaces"
                )
        is_xsl = qname.namespace == XSL_NS
        if is_xsl and qname.localname in {"include", "import"}:
            raise StylesheetRefused(
                f"{where}: xsl:{qname.localname} href={element.get('href')!r}: expected a self-contained stylesheet "
                "(xsl:include/xsl:import load files or URLs)"
            )
        if is_xsl and qname.localname not in XSL_ELEMENTS:
            raise StylesheetRefused(f"{where}: xsl:{qname.localname} is not an XSLT 1.0 element: expected XSLT 1.0")
        if is_xsl and qname.localname == "message" and element.get("terminate", "no").strip() != "no":
            raise StylesheetRefused(f"{where}: xsl:message terminate={element.get('terminate')!r}: expected 'no'")
        if is_xsl and qname.localname == "output":
            for doctype in ("doctype-system", "doctype-public"):
                if element.get(doctype) is not None:
                    raise StylesheetRefused(
                        f"{where}: {doctype}={element.get(doctype)!r}: expected no DOCTYPE in an ad response"
                    )
        for name, value in element.attrib.items():
            attribute = etree.QName(name)
            if attribute.localname == "extension-element-prefixes" and (
                attribute.namespace == XSL_NS or (is_xsl and attribute.namespace is None)
            ):
                raise StylesheetRefused(
                    f"{where}: extension-element-prefixes={value!r}: expected no extension elements"
                )
            if is_xsl and attribute.namespace is None and attribute.localname in XSL_EXPRESSION_ATTRIBUTES:
                _check_expression(value, f"{where} @{attribute.localname}", xslt=True)
            elif attribute.namespace != XSL_NS:
                for expression in _avt_expressions(str(value)):
                    _check_expression(expression, f"{where} @{attribute.localname}", xslt=True)


def _compile_stylesheet(xslt: str) -> etree.XSLT:
    """Static checks (module docstring, layer 1) and compilation with every access right denied."""
    data = xslt.encode("utf-8")
    if len(data) > MAX_STYLESHEET_BYTES:
        raise StylesheetRefused(f"stylesheet is {len(data)} bytes: expected at most {MAX_STYLESHEET_BYTES}")
    # The stylesheet is configured as text: its bytes are UTF-8 whatever its XML declaration says.
    root = _parse_untrusted(data, "stylesheet", encoding="utf-8")
    _check_stylesheet_tree(root)
    try:
        return etree.XSLT(root, access_control=_deny_all_access(), regexp=False)
    except (etree.XSLTParseError, PermissionError) as exc:
        raise StylesheetRefused(f"stylesheet does not compile as XSLT 1.0: {exc}") from exc


def _compile_xpath(xpath: str) -> etree.XPath:
    """The selector as a boolean XPath: `boolean(xpath)` (lxml cannot return the root node '/' itself)."""
    if not xpath.strip():
        raise StylesheetRefused("xpath is empty: expected an XPath 1.0 expression such as '/'")
    if len(xpath) > MAX_XPATH_CHARS:
        raise StylesheetRefused(f"xpath is {len(xpath)} characters: expected at most {MAX_XPATH_CHARS}")
    _check_expression(xpath, "xpath", xslt=False)
    try:
        etree.XPath(xpath, regexp=False)
        selector = etree.XPath(f"boolean({xpath})", regexp=False, smart_strings=False)
        selector(etree.fromstring(b"<VAST/>"))  # undefined prefixes, unknown functions fail on use
    except etree.XPathError as exc:
        raise StylesheetRefused(f"xpath {xpath!r} is not a usable XPath 1.0 expression: {exc}") from exc
    return selector


def compile_check(xslt: str) -> None:
    """Raise `TransformRefused` (a `BadRequest`) when the stylesheet `xslt` is refused (module docstring, layer 1)."""
    try:
        _compile_stylesheet(xslt)
    except StylesheetRefused as exc:
        raise TransformRefused(str(exc)) from exc


def check_xpath(xpath: str) -> None:
    """Raise `TransformRefused` (a `BadRequest`) when `xpath` is not a plain XPath 1.0 selector (no extension
    functions)."""
    try:
        _compile_xpath(xpath)
    except StylesheetRefused as exc:
        raise TransformRefused(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class TransformSpec:
    """One entry of `ad_configuration_transforms`, as configured: applies `xslt` when `xpath` matches."""

    xslt: str
    xpath: str = "/"

    @classmethod
    def from_config(cls, item: object, *, field: str = "ad_configuration_transforms[]") -> TransformSpec:
        """A checked spec from `{"xpath": ..., "xslt": ...}`; `BadRequest` naming the field otherwise."""
        if not isinstance(item, Mapping):
            raise BadRequest(f"{field}: {type(item).__name__} value: expected an object with 'xpath' and 'xslt'")
        unknown = sorted(set(item) - {"xpath", "xslt"})
        if unknown:
            raise BadRequest(f"{field}: unknown keys {unknown}: expected only 'xpath' and 'xslt'")
        xslt, xpath = item.get("xslt"), item.get("xpath", "/")
        if not isinstance(xslt, str):
            raise BadRequest(f"{field}.xslt: {xslt!r:.80}: expected the stylesheet as a string")
        if not isinstance(xpath, str):
            raise BadRequest(f"{field}.xpath: {xpath!r:.80}: expected an XPath 1.0 expression as a string")
        for check, value, name in ((check_xpath, xpath, "xpath"), (compile_check, xslt, "xslt")):
            try:
                check(value)
            except BadRequest as exc:
                raise BadRequest(f"{field}.{name}: {exc.message}") from exc
        return cls(xslt=xslt, xpath=xpath)


def specs_from_config(value: object) -> tuple[TransformSpec, ...]:
    """The checked specs of an `ad_configuration_transforms` list (None or [] for none)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadRequest(f"ad_configuration_transforms: {type(value).__name__} value: expected a list")
    return tuple(
        TransformSpec.from_config(item, field=f"ad_configuration_transforms[{index}]")
        for index, item in enumerate(value)
    )
