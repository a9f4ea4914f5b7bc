"""The limit bands of alarm rules on a trend, for drawing beside the trend.

:func:`alarm_limits` lists, for one subsystem's trend, the ranges of the rules that
judge it against limits (``value_range``, ``mean_range``, ``fraction_in_range``, also
inside ``all``/``any``), in the shape the trends API carries as ``limits``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from overwatch.monitoring.alarms.config import AlarmRule

if TYPE_CHECKING:
    from overwatch.config import Settings

__all__ = ["RANGE_KINDS", "alarm_limits"]

RANGE_KINDS = ("value_range", "mean_range", "fraction_in_range")


def _bands(
    rule: AlarmRule, subsystem: str, trend_name: str, parent: AlarmRule
) -> list[dict[str, Any]]:
    if rule.rules:
        return [band for part in rule.rules for band in _bands(part, subsystem, trend_name, rule)]
    if (
        rule.kind not in RANGE_KINDS
        or rule.target != trend_name
        or not parent.applies_to(subsystem)
    ):
        return []
    return [
        {"low": rule.low, "high": rule.high, "severity": parent.severity, "source": parent.name}
    ]


def alarm_limits(settings: Settings, subsystem: str, trend_name: str) -> list[dict[str, Any]]:
    """``[{"low", "high", "severity", "source"}]`` of the rules on ``trend_name`` of ``subsystem``.

    ``low``/``high`` are ``None`` where the range is open; ``source`` is the rule's name.
    """
    return [
        band for rule in settings.alarms.rules for band in _bands(rule, subsystem, trend_name, rule)
    ]
