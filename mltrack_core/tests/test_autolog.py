"""mltrack_core.autolog(): dispatch to every plugin's mltrack_autolog hook; when_imported(): patch on import."""

from __future__ import annotations

import importlib
import importlib.resources
import os
import sys
import threading
import uuid
import warnings

import pytest
from plugin_guide_blocks import guide_code_blocks
from probe_plugin import write_probe_plugin

import mltrack_core as mt
from mltrack_core.autolog import when_imported
from mltrack_core.hookspecs import hookimpl
from mltrack_core.plugin import MemoryStore, require_framework, supported_versions
from mltrack_core.plugin import when_imported as exported_when_imported
from mltrack_core.plugin.manager import PluginManager

AUTOLOG_MODULE = sys.modules["mltrack_core.autolog"]  # mltrack_core.autolog is the function


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch):
    """Waiting callbacks, the finder and the fork rule's plugins of one test do not outlive it."""
    monkeypatch.setattr(AUTOLOG_MODULE, "_waiting", {})
    monkeypatch.setattr(AUTOLOG_MODULE, "_executed", {})
    monkeypatch.setattr(AUTOLOG_MODULE, "_turned_on_with", None)
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A throwaway package on sys.path: its __init__ imports ``name`` from its submodule ``sub``."""
    name = f"throwaway_{uuid.uuid4().hex[:12]}"
    folder = tmp_path / "packages" / name
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("from .sub import name\n\nSEEN_AT_IMPORT = name()\n")
    (folder / "sub.py").write_text("def name():\n    return 'original'\n")
    (folder / "other.py").write_text("VALUE = 1\n")
    (folder / "data.txt").write_text("resource")
    monkeypatch.syspath_prepend(str(tmp_path / "packages"))
    yield name
    for module in [module for module in sys.modules if module == name or module.startswith(f"{name}.")]:
        del sys.modules[module]


def patch_name(module):
    module.name = lambda: "patched"


# ---------------------------------------------------------------- when_imported


def test_the_callback_runs_before_the_importing_statement_binds_the_name(package):
    when_imported(f"{package}.sub", patch_name)

    namespace = {}
    exec(f"from {package}.sub import name", namespace)  # the user's statement, as written in a program

    assert namespace["name"]() == "patched"
    parent = sys.modules[package]
    assert parent.name() == "patched"  # the package's own `from .sub import name` ran after the callback
    assert parent.SEEN_AT_IMPORT == "patched"


def test_a_package_callback_runs_with_the_package_after_it_executed(package):
    seen = []
    when_imported(package, lambda module: seen.append((module.__name__, module.SEEN_AT_IMPORT)))

    importlib.import_module(package)

    assert seen == [(package, "original")]


def test_a_module_imported_already_is_handed_over_at_once(package):
    module = importlib.import_module(f"{package}.sub")
    seen = []

    when_imported(f"{package}.sub", seen.append)

    assert seen == [module]


def test_an_exception_of_a_callback_run_at_once_reaches_the_caller(package):
    importlib.import_module(package)

    def broken(module):
        raise RuntimeError("cannot patch")

    with pytest.raises(RuntimeError, match="cannot patch"):
        when_imported(package, broken)


def test_a_waiting_callback_registered_twice_runs_once(package):
    seen = []
    when_imported(package, seen.append)
    when_imported(package, seen.append)  # an equal bound method: the same callback

    importlib.import_module(package)
    importlib.import_module(package)

    assert len(seen) == 1


def test_importing_one_submodule_runs_only_its_own_callbacks(package):
    seen = []
    when_imported(f"{package}.other", seen.append)

    importlib.import_module(package)  # imports .sub, not .other
    assert seen == []

    other = importlib.import_module(f"{package}.other")
    assert seen == [other]


def test_a_failing_callback_is_a_warning_and_the_import_goes_on(package):
    def broken(module):
        raise RuntimeError("cannot patch")

    when_imported(f"{package}.sub", broken)

    with pytest.warns(mt.TrackingWarning, match=r"cannot patch\); .*sub is not tracked automatically"):
        module = importlib.import_module(package)

    assert module.name() == "original"


def test_the_imported_module_keeps_its_own_loader(package):
    when_imported(package, patch_name)

    module = importlib.import_module(package)

    assert type(module.__loader__).__name__ == "SourceFileLoader"
    assert module.__spec__.loader is module.__loader__
    assert importlib.resources.files(module).joinpath("data.txt").read_text() == "resource"


def test_a_failed_import_keeps_the_callback_waiting_for_the_next_attempt(package, tmp_path):
    broken = tmp_path / "packages" / package / "broken.py"
    broken.write_text("raise ImportError('not yet')\n")
    seen = []
    when_imported(f"{package}.broken", seen.append)

    with pytest.raises(ImportError, match="not yet"):
        importlib.import_module(f"{package}.broken")
    broken.write_text("FIXED = True\n")
    os.utime(broken, (broken.stat().st_atime, broken.stat().st_mtime + 5))  # a new mtime: no stale bytecode
    importlib.invalidate_caches()
    module = importlib.import_module(f"{package}.broken")

    assert seen == [module] and module.FIXED


def test_other_modules_are_not_looked_up_by_the_finder(package):
    when_imported(package, patch_name)
    finder = sys.meta_path[0]

    assert finder.find_spec("json.decoder", None) is None  # one dictionary lookup, nothing found
    assert finder.find_spec(package, None) is not None


def test_callbacks_registered_from_many_threads_each_run_once_on_the_import(package):
    seen = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def shared(module):
        with lock:
            seen.append("shared")

    def own_callback(index):
        def callback(module):
            with lock:
                seen.append(index)

        return callback

    def register(index):
        start.wait()
        when_imported(f"{package}.other", own_callback(index))
        when_imported(f"{package}.other", shared)

    threads = [threading.Thread(target=register, args=(index,)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    importlib.import_module(f"{package}.other")

    assert sorted(seen, key=str) == sorted([*range(16), "shared"], key=str)


def test_threads_importing_at_once_all_get_what_the_callback_patched(package):
    when_imported(f"{package}.sub", patch_name)
    start = threading.Barrier(8)
    names = []

    def work():
        start.wait()
        namespace = {}
        exec(f"from {package}.sub import name", namespace)
        names.append(namespace["name"]())

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert names == ["patched"] * 8


def test_when_imported_is_part_of_the_plugin_authors_surface():
    import mltrack_core.plugin

    assert exported_when_imported is when_imported
    assert "when_imported" in mltrack_core.plugin.__all__
    assert callable(mt.autolog) and "autolog" in mt.__all__


# ---------------------------------------------------------------- autolog


class FrameworkPlugin:
    """A framework plugin as the hook asks: patches when its framework is imported, restores on disable."""

    def __init__(self, framework, module_name):
        self.framework = framework
        self.module_name = module_name
        self.calls = []
        self.on = False
        self.original = None

    @hookimpl
    def mltrack_autolog(self, tracker, disable):
        self.calls.append((tracker, disable))
        self.on = not disable
        if disable:
            module = sys.modules.get(self.module_name)
            if module is not None and self.original is not None:
                module.name, self.original = self.original, None
        else:
            when_imported(self.module_name, self.patch)
        return self.framework

    def patch(self, module):
        if self.on and self.original is None:
            self.original, module.name = module.name, lambda: f"tracked by {self.framework}"


class Broken:
    @hookimpl
    def mltrack_autolog(self, tracker, disable):
        raise RuntimeError("no such framework version")


class NotAFramework:
    @hookimpl
    def mltrack_autolog(self, tracker, disable):
        return None


@pytest.fixture
def plugins():
    """A plugin manager with mltrack's hooks and no installed plugin: each test registers its own."""
    return PluginManager()


def tracker_with(plugins, *extra):
    for plugin in extra:
        plugins.register(plugin)
    return mt.Tracker(MemoryStore(), plugins=plugins)


def test_autolog_turns_every_plugin_on_and_off_with_the_tracker_given(plugins, package):
    probe = FrameworkPlugin("probe", f"{package}.sub")
    tracker = tracker_with(plugins, probe, NotAFramework())

    assert mt.autolog(tracker=tracker) == ["probe"]
    namespace = {}
    exec(f"from {package}.sub import name", namespace)
    assert namespace["name"]() == "tracked by probe"

    assert mt.autolog(tracker=tracker, disable=True) == ["probe"]
    assert sys.modules[f"{package}.sub"].name() == "original"
    assert probe.calls == [(tracker, False), (tracker, True)]


def test_turning_on_twice_patches_once_and_turning_on_again_after_off_patches_again(plugins, package):
    probe = FrameworkPlugin("probe", f"{package}.sub")
    tracker = tracker_with(plugins, probe)
    module = importlib.import_module(f"{package}.sub")

    mt.autolog(tracker=tracker)
    mt.autolog(tracker=tracker)
    patched = module.name
    assert patched() == "tracked by probe"
    mt.autolog(tracker=tracker, disable=True)
    assert module.name() == "original"
    mt.autolog(tracker=tracker)

    assert module.name() == "tracked by probe"
    assert module.name is not patched


def test_a_failing_plugin_is_one_warning_and_the_others_are_turned_on(plugins, package):
    tracker = tracker_with(plugins, Broken(), FrameworkPlugin("probe", f"{package}.sub"))

    with pytest.warns(
        mt.TrackingWarning, match="could not turn on automatic tracking.*no such framework version"
    ) as caught:
        frameworks = mt.autolog(tracker=tracker)

    assert frameworks == ["probe"]
    assert len(caught) == 1


def test_without_a_tracker_autolog_asks_the_installed_plugins_and_records_later_into_the_default(
    tmp_path, monkeypatch, package
):
    """A real plugin found through its entry point (a dist-info folder on sys.path, as pip leaves it)."""
    plugin_module = f"probe_plugin_{uuid.uuid4().hex[:8]}"
    site = tmp_path / "site"
    write_probe_plugin(site, plugin_module, f"{package}.sub")
    monkeypatch.syspath_prepend(str(site))
    try:
        assert "probe" in mt.autolog()
        plugin = sys.modules[plugin_module]
        assert plugin.CALLS == [(None, False)]

        namespace = {}
        exec(f"from {package}.sub import name", namespace)
        assert namespace["name"]() == "tracked"

        assert "probe" in mt.autolog(disable=True)
        assert sys.modules[f"{package}.sub"].name() == "original"
    finally:
        sys.modules.pop(plugin_module, None)


def test_plugins_named_in_mltrack_disable_plugins_are_left_out(tmp_path, monkeypatch, package):
    plugin_module = f"probe_plugin_{uuid.uuid4().hex[:8]}"
    write_probe_plugin(tmp_path / "site", plugin_module, f"{package}.sub")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("MLTRACK_DISABLE_PLUGINS", "probe")

    assert "probe" not in mt.autolog()
    assert plugin_module not in sys.modules
    mt.autolog(disable=True)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_process_has_automatic_tracking_turned_off(plugins, package):
    probe = FrameworkPlugin("probe", f"{package}.sub")
    tracker = tracker_with(plugins, probe)
    module = importlib.import_module(f"{package}.sub")
    mt.autolog(tracker=tracker)
    reading, writing = os.pipe()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork() in a process with threads
        pid = os.fork()
    if pid == 0:  # the child: report what it sees, then leave without running pytest's exit handlers
        try:
            os.write(writing, module.name().encode())
        finally:
            os._exit(0)
    os.close(writing)
    seen_in_child = os.read(reading, 100).decode()
    os.close(reading)
    os.waitpid(pid, 0)

    assert seen_in_child == "original"
    assert module.name() == "tracked by probe"  # the parent still tracks
    mt.autolog(tracker=tracker, disable=True)


# ---------------------------------------------------------------- the plugin authors' guide

FOREST = """
__version__ = "2.4.0"


class Forest:
    def __init__(self, n_trees=100):
        self.n_trees = n_trees

    def fit(self, data):
        self.fitted_on = len(data)
        if self.n_trees > 100:  # a forest of forests: the inner fit is part of this one
            Forest(n_trees=self.n_trees - 100).fit(data)
        return self
"""


def guide_example(hook: str) -> str:
    """The code block of ``mltrack_core.plugin``'s guide that implements ``hook``."""
    (code,) = [code for code in guide_code_blocks() if f"def {hook}(" in code]
    return code


@pytest.fixture
def forest_plugin(tmp_path, monkeypatch):
    """The guide's ``mltrack-forest`` (extractor and autolog) and ``forest``, installed as pip would."""
    site = tmp_path / "forest-site"
    site.mkdir()
    plugin = guide_example("mltrack_extract_model") + "\n\n" + guide_example("mltrack_autolog")
    for module, source, version, extra in [
        ("forest", FOREST, "2.4.0", []),
        (
            "mltrack_forest",
            plugin,
            "0.1",
            ["Requires-Dist: mltrack-core", 'Requires-Dist: forest<3,>=2.0; extra == "instruments"'],
        ),
    ]:
        (site / f"{module}.py").write_text(source)
        info = site / f"{module}-{version}.dist-info"
        info.mkdir()
        lines = ["Metadata-Version: 2.1", f"Name: {module.replace('_', '-')}", f"Version: {version}", *extra]
        (info / "METADATA").write_text("\n".join(lines) + "\n")
    (site / "mltrack_forest-0.1.dist-info" / "entry_points.txt").write_text("[mltrack]\nforest = mltrack_forest\n")
    monkeypatch.syspath_prepend(str(site))
    require_framework.cache_clear()
    supported_versions.cache_clear()
    yield
    for module in ("forest", "mltrack_forest"):
        sys.modules.pop(module, None)
    require_framework.cache_clear()
    supported_versions.cache_clear()


def test_the_autolog_example_of_the_guide_records_every_fit_and_turns_off(forest_plugin, tmp_path):
    with mt.connect("memory://") as tracker:
        assert "forest" in mt.autolog(tracker=tracker)
        assert "forest" not in sys.modules  # the plugin waits for the program to import it
        assert "forest" in mt.autolog(tracker=tracker)  # on twice: still one patch

        namespace = {}
        exec("from forest import Forest\nForest(n_trees=107).fit([1, 2, 3])", namespace)
        (model,) = tracker.find("model")  # the inner fit is not recorded on its own
        assert model.name == "forest-107" and model.learning_algorithm == "forest.Forest"

        mt.autolog(tracker=tracker, disable=True)
        namespace["Forest"](n_trees=8).fit([1])
        assert tracker.count("model") == 1
        assert namespace["Forest"].fit.__qualname__ == "Forest.fit"  # the original is back
