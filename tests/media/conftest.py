"""Redis for the media tests that need it: the `prefix` fixture (tests/redisdb.py)."""

from __future__ import annotations

from tests.redisdb import prefix

__all__ = ["prefix"]
