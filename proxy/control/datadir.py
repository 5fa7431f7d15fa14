"""The data directory, held by one process at a time.

Two processes on one data directory would share one channel store and overwrite each other's channels (a
second demo rewrites the origin URLs of the first). `hold_data_dir` takes an exclusive flock(2) on a file in it
for the process's life: the kernel drops the lock when the process ends, however it ends (kill -9 included), so
a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from proxy.errors import ConfigError

LOCK_FILE = "ssai-proxy.lock"


def make_data_dir(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"data dir {str(data_dir)!r}: {error.strerror}: expected a folder this user can write"
        ) from None


@contextlib.contextmanager
def hold_data_dir(data_dir: Path) -> Iterator[None]:
    """Hold `data_dir` until the block ends; `ConfigError` naming the holder when another process has it."""
    make_data_dir(data_dir)
    with open(data_dir / LOCK_FILE, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            raise ConfigError(
                f"data dir {str(data_dir)!r} is in use by another ssai-proxy (pid {holder}): "
                "expected a data dir of its own (--data-dir or SSAI_DATA_DIR)"
            ) from None
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield
