"""Fixtures of the dashboard's page tests: an app over a fresh SQLite store, and a client of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import mltrack_core as mt
from mltrack_core.server import ServerSettings, create_app


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    """A fresh SQLite store."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def tracker(store_uri: str) -> Iterator[mt.Tracker]:
    """A tracker that writes to the store the dashboard reads."""
    with mt.connect(store_uri) as opened:
        yield opened


@pytest.fixture
def client(store_uri: str, tracker: mt.Tracker) -> Iterator[TestClient]:
    """The dashboard (and the REST API) over the store, read-only like ``mltrack ui``."""
    tracker.flush()
    with TestClient(create_app(ServerSettings(store_uri, read_only=True))) as opened:
        yield opened
