"""Plugin discovery through entry points: backends by scheme, broken and disabled plugins, guarded observers.

Each test installs plugins the way an installer does, as a distribution's
``*.dist-info/entry_points.txt`` on ``sys.path``, so the real discovery code runs.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points

import pytest

import mltrack_core as mt
from mltrack_core.backends.memory import MemoryStore
from mltrack_core.hookspecs import hookimpl
from mltrack_core.plugin.manager import ENTRY_POINT_GROUP, PluginWarning, build_plugin_manager

WORKING_PLUGIN = textwrap.dedent(
    """
    from mltrack_core.plugin import hookimpl
    from mltrack_core.backends.memory import MemoryStore

    @hookimpl
    def mltrack_open_store(uri):
        return MemoryStore(uri)
    """
)
SQLITE_REPLACEMENT = textwrap.dedent(
    """
    from mltrack_core.plugin import hookimpl
    from mltrack_core.backends.memory import MemoryStore

    @hookimpl
    def mltrack_open_store(uri):
        return MemoryStore("memory://instead-of-" + uri)
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

    def install_plugin(name: str, source: str, distribution: str | None = None) -> None:
        module = f"plugin_{distribution or name}"
        (tmp_path / f"{module}.py").write_text(source)
        info = tmp_path / f"{module}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[mltrack]\n{name} = {module}\n")

    monkeypatch.syspath_prepend(str(tmp_path))
    return install_plugin


def test_the_built_in_backends_are_entry_points_named_by_scheme():
    names = {entry_point.name: entry_point.value for entry_point in entry_points(group=ENTRY_POINT_GROUP)}
    assert names["memory"] == "mltrack_core.backends.memory" and names["sqlite"] == "mltrack_core.backends.sqlite"
    assert names["postgresql"] == names["postgres"] == "mltrack_core.backends.postgresql"
    assert names["http"] == names["https"] == "mltrack_core.backends.rest"


def test_a_backend_is_found_by_its_entry_point_like_the_built_in_ones(install):
    install("plugtest", WORKING_PLUGIN)
    with mt.connect("plugtest://somewhere") as tracker:
        assert tracker.track_dataset(name="d").name == "d"
    manager = build_plugin_manager()
    assert {"plugtest", "memory", "sqlite", "http", "https", "postgres"} <= set(manager.stores)
    assert manager.stores["http"] is manager.stores["https"] is manager.get_plugin("http")
    assert {"plugtest", "memory", "sqlite"} <= {name for name, _ in manager.list_name_plugin()}


def test_schemes_are_case_insensitive_and_unknown_ones_name_the_installed(install):
    install("plugtest", WORKING_PLUGIN)
    with mt.connect("PlugTest://somewhere") as tracker:
        assert tracker.uri == "PlugTest://somewhere"
    with pytest.raises(mt.UnknownSchemeError, match=r"no installed backend handles 'nope'.*installed: .*plugtest"):
        mt.connect("nope://x")
    with pytest.raises(mt.UnknownSchemeError, match="not a store URI"):
        mt.connect("store.db")


def test_two_plugins_claiming_one_scheme_are_named_and_the_third_party_one_wins(install):
    install("sqlite", SQLITE_REPLACEMENT, distribution="fastsqlite")
    with pytest.warns(
        PluginWarning,
        match=r"plugin_fastsqlite \(plugin_fastsqlite\) and mltrack_core.backends.sqlite "
        r"\(mltrack-core\) are both named 'sqlite'; using plugin_fastsqlite",
    ):
        manager = build_plugin_manager()
    assert manager.open_store("sqlite:///x.db").uri == "memory://instead-of-sqlite:///x.db"


def test_the_loser_of_a_scheme_can_be_chosen_by_disabling_the_winner(install, monkeypatch, tmp_path):
    install("sqlite", SQLITE_REPLACEMENT, distribution="fastsqlite")
    monkeypatch.setenv("MLTRACK_DISABLE_PLUGINS", "plugin_fastsqlite")
    with mt.connect(f"sqlite:///{tmp_path / 's.db'}") as tracker:
        assert tracker.uri.startswith("sqlite:///")


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
    late = ("mltrack_core.plugin.manager", "mltrack_core.backends.sqlite")
    script = f"import sys, mltrack_core; print(sorted(name for name in sys.modules if name in {late!r}))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------- observers and environment hooks


class Recording:
    """Observers that record the order pluggy's own call gives them."""

    def __init__(self, calls: list[str], label: str) -> None:
        self.calls = calls
        self.label = label


def _observers(calls: list[str]) -> list[tuple[str, object]]:
    class First(Recording):
        @hookimpl(tryfirst=True)
        def mltrack_run_ended(self, run):
            self.calls.append(self.label)

    class Plain(Recording):
        @hookimpl
        def mltrack_run_ended(self, run):
            self.calls.append(self.label)

    class Last(Recording):
        @hookimpl(trylast=True)
        def mltrack_run_ended(self, tracker, run):
            self.calls.append(self.label)

    class Around(Recording):
        @hookimpl(wrapper=True)
        def mltrack_run_ended(self, run):
            self.calls.append(f"{self.label} before")
            result = yield
            self.calls.append(f"{self.label} after")
            return result

    return [
        ("last", Last(calls, "last")),
        ("first", First(calls, "first")),
        ("around", Around(calls, "around")),
        ("plain-1", Plain(calls, "plain-1")),
        ("plain-2", Plain(calls, "plain-2")),
    ]


@pytest.mark.parametrize("with_wrapper", [True, False], ids=["with a wrapper", "without wrappers"])
def test_observers_run_in_pluggys_own_order_with_wrappers_around(tracker, with_wrapper):
    calls: list[str] = []
    for name, observer in _observers(calls):
        if with_wrapper or name != "around":
            tracker.plugins.register(observer, name=name)
    run = tracker.track_training(name="r")
    ended = run.finish()
    observed, calls[:] = list(calls), []
    tracker.plugins.hook.mltrack_run_ended(tracker=tracker, run=ended)  # pluggy's own call
    assert observed == calls
    expected = ["first", "plain-2", "plain-1", "last"]
    assert calls == (["around before", *expected, "around after"] if with_wrapper else expected)


def test_a_failing_observer_is_reported_once_and_set_aside_while_the_others_go_on(tracker):
    seen: list[int] = []

    class Broken:
        @hookimpl
        def mltrack_points_appended(self, points):
            raise RuntimeError("dashboard offline")

    class Counting:
        @hookimpl
        def mltrack_points_appended(self, points):
            seen.append(len(points))

    tracker.plugins.register(Broken(), name="broken-dashboard")
    tracker.plugins.register(Counting(), name="counter")
    run = tracker.track_training(name="r")

    def train() -> None:
        for batch in range(5):
            run.log("loss", float(batch), step=batch)
            assert run.flush()
        run.finish()

    with pytest.warns(mt.TrackingWarning, match="observer 'broken-dashboard' failed") as caught:
        train()
    assert len([w for w in caught if "broken-dashboard" in str(w.message)]) == 1
    assert sum(seen) == 5 and len(seen) == 5
    assert "does not call it again" in str(caught[0].message)


def test_a_failing_wrapper_is_set_aside_too(tracker):
    class BrokenWrapper:
        @hookimpl(wrapper=True)
        def mltrack_entities_stored(self, entities):
            yield
            raise RuntimeError("wrapped badly")

    tracker.plugins.register(BrokenWrapper(), name="broken-wrapper")
    with pytest.warns(mt.TrackingWarning, match="observer 'broken-wrapper' failed.*wrapped badly"):
        first = tracker.track_dataset(name="a")
    second = tracker.track_dataset(name="b")  # no second warning: filterwarnings=error would raise it
    assert {first.id, second.id} <= {d.id for d in tracker.find("dataset")}


def test_a_broken_environment_hook_does_not_break_explicit_tracking(tracker):
    class BrokenFacts:
        @hookimpl
        def mltrack_environment(self):
            raise OSError("cannot read /proc/gpu")

    class GoodFacts:
        @hookimpl
        def mltrack_environment(self):
            return {"lab.rack": "7"}

    tracker.plugins.register(BrokenFacts(), name="broken-facts")
    tracker.plugins.register(GoodFacts(), name="good-facts")
    dataset = tracker.track_dataset(name="d")
    with pytest.warns(mt.TrackingWarning, match="plugin 'broken-facts' failed in mltrack_environment.*proc/gpu"):
        model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=dataset)
    assert model.environment["lab.rack"] == "7"
    assert tracker.track_model(name="m2", learning_algorithm="lr", trained_on=dataset).environment["lab.rack"] == "7"


def test_a_store_plugin_returning_nothing_is_an_error(tracker):
    class Lazy:
        @hookimpl
        def mltrack_open_store(self, uri):
            return None

    manager = build_plugin_manager()
    manager.register(Lazy(), name="lazy")
    manager.stores["lazy"] = manager.get_plugin("lazy")
    with pytest.raises(mt.StoreError, match="the lazy backend did not open 'lazy://x'"):
        manager.open_store("lazy://x")
    assert isinstance(manager.open_store("memory://"), MemoryStore)
