"""`ssai-proxy` run as a user runs it: `python -m proxy …` in a process of its own, in a folder of the test's."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from proxy.demo.media import DemoMedia

ROOT = Path(__file__).resolve().parents[2]  # this tree's `proxy`, whatever the current folder


def environment(**extra: str) -> dict[str, str]:
    keep = {key: value for key, value in os.environ.items() if not key.startswith("SSAI_")}
    return keep | {"PYTHONPATH": str(ROOT)} | extra


def run(folder: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "proxy", *argv]
    return subprocess.run(command, cwd=folder, env=environment(**env), capture_output=True, text=True, timeout=120)


def start(folder: Path, *argv: str, **env: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "proxy", *argv]
    return subprocess.Popen(
        command, cwd=folder, env=environment(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@contextlib.contextmanager
def running(folder: Path, *argv: str, **env: str) -> Iterator[subprocess.Popen[str]]:
    process = start(folder, *argv, **env)
    try:
        yield process
    finally:
        process.kill()
        process.communicate(timeout=30)


def wait_until_serving(process: subprocess.Popen[str], base: str) -> None:
    """Until /healthz answers; a deadline, not a threshold: the process may be encoding media on a loaded machine."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        with contextlib.suppress(OSError):  # refused while it starts (urllib.error.URLError is an OSError)
            with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
                if response.status == 200:
                    return
        time.sleep(0.3)
    raise AssertionError(f"{base} did not answer in 300 s")


def seed_demo_media(media: DemoMedia, data_dir: Path) -> None:
    """The run's encoded demo media copied into a data dir, so a demo process does not encode it again."""
    shutil.copytree(media.root.parent, data_dir / "demo-media")
