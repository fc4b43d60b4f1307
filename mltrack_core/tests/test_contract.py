"""The backend contract suite against the built-in backends."""

from __future__ import annotations

import pytest

from mltrack_core.testing import StoreContract


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store_uri(self) -> str:
        return "memory://"


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store_uri(self, tmp_path) -> str:
        return f"sqlite:///{tmp_path}/store.db"
