"""The backend contract suite against PostgreSQL, each test in a fresh schema."""

from __future__ import annotations

from mltrack_core.testing import StoreContract


class TestPostgresqlStore(StoreContract):
    """store_uri (a fresh schema of the test server) comes from conftest.py."""
