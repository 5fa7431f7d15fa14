"""One process per data dir: a second `demo` or `serve` on it is refused before it starts (it would overwrite the
first one's channels), and a killed holder (kill -9) leaves no stale lock. `serve` runs without a channel file."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from proxy.control.datadir import LOCK_FILE
from proxy.demo.media import DemoMedia
from proxy.demo.testing import free_port
from tests.cli.process import running, seed_demo_media, wait_until_serving


def wait_for_holder(process: subprocess.Popen[str], data_dir: Path) -> None:
    """Until `process` has written its pid in the lock file: it holds the data dir from then on."""
    deadline = time.monotonic() + 120  # a deadline, not a threshold: a loaded machine starts Python slowly
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        lock = data_dir / LOCK_FILE
        if lock.is_file() and lock.read_text().strip() == str(process.pid):
            return
        time.sleep(0.1)
    raise AssertionError(f"{process.args!r} did not take {data_dir} in 120 s")


def refused_second(folder: Path, holder: int, *argv: str) -> None:
    with running(folder, *argv) as second:
        _, err = second.communicate(timeout=120)
    assert second.returncode == 2 and len(err.splitlines()) == 1, err
    assert f"is in use by another ssai-proxy (pid {holder})" in err and str(folder / "data") in err, err


@pytest.mark.slow
def test_a_second_process_on_a_data_dir_is_refused(demo_media: DemoMedia, tmp_path: Path) -> None:
    seed_demo_media(demo_media, tmp_path / "data")
    first_port = str(free_port())
    with running(tmp_path, "demo", "--port", first_port, "--target-duration", "2", "--data-dir", "data") as first:
        wait_for_holder(first, tmp_path / "data")
        refused_second(tmp_path, first.pid, "demo", "--port", str(free_port()), "--data-dir", "data")
        refused_second(tmp_path, first.pid, "serve", "--port", str(free_port()), "--data-dir", "data")
        wait_until_serving(first, f"http://127.0.0.1:{first_port}")  # the first one is unharmed
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    port = free_port()
    with running(tmp_path, "serve", "--port", str(port), "--data-dir", "data") as after:
        wait_until_serving(after, f"http://127.0.0.1:{port}")  # no stale lock, no channel file needed
        wait_for_holder(after, tmp_path / "data")
