"""User transforms of ad responses (`ad_configuration_transforms`: an XPath selector and an XSLT 1.0 stylesheet),
applied to the ad server's response before it is parsed, in a sandbox.

A transform applies when its `xpath` matches the response (XPath `boolean()` of the expression: "/" always
matches, `/VAST[Ad]` only a VAST with ads, `count(//Ad) > 2` ...); the transforms of a configuration apply in
order, each to the output of the previous one.

Layers, outermost first (reference/ads.md §9.2 for the attacks, §9.3 for the hardened configuration):

1. `compile_check` (proxy/ads/xslt.py; at configuration time, and in the worker for every stylesheet): the
   stylesheet is parsed with a hardened parser (no DTD, no entities, no network, deny-all resolver) and refused
   for a DOCTYPE, `xsl:include`/`xsl:import` (not covered by XSLTAccessControl, §9.2), `document()`,
   extension elements and namespaces (exsl/EXSLT/str/regexp/saxon/xalan/php/msxsl ...), any prefixed
   (extension) function or function outside XPath/XSLT 1.0, elements outside XSLT 1.0 (`xsl:document`
   writes files), `xsl:message terminate="yes"`. It is then compiled with every XSLTAccessControl right
   denied, `regexp=False` and no `extensions=` (§9.3).
2. The transform runs in a worker PROCESS (multiprocessing "forkserver" or "spawn", never "fork": the parent's
   event loop, sockets and threads are not inherited), because libxslt runs with the GIL released and cannot
   be interrupted from Python (§9.1): a wall-clock timeout kills and replaces the worker; RLIMIT_AS bounds its
   memory, RLIMIT_CPU is a backstop if the parent is gone, and the output is capped in bytes.
3. The worker seals its file descriptors before it takes any job: every descriptor number below RLIMIT_NOFILE is
   in use, so even a stylesheet that got past layer 1 and the access control cannot open a file or a socket
   (EMFILE). Core dumps are disabled (RLIMIT_CORE), and new processes too when not running as root (RLIMIT_NPROC).

The ad response is parsed in the worker too, by the project's hardened parser (`proxy.ads.xmlsafe.parse_xml`,
§9.3): a DOCTYPE, entity references, too deep a document or more than `max_document_bytes` are refused as
`AdParseError` (reason VAST_PARSING_ERROR, VAST error 100). Only bytes come back from the worker (a header and a
payload, never a pickle), so even a compromised worker cannot run code in the proxy.

Linux only: the sandbox reads /proc/self and relies on RLIMIT_AS/RLIMIT_NOFILE semantics.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import queue
import resource
import signal
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Generic, TypeVar

from lxml import etree

from proxy.ads.errors import AdParseError, ErrorCode
from proxy.ads.xmlsafe import parse_xml
from proxy.ads.xslt import (
    KiB,
    MiB,
    StylesheetRefused,
    TransformSpec,
    _compile_stylesheet,
    _compile_xpath,
    _prolog_has_doctype,
    check_xpath,
    compile_check,
    specs_from_config,
)
from proxy.errors import AdResponseError, TransformError, TransformTimeout

__all__ = [
    "TransformPool",
    "TransformSpec",
    "check_xpath",
    "compile_check",
    "specs_from_config",
]

T = TypeVar("T")

DEFAULT_MAX_DOCUMENT_BYTES = 1 * MiB  # ads.md §9.2: "cap response bytes before parsing (e.g. 1-2 MB)"
DEFAULT_MAX_OUTPUT_BYTES = 1 * MiB
DEFAULT_TIMEOUT = 1.0
DEFAULT_MEMORY_LIMIT = 256 * MiB  # address space a worker may add to what it had when it started

# ---------------------------------------------------------------------------------------------------------------
# Worker process side


class _DocumentRefused(ValueError):
    pass


# A reply is: b"R" (the worker retires after it) or b"-", a status byte, the payload (output or message).
_OK, _UNCHANGED, _PARSE, _FAILED = b"O", b"U", b"P", b"F"
_RETIRE, _STAY = b"R", b"-"
_READY = b"ready"  # first message of a worker, once in its sandbox: job time limits do not count its start-up
STARTUP_TIMEOUT = 10.0
_REPLY_OVERHEAD = 64 * KiB  # room for the header and an error message beyond max_output_bytes


@dataclass(frozen=True, slots=True)
class _Limits:
    memory_limit: int
    max_output_bytes: int
    max_document_bytes: int
    cpu_seconds: float


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
    """Process-wide limits of a worker (module docstring, layers 2 and 3); irreversible. Returns the descriptors
    of /proc/self/statm (kept open to watch the address space) and of the real stderr (fd 2 becomes /dev/null)."""
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
    """The ad response parsed by the project's hardened parser (proxy.ads.xmlsafe, ads.md §9.3); a DOCTYPE in the
    prolog is refused first, so that an entity bomb is reported as what it is rather than as libxml2's limit."""
    if _prolog_has_doctype(document):
        raise _DocumentRefused("ad response has a DOCTYPE: expected none (DTDs and entities are refused, ads.md §9.2)")
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


def _transform(cache: _Cache, specs: Sequence[tuple[str, str]], document: bytes, limits: _Limits) -> bytes:
    """One job: the reply (status byte + payload)."""
    try:
        tree = _parse_document(document, limits.max_document_bytes)
    except _DocumentRefused as exc:
        return _reply(_PARSE, str(exc))
    result: etree._XSLTResultTree | None = None
    for index, (xpath, xslt) in enumerate(specs):
        where = f"transform {index}"
        try:
            selector = cache.xpath.get(xpath)
            stylesheet = cache.xslt.get(xslt)
        except StylesheetRefused as exc:
            return _reply(_FAILED, f"{where} refused: {exc}")
        current: etree._ElementTree = tree if result is None else result
        if current.getroot() is None:
            continue  # a text output (xsl:output method="text") has nothing an xpath can match
        try:
            matched = bool(selector(current))
        except etree.XPathError as exc:
            return _reply(_FAILED, f"{where}: xpath {xpath!r} failed: {exc}")
        if not matched:
            continue
        try:
            result = stylesheet(current)
        except etree.XSLTApplyError as exc:
            return _reply(_FAILED, f"{where}: XSLT error: {exc}")
    if result is None:
        return _UNCHANGED
    output = bytes(result)
    if not output.strip():
        return _reply(_FAILED, "the transform produced no output: expected an XML ad response")
    if len(output) > limits.max_output_bytes:
        return _reply(_FAILED, f"output is {len(output)} bytes: expected at most {limits.max_output_bytes}")
    return _OK + output


def _worker_main(conn: Connection, limits: _Limits) -> None:
    """A worker's life: enter the sandbox, then answer jobs until told to stop (None) or the parent is gone.

    The worker retires (exits after its reply, the pool starts another) after an error the checks do not name,
    when it ran out of memory, or when its address space grew past half its memory limit: a heap left
    fragmented by a near-bomb is not reused."""
    statm, stderr = _enter_sandbox(limits.memory_limit)
    conn.send_bytes(_READY)
    unraisable: list[type[BaseException]] = []
    # lxml reports a MemoryError inside its error callbacks as "unraisable" (and prints tracebacks to fd 2, which
    # is /dev/null during jobs: under memory pressure even Python's fallback writes there directly).
    sys.unraisablehook = lambda info: unraisable.append(info.exc_type)
    try:
        _serve(conn, limits, statm, unraisable)
    except BaseException:
        os.dup2(stderr, 2)  # a crash of the worker itself is reported on the real stderr
        raise


def _serve(conn: Connection, limits: _Limits, statm: int, unraisable: list[type[BaseException]]) -> None:
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
            reply, retire = _reply(_FAILED, f"out of memory (limit {limits.memory_limit} bytes)"), True
        except Exception as exc:  # an lxml error the checks above do not name
            reply, retire = _reply(_FAILED, f"{type(exc).__name__}: {exc}"), True
        if unraisable:
            retire = True
        if _address_space(statm) > baseline + limits.memory_limit // 2:
            retire = True
        try:
            conn.send_bytes((_RETIRE if retire else _STAY) + reply)
        except (MemoryError, OSError):
            return
        if retire:
            return


# ---------------------------------------------------------------------------------------------------------------
# Parent side


class _WorkerGone(Exception):
    def __init__(self, message: str, *, job_sent: bool) -> None:
        super().__init__(message)
        self.job_sent = job_sent


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, context: Any, limits: _Limits) -> None:
        parent_end, child_end = context.Pipe(duplex=True)
        try:
            self.process = context.Process(
                target=_worker_main, args=(child_end, limits), name="ssai-xslt-worker", daemon=True
            )
            self.process.start()
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        self.conn: Connection = parent_end
        self.jobs = 0
        try:
            ready = parent_end.recv_bytes(len(_READY)) if parent_end.poll(STARTUP_TIMEOUT) else b""
        except (EOFError, OSError):
            ready = b""
        if ready != _READY:
            reason = self.death() if ready or not self.process.is_alive() else f"not ready after {STARTUP_TIMEOUT:g} s"
            self.stop(kill=True)
            raise TransformError(f"a transform worker failed to start: {reason}")

    def call(self, job: tuple[tuple[tuple[str, str], ...], bytes], timeout: float, max_reply: int) -> bytes | None:
        """The reply, or None when the job outlived `timeout` (the caller kills the worker)."""
        self.jobs += 1
        try:
            self.conn.send(job)
        except (EOFError, OSError) as exc:
            raise _WorkerGone(self.death(), job_sent=False) from exc
        try:
            if not self.conn.poll(timeout):
                return None
            return self.conn.recv_bytes(max_reply)
        except (EOFError, OSError) as exc:
            raise _WorkerGone(self.death(), job_sent=True) from exc

    def death(self) -> str:
        """How the worker ended (waits a little for the exit status)."""
        self.process.join(0.5)
        code = self.process.exitcode
        if code is None:
            return "the worker stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            hint = " (CPU time limit)" if -code == signal.SIGXCPU else ""
            return f"the worker was killed by {name}{hint}"
        return f"the worker exited with status {code}"

    def stop(self, *, kill: bool = False) -> None:
        if not kill and self.process.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.process.join(0.5)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()
        self.process.close()


def _default_size() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 2
    return max(1, cpus // 2)


class TransformPool:
    """A bounded pool of sandboxed worker processes running `TransformSpec`s (module docstring).

    `size` workers (default: half the CPUs, at least 1), each job limited to `timeout` seconds of wall-clock
    time (then the worker is killed and replaced), `memory_limit` bytes of address space beyond the worker's
    start, `max_output_bytes` of output; documents over `max_document_bytes` are refused before any work.
    A worker is replaced after `max_jobs_per_worker` jobs. `apply` is for asyncio code; `run` blocks.
    """

    def __init__(
        self,
        size: int | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
        max_jobs_per_worker: int = 1000,
        start_method: str = "forkserver",
    ) -> None:
        if start_method not in {"forkserver", "spawn"}:
            raise ValueError(
                f"start_method {start_method!r}: expected 'forkserver' or 'spawn' "
                "(a forked worker would inherit the event loop, sockets and threads)"
            )
        self.size = size if size is not None else _default_size()
        if self.size < 1:
            raise ValueError(f"size {size!r}: expected at least 1 worker")
        if timeout <= 0:
            raise ValueError(f"timeout {timeout!r}: expected a positive number of seconds")
        self.timeout = timeout
        self.max_document_bytes = max_document_bytes
        self.max_output_bytes = max_output_bytes
        self.max_jobs_per_worker = max_jobs_per_worker
        self._limits = _Limits(
            memory_limit=memory_limit,
            max_output_bytes=max_output_bytes,
            max_document_bytes=max_document_bytes,
            cpu_seconds=timeout + 1.0,
        )
        self._context: Any = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            # Workers fork from a server that has imported this module (and lxml) once: a new worker is ready
            # in milliseconds. "__main__" is multiprocessing's default preload, kept.
            self._context.set_forkserver_preload(["__main__", __name__])
        self._idle: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        for _ in range(self.size):
            self._idle.put(None)  # started on first use
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._threads = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="ssai-xslt")
        self.workers_started = 0
        self.workers_killed = 0

    def __enter__(self) -> TransformPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def warm(self) -> None:
        """Start every worker now rather than on first use (blocking: call it in a thread). If one fails to start
        the error is raised; the workers not started are started by their first job."""
        started = []
        try:
            for _ in range(self.size):
                started.append(self._checkout())
        finally:
            for worker in started:
                self._checkin(worker, healthy=True, retire=False)

    async def apply(self, spec: TransformSpec, document: bytes) -> bytes:
        """`document` transformed by `spec` (unchanged when its xpath does not match).

        Raises `AdParseError` (an `AdResponseError` with reason VAST_PARSING_ERROR, VAST code 100) for a document
        refused by the hardened parser and `TransformError` (reason TRANSFORM_FAILED) for a refused stylesheet, an XSLT
        error, a limit reached (`TransformTimeout` for the time limit) or a worker that died.
        """
        return await self.apply_all((spec,), document)

    async def apply_all(self, specs: Sequence[TransformSpec], document: bytes) -> bytes:
        """`document` through every spec in order (each applies when its xpath matches the current document)."""
        job = self._job(specs, document)
        if job is None:
            return document
        loop = asyncio.get_running_loop()
        try:
            pending = loop.run_in_executor(self._threads, self._call, job)
        except RuntimeError as exc:  # closed between the check and here
            raise TransformError("the transform pool is closed") from exc
        return self._result(await pending, document)

    def run(self, specs: Sequence[TransformSpec], document: bytes) -> bytes:
        """`apply_all`, blocking (for code outside an event loop)."""
        job = self._job(specs, document)
        if job is None:
            return document
        return self._result(self._call(job), document)

    def _job(self, specs: Sequence[TransformSpec], document: bytes) -> tuple[tuple[tuple[str, str], ...], bytes] | None:
        if self._closed:
            raise TransformError("the transform pool is closed")
        if len(document) > self.max_document_bytes:
            raise AdParseError(
                ErrorCode.XML_PARSING,
                f"ad response is {len(document)} bytes: expected at most {self.max_document_bytes}",
            )
        if not specs:
            return None
        return tuple((spec.xpath, spec.xslt) for spec in specs), bytes(document)

    @staticmethod
    def _result(reply: bytes, document: bytes) -> bytes:
        status, payload = reply[:1], reply[1:]
        if status == _OK:
            return payload
        if status == _UNCHANGED:
            return document
        message = payload.decode("utf-8", "replace")
        if status == _PARSE:
            raise AdParseError(ErrorCode.XML_PARSING, message)
        raise TransformError(message)

    def _checkout(self) -> _Worker:
        worker = self._idle.get()
        with self._lock:
            if self._closed:
                self._idle.put(worker)
                raise TransformError("the transform pool is closed")
        if worker is not None and not worker.process.is_alive():
            worker.stop(kill=True)  # died while idle (killed from outside): replaced below
            self.workers_killed += 1
            worker = None
        if worker is None:
            try:
                worker = self._start_worker()
            except BaseException:
                self._idle.put(None)
                raise
        with self._lock:
            self._busy.add(worker)
        return worker

    def _start_worker(self) -> _Worker:
        worker = _Worker(self._context, self._limits)
        with self._lock:
            self.workers_started += 1
        return worker

    def _checkin(self, worker: _Worker, *, healthy: bool, retire: bool) -> None:
        with self._lock:
            self._busy.discard(worker)
            closed = self._closed
            if not healthy:
                self.workers_killed += 1
        if not closed and healthy and not retire and worker.jobs < self.max_jobs_per_worker:
            self._put_idle(worker)
            return
        worker.stop(kill=not healthy)
        replacement: _Worker | None = None
        if not closed:
            try:
                replacement = self._start_worker()  # ready for the next job
            except Exception:
                replacement = None  # started on next use
        self._put_idle(replacement)

    def _put_idle(self, worker: _Worker | None) -> None:
        self._idle.put(worker)
        if self._closed:  # closed meanwhile: close() may have drained the queue already
            self._stop_idle()
            self._idle.put(None)

    def _call(self, job: tuple[tuple[tuple[str, str], ...], bytes]) -> bytes:
        """Runs in a pool thread: one job on one worker, the worker replaced when it failed. A worker found
        dead before it got the job (killed from outside while idle) is replaced and the job sent again, once."""
        for attempt in (1, 2):
            worker = self._checkout()
            healthy = retire = False
            try:
                reply = worker.call(job, self.timeout, self.max_output_bytes + _REPLY_OVERHEAD)
                if reply is None:
                    raise TransformTimeout(
                        f"the transform ran longer than its {self.timeout:g} s limit: worker killed and replaced"
                    )
                healthy = True
                retire = reply.startswith(_RETIRE)
                return reply[1:]
            except _WorkerGone as exc:
                if self._closed:
                    raise TransformError("the transform pool is closed") from exc
                if exc.job_sent or attempt == 2:
                    raise TransformError(f"{exc} during the transform") from exc
            finally:
                self._checkin(worker, healthy=healthy, retire=retire)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Stop every worker (running jobs fail with TRANSFORM_FAILED); further calls are refused."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for worker in self._busy:
                worker.process.kill()  # its job's thread sees the pipe close and checks the worker in
        self._stop_idle()
        self._threads.shutdown(wait=True, cancel_futures=True)
        self._stop_idle()  # workers checked in by jobs that ended while closing
        self._idle.put(None)  # wakes any `run` caller waiting for a worker: it sees the pool closed

    def _stop_idle(self) -> None:
        """Stop the idle workers (their places stay in the queue as None)."""
        while True:
            try:
                idle = self._idle.get_nowait()
            except queue.Empty:
                return
            if idle is not None:
                idle.stop()
