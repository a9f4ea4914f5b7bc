"""Monitoring: declarative checks on the histogram model (trending and alarms follow).

- :mod:`overwatch.monitoring.checks` — the integration surface and its contract:
  :func:`~overwatch.monitoring.checks.run_checks`,
  :class:`~overwatch.monitoring.checks.CheckResult` and the quality aggregation
  helpers;
- :mod:`overwatch.monitoring.config` — :func:`~overwatch.monitoring.config.load_check_config`,
  which validates the ``checks`` setting (pure Python, cheap to import);
- :mod:`~overwatch.monitoring.ranges`, :mod:`~overwatch.monitoring.comparison`,
  :mod:`~overwatch.monitoring.pulls` — the check kinds;
  :mod:`~overwatch.monitoring.statistics` — the numbers they judge.

Nothing is imported here, so that loading the settings (which validates the
checks) does not pull in numpy. This package sees only the histogram model, the
detector plugin API and its own settings.
"""

from __future__ import annotations

__all__: list[str] = []
