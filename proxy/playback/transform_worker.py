"""The sandboxed worker process of the transform pool (transforms.py): it enters its sandbox (layers 2 and 3 of
transforms.py's docstring), says `READY`, then answers jobs (transform_protocol.py) until told to stop or its
parent is gone. The ad response is parsed here, by the project's hardened parser, and every stylesheet is
checked again before it is compiled: nothing the parent sends is trusted more than a configuration.

Linux only: the sandbox reads /proc/self and relies on RLIMIT_AS/RLIMIT_NOFILE semantics.
"""

from __future__ import annotations

import math
import os
import resource
import signal
import sys
from collections import OrderedDict
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Generic, TypeVar

from lxml import etree

from proxy.ads.errors import AdParseError
from proxy.ads.xmlsafe import parse_xml
from proxy.ads.xslt import StylesheetRefused, _compile_stylesheet, _compile_xpath, _prolog_has_doctype
from proxy.errors import AdResponseError
from proxy.playback.transform_protocol import FAILED, OK, PARSE, READY, RETIRE, STAY, UNCHANGED, Limits

T = TypeVar("T")


class _DocumentRefused(ValueError):
    pass


def _address_space(statm: int) -> int:
    """The process's address space in bytes, from an open /proc/self/statm (readable again with pread once sealed)."""
    return int(os.pread(statm, 256, 0).split()[0]) * resource.getpagesize()


def _seal_descriptors(null: int) -> None:
    """Occupy every descriptor number below the highest open one (with `null`, an open /dev/null) and lower
    RLIMIT_NOFILE to it: the process can then neither open a file nor create a socket (EMFILE), whatever it runs."""
    highest = max(int(name) for name in os.listdir("/proc/self/fd"))
    for fd in range(highest + 1):
        try:
            os.fstat(fd)
        except OSError:
            os.dup2(null, fd, inheritable=False)
    highest = max(highest, null)
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, highest + 1))


def _enter_sandbox(memory_limit: int) -> tuple[int, int]:
    """Process-wide limits of a worker (transforms.py's docstring, layers 2 and 3); irreversible. Returns the
    descriptors of /proc/self/statm (kept open to watch the address space) and of the real stderr (fd 2 becomes
    /dev/null)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business; it stops the workers
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core dumps of ad responses
    try:
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # no new processes (ignored for root)
    except (ValueError, OSError):
        pass
    statm = os.open("/proc/self/statm", os.O_RDONLY)
    limit = _address_space(statm) + memory_limit
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    null = os.open(os.devnull, os.O_RDWR)
    stderr = os.dup(2)
    os.dup2(null, 2)
    _seal_descriptors(null)
    return statm, stderr


def _set_cpu_budget(seconds: float) -> None:
    """RLIMIT_CPU at what the worker has used plus `seconds`: SIGXCPU ends a job nobody kills (orphaned worker)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _parse_document(document: bytes, max_bytes: int) -> etree._ElementTree:
    """The ad response parsed by the project's hardened parser (proxy.ads.xmlsafe); a DOCTYPE in the
    prolog is refused first, so that an entity bomb is reported as what it is rather than as libxml2's limit."""
    if _prolog_has_doctype(document):
        raise _DocumentRefused("ad response has a DOCTYPE: expected none (DTDs and entities are refused)")
    try:
        return parse_xml(document, max_bytes=max_bytes).getroottree()
    except AdParseError as exc:
        raise _DocumentRefused(exc.detail) from exc
    except AdResponseError as exc:
        raise _DocumentRefused(exc.message) from exc


class _LRU(Generic[T]):
    """What `build` makes of a text, for the `size` texts used last (a worker's compiled stylesheets/selectors)."""

    def __init__(self, build: Callable[[str], T], size: int = 32) -> None:
        self._build = build
        self._size = size
        self._table: OrderedDict[str, T] = OrderedDict()

    def get(self, key: str) -> T:
        if key in self._table:
            self._table.move_to_end(key)
            return self._table[key]
        value = self._build(key)
        self._table[key] = value
        if len(self._table) > self._size:
            self._table.popitem(last=False)
        return value


class _Cache:
    def __init__(self) -> None:
        self.xslt = _LRU(_compile_stylesheet)
        self.xpath = _LRU(_compile_xpath)


def _reply(status: bytes, message: str) -> bytes:
    return status + message[:2000].encode("utf-8", "replace")


def _transform(cache: _Cache, specs: Sequence[tuple[str, str]], document: bytes, limits: Limits) -> bytes:
    """One job: the reply (status byte + payload)."""
    try:
        tree = _parse_document(document, limits.max_document_bytes)
    except _DocumentRefused as exc:
        return _reply(PARSE, str(exc))
    result: etree._XSLTResultTree | None = None
    for index, (xpath, xslt) in enumerate(specs):
        where = f"transform {index}"
        try:
            selector = cache.xpath.get(xpath)
            stylesheet = cache.xslt.get(xslt)
        except StylesheetRefused as exc:
            return _reply(FAILED, f"{where} refused: {exc}")
        current: etree._ElementTree = tree if result is None else result
        if current.getroot() is None:
            continue  # a text output (xsl:output method="text") has nothing an xpath can match
        try:
            matched = bool(selector(current))
        except etree.XPathError as exc:
            return _reply(FAILED, f"{where}: xpath {xpath!r} failed: {exc}")
        if not matched:
            continue
        try:
            result = stylesheet(current)
        except etree.XSLTApplyError as exc:
            return _reply(FAILED, f"{where}: XSLT error: {exc}")
    if result is None:
        return UNCHANGED
    output = bytes(result)
    if not output.strip():
        return _reply(FAILED, "the transform produced no output: expected an XML ad response")
    if len(output) > limits.max_output_bytes:
        return _reply(FAILED, f"output is {len(output)} bytes: expected at most {limits.max_output_bytes}")
    return OK + output


def worker_main(conn: Connection, limits: Limits) -> None:
    """A worker's life: enter the sandbox, then answer jobs until told to stop (None) or the parent is gone.

    The worker retires (exits after its reply, the pool starts another) after an error the checks do not name,
    when it ran out of memory, or when its address space grew past half its memory limit: a heap left
    fragmented by a near-bomb is not reused."""
    statm, stderr = _enter_sandbox(limits.memory_limit)
    conn.send_bytes(READY)
    unraisable: list[type[BaseException]] = []
    # lxml reports a MemoryError inside its error callbacks as "unraisable" (and prints tracebacks to fd 2, which
    # is /dev/null during jobs: under memory pressure even Python's fallback writes there directly).
    sys.unraisablehook = lambda info: unraisable.append(info.exc_type)
    try:
        _serve(conn, limits, statm, unraisable)
    except BaseException:
        os.dup2(stderr, 2)  # a crash of the worker itself is reported on the real stderr
        raise


def _serve(conn: Connection, limits: Limits, statm: int, unraisable: list[type[BaseException]]) -> None:
    baseline = _address_space(statm)
    cache = _Cache()
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        specs, document = job
        _set_cpu_budget(limits.cpu_seconds)
        retire = False
        try:
            reply = _transform(cache, specs, document, limits)
        except MemoryError:
            reply, retire = _reply(FAILED, f"out of memory (limit {limits.memory_limit} bytes)"), True
        except Exception as exc:  # an lxml error the checks above do not name
            reply, retire = _reply(FAILED, f"{type(exc).__name__}: {exc}"), True
        if unraisable:
            retire = True
        if _address_space(statm) > baseline + limits.memory_limit // 2:
            retire = True
        try:
            conn.send_bytes((RETIRE if retire else STAY) + reply)
        except (MemoryError, OSError):
            return
        if retire:
            return
