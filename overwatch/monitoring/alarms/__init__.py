"""Alarm rules: their configuration, their evaluation on plain data, their limit bands.

- :mod:`~overwatch.monitoring.alarms.config`: the ``alarms`` setting, validated;
- :mod:`~overwatch.monitoring.alarms.rules`: pure evaluation (no database, no clock);
- :mod:`~overwatch.monitoring.alarms.limits`: the bands drawn on the trending page.

Processing (:mod:`overwatch.processing.alarms`) reads trend values and check results,
calls these and stores alarms through :mod:`overwatch.storage.alarms`.
"""

from __future__ import annotations

from overwatch.monitoring.alarms.config import AlarmConfig
from overwatch.monitoring.alarms.config import AlarmConfigError
from overwatch.monitoring.alarms.config import AlarmRule
from overwatch.monitoring.alarms.config import load_alarm_config
from overwatch.monitoring.alarms.limits import alarm_limits
from overwatch.monitoring.alarms.rules import CheckQuality
from overwatch.monitoring.alarms.rules import TrendPoint
from overwatch.monitoring.alarms.rules import Verdict
from overwatch.monitoring.alarms.rules import check_hits
from overwatch.monitoring.alarms.rules import combine
from overwatch.monitoring.alarms.rules import evaluate_trend
from overwatch.monitoring.alarms.rules import next_streaks
from overwatch.monitoring.alarms.rules import silence_verdict

__all__ = [
    "AlarmConfig",
    "AlarmConfigError",
    "AlarmRule",
    "CheckQuality",
    "TrendPoint",
    "Verdict",
    "alarm_limits",
    "check_hits",
    "combine",
    "evaluate_trend",
    "load_alarm_config",
    "next_streaks",
    "silence_verdict",
]
