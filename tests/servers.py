from __future__ import annotations

from proxy.testing import LOCAL_POLICY, free_port, local_settings, run_server

__all__ = ["LOCAL_POLICY", "free_port", "local_settings", "run_server"]
