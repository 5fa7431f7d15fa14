"""proxy.hls and proxy.ads are pure (ARCHITECTURE.md §2): importing any of their modules, in a fresh interpreter,
loads no event loop, HTTP framework, server or store client.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
FORBIDDEN = ("asyncio", "aiohttp", "starlette", "uvicorn", "redis")
PURE_PACKAGES = ("proxy.hls", "proxy.ads")


def pure_modules() -> list[str]:
    names = list(PURE_PACKAGES)
    for package in PURE_PACKAGES:
        folder = ROOT.joinpath(*package.split("."))
        names += [f"{package}.{info.name}" for info in pkgutil.iter_modules([str(folder)])]
    return sorted(names)


CHECK = """
import importlib, json, sys
forbidden = set(sys.argv[2].split(","))
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in forbidden)))
"""


def imported_forbidden(module: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", CHECK, module, ",".join(FORBIDDEN)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"importing {module} failed:\n{result.stderr}"
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_the_check_sees_a_forbidden_import() -> None:
    assert "asyncio" in imported_forbidden("asyncio.queues")


def test_every_module_is_listed() -> None:
    modules = pure_modules()
    assert {"proxy.hls.playlist", "proxy.hls.master", "proxy.ads.vast", "proxy.ads.fit"} <= set(modules)


@pytest.mark.parametrize("module", pure_modules())
def test_pure_module_imports_no_io_framework(module: str) -> None:
    assert imported_forbidden(module) == [], f"{module} pulls in an I/O framework"
