"""Trending: one number per processing of a subsystem, kept over time and runs.

- :mod:`.config` — the ``trending`` setting: :class:`~.config.TrendSpec`
  definitions (mean, RMS, maximum, entries, a check's figure, a plugin function)
  with optional warning/critical limits, and the built-in EMC, HLT and TPC trends;
  pure Python, cheap to import;
- :mod:`.limits` — :func:`~.limits.trend_limits`, the bands the trending page draws;
- :mod:`.values` — :func:`~.values.trend_value`, one definition applied to one
  histogram (numpy).

Processing (:mod:`overwatch.processing.trending`) applies the definitions to
what it is about to store, and ``overwatch trending backfill`` to what is
stored, with the same function: a back-filled value equals the live one.
"""

from __future__ import annotations

from overwatch.monitoring.trending.config import TrendConfig
from overwatch.monitoring.trending.config import TrendSpec
from overwatch.monitoring.trending.config import load_trend_config
from overwatch.monitoring.trending.limits import trend_limits

__all__ = ["TrendConfig", "TrendSpec", "load_trend_config", "trend_limits"]
