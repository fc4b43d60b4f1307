"""The pytest fixtures every mltrack package's tests share; load with ``pytest_plugins``.

In a package's top-level ``tests/conftest.py``::

    pytest_plugins = ["mltrack_core.testing.fixtures"]

* ``isolated_home`` (automatic): each test gets its own ``MLTRACK_HOME``, every
  other ``MLTRACK_*`` setting of the developer's environment is removed
  (``MLTRACK_TEST_*`` settings, which point tests at their servers, stay), and
  the process-wide default tracker is forgotten and restored afterwards;
* ``tracker``: a tracker on a fresh ``memory://`` store, with its artifacts in the test's folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import mltrack_core as mt

__all__ = ["isolated_home", "tracker"]

_KEPT_PREFIX = "MLTRACK_TEST_"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh ``MLTRACK_HOME`` and none of the developer's own mltrack settings (URI, tokens, mail, ...)."""
    for variable in [name for name in os.environ if name.startswith("MLTRACK_")]:
        if not variable.startswith(_KEPT_PREFIX):
            monkeypatch.delenv(variable)
    home = tmp_path_factory.mktemp("mltrack-home")
    monkeypatch.setenv("MLTRACK_HOME", str(home))
    previous = mt.set_tracker(None)
    yield home
    mt.set_tracker(previous)


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[mt.Tracker]:
    """A tracker on a fresh in-memory store."""
    with mt.connect("memory://", artifacts=tmp_path / "artifacts") as tracker:
        yield tracker
