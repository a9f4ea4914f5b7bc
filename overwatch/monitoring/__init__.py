"""Monitoring: declarative checks on the histogram model (trending and alarms follow).

The public surface is :func:`run_checks` with :class:`CheckResult`, the quality
aggregation helpers, and :func:`load_check_config` that validates the ``checks``
setting; :mod:`overwatch.monitoring.checks` states the contract. This package sees
only the histogram model, the detector plugin API and its own settings.
"""

from __future__ import annotations

from overwatch.monitoring.checks import PLUGIN_CHECK_NAME
from overwatch.monitoring.checks import References
from overwatch.monitoring.checks import from_plugin_outcome
from overwatch.monitoring.checks import histogram_quality
from overwatch.monitoring.checks import run_check
from overwatch.monitoring.checks import run_checks
from overwatch.monitoring.checks import run_quality
from overwatch.monitoring.checks import subsystem_quality
from overwatch.monitoring.config import CheckConfig
from overwatch.monitoring.config import CheckConfigError
from overwatch.monitoring.config import CheckSpec
from overwatch.monitoring.config import load_check_config
from overwatch.monitoring.result import CheckResult

__all__ = [
    "PLUGIN_CHECK_NAME",
    "CheckConfig",
    "CheckConfigError",
    "CheckResult",
    "CheckSpec",
    "References",
    "from_plugin_outcome",
    "histogram_quality",
    "load_check_config",
    "run_check",
    "run_checks",
    "run_quality",
    "subsystem_quality",
]
