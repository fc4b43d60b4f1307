"""Cross-package tests: every test gets its own mltrack home."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path_factory.mktemp("mltrack-home")))
    for variable in ("MLTRACK_URI", "MLTRACK_EXPERIMENT", "MLTRACK_DISABLE_PLUGINS"):
        monkeypatch.delenv(variable, raising=False)
