"""Which plugin processes which subsystem.

Plugins come from five places, later ones winning: the generic default
(:class:`overwatch.detectors.api.DetectorPlugin`, used for any subsystem without
its own), the built-in plugins (:data:`BUILTIN_PLUGINS`: EMC, HLT, TPC, imported
when first asked for), installed packages that declare an ``overwatch.detectors`` entry point
(``EMC = "mypackage.emc:EMCPlugin"``), the site's ``plugins`` setting, and
:func:`register_plugin` calls (tests).

The ``plugins`` setting and reloading act through the *active plugin set*
(:class:`overwatch.detectors.loader.PluginSet`): :func:`activate_plugins` builds a
new set (built-ins, entry points and configured plugins, reloading edited
modules) and swaps it in with one assignment, or raises and keeps the old one.
Instances from :func:`get_plugin` carry the set's ``plugin_version`` (the class's
version with digests of its source and the subsystem's check settings), which
processing stores with every result.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from importlib.metadata import entry_points

from overwatch.detectors.api import DetectorPlugin
from overwatch.detectors.loader import PluginSet
from overwatch.detectors.loader import build_plugin_set

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "activate_plugins",
    "active_plugins",
    "deactivate_plugins",
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
_entry_points: dict[str, type[DetectorPlugin]] = {}
_entry_points_loaded = False
#: Replaced as a whole by :func:`activate_plugins`, never changed in place.
_active: PluginSet | None = None


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
        _entry_points[entry_point.name] = plugin


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


def _defaults() -> dict[str, type[DetectorPlugin]]:
    """Built-ins overlaid by entry points (what serves a subsystem without configuration)."""
    _load_entry_points()
    plugins = {name: plugin for name in BUILTIN_PLUGINS if (plugin := _builtin(name))}
    plugins.update(_entry_points)
    return plugins


def registered_plugins() -> dict[str, type[DetectorPlugin]]:
    """Every subsystem with a plugin of its own: built-ins, entry points, the active set,
    registrations."""
    plugins = _defaults()
    if _active is not None:
        plugins.update(_active.classes)
    plugins.update(_registered)
    return plugins


def plugin_class(subsystem: str) -> type[DetectorPlugin]:
    """The class serving ``subsystem``: registered, else configured or built-in, else generic."""
    _load_entry_points()
    if subsystem in _registered:
        return _registered[subsystem]
    if _active is not None and subsystem in _active.classes:
        return _active.classes[subsystem]
    return _entry_points.get(subsystem) or _builtin(subsystem) or DetectorPlugin


def get_plugin(subsystem: str) -> DetectorPlugin:
    """An instance of the plugin for ``subsystem``; the generic one when none is registered."""
    plugin = plugin_class(subsystem)()
    if _active is not None:
        # Provenance for this instance only: the class keeps the version its author gave.
        setattr(plugin, "version", _active.plugin_version(subsystem, type(plugin)))  # noqa: B010
    return plugin


def active_plugins() -> PluginSet | None:
    """The plugin set processing uses now; ``None`` before :func:`activate_plugins`."""
    return _active


def activate_plugins(
    configured: Mapping[str, str], check_digests: Mapping[str, str] | None = None
) -> PluginSet:
    """Build the plugin set from the defaults and the ``plugins`` setting and swap it in.

    Modules edited since the current set was built are loaded again. On any error
    (:class:`~overwatch.detectors.loader.PluginLoadError`) the current set stays.
    """
    global _active  # noqa: PLW0603 - the process-wide active set, swapped in one assignment
    new = build_plugin_set(_defaults(), configured, check_digests or {}, _active)
    _active = new
    return new


def deactivate_plugins() -> None:
    """Forget the active set (tests): back to built-ins and entry points."""
    global _active  # noqa: PLW0603 - see activate_plugins
    _active = None
