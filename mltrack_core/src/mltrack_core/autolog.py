"""Automatic tracking: turn on every installed framework plugin, and patch frameworks as they are imported.

:func:`autolog` is the one line that tracks a program's frameworks without
changing its code (``mltrack run`` calls it before the program starts). Each
framework plugin implements the ``mltrack_autolog`` hook and patches its
framework through :func:`when_imported`, so the framework is patched the moment
the user's program imports it, and never imported by mltrack itself.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pluggy

from mltrack_core.errors import SchemaError, TrackingWarning

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

    from mltrack_core.tracker import Tracker

__all__ = ["AutologSettings", "Patches", "TopLevelCalls", "WeakLinks", "autolog", "never_raising", "when_imported"]

_AUTOLOG_HOOK = "mltrack_autolog"
_log = logging.getLogger("mltrack.autolog")


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


# ---------------------------------------------------------------- what plugins patch with


_ABSENT = object()


class Patches:
    """Attributes replaced on modules and classes, each restored exactly by :meth:`restore`.

    A framework plugin installs its replacements here when it is turned on and
    restores them when it is turned off, so automatic tracking is reversible.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.active = False
        """Whether the replacements record: a replacement copied where :meth:`restore` cannot see it
        (``from sklearn.metrics import accuracy_score`` in a module imported meanwhile) passes straight through."""
        self._done: list[tuple[Any, str, Any, Any]] = []
        self._copies: list[tuple[str, str, Any, Any]] = []

    def install(self, owner: Any, name: str, replacement: Any, copied_to: tuple[str, ...] = ()) -> None:
        """Set ``owner.name`` to ``replacement``; restoring deletes it again when ``owner`` only inherited it.

        ``copied_to``: modules (by name) that may have copied the replacement since
        (a package doing ``from ._split import train_test_split`` while it is imported).
        """
        original = vars(owner).get(name, _ABSENT)
        self._done.append((owner, name, original, replacement))
        self._copies += [(module, name, original, replacement) for module in copied_to]
        setattr(owner, name, replacement)
        self.active = True

    def restore(self) -> None:
        """Put every original back, unless something else replaced ours since (then that stays).

        What replaced ours since (scikit-learn's ``set_output`` wraps ``fit_transform``
        of classes defined while autolog was on) calls our replacement, which passes
        straight through once automatic tracking is off.
        """
        self.active = False
        for owner, name, original, replacement in reversed(self._done):
            if vars(owner).get(name) is not replacement:
                _log.debug("%s.%s was replaced again since mltrack patched it: left as it is", owner.__name__, name)
            elif original is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        for module_name, name, original, replacement in self._copies:
            module = sys.modules.get(module_name)
            if module is not None and vars(module).get(name) is replacement:
                setattr(module, name, original)
        self._done.clear()
        self._copies.clear()


class TopLevelCalls:
    """Tells a top-level recorded call from the framework calls nested in it, across the whole process.

    A fit that mltrack records calls more fits (a pipeline's stages, a search's
    candidates), possibly in other threads (joblib's or Spark's thread pools):
    only the outermost one records, so the flag is process-wide, not per thread.
    A consequence: two top-level calls running at once in two threads record the first one only.
    """

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        """``on_change`` runs under :attr:`lock` whenever :attr:`running` changes (take it to change its inputs)."""
        self.running = False
        self.lock = threading.Lock()
        self._on_change = on_change

    @contextlib.contextmanager
    def enter(self) -> Iterator[bool]:
        """Enter a recorded call; yields True when it is top-level (the caller records), False when nested."""
        with self.lock:
            top = not self.running
            if top:
                self._set(True)
        if not top:
            yield False
            return
        try:
            yield True
        finally:
            with self.lock:
                self._set(False)

    def _set(self, running: bool) -> None:
        self.running = running
        if self._on_change is not None:
            self._on_change()


@contextlib.contextmanager
def never_raising(what: str) -> Iterator[None]:
    """The last safety net around recording (which reports its own failures): a bug in it is one warning.

    Use it in a patched framework call, around what records: ``what`` names what was not recorded.
    """
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the failure policy: warn, never break the user's program
        warnings.warn(f"mltrack: {what} was not recorded: {type(exc).__name__}: {exc}", TrackingWarning, stacklevel=4)


class AutologSettings:
    """What a framework plugin's ``autolog()`` was told: whether tracking is wanted, and the tracker to record into."""

    def __init__(self, framework: str) -> None:
        self.framework = framework
        self.lock = threading.RLock()
        """Held while turning on or off (and while patching, so that the two never interleave)."""
        self.wanted = False
        self.tracker: Tracker | None = None

    def turn_on(self, tracker: Tracker | None) -> None:
        """Record into ``tracker`` (None: :func:`mltrack_core.get_tracker` at each record).

        Raises:
            SchemaError: ``tracker`` is not a :class:`mltrack_core.Tracker`.
        """
        from mltrack_core.tracker import Tracker

        if tracker is not None and not isinstance(tracker, Tracker):
            raise SchemaError(
                f"autolog(tracker=...) must be a mltrack_core.Tracker or None, got {type(tracker).__name__} "
                f"{tracker!r:.60}; use mltrack_core.connect(uri)"
            )
        with self.lock:
            self.wanted = True
            self.tracker = tracker

    def turn_off(self) -> None:
        """Automatic tracking is no longer wanted."""
        with self.lock:
            self.wanted = False
            self.tracker = None

    def current_tracker(self) -> Tracker | None:
        """The tracker to record into now; None, with a warning, when the default store cannot be opened."""
        tracker = self.tracker
        if tracker is not None:
            return tracker
        from mltrack_core.tracker import get_tracker

        try:
            return get_tracker()
        except Exception as exc:  # noqa: BLE001 - a store that cannot be opened must not stop the program
            warnings.warn(f"mltrack: this {self.framework} call was not recorded: {exc}", TrackingWarning, stacklevel=3)
            return None


V = TypeVar("V")


class WeakLinks(Generic[V]):
    """Values attached to the user's live objects by identity, through weak references: what was recorded about them.

    Automatic tracking needs to know, in O(1) and without keeping anything alive,
    that this DataFrame is a split part that was recorded, or that this estimator's
    fit was recorded as that model. A link of an object that was freed is never
    taken for a new object that got the same ``id``. Objects that cannot be weakly
    referenced (lists, tuples) get no link; the reason goes to the debug log.

    Reads take no lock (entry tuples are replaced, never changed in place);
    writes take one. A weak reference's callback only queues the freed object's
    key: the entries are dropped under the lock by the next write, so a callback
    that the garbage collector runs in the middle of a write cannot deadlock.
    """

    def __init__(self, kind: str, per_object: int = 1) -> None:
        """Links of ``kind`` (for the debug log), at most ``per_object`` values per object (the newest)."""
        self._kind = kind
        self._per_object = per_object
        self._entries: dict[int, tuple[tuple[weakref.ref, V], ...]] = {}
        self._freed: collections.deque[int] = collections.deque()
        self._lock = threading.Lock()

    def attach(self, obj: Any, value: V, replaces: Callable[[V], bool] = lambda _: True) -> bool:
        """Attach ``value`` to ``obj`` (first), dropping its values that ``replaces`` says this one replaces."""
        key = id(obj)
        try:
            ref = weakref.ref(obj, lambda _, key=key, freed=self._freed: freed.append(key))
        except TypeError:
            _log.debug("no %s link for a %s: it cannot be weakly referenced", self._kind, type(obj).__name__)
            return False
        with self._lock:
            self._drop_freed()
            kept = tuple((old, held) for old, held in self._entries.get(key, ()) if old() is obj and not replaces(held))
            self._entries[key] = ((ref, value), *kept)[: self._per_object]
        return True

    def detach(self, obj: Any) -> None:
        """Forget every value attached to ``obj``."""
        with self._lock:
            self._drop_freed()
            self._entries.pop(id(obj), None)

    def values(self, obj: Any) -> list[V]:
        """The values attached to ``obj`` itself (not to a freed object that had the same ``id``), newest first."""
        entries = self._entries.get(id(obj))
        return [value for ref, value in entries if ref() is obj] if entries else []

    def first(self, obj: Any) -> V | None:
        """The newest value attached to ``obj``, or None."""
        found = self.values(obj)
        return found[0] if found else None

    def _drop_freed(self) -> None:
        while self._freed:
            key = self._freed.popleft()
            alive = tuple(entry for entry in self._entries.get(key, ()) if entry[0]() is not None)
            if alive:
                self._entries[key] = alive
            else:
                self._entries.pop(key, None)
