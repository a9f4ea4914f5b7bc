"""The limits drawn as bands on a trend: what :func:`trend_limits` gives the trends API.

Each limit is ``{"low", "high", "severity", "source"}``: values below ``low`` or
above ``high`` (either may be ``None``: unbounded) are at ``severity``
(``"warning"`` or ``"critical"``); ``source`` says where the limit is defined, so
a page can say why a band is there. The trend definition's own limits come first,
then those of the alarm rules that judge the trend against a range.
"""

from __future__ import annotations

from typing import Any
from typing import Protocol

from overwatch.monitoring.alarms.config import AlarmConfig
from overwatch.monitoring.alarms.limits import alarm_limits
from overwatch.monitoring.trending.config import TrendConfig
from overwatch.monitoring.trending.config import TrendSpec

__all__ = ["HasTrending", "spec_limits", "trend_limits"]


class HasTrending(Protocol):
    """Anything carrying the validated ``trending`` and ``alarms`` settings (the settings)."""

    @property
    def trending(self) -> TrendConfig: ...

    @property
    def alarms(self) -> AlarmConfig: ...


def spec_limits(spec: TrendSpec) -> list[dict[str, Any]]:
    """The warning and critical limits of one trend definition (none when it has none)."""
    limits = []
    for severity in ("warning", "critical"):
        low = getattr(spec, f"{severity}_min")
        high = getattr(spec, f"{severity}_max")
        if low is not None or high is not None:
            limits.append(
                {
                    "low": low,
                    "high": high,
                    "severity": severity,
                    "source": f"{spec.source} (trend definition)",
                }
            )
    return limits


def trend_limits(settings: HasTrending, subsystem: str, trend_name: str) -> list[dict[str, Any]]:
    """Every limit drawn on the trend ``trend_name`` of ``subsystem`` (empty if it is unknown)."""
    spec = settings.trending.find(subsystem, trend_name)
    own = spec_limits(spec) if spec is not None else []
    return own + alarm_limits(settings, subsystem, trend_name)
