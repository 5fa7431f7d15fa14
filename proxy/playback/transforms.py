"""User transforms of ad responses (`ad_configuration_transforms`: an XPath selector and an XSLT 1.0 stylesheet),
applied to the ad server's response before it is parsed, in a sandbox.

A transform applies when its `xpath` matches the response (XPath `boolean()` of the expression: "/" always
matches, `/VAST[Ad]` only a VAST with ads, `count(//Ad) > 2` ...); the transforms of a configuration apply in
order, each to the output of the previous one.

Layers, outermost first (OWASP XXE Prevention Cheat Sheet; lxml FAQ, "safely as a web-service endpoint"):

1. `compile_check` (proxy/ads/xslt.py; at configuration time, and in the worker for every stylesheet): the
   stylesheet is parsed with a hardened parser (no DTD, no entities, no network, deny-all resolver) and refused
   for a DOCTYPE, `xsl:include`/`xsl:import` (not covered by XSLTAccessControl, lxml docs), `document()`,
   extension elements and namespaces (exsl/EXSLT/str/regexp/saxon/xalan/php/msxsl ...), any prefixed
   (extension) function or function outside XPath/XSLT 1.0, elements outside XSLT 1.0 (`xsl:document`
   writes files), `xsl:message terminate="yes"`. It is then compiled with every XSLTAccessControl right
   denied, `regexp=False` and no `extensions=` (lxml "XSLTAccessControl").
2. The transform runs in a worker PROCESS (multiprocessing "forkserver" or "spawn", never "fork": the parent's
   event loop, sockets and threads are not inherited), because libxslt runs with the GIL released and cannot
   be interrupted from Python (lxml `xslt.pxi`: `with nogil`): a wall-clock timeout kills and replaces the worker;
   RLIMIT_AS bounds its memory, RLIMIT_CPU is a backstop if the parent is gone, and the output is capped in bytes.
3. The worker seals its file descriptors before it takes any job: every descriptor number below RLIMIT_NOFILE is
   in use, so even a stylesheet that got past layer 1 and the access control cannot open a file or a socket
   (EMFILE). Core dumps are disabled (RLIMIT_CORE), and new processes too when not running as root (RLIMIT_NPROC).

The ad response is parsed in the worker too, by the project's hardened parser (`proxy.ads.xmlsafe.parse_xml`,
OWASP XXE): a DOCTYPE, entity references, too deep a document or more than `max_document_bytes` are refused as
`AdParseError` (reason VAST_PARSING_ERROR, VAST error 100). Only bytes come back from the worker (a header and a
payload, never a pickle), so even a compromised worker cannot run code in the proxy.

The pool is here; the worker process (layers 2 and 3) is transform_worker.py, the pool's handle on one worker
transform_process.py, and what they say to each other transform_protocol.py.

Linux only: the sandbox reads /proc/self and relies on RLIMIT_AS/RLIMIT_NOFILE semantics.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

from proxy.ads.errors import AdParseError, ErrorCode
from proxy.ads.xslt import MiB, TransformSpec, check_xpath, compile_check, specs_from_config
from proxy.errors import TransformError, TransformTimeout
from proxy.playback import transform_worker
from proxy.playback.transform_process import WorkerGone, WorkerProcess
from proxy.playback.transform_protocol import OK, PARSE, REPLY_OVERHEAD, RETIRE, UNCHANGED, Job, Limits

__all__ = [
    "TransformPool",
    "TransformSpec",
    "check_xpath",
    "compile_check",
    "specs_from_config",
]

DEFAULT_MAX_DOCUMENT_BYTES = 1 * MiB  # cap bytes before parsing (lxml FAQ: XML bombs)
DEFAULT_MAX_OUTPUT_BYTES = 1 * MiB
DEFAULT_TIMEOUT = 1.0
DEFAULT_MEMORY_LIMIT = 256 * MiB  # address space a worker may add to what it had when it started


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
        self._limits = Limits(
            memory_limit=memory_limit,
            max_output_bytes=max_output_bytes,
            max_document_bytes=max_document_bytes,
            cpu_seconds=timeout + 1.0,
        )
        self._context: Any = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            # Workers fork from a server that has imported the worker's module (and lxml) once: a new worker is
            # ready in milliseconds. "__main__" is multiprocessing's default preload, kept.
            self._context.set_forkserver_preload(["__main__", transform_worker.__name__])
        self._idle: queue.SimpleQueue[WorkerProcess | None] = queue.SimpleQueue()
        for _ in range(self.size):
            self._idle.put(None)  # started on first use
        self._busy: set[WorkerProcess] = set()
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

    def _job(self, specs: Sequence[TransformSpec], document: bytes) -> Job | None:
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
        if status == OK:
            return payload
        if status == UNCHANGED:
            return document
        message = payload.decode("utf-8", "replace")
        if status == PARSE:
            raise AdParseError(ErrorCode.XML_PARSING, message)
        raise TransformError(message)

    def _checkout(self) -> WorkerProcess:
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

    def _start_worker(self) -> WorkerProcess:
        worker = WorkerProcess(self._context, self._limits)
        with self._lock:
            self.workers_started += 1
        return worker

    def _checkin(self, worker: WorkerProcess, *, healthy: bool, retire: bool) -> None:
        with self._lock:
            self._busy.discard(worker)
            closed = self._closed
            if not healthy:
                self.workers_killed += 1
        if not closed and healthy and not retire and worker.jobs < self.max_jobs_per_worker:
            self._put_idle(worker)
            return
        worker.stop(kill=not healthy)
        replacement: WorkerProcess | None = None
        if not closed:
            try:
                replacement = self._start_worker()  # ready for the next job
            except Exception:
                replacement = None  # started on next use
        self._put_idle(replacement)

    def _put_idle(self, worker: WorkerProcess | None) -> None:
        self._idle.put(worker)
        if self._closed:  # closed meanwhile: close() may have drained the queue already
            self._stop_idle()
            self._idle.put(None)

    def _call(self, job: Job) -> bytes:
        """Runs in a pool thread: one job on one worker, the worker replaced when it failed. A worker found
        dead before it got the job (killed from outside while idle) is replaced and the job sent again, once."""
        for attempt in (1, 2):
            worker = self._checkout()
            healthy = retire = False
            try:
                reply = worker.call(job, self.timeout, self.max_output_bytes + REPLY_OVERHEAD)
                if reply is None:
                    raise TransformTimeout(
                        f"the transform ran longer than its {self.timeout:g} s limit: worker killed and replaced"
                    )
                healthy = True
                retire = reply.startswith(RETIRE)
                return reply[1:]
            except WorkerGone as exc:
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
