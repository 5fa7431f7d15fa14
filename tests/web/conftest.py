"""The control API on a test client over a fresh database, SQLite and PostgreSQL (tests/control/conftest.py), for
the tests of the web layer's mechanics that go through it (the OpenAPI document, read-only fields)."""

from __future__ import annotations

from tests.control.conftest import api, credentials, database, database_url, stalled_url

__all__ = ["api", "credentials", "database", "database_url", "stalled_url"]
