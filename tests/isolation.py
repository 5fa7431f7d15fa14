"""A pytest plugin (loaded by tests/conftest.py): the run fails if it created or changed anything under
./data (a running demo's state) or bench/results (recorded figures, tracked by git). Tests keep their state
in temporary folders; a test that falls back to the default data dir would share a demo's channels.

Under pytest-xdist only the controller checks, after every worker has finished."""

from __future__ import annotations

from pathlib import Path

import pytest

GUARDED = ("data", "bench/results")
BEFORE = pytest.StashKey[dict[str, int]]()


def guarded_roots(config: pytest.Config) -> list[Path]:
    roots = {config.rootpath.resolve(), Path.cwd().resolve()}
    return [root / name for root in sorted(roots) for name in GUARDED]


def snapshot(config: pytest.Config) -> dict[str, int]:
    """Every file and folder under the guarded roots, with its modification time."""
    found: dict[str, int] = {}
    for root in guarded_roots(config):
        if root.exists():
            for path in [root, *root.rglob("*")]:
                found[str(path)] = path.stat().st_mtime_ns
    return found


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    if not is_worker(session.config):
        session.config.stash[BEFORE] = snapshot(session.config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if is_worker(session.config) or BEFORE not in session.config.stash:
        return
    before, after = session.config.stash[BEFORE], snapshot(session.config)
    touched = sorted(path for path in after.keys() | before.keys() if before.get(path) != after.get(path))
    if touched:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "the test run touched ./data or bench/results (use a temporary folder): " + ", ".join(touched[:10])
        if reporter is not None:
            reporter.write_line(message, red=True, bold=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
