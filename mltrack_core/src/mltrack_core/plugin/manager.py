"""Building the plugin manager: hook specs, entry points, the store registry, guarded observer calls.

Every plugin, mltrack-core's own backends included, is an entry point in the
``mltrack`` group. A storage backend's entry point is named after the URI
scheme it opens, one entry point per scheme (``http`` and ``https`` both name
:mod:`mltrack_core.backends.rest`)::

    [project.entry-points.mltrack]
    mystore = "mystore_package.plugin"

:func:`build_plugin_manager` works in a fixed order: add the hook specs, block
the plugins named in ``MLTRACK_DISABLE_PLUGINS``, load the entry points (a
plugin that fails to import is reported with a :class:`PluginWarning` and
skipped), and drop plugins implementing hooks mltrack does not know (reported
the same way). ``MLTRACK_DISABLE_PLUGINS`` is a comma-separated list of entry-point
names (``sklearn``, ``notify``, ``memory``, ``http``, ...), module names or
distribution names.

URIs are dispatched by scheme through :attr:`PluginManager.stores`. When two
plugins claim one scheme, a :class:`PluginWarning` names both; a third-party
plugin wins over mltrack-core's own, and between two third-party plugins the
distribution whose name sorts first wins.
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

import pluggy

from mltrack_core import hookspecs
from mltrack_core.backends.uris import mask_credentials
from mltrack_core.errors import StoreError, TrackingWarning, UnknownSchemeError

if TYPE_CHECKING:
    from mltrack_core.store import Store

__all__ = [
    "DISABLE_VARIABLE",
    "ENTRY_POINT_GROUP",
    "PluginManager",
    "PluginWarning",
    "build_plugin_manager",
    "call_guarded",
]

ENTRY_POINT_GROUP = "mltrack"
DISABLE_VARIABLE = "MLTRACK_DISABLE_PLUGINS"
_CORE_DISTRIBUTION = "mltrack-core"
_STORE_HOOK = "mltrack_open_store"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")  # RFC 3986


class PluginWarning(UserWarning):
    """A plugin could not be loaded, was skipped, or lost a URI scheme to another plugin."""


class PluginManager(pluggy.PluginManager):
    """pluggy's plugin manager with mltrack's hook specs and a registry of storage backends by URI scheme."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.stores: dict[str, object] = {}
        """The backend plugin registered for each URI scheme (the entry point's name)."""

    def open_store(self, uri: str, *, read_only: bool = False) -> Store:
        """Open the store ``uri`` names with the backend registered for its scheme.

        Args:
            uri: The store URI; its scheme selects the backend.
            read_only: Open it for reading only: nothing is created, migrated or converted, and a
                missing store is an error (see the ``mltrack_open_store`` hook).

        Returns:
            The opened store.

        Raises:
            UnknownSchemeError: ``uri`` has no scheme, or no installed backend handles it.
            StoreError: the backend cannot open the store.
        """
        if not isinstance(uri, str):
            shown = f"{type(uri).__name__} {uri!r:.60}"
            raise UnknownSchemeError(f"a store URI is text such as sqlite:///store.db, got {shown}")
        shown = mask_credentials(uri)
        scheme, separator, _ = uri.partition("://")
        if not separator or not _SCHEME.fullmatch(scheme):
            raise UnknownSchemeError(f"{shown!r} is not a store URI; write it as scheme://..., e.g. sqlite:///store.db")
        backend = self.stores.get(scheme.lower())
        if backend is None:
            raise UnknownSchemeError(
                f"no installed backend handles {scheme!r} URIs (from {shown!r}); installed: "
                f"{', '.join(sorted(self.stores))}. Install the backend's package or fix the URI."
            )
        others = [plugin for plugin in self.get_plugins() if plugin is not backend]
        store = self.subset_hook_caller(_STORE_HOOK, remove_plugins=others)(uri=uri, read_only=read_only)
        if store is None:
            raise StoreError(f"the {self.get_name(backend)} backend did not open {shown!r}")
        return store


def build_plugin_manager() -> PluginManager:
    """A plugin manager with every hook spec and the installed plugins, built-in backends included."""
    manager = PluginManager()
    disabled = disabled_plugins()
    for name in disabled:
        manager.set_blocked(name)
    found = entry_points(group=ENTRY_POINT_GROUP)
    if disabled:
        found = [entry_point for entry_point in found if not _is_disabled(entry_point, set(disabled))]
    for name, claimants in _by_name(found).items():
        _register(manager, name, claimants)
    _drop_plugins_with_unknown_hooks(manager)
    return manager


def disabled_plugins() -> list[str]:
    """Plugin names listed in ``MLTRACK_DISABLE_PLUGINS``."""
    return [name.strip() for name in os.environ.get(DISABLE_VARIABLE, "").split(",") if name.strip()]


def _is_disabled(entry_point: EntryPoint, disabled: set[str]) -> bool:
    module = entry_point.value.partition(":")[0]
    return bool({entry_point.name, module, _distribution(entry_point)} & disabled)


def _distribution(entry_point: EntryPoint) -> str:
    return entry_point.dist.name if entry_point.dist is not None else "?"  # reads the METADATA file: when needed


def _by_name(found: Iterable[EntryPoint]) -> dict[str, list[EntryPoint]]:
    """Entry points by name, the one that wins first: third-party before mltrack-core, then by distribution."""
    by_name: dict[str, list[EntryPoint]] = {}
    for entry_point in found:
        by_name.setdefault(entry_point.name, []).append(entry_point)
    for claimants in by_name.values():
        if len(claimants) > 1:
            claimants.sort(
                key=lambda entry_point: (_distribution(entry_point) == _CORE_DISTRIBUTION, _distribution(entry_point))
            )
    return by_name


def _register(manager: PluginManager, name: str, claimants: list[EntryPoint]) -> None:
    for index, entry_point in enumerate(claimants):
        try:
            plugin = entry_point.load()
        except Exception as exc:  # noqa: BLE001 - a broken third-party plugin must not stop mltrack
            warnings.warn(
                f"mltrack plugin {name!r} ({entry_point.value}) was skipped: {type(exc).__name__}: {exc}. "
                f"Reinstall or remove it, or add its name to {DISABLE_VARIABLE}.",
                PluginWarning,
                stacklevel=4,
            )
            continue
        if not manager.is_registered(plugin):
            manager.register(plugin, name=name)
        if manager.parse_hookimpl_opts(plugin, _STORE_HOOK) is not None:
            manager.stores[name.lower()] = plugin
        for loser in claimants[index + 1 :]:
            warnings.warn(
                f"mltrack plugins {entry_point.value} ({_distribution(entry_point)}) and {loser.value} "
                f"({_distribution(loser)}) are both named {name!r}; using {entry_point.value}. Set "
                f"{DISABLE_VARIABLE}={_distribution(entry_point)} to use the other one.",
                PluginWarning,
                stacklevel=4,
            )
        return


def _drop_plugins_with_unknown_hooks(manager: PluginManager) -> None:
    while True:
        try:
            manager.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            name = manager.get_name(exc.plugin)
            manager.unregister(exc.plugin)
            manager.stores = {scheme: plugin for scheme, plugin in manager.stores.items() if plugin is not exc.plugin}
            warnings.warn(
                f"mltrack plugin {name!r} was skipped: {exc}. It may target another mltrack version.",
                PluginWarning,
                stacklevel=3,
            )


# ---------------------------------------------------------------- guarded calls


def call_guarded(
    manager: pluggy.PluginManager,
    hook_name: str,
    arguments: Mapping[str, Any],
    set_aside: set[str],
    role: str = "plugin",
) -> list[Any]:
    """Call every implementation of ``hook_name`` in pluggy's own order, none able to break the caller.

    Implementations run as pluggy runs them (``tryfirst`` first, ``trylast``
    last, the others newest first, wrappers around the call). A plugin whose
    implementation raises is added to ``set_aside`` and reported once with a
    :class:`~mltrack_core.errors.TrackingWarning`; plugins in ``set_aside`` are
    not called. ``role`` names the plugins in that warning (``"observer"``).
    Returns the results that are not None, in call order.
    """
    caller = getattr(manager.hook, hook_name)
    if not caller.get_hookimpls():
        return []
    implementations = [impl for impl in caller.get_hookimpls() if impl.plugin_name not in set_aside]
    wrappers = [impl for impl in implementations if impl.wrapper or impl.hookwrapper]
    failures: list[tuple[str, Exception]] = []
    if wrappers:
        results = _call_with_wrappers(manager, caller, hook_name, implementations, wrappers, arguments, failures)
    else:  # the common case, without pluggy's temporary implementations (inspecting their signatures is slow)
        results = _call_plain(implementations, arguments, failures)
    for plugin_name, exc in failures:
        set_aside.add(plugin_name)
        warnings.warn(
            f"mltrack: {role} {plugin_name!r} failed in {hook_name} ({type(exc).__name__}: {exc}); this tracker "
            f"does not call it again. Fix or remove it, or add its name to {DISABLE_VARIABLE}.",
            TrackingWarning,
            stacklevel=3,
        )
    return results


def _call_plain(implementations: list[Any], arguments: Mapping[str, Any], failures: list) -> list[Any]:
    """Call implementations without wrappers as pluggy does: back to front (so ``tryfirst`` first), by name."""
    results = []
    for impl in reversed(implementations):
        args = [arguments[name] for name in impl.argnames]
        kwargs = {name: arguments[name] for name in impl.kwargnames if name in arguments}
        try:
            result = impl.function(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - observers and environment facts never break the caller
            failures.append((impl.plugin_name, exc))
            continue
        if result is not None:
            results.append(result)
    return results


def _call_with_wrappers(
    manager: pluggy.PluginManager,
    caller: Any,
    hook_name: str,
    implementations: list[Any],
    wrappers: list[Any],
    arguments: Mapping[str, Any],
    failures: list,
) -> list[Any]:
    left_out = [impl.plugin for impl in caller.get_hookimpls() if impl not in wrappers]
    # The guarded stand-ins join the wrappers as temporary implementations, listed in pluggy's
    # own order (which it runs back to front); pluggy then calls them inside the wrappers.
    guarded = [_guarded(impl.function, impl.plugin_name, failures) for impl in implementations if impl not in wrappers]
    try:
        return manager.subset_hook_caller(hook_name, remove_plugins=left_out).call_extra(guarded, dict(arguments))
    except Exception as exc:  # noqa: BLE001 - a failing wrapper: the same policy as a failing implementation
        failures.append((_failing_wrapper(exc, wrappers), exc))
        return []


def _guarded(
    function: Callable[..., Any], plugin_name: str, failures: list[tuple[str, Exception]]
) -> Callable[..., Any]:
    @functools.wraps(function)  # pluggy reads the argument names through __wrapped__
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - observers and environment facts never break the caller
            failures.append((plugin_name, exc))
            return None

    return call


def _failing_wrapper(exc: BaseException, wrappers: list[Any]) -> str:
    """The plugin of the innermost wrapper in ``exc``'s traceback."""
    codes = {impl.function.__code__: impl.plugin_name for impl in wrappers if hasattr(impl.function, "__code__")}
    culprit = "a hook wrapper"
    traceback = exc.__traceback__
    while traceback is not None:
        culprit = codes.get(traceback.tb_frame.f_code, culprit)
        traceback = traceback.tb_next
    return culprit
