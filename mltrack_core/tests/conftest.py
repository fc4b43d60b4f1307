"""Shared fixtures: every test gets its own mltrack home, so nothing leaks between tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import mltrack_core as mt


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    home = tmp_path_factory.mktemp("mltrack-home")
    monkeypatch.setenv("MLTRACK_HOME", str(home))
    for variable in ("MLTRACK_URI", "MLTRACK_EXPERIMENT", "MLTRACK_TEAM", "MLTRACK_CREATOR", "MLTRACK_DISABLE_PLUGINS"):
        monkeypatch.delenv(variable, raising=False)
    for variable in [name for name in os.environ if name.startswith(("MLTRACK_SMTP_", "MLTRACK_NOTIFY_"))]:
        monkeypatch.delenv(variable)  # a developer's own digest settings must not make the tests send mail
    previous = mt.set_tracker(None)
    yield
    mt.set_tracker(previous)


@pytest.fixture
def tracker(tmp_path) -> Iterator[mt.Tracker]:
    """A tracker on a fresh in-memory store."""
    with mt.connect("memory://", artifacts=tmp_path / "artifacts") as tracker:
        yield tracker
