"""What the transform pool (transforms.py) and its sandboxed workers (transform_worker.py) say to each other over
a pipe: a job is a pickled `Job` (sent by the parent only; a worker never unpickles anything but what its parent
sends), a reply is bytes: `RETIRE` (the worker exits after it) or `STAY`, a status byte, the payload (the output
or a message). Only bytes come back, never a pickle, so even a compromised worker cannot run code in the proxy."""

from __future__ import annotations

from dataclasses import dataclass

from proxy.ads.xslt import KiB

# A job: the (xpath, xslt) pairs to apply in order, and the ad response.
Job = tuple[tuple[tuple[str, str], ...], bytes]

# The status byte of a reply: output, unchanged (no xpath matched), document refused, transform failed.
OK, UNCHANGED, PARSE, FAILED = b"O", b"U", b"P", b"F"
RETIRE, STAY = b"R", b"-"
READY = b"ready"  # first message of a worker, once in its sandbox: job time limits do not count its start-up
STARTUP_TIMEOUT = 10.0
REPLY_OVERHEAD = 64 * KiB  # room for the header and an error message beyond max_output_bytes


@dataclass(frozen=True, slots=True)
class Limits:
    """What a worker is allowed, fixed when it starts."""

    memory_limit: int
    max_output_bytes: int
    max_document_bytes: int
    cpu_seconds: float
