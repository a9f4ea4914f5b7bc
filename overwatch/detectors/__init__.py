"""Detector plugins: the hook contract and the per-subsystem registry."""

from __future__ import annotations

from overwatch.detectors.api import CheckOutcome
from overwatch.detectors.api import DetectorPlugin
from overwatch.detectors.api import GroupSpec
from overwatch.detectors.api import OptionError
from overwatch.detectors.api import ProcessingContext
from overwatch.detectors.api import ProcessingOption
from overwatch.detectors.registry import get_plugin
from overwatch.detectors.registry import register_plugin
from overwatch.detectors.registry import unregister_plugin

__all__ = [
    "CheckOutcome",
    "DetectorPlugin",
    "GroupSpec",
    "OptionError",
    "ProcessingContext",
    "ProcessingOption",
    "get_plugin",
    "register_plugin",
    "unregister_plugin",
]
