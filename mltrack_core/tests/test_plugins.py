"""Plugin discovery through entry points: working, broken and disabled plugins.

Each test installs plugins the way an installer does, as a distribution's
``*.dist-info/entry_points.txt`` on ``sys.path``, so the real discovery code runs.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import mltrack_core as mt
from mltrack_core.plugins import PluginWarning, build_plugin_manager

WORKING_PLUGIN = textwrap.dedent(
    """
    from mltrack_core import hookimpl
    from mltrack_core.backends.memory import MemoryStore

    @hookimpl
    def mltrack_store_schemes():
        return ["plugtest"]

    @hookimpl
    def mltrack_open_store(uri):
        return MemoryStore(uri) if uri.startswith("plugtest://") else None
    """
)
BROKEN_PLUGIN = "raise ImportError('needs libfoo.so, which is not installed')\n"
OUTDATED_PLUGIN = textwrap.dedent(
    """
    from mltrack_core import hookimpl

    @hookimpl
    def mltrack_store_opened_v0(uri):
        return None
    """
)


@pytest.fixture
def install(tmp_path, monkeypatch):
    """Install a one-module distribution whose module is registered under the entry point ``name``."""

    def install_plugin(name: str, source: str) -> None:
        module = f"plugin_{name}"
        (tmp_path / f"{module}.py").write_text(source)
        info = tmp_path / f"{module}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[mltrack]\n{name} = {module}\n")

    monkeypatch.syspath_prepend(str(tmp_path))
    return install_plugin


def test_a_backend_is_found_by_its_entry_point(install):
    install("plugtest", WORKING_PLUGIN)
    with mt.connect("plugtest://somewhere") as tracker:
        assert tracker.track_dataset(name="d").name == "d"
    manager = build_plugin_manager()
    assert {"plugtest", "memory", "sqlite"} <= {name for name, _ in manager.list_name_plugin()}


def test_a_broken_plugin_is_reported_and_skipped(install):
    install("broken", BROKEN_PLUGIN)
    with pytest.warns(PluginWarning, match="plugin 'broken'.*skipped: ImportError: needs libfoo.so"):
        tracker = mt.connect("memory://")
    assert tracker.track_dataset(name="still works").name == "still works"


def test_a_plugin_with_unknown_hooks_is_reported_and_skipped(install):
    install("outdated", OUTDATED_PLUGIN)
    with pytest.warns(PluginWarning, match="plugin 'outdated' was skipped.*another mltrack version"):
        manager = build_plugin_manager()
    assert manager.get_plugin("outdated") is None


def test_plugins_can_be_disabled_by_name(install, monkeypatch):
    install("broken", BROKEN_PLUGIN)
    monkeypatch.setenv("MLTRACK_DISABLE_PLUGINS", "broken, memory")
    with pytest.raises(mt.UnknownSchemeError, match=r"installed: .*sqlite"):
        mt.connect("memory://")


def test_the_plugin_manager_is_not_built_at_import_time():
    late = ("mltrack_core.plugins", "mltrack_core.backends.sqlite")
    script = f"import sys, mltrack_core; print(sorted(name for name in sys.modules if name in {late!r}))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
