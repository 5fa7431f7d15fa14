"""The hardened XML parser (OWASP XXE Prevention Cheat Sheet): every XML attack fixture of ../shared ends as SOURCES.md
says (refused), quickly, in bounded memory, without any file or network access; and the local-name helpers.
"""

from __future__ import annotations

import resource
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st
from lxml import etree

from proxy.ads.chain import parse_response
from proxy.ads.errors import AdParseError, ErrorCode
from proxy.ads.xmlsafe import MAX_BYTES, attribute, child, children, local_name, parse_xml, text, texts
from proxy.errors import AdResponseError
from tests.audit import recording_io
from tests.conftest import sample_dir


def refused(body: bytes, **options: Any) -> AdParseError:
    with pytest.raises(AdParseError) as caught:
        parse_xml(body, **options)
    error = caught.value
    assert isinstance(error, AdResponseError)  # what every caller of the ad parsers already catches
    assert error.skip_reason == "VAST_PARSING_ERROR"
    assert error.code == ErrorCode.XML_PARSING
    return error


def test_a_plain_document_parses_with_cdata_kept_as_text() -> None:
    root = parse_xml(b'<VAST version="3.0"><Error><![CDATA[https://e.example.com/?c=[ERRORCODE]]]></Error></VAST>')
    assert local_name(root) == "VAST"
    assert text(child(root, "Error")) == "https://e.example.com/?c=[ERRORCODE]"


def test_size_is_checked_before_parsing() -> None:
    body = b"<VAST>" + b"x" * 100 + b"</VAST>"
    error = refused(body, max_bytes=50)
    assert error.detail == f"response of {len(body)} bytes: expected at most 50"
    assert "response of" in refused(b"not even xml" * (MAX_BYTES // 10)).detail  # never handed to the parser


@pytest.mark.parametrize(
    "body",
    [
        b'<!DOCTYPE VAST [<!ENTITY a "aaaaaaaa">]><VAST>&a;&a;</VAST>',
        b"<!DOCTYPE VAST><VAST/>",
        b'<!DOCTYPE VAST SYSTEM "http://127.0.0.1:9/vast.dtd"><VAST/>',
    ],
)
def test_any_doctype_is_refused_and_nothing_is_expanded(body: bytes) -> None:
    error = refused(body)
    assert "DOCTYPE" in error.detail and "expected no DTD and no entities" in error.detail
    assert "aaaaaaaaaaaaaaaa" not in error.message


def test_an_undefined_entity_is_not_xml() -> None:
    assert "not usable XML" in refused(b"<VAST>&xxe;</VAST>").detail


def test_depth_limit_is_ours_below_libxml2s() -> None:
    body = b"<a>" * 20 + b"</a>" * 20
    parse_xml(body, max_depth=20)
    assert "nested deeper than 19" in refused(body, max_depth=19).detail
    assert "depth" in refused(b"<a>" * 300 + b"</a>" * 300, max_depth=1000).detail  # libxml2's 256 (huge_tree off)


@pytest.mark.parametrize("body", [b"", b"{ vast: null }", b"<VAST><Ad></VAST>", b"\xff\xfe<", b"<VAST>"])
def test_not_xml_quotes_the_parser(body: bytes) -> None:
    error = refused(body)
    assert error.detail.startswith("not usable XML: ") and len(error.detail) < 200


UNBOUND = b'<vmap:VMAP xmlns:vmap="urn:x" version="1.0"><VAST xsi:noNamespaceSchemaLocation="v.xsd"/></vmap:VMAP>'


def test_unbound_prefixes_only_when_lenient() -> None:
    assert "Namespace prefix xsi" in refused(UNBOUND).detail
    root = parse_xml(UNBOUND, lenient_namespaces=True)
    vast = child(root, "VAST")
    assert vast is not None and attribute(vast, "noNamespaceSchemaLocation") == "v.xsd"
    fragment = parse_xml(b"<vmap:Extension><vmap:Test>v</vmap:Test></vmap:Extension>", lenient_namespaces=True)
    assert (local_name(fragment), texts(fragment, "Test")) == ("Extension", ("v",))


def test_an_earlier_failure_does_not_leak_into_the_next_parse() -> None:
    refused(b"<VAST>")  # lxml keeps a thread-wide error log across runs: only the last run's log counts
    assert local_name(parse_xml(UNBOUND, lenient_namespaces=True)) == "VMAP"


def test_parsers_are_per_thread() -> None:
    bodies = [b'<VAST version="3.0"><Ad id="%d"/></VAST>' % n for n in range(200)]
    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(lambda body: attribute(parse_xml(body)[0], "id"), bodies))
    assert ids == [str(n) for n in range(200)]


def test_leniency_never_hides_a_well_formedness_error() -> None:
    body = UNBOUND.replace(b"</vmap:VMAP>", b"")
    assert "not usable XML" in refused(body, lenient_namespaces=True).detail


def test_helpers_skip_comments_and_match_local_names() -> None:
    root = parse_xml(
        b'<v:VAST xmlns:v="http://www.iab.com/VAST"><!-- c --><v:Ad AdID=" 7 "><v:Impression>'
        b"<!-- x --> <![CDATA[https://i.example.com/1]]> </v:Impression><v:Impression/></v:Ad></v:VAST>"
    )
    comment = root[0]
    assert isinstance(comment, etree._Comment) and local_name(comment) == ""
    (ad,) = children(root, "Ad")
    assert attribute(ad, "adId") == "7" and attribute(ad, "missing") == ""
    assert texts(ad, "Impression") == ("https://i.example.com/1",)
    assert text(None) == "" and child(None, "Ad") is None


FIXTURES = sorted((Path(__file__).parents[1] / "data" / "vast").glob("*.xml"))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FIXTURES), st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=3)), max_size=4))
def test_a_damaged_response_is_parsed_or_refused_never_a_crash(path: Path, edits: list[tuple[int, bytes]]) -> None:
    body = bytearray(path.read_bytes())
    for at, replacement in edits:
        start = at % (len(body) + 1)
        body[start : start + len(replacement)] = replacement
    try:
        parse_response(bytes(body))
    except AdResponseError as error:
        assert error.skip_reason == "VAST_PARSING_ERROR" and len(error.message) < 400


# -- the attack fixtures of ../shared/testdata/ads/synthetic/attacks (the .xsl ones are the XSLT sandbox's) ------

# SOURCES.md "Synthetic fixtures": entity expansion rejected by libxml2 even by default ("Maximum entity
# amplification factor exceeded"); XXE / SSRF / external DTD: the hardened parser rejects any DOCTYPE; depth 1000
# exceeds libxml2's 256 unless huge_tree=True.
ATTACKS = {
    "billion_laughs.xml": "Maximum entity amplification factor exceeded",
    "quadratic_blowup.xml": "Maximum entity amplification factor exceeded",
    "xxe_local_file.xml": "DOCTYPE '<!DOCTYPE VAST>' refused",
    "xxe_network_ssrf.xml": "DOCTYPE '<!DOCTYPE VAST>' refused",
    "xxe_parameter_entity_dtd.xml": "DOCTYPE '<!DOCTYPE VAST>' refused",
    "external_dtd.xml": "DOCTYPE '<!DOCTYPE VAST SYSTEM \"file:///etc/passwd\">' refused",
    "deep_nesting_1000.xml": "Excessive depth in document: 256",
}


def test_the_recorder_sees_file_access(tmp_path: Any) -> None:
    with recording_io() as events:
        (tmp_path / "x").write_bytes(b"x")
    assert any(event.startswith("open") for event in events)


def attack_dir() -> Any:
    return sample_dir("ads", "synthetic", "attacks")


def test_every_xml_attack_has_an_expectation() -> None:
    assert {path.name for path in attack_dir().glob("*.xml")} == set(ATTACKS)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_is_refused_quickly_in_bounded_memory_without_io(name: str) -> None:
    body = (attack_dir() / name).read_bytes()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    started = time.perf_counter()
    with recording_io() as events:
        error = refused(body)
    assert time.perf_counter() - started < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 64 * 1024
    assert events == []
    assert ATTACKS[name] in error.detail
    assert "root:" not in error.message and "lollol" not in error.message and len(error.message) < 300
