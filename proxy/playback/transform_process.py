"""The pool's handle on one sandboxed worker process (transform_worker.py): start it and wait until it is in its
sandbox, send it a job and read its reply, tell how it ended, stop it."""

from __future__ import annotations

import signal
from multiprocessing.connection import Connection
from typing import Any

from proxy.errors import TransformError
from proxy.playback.transform_protocol import READY, STARTUP_TIMEOUT, Job, Limits
from proxy.playback.transform_worker import worker_main


class WorkerGone(Exception):
    """The worker died; `job_sent`: after it was given the job (a job not sent can be sent to another worker)."""

    def __init__(self, message: str, *, job_sent: bool) -> None:
        super().__init__(message)
        self.job_sent = job_sent


class WorkerProcess:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, context: Any, limits: Limits) -> None:
        parent_end, child_end = context.Pipe(duplex=True)
        try:
            self.process = context.Process(
                target=worker_main, args=(child_end, limits), name="ssai-xslt-worker", daemon=True
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
            ready = parent_end.recv_bytes(len(READY)) if parent_end.poll(STARTUP_TIMEOUT) else b""
        except (EOFError, OSError):
            ready = b""
        if ready != READY:
            reason = self.death() if ready or not self.process.is_alive() else f"not ready after {STARTUP_TIMEOUT:g} s"
            self.stop(kill=True)
            raise TransformError(f"a transform worker failed to start: {reason}")

    def call(self, job: Job, timeout: float, max_reply: int) -> bytes | None:
        """The reply, or None when the job outlived `timeout` (the caller kills the worker)."""
        self.jobs += 1
        try:
            self.conn.send(job)
        except (EOFError, OSError) as exc:
            raise WorkerGone(self.death(), job_sent=False) from exc
        try:
            if not self.conn.poll(timeout):
                return None
            return self.conn.recv_bytes(max_reply)
        except (EOFError, OSError) as exc:
            raise WorkerGone(self.death(), job_sent=True) from exc

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
