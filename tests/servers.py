from __future__ import annotations

from proxy.testing import free_port, run_server

__all__ = ["free_port", "run_server"]
