"""Where a benchmark writes its figures: `--out PATH` names the file; without it, bench/results/latest/
(untracked), so running a benchmark never rewrites the recorded results under bench/results/. A temporary
data dir unless SSAI_DATA_DIR names one, so a benchmark never shares a running demo's ./data."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LATEST = Path(__file__).parent / "results" / "latest"


def split_out(argv: list[str]) -> tuple[list[str], Path | None]:
    """The arguments without `--out PATH` (or `--out=PATH`), and that path."""
    rest: list[str] = []
    out: Path | None = None
    args = iter(argv)
    for arg in args:
        if arg == "--out":
            out = Path(next(args, ""))
        elif arg.startswith("--out="):
            out = Path(arg.split("=", 1)[1])
        else:
            rest.append(arg)
    if out is not None and not out.name:
        raise SystemExit("--out needs a file path")
    return rest, out


def write_result(result: dict[str, Any], name: str, out: Path | None) -> Path:
    path = out or LATEST / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


@contextlib.contextmanager
def data_dir() -> Iterator[str]:
    named = os.environ.get("SSAI_DATA_DIR")
    if named:
        yield named
        return
    with tempfile.TemporaryDirectory(prefix="bench-data-") as folder:
        yield folder
