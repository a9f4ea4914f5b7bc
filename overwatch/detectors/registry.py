"""Which plugin processes which subsystem.

Plugins come from four places, later ones winning: the generic default
(:class:`overwatch.detectors.api.DetectorPlugin`, used for any subsystem without
its own), the built-in plugins (:data:`BUILTIN_PLUGINS`: EMC, HLT, TPC, imported
when first asked for), installed packages that declare an ``overwatch.detectors`` entry point
(``EMC = "mypackage.emc:EMCPlugin"``), and :func:`register_plugin` calls (tests).
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points

from overwatch.detectors.api import DetectorPlugin

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "get_plugin",
    "plugin_class",
    "register_plugin",
    "registered_plugins",
    "unregister_plugin",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "overwatch.detectors"

#: The plugins Overwatch ships, by subsystem: ``"module:class"``.
BUILTIN_PLUGINS: dict[str, str] = {
    "EMC": "overwatch.detectors.emc:EMCPlugin",
    "HLT": "overwatch.detectors.hlt:HLTPlugin",
    "TPC": "overwatch.detectors.tpc:TPCPlugin",
}

_registered: dict[str, type[DetectorPlugin]] = {}
_entry_points_loaded = False


def _load_entry_points() -> None:
    global _entry_points_loaded  # noqa: PLW0603 - a lazily filled, process-wide registry
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        plugin = entry_point.load()
        if not (isinstance(plugin, type) and issubclass(plugin, DetectorPlugin)):
            raise TypeError(
                f"entry point {entry_point.name} = {entry_point.value} is not a DetectorPlugin subclass"
            )
        _registered.setdefault(entry_point.name, plugin)


def register_plugin(subsystem: str, plugin: type[DetectorPlugin]) -> None:
    """Use ``plugin`` for ``subsystem`` from now on in this process."""
    if not (isinstance(plugin, type) and issubclass(plugin, DetectorPlugin)):
        raise TypeError(f"{plugin!r} is not a DetectorPlugin subclass")
    _load_entry_points()
    _registered[subsystem] = plugin


def unregister_plugin(subsystem: str) -> None:
    _registered.pop(subsystem, None)


def _builtin(subsystem: str) -> type[DetectorPlugin] | None:
    target = BUILTIN_PLUGINS.get(subsystem)
    if target is None:
        return None
    module, _, attribute = target.partition(":")
    plugin: type[DetectorPlugin] = getattr(importlib.import_module(module), attribute)
    return plugin


def registered_plugins() -> dict[str, type[DetectorPlugin]]:
    """Every subsystem with a plugin of its own: built-ins overlaid by registrations."""
    _load_entry_points()
    plugins = {name: plugin for name in BUILTIN_PLUGINS if (plugin := _builtin(name))}
    plugins.update(_registered)
    return plugins


def plugin_class(subsystem: str) -> type[DetectorPlugin]:
    """The class serving ``subsystem``: registered, else built-in, else the generic one."""
    _load_entry_points()
    return _registered.get(subsystem) or _builtin(subsystem) or DetectorPlugin


def get_plugin(subsystem: str) -> DetectorPlugin:
    """An instance of the plugin for ``subsystem``; the generic one when none is registered."""
    return plugin_class(subsystem)()
