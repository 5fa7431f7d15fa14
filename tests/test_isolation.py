"""The isolation check of tests/isolation.py fails a run that writes ./data or bench/results, and passes one
that keeps to its temporary folders (run as a pytest subprocess in an empty folder, with and without xdist)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WRITES_DATA = (
    "from pathlib import Path\n\ndef test_x():\n    Path('data').mkdir()\n    Path('data/x.db').write_text('')\n"
)
KEEPS_TO_TMP = "def test_x(tmp_path):\n    (tmp_path / 'data').mkdir()\n"


def run_pytest(folder: Path, body: str, *extra: str) -> subprocess.CompletedProcess[str]:
    (folder / "test_case.py").write_text(body)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "tests.isolation", "-p", "no:cacheprovider", *extra]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("extra", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_run_that_creates_data_fails_naming_it(tmp_path: Path, extra: tuple[str, ...]) -> None:
    result = run_pytest(tmp_path, WRITES_DATA, *extra)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout + result.stderr
    assert f"touched ./data or bench/results (use a temporary folder): {tmp_path.resolve()}/data" in result.stdout


@pytest.mark.parametrize("extra", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_run_that_keeps_to_its_temporary_folders_passes(tmp_path: Path, extra: tuple[str, ...]) -> None:
    result = run_pytest(tmp_path, KEEPS_TO_TMP, *extra)
    assert result.returncode == pytest.ExitCode.OK, result.stdout + result.stderr
    assert not (tmp_path / "data").exists()
