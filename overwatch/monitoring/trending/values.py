"""One trend definition applied to one histogram: the number trended, or why there is none.

:func:`trend_value` never raises on data: an empty histogram, NaN contents, a
missing axis, a check that gave no figure or a plugin function that returns
nothing all give a *reason* (a string) instead of a value, and no point is
stored. Only finite numbers are values (the database could not keep the others
alike on SQLite and PostgreSQL).

It sees one histogram as stored (after the plugin's ``prepare`` hook), the
figures the checks stored for it, and the plugin; nothing else, so processing
and ``overwatch trending backfill`` get the same value from the same result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from overwatch.detectors.api import DetectorPlugin
from overwatch.detectors.api import ProcessingContext
from overwatch.histograms.model import Histogram
from overwatch.monitoring.ranges import statistic
from overwatch.monitoring.statistics import non_finite_reason
from overwatch.monitoring.trending.config import STATISTIC_KINDS
from overwatch.monitoring.trending.config import TrendSpec

__all__ = ["trend_value"]


def _finite(value: object, what: str) -> float | str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{what} is not a number ({value!r})"
    number = float(value)
    return number if math.isfinite(number) else f"{what} is {number}: not trended"


def trend_value(  # noqa: PLR0911 - a return per kind and reason
    spec: TrendSpec,
    hist: Histogram,
    *,
    check_values: Mapping[str, float | None],
    plugin: DetectorPlugin,
    context: ProcessingContext,
) -> float | str:
    """The value of ``spec`` for ``hist`` (the histogram it names), or the reason there is none.

    ``check_values`` maps each check stored for ``hist`` to its figure (``None``
    when the check gave none).
    """
    if spec.kind in STATISTIC_KINDS:
        problem = non_finite_reason(hist)
        if problem:
            return problem
        if spec.kind != "entries" and hist.entries <= 0 and not hist.values().any():
            return "empty histogram: nothing to trend"
        value = statistic(hist, spec.kind, spec.axis)
        return value if isinstance(value, str) else _finite(value, spec.kind)
    if spec.kind == "check":
        if spec.check not in check_values:
            return f"no check {spec.check!r} was stored for {hist.name}"
        figure = check_values[spec.check]
        if figure is None:
            return f"check {spec.check!r} gave no figure"
        return _finite(figure, f"the figure of check {spec.check!r}")
    found = plugin.trend(spec.function, hist, context)
    if found is None:
        return f"plugin {plugin.name} gave no value for function {spec.function!r}"
    return _finite(found, f"plugin function {spec.function!r}")
