"""The one error shape of every monitoring setting (checks, trending, alarms, notifications).

Each carries the key path of the bad value (``alarms[2].max``) and the reason, so
loading the settings can name both; each setting keeps its own subclass, which is
what callers catch.
"""

from __future__ import annotations

__all__ = ["SettingPathError"]


class SettingPathError(ValueError):
    """A bad value at ``path`` in a structured setting, for ``reason``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
