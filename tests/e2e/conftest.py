"""The cluster fixtures (tests/e2e/cluster.py) for every whole-system test that needs two edges on Redis."""

from __future__ import annotations

from tests.e2e.cluster import cluster
from tests.redisdb import prefix

__all__ = ["cluster", "prefix"]
