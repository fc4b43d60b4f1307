"""The backend contract suite through the REST backend, in front of each store the server can serve."""

from __future__ import annotations

import pytest

from mltrack_core.testing import StoreContract


class TestRestBackend(StoreContract):
    @pytest.fixture
    def store_uri(self, server) -> str:
        return server.url
