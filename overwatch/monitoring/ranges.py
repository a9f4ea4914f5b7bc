"""Range checks: one statistic of a histogram against fixed limits.

The statistics are ``entries`` (``fEntries``), ``mean`` and ``rms`` along one axis,
``maximum`` (largest bin), ``integral`` (sum of the inner bins, as ROOT's
``Integral()``) and ``empty_fraction`` (the fraction of inner bins that are empty).
Outside ``error_min``/``error_max`` is ``bad``, else outside
``warning_min``/``warning_max`` is ``medium``, else ``good``.

For 2D/3D histograms the mean and RMS are those of the chosen axis (the
projection, as ROOT's ``GetMean(axis)``), the maximum is the largest cell and
the integral the sum of all cells. For profiles the mean and RMS are those of the
x values (weighted by the bin entries), the maximum is the largest bin mean among
filled bins, a bin is empty when it has no entries, and the integral is not
defined (``null``).
"""

from __future__ import annotations

import numpy as np

from overwatch.histograms.model import Histogram
from overwatch.monitoring.config import CheckSpec
from overwatch.monitoring.result import CheckResult
from overwatch.monitoring.result import null
from overwatch.monitoring.statistics import fmt
from overwatch.monitoring.statistics import moments

__all__ = ["range_check", "statistic"]

_LABELS = {
    "entries": "entries",
    "mean": "mean",
    "rms": "RMS",
    "maximum": "maximum",
    "integral": "integral",
    "empty_fraction": "fraction of empty bins",
}


def statistic(hist: Histogram, kind: str, axis: int = 0) -> float | str:  # noqa: PLR0911 - a return per kind and edge case
    """The value a range check of ``kind`` judges, or why it has none."""
    if kind == "entries":
        return float(hist.entries)
    if kind in ("mean", "rms"):
        result = moments(hist, axis)
        if isinstance(result, str):
            return result
        return result[0] if kind == "mean" else result[1]
    inner = (slice(1, -1),) * hist.ndim
    values = hist.values()
    if values.size == 0:
        return "the histogram has no bins"
    filled = (
        hist.bin_entries[inner] != 0
        if hist.is_profile and hist.bin_entries is not None
        else values != 0
    )
    if kind == "empty_fraction":
        return float(1.0 - np.count_nonzero(filled) / values.size)
    if kind == "integral":
        if hist.is_profile:
            return f"the integral of a profile ({hist.class_name}) is not defined"
        return float(values.sum())
    # maximum
    if hist.is_profile:
        if not np.any(filled):
            return "no bin of the profile is filled"
        return float(values[filled].max())
    return float(values.max())


def _label(spec: CheckSpec, hist: Histogram) -> str:
    label = _LABELS[spec.kind]
    if spec.kind in ("mean", "rms") and hist.ndim > 1:
        label += f" of {'xyz'[spec.axis]}"
    return label


def _band(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{fmt(low)} to {fmt(high)}"
    if low is not None:
        return f"at least {fmt(low)}"
    return f"at most {fmt(high)}" if high is not None else "none"


def range_check(spec: CheckSpec, hist: Histogram) -> CheckResult:
    """Judge one statistic of ``hist`` against the limits of ``spec``."""
    value = statistic(hist, spec.kind, spec.axis)
    if isinstance(value, str):
        return null(spec.name, value)
    label = _label(spec, hist)
    warning = _band(spec.warning_min, spec.warning_max)
    error = _band(spec.error_min, spec.error_max)
    for quality, level, low, high, other, other_low, other_high in (
        ("bad", "error", spec.error_min, spec.error_max, "warning",
         spec.warning_min, spec.warning_max),
        ("medium", "warning", spec.warning_min, spec.warning_max, "error",
         spec.error_min, spec.error_max),
    ):  # fmt: skip
        if high is not None and value > high:
            also = f" ({other} {fmt(other_high)})" if other_high is not None else ""
            reason = f"{label} {fmt(value)} above the {level} limit {fmt(high)}{also}"
            return CheckResult(spec.name, quality, reason, value=value)
        if low is not None and value < low:
            also = f" ({other} {fmt(other_low)})" if other_low is not None else ""
            reason = f"{label} {fmt(value)} below the {level} limit {fmt(low)}{also}"
            return CheckResult(spec.name, quality, reason, value=value)
    return CheckResult(
        spec.name,
        "good",
        f"{label} {fmt(value)} within the limits (warning {warning}, error {error})",
        value=value,
    )
