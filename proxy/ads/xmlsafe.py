"""One hardened way to parse untrusted XML (ad responses, user XSLT), and the local-name helpers the parsers share.

The parser follows the OWASP XXE Prevention Cheat Sheet and the lxml FAQ, verified against the attack fixtures: no DTD
loading, no entity resolution, no network, libxml2's limits kept (`huge_tree=False`: depth 256, text nodes 10 MB), a
deny-all resolver so that no external load can happen, and a document that declares a DOCTYPE or keeps an entity
reference is refused. The size limit is checked before parsing; a depth limit after it.

Elements are matched by local name everywhere: VAST 4.x samples put everything in the
default namespace `http://www.iab.com/VAST`, VMAP uses prefixes bound to one of three namespace URIs, most real
responses use none.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any, cast

from lxml import etree

from proxy.ads.errors import AdParseError, ErrorCode

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 100  # a VMAP with inline VAST nests ~12 deep; libxml2 stops at 256 on its own
_MESSAGE_CHARS = 160


class _DenyAll(etree.Resolver):
    """Every external load (DTD, entity, XInclude, xsl:import) fails, naming what was refused."""

    def resolve(self, system_url: str, public_id: str, context: object = None) -> None:
        raise PermissionError(f"external resource {system_url!r} refused: ad XML may not load anything")


_PARSERS = threading.local()  # lxml parsers must not be shared across threads (lxml FAQ)


def hardened_parser(*, recover: bool = False, encoding: str | None = None) -> etree.XMLParser:
    """A new parser with the hardened settings: no DTD, no entities, no network, a resolver that
    refuses every external load. Also what the XSLT sandbox parses stylesheets with."""
    parser = etree.XMLParser(
        encoding=encoding,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        strip_cdata=False,
        remove_pis=True,
        recover=recover,
    )
    parser.resolvers.add(_DenyAll())
    return parser


def _parser(recover: bool) -> etree.XMLParser:
    name = "recovering" if recover else "strict"
    parser: etree.XMLParser | None = getattr(_PARSERS, name, None)
    if parser is None:
        parser = hardened_parser(recover=recover)
        setattr(_PARSERS, name, parser)
    return parser


def _refuse(message: str) -> AdParseError:
    return AdParseError(ErrorCode.XML_PARSING, message)


def _first_line(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:_MESSAGE_CHARS]


def _only_namespace_errors(parser: etree.XMLParser) -> bool:
    """The last run's errors (the exception's `error_log` is the thread's, accumulated across runs)."""
    entries = list(cast("Iterable[Any]", parser.error_log))  # lxml-stubs do not type _ErrorLog as iterable
    return bool(entries) and all(entry.domain == etree.ErrorDomains.NAMESPACE for entry in entries)


def _fromstring(body: bytes, lenient_namespaces: bool) -> etree._Element:
    strict = _parser(recover=False)
    try:
        return etree.fromstring(body, strict)
    except etree.XMLSyntaxError as error:
        # An unbound prefix (the VMAP spec's own examples use `xsi:` undeclared) is a namespace
        # error, not a well-formedness one: when it is the only kind of error, parse again in recover mode.
        if not (lenient_namespaces and _only_namespace_errors(strict)):
            raise _refuse(f"not usable XML: {_first_line(error)}") from None
    recovering = _parser(recover=True)
    root = etree.fromstring(body, recovering)
    if root is None or not _only_namespace_errors(recovering):
        raise _refuse("not usable XML: more than undeclared namespace prefixes")
    return root


def _depth_exceeds(root: etree._Element, limit: int) -> bool:
    depth = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        if depth > limit:
            return True
    return False


def parse_xml(
    body: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH, lenient_namespaces: bool = False
) -> etree._Element:
    """The root element of an untrusted document, or AdResponseError("VAST_PARSING_ERROR") (an `AdParseError`,
    VAST code 100) quoting what was refused. `lenient_namespaces` accepts undeclared prefixes (VMAP 1.0 examples)."""
    if len(body) > max_bytes:
        raise _refuse(f"response of {len(body)} bytes: expected at most {max_bytes}")
    try:
        root = _fromstring(body, lenient_namespaces)
    except (etree.LxmlError, ValueError, PermissionError) as error:  # a recover-mode failure, a blocked load, …
        raise _refuse(f"not usable XML: {_first_line(error)}") from None
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs lack DocInfo.doctype
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise _refuse(f"DOCTYPE {docinfo.doctype[:_MESSAGE_CHARS]!r} refused: expected no DTD and no entities")
    if any(isinstance(node, etree._Entity) for node in root.iter()):
        raise _refuse("entity reference refused: expected no DTD and no entities")
    if _depth_exceeds(root, max_depth):
        raise _refuse(f"elements nested deeper than {max_depth}: expected at most {max_depth} levels")
    return root


# -- local-name helpers shared by the VAST, VMAP and SmartXML parsers ---------------------------------------------


def local_name(node: etree._Element) -> str:
    """`{ns}Tag`, `prefix:Tag` (an unbound prefix kept by recover mode) and `Tag` are all `Tag`; "" for comments."""
    tag = node.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def children(node: etree._Element | None, name: str) -> Iterator[etree._Element]:
    if node is not None:
        yield from (child for child in node if local_name(child) == name)


def child(node: etree._Element | None, name: str) -> etree._Element | None:
    return next(children(node, name), None)


def text(node: etree._Element | None) -> str:
    """The stripped text of a leaf (CDATA included, comments left out), "" when there is no node."""
    return "".join(str(part) for part in node.itertext()).strip() if node is not None else ""


def texts(node: etree._Element | None, name: str) -> tuple[str, ...]:
    """The non-empty texts of the `name` children, in order."""
    return tuple(value for element in children(node, name) if (value := text(element)))


def boolean(value: str, default: bool) -> bool:
    """xs:boolean, leniently: `true`/`1`/`True` and `false`/`0` (samples have all three); anything else: default."""
    lowered = value.strip().lower()
    return True if lowered in ("true", "1") else False if lowered in ("false", "0") else default


def attribute(node: etree._Element, name: str) -> str:
    """An attribute by local name (VAST 4.0 samples spell `adId` as `AdID` and `adID` too: case-insensitive)."""
    wanted = name.lower()
    for key, value in node.attrib.items():
        if str(key).rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower() == wanted:
            return str(value).strip()
    return ""
