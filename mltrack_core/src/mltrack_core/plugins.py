"""Building the plugin manager: hook specs, entry points, built-in backends.

Third-party plugins (storage backends, framework extractors, observers)
declare an entry point in the ``mltrack`` group; for a storage backend the
entry point's name is the URI scheme it opens::

    [project.entry-points.mltrack]
    mystore = "mystore_package.plugin"

Setting ``MLTRACK_DISABLE_PLUGINS`` to a comma-separated list of plugin names
(entry-point names, or ``memory``, ``sqlite``, ``postgresql``, ``rest`` for the built-ins) keeps them from
loading. A plugin that fails to import or declares unknown hooks is reported
with a :class:`PluginWarning` and skipped; it never stops mltrack.
"""

from __future__ import annotations

import os
import warnings
from importlib.metadata import entry_points

import pluggy

from mltrack_core import hookspecs

__all__ = ["DISABLE_VARIABLE", "ENTRY_POINT_GROUP", "PluginWarning", "build_plugin_manager"]

ENTRY_POINT_GROUP = "mltrack"
DISABLE_VARIABLE = "MLTRACK_DISABLE_PLUGINS"


class PluginWarning(UserWarning):
    """A plugin could not be loaded and was skipped."""


def build_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager with every hook spec, the installed plugins and the built-in backends."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    for name in disabled_plugins():
        manager.set_blocked(name)
    _load_entry_points(manager)
    _register_builtins(manager)
    _drop_plugins_with_unknown_hooks(manager)
    return manager


def disabled_plugins() -> list[str]:
    """Plugin names listed in ``MLTRACK_DISABLE_PLUGINS``."""
    return [name.strip() for name in os.environ.get(DISABLE_VARIABLE, "").split(",") if name.strip()]


def _load_entry_points(manager: pluggy.PluginManager) -> None:
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if manager.is_blocked(entry_point.name) or manager.get_plugin(entry_point.name) is not None:
            continue
        try:
            plugin = entry_point.load()
            manager.register(plugin, name=entry_point.name)
        except Exception as exc:  # noqa: BLE001 - a broken third-party plugin must not stop mltrack
            warnings.warn(
                f"mltrack plugin {entry_point.name!r} ({entry_point.value}) was skipped: "
                f"{type(exc).__name__}: {exc}. Reinstall or remove it, or add its name to {DISABLE_VARIABLE}.",
                PluginWarning,
                stacklevel=3,
            )


def _register_builtins(manager: pluggy.PluginManager) -> None:
    from mltrack_core.backends import memory, postgresql, rest, sqlite

    for name, plugin in (("memory", memory), ("sqlite", sqlite), ("postgresql", postgresql), ("rest", rest)):
        if not manager.is_blocked(name) and manager.get_plugin(name) is None:
            manager.register(plugin, name=name)


def _drop_plugins_with_unknown_hooks(manager: pluggy.PluginManager) -> None:
    while True:
        try:
            manager.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            name = manager.get_name(exc.plugin)
            manager.unregister(exc.plugin)
            warnings.warn(
                f"mltrack plugin {name!r} was skipped: {exc}. It may target another mltrack version.",
                PluginWarning,
                stacklevel=3,
            )
