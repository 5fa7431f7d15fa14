"""proxy.hls and proxy.ads are pure (no I/O imports): importing any of their modules, in a fresh interpreter,
loads no event loop, HTTP framework, server or store client, and of the proxy only proxy.hls, proxy.ads and
proxy.errors (the bottom tier: imports point down only).
"""

from __future__ import annotations

import functools
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
FORBIDDEN = ("asyncio", "aiohttp", "starlette", "uvicorn", "redis")
PURE_PACKAGES = ("proxy.hls", "proxy.ads")
# What a pure module may import of the proxy: the core's packages and the errors.
CORE = ("proxy", "proxy.hls", "proxy.ads", "proxy.errors")


def pure_modules() -> list[str]:
    names = list(PURE_PACKAGES)
    for package in PURE_PACKAGES:
        folder = ROOT.joinpath(*package.split("."))
        names += [f"{package}.{info.name}" for info in pkgutil.iter_modules([str(folder)])]
    return sorted(names)


CHECK = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


@functools.cache
def loaded_by(module: str) -> tuple[str, ...]:
    """Every module a fresh interpreter has loaded once it has imported `module`."""
    result = subprocess.run(
        [sys.executable, "-c", CHECK, module],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"importing {module} failed:\n{result.stderr}"
    loaded: list[str] = json.loads(result.stdout)
    return tuple(loaded)


def imported_forbidden(module: str) -> list[str]:
    """The modules of the FORBIDDEN packages a fresh import of `module` loads."""
    return [name for name in loaded_by(module) if name.split(".")[0] in FORBIDDEN]


def imported_proxy_outside_core(module: str) -> list[str]:
    """The proxy modules outside proxy.hls, proxy.ads and proxy.errors a fresh import of `module` loads."""
    return [
        name
        for name in loaded_by(module)
        if name.split(".")[0] == "proxy" and name not in CORE and not name.startswith(("proxy.hls.", "proxy.ads."))
    ]


def test_the_check_sees_a_forbidden_import() -> None:
    assert "asyncio" in imported_forbidden("asyncio.queues")


def test_every_module_is_listed() -> None:
    modules = pure_modules()
    assert {"proxy.hls.playlist", "proxy.hls.master", "proxy.ads.vast", "proxy.ads.fit"} <= set(modules)


def test_the_check_sees_an_upward_import() -> None:
    assert "proxy.settings" in imported_proxy_outside_core("proxy.settings")
    assert imported_proxy_outside_core("proxy.errors") == []


@pytest.mark.parametrize("module", pure_modules())
def test_pure_module_imports_no_io_framework(module: str) -> None:
    assert imported_forbidden(module) == [], f"{module} pulls in an I/O framework"


@pytest.mark.parametrize("module", pure_modules())
def test_pure_module_imports_only_the_core(module: str) -> None:
    outside = imported_proxy_outside_core(module)
    assert outside == [], f"{module} imports {outside}: pure modules import only proxy.hls, proxy.ads, proxy.errors"


def test_control_never_imports_playback() -> None:
    """The control plane compiles ad configurations with proxy.ads.config, never through playback."""
    for module in ("proxy.control.plane", "proxy.control.channelstore"):
        upward = [name for name in loaded_by(module) if name.startswith(("proxy.playback", "proxy.web"))]
        assert upward == [], f"{module} imports {upward}"
