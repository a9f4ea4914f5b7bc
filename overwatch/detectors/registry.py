"""Which plugin processes which subsystem.

Plugins come from three places, later ones winning: the generic default
(:class:`overwatch.detectors.api.DetectorPlugin`, used for any subsystem without
its own), installed packages that declare an ``overwatch.detectors`` entry point
(``EMC = "mypackage.emc:EMCPlugin"``), and :func:`register_plugin` calls (tests).
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from overwatch.detectors.api import DetectorPlugin

__all__ = [
    "ENTRY_POINT_GROUP",
    "get_plugin",
    "register_plugin",
    "registered_plugins",
    "unregister_plugin",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "overwatch.detectors"

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


def registered_plugins() -> dict[str, type[DetectorPlugin]]:
    _load_entry_points()
    return dict(_registered)


def get_plugin(subsystem: str) -> DetectorPlugin:
    """An instance of the plugin for ``subsystem``; the generic one when none is registered."""
    _load_entry_points()
    return _registered.get(subsystem, DetectorPlugin)()
