"""Automatic tracking: turn on every installed framework plugin, and patch frameworks as they are imported.

:func:`autolog` is the one line that tracks a program's frameworks without
changing its code (``mltrack run`` calls it before the program starts). Each
framework plugin implements the ``mltrack_autolog`` hook and patches its
framework through :func:`when_imported`, so the framework is patched the moment
the user's program imports it, and never imported by mltrack itself.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from mltrack_core.errors import TrackingWarning

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

    from mltrack_core.tracker import Tracker

__all__ = ["autolog", "when_imported"]

_AUTOLOG_HOOK = "mltrack_autolog"


def autolog(*, tracker: Tracker | None = None, disable: bool = False) -> list[str]:
    """Turn on automatic tracking for every installed framework plugin (or off, with ``disable``).

    Each plugin implementing the ``mltrack_autolog`` hook patches its framework
    once the program imports it (at once when it is imported already); from
    then on the framework's training, data splits and scores are recorded with
    no other line. Calling it twice is a no-op; ``autolog(disable=True)``
    restores everything. A plugin that fails is reported with one
    :class:`~mltrack_core.errors.TrackingWarning` and skipped. Plugins listed in
    ``MLTRACK_DISABLE_PLUGINS`` are left out.

    Only this process records: a child process started with ``fork`` (a
    ``multiprocessing`` worker on Linux) has automatic tracking turned off, and
    a new interpreter (a joblib/loky worker, a ``subprocess``) never had it. The
    work of such workers is part of the call that started them, recorded here.

    Args:
        tracker: record into this tracker; default: the process-wide tracker of
            :func:`mltrack_core.get_tracker`, connected at the first record
            (``$MLTRACK_URI``, ``$MLTRACK_EXPERIMENT``).
        disable: turn automatic tracking off instead.

    Returns:
        the names of the frameworks turned on (or off), such as ``["sklearn"]``.
    """
    if tracker is not None:
        plugins = tracker.plugins
    else:
        from mltrack_core.plugin.manager import build_plugin_manager

        plugins = build_plugin_manager()
    return autolog_with(plugins, tracker=tracker, disable=disable)


_turned_on_with: pluggy.PluginManager | None = None  # the plugins last turned on, to turn off in a forked child
_fork_rule_registered = False


def autolog_with(plugins: pluggy.PluginManager, *, tracker: Tracker | None, disable: bool) -> list[str]:
    """:func:`autolog` with these plugins (``mltrack run`` passes those of the tracker it connected)."""
    global _turned_on_with, _fork_rule_registered
    frameworks = _call_autolog_hook(plugins, tracker, disable)
    _turned_on_with = None if disable else plugins
    if not disable and not _fork_rule_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_turn_off_in_forked_child)
        _fork_rule_registered = True
    return frameworks


def _call_autolog_hook(plugins: pluggy.PluginManager, tracker: Tracker | None, disable: bool) -> list[str]:
    arguments = {"tracker": tracker, "disable": disable}
    frameworks: list[str] = []
    # Back to front, as pluggy calls them (tryfirst first); each one guarded on its own.
    for implementation in reversed(getattr(plugins.hook, _AUTOLOG_HOOK).get_hookimpls()):
        try:
            framework = implementation.function(*[arguments[name] for name in implementation.argnames])
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not stop the others or the program
            action = "turn off" if disable else "turn on"
            warnings.warn(
                f"mltrack: plugin {implementation.plugin_name!r} could not {action} automatic tracking "
                f"({type(exc).__name__}: {exc}); its framework is not tracked automatically. Fix or remove it, "
                "or add its name to MLTRACK_DISABLE_PLUGINS.",
                TrackingWarning,
                stacklevel=3,
            )
            continue
        if framework and framework not in frameworks:
            frameworks.append(framework)
    return frameworks


def _turn_off_in_forked_child() -> None:
    """A forked child shares the parent's open store connections: it must not record (see :func:`autolog`)."""
    global _turned_on_with
    plugins, _turned_on_with = _turned_on_with, None
    if plugins is not None:
        _call_autolog_hook(plugins, None, True)


# ---------------------------------------------------------------- post-import callbacks

_registry_lock = threading.Lock()
_waiting: dict[str, list[Callable[[ModuleType], None]]] = {}  # module name -> callbacks not yet run
_executed: dict[str, ModuleType] = {}  # modules our loader finished executing (their import may not be over yet)


def when_imported(module_name: str, callback: Callable[[ModuleType], None]) -> None:
    """Run ``callback(module)`` once ``module_name`` is imported, or at once if it is imported already.

    The callback runs right after the module's code has executed, before the
    importing statement binds any name, so ``from sklearn.metrics import
    accuracy_score`` gets what the callback put in ``sklearn.metrics``.
    ``module_name`` may be a package or a submodule (``"sklearn.metrics"``);
    importing a submodule does not run the callbacks of its parent's other
    submodules. Nothing is imported here, and imports of other modules stay as
    fast as before.

    Registering the same ``(module_name, callback)`` again while it waits does
    nothing; it runs once. A callback registered earlier still runs when the
    module is imported, even if its plugin has been turned off since: a callback
    checks that it is still wanted. When the module is imported already the
    callback runs in the caller's thread and its exceptions reach the caller;
    when it runs on the program's import, an exception is reported as a
    :class:`~mltrack_core.errors.TrackingWarning` and the import goes on.

    Args:
        module_name: the module's full dotted name.
        callback: called with the imported module.
    """
    with _registry_lock:
        module = sys.modules.get(module_name)
        if module is None or not _is_ready(module_name, module):
            waiting = _waiting.setdefault(module_name, [])
            if callback not in waiting:
                waiting.append(callback)
            _install_finder()
            return
    callback(module)


def _is_ready(module_name: str, module: ModuleType) -> bool:
    """Whether ``module`` has finished executing (its spec says so once its import statement is over)."""
    if _executed.get(module_name) is module:
        return True
    return not getattr(getattr(module, "__spec__", None), "_initializing", False)


def _install_finder() -> None:
    """Put the finder first on ``sys.meta_path``: it only wraps what the other finders find."""
    if sys.meta_path and sys.meta_path[0] is _FINDER:
        return
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    sys.meta_path.insert(0, _FINDER)


def _module_executed(module: ModuleType) -> None:
    """Run the callbacks waiting for ``module``, which has just executed."""
    name = module.__name__
    module = sys.modules.get(name, module)  # a module may put another object in its place while executing
    with _registry_lock:
        _executed[name] = module
        callbacks = _waiting.pop(name, [])
    for callback in callbacks:
        try:
            callback(module)
        except Exception as exc:  # noqa: BLE001 - the user's import must go on, untracked at worst
            warnings.warn(
                f"mltrack: {getattr(callback, '__qualname__', callback)!r} could not prepare {name} for automatic "
                f"tracking ({type(exc).__name__}: {exc}); {name} is not tracked automatically.",
                TrackingWarning,
                stacklevel=2,
            )


class _PostImportFinder:
    """A ``sys.meta_path`` finder that finds nothing itself.

    For a module that callbacks wait for, it asks the other finders for the
    module's spec and wraps the spec's loader so that the callbacks run right
    after the module executes. Every other name costs one dictionary lookup.
    """

    def __init__(self) -> None:
        self._searching = threading.local()  # names this thread is looking up: finders that call back stop here

    def find_spec(self, fullname: str, path: Any = None, target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname not in _waiting:
            return None
        searching = self._searching.__dict__.setdefault("names", set())
        if fullname in searching:
            return None
        searching.add(fullname)
        try:
            spec = _find_spec_elsewhere(self, fullname, path, target)
        finally:
            searching.discard(fullname)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _NotifyingLoader(spec.loader)
        return spec

    def invalidate_caches(self) -> None:
        """Nothing is cached here."""


def _find_spec_elsewhere(finder: object, fullname: str, path: Any, target: ModuleType | None) -> ModuleSpec | None:
    for other in list(sys.meta_path):
        find_spec = getattr(other, "find_spec", None)
        if other is finder or find_spec is None:
            continue
        spec = find_spec(fullname, path, target)
        if spec is not None:
            return spec
    return None


class _NotifyingLoader:
    """Wraps a module's loader: executes the module with it, then runs the callbacks waiting for the module.

    Before executing, the module's ``__loader__`` and ``__spec__.loader`` are
    set back to the wrapped loader, so that nothing after the import sees this
    wrapper (``importlib.resources``, ``pkgutil`` and ``inspect`` read them).
    """

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create_module = getattr(self.loader, "create_module", None)
        return create_module(spec) if create_module is not None else None

    def exec_module(self, module: ModuleType) -> None:
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self.loader
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self.loader
        self.loader.exec_module(module)
        _module_executed(module)

    def __getattr__(self, name: str) -> Any:
        if name == "loader":  # not set yet (a copy made without __init__): no endless lookup
            raise AttributeError(name)
        return getattr(self.loader, name)


_FINDER = _PostImportFinder()
