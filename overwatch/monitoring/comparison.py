"""Reference comparisons: χ²/ndf, Kolmogorov and the largest bin-by-bin deviation.

Each compares ``hist`` with a reference histogram of the same binning (the same
name in a reference run). With ``normalize`` (the default) the reference is first
scaled to the histogram's integral, so runs of different length compare; profiles
are compared as they are (their bins are means, not counts).

- ``chi2``: Σ (h - r)² / (σh² + σr²) over bins where either has an error,
  divided by the degrees of freedom (bins used, minus one when normalised).
- ``kolmogorov``: the largest distance between the normalised cumulative
  distributions and its probability with the effective numbers of entries
  (ROOT's ``TH1::KolmogorovTest``); 1D count histograms only.
- ``max_deviation``: the largest |h - r| / √(σh² + σr²) over the bins, in σ,
  and where it is.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from overwatch.histograms.model import Histogram
from overwatch.monitoring.config import CheckSpec
from overwatch.monitoring.result import CheckResult
from overwatch.monitoring.result import grade_lower
from overwatch.monitoring.result import grade_upper
from overwatch.monitoring.result import null
from overwatch.monitoring.statistics import bin_position
from overwatch.monitoring.statistics import describe_binning_difference
from overwatch.monitoring.statistics import fmt
from overwatch.monitoring.statistics import kolmogorov_probability
from overwatch.monitoring.statistics import non_finite_reason

__all__ = ["chi2_check", "kolmogorov_check", "max_deviation_check", "reference_problem"]

_Arrays = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]


def reference_problem(spec: CheckSpec, hist: Histogram, reference: Histogram) -> str | None:
    """Why ``reference`` cannot serve ``hist`` for this check, else ``None``."""
    binning = describe_binning_difference(hist, reference)
    if binning:
        return binning
    non_finite = non_finite_reason(reference, "the reference:")
    if non_finite:
        return non_finite
    if reference.entries < max(spec.min_entries, 1.0):
        return (
            f"the reference has only {fmt(reference.entries)} entries, "
            f"at least {fmt(max(spec.min_entries, 1.0))} needed to compare"
        )
    return None


def _scaled(spec: CheckSpec, hist: Histogram, reference: Histogram) -> _Arrays | str:
    values, variances = hist.values(), hist.variances()
    ref_values, ref_variances = reference.values(), reference.variances()
    if spec.normalize and not hist.is_profile:
        total, ref_total = float(values.sum()), float(ref_values.sum())
        if total <= 0 or ref_total <= 0:
            which = "histogram" if total <= 0 else "reference"
            return f"the {which}'s integral is {fmt(min(total, ref_total))}: cannot normalise"
        factor = total / ref_total
        ref_values = ref_values * factor
        ref_variances = ref_variances * factor * factor
    return values, variances, ref_values, ref_variances


def chi2_check(spec: CheckSpec, hist: Histogram, reference: Histogram) -> CheckResult:
    arrays = _scaled(spec, hist, reference)
    if isinstance(arrays, str):
        return null(spec.name, arrays)
    values, variances, ref_values, ref_variances = arrays
    sigma2 = variances + ref_variances
    used = sigma2 > 0
    bins = int(np.count_nonzero(used))
    ndf = bins - (1 if spec.normalize and not hist.is_profile else 0)
    if ndf < 1:
        return null(spec.name, f"only {bins} bin(s) with contents: no degrees of freedom left")
    chi2 = float(np.sum((values[used] - ref_values[used]) ** 2 / sigma2[used]))
    result = grade_upper(spec.name, "χ²/ndf", chi2 / ndf, spec.warning or 0.0, spec.error or 0.0)
    result.reason += f"; χ² {fmt(chi2)} for {ndf} degrees of freedom against the reference"
    return result


def kolmogorov_check(  # noqa: PLR0911 - a return per reason not to judge
    spec: CheckSpec, hist: Histogram, reference: Histogram
) -> CheckResult:
    if hist.ndim != 1:
        return null(
            spec.name, f"the Kolmogorov test needs a 1D histogram, this one is {hist.ndim}D"
        )
    if hist.is_profile:
        return null(spec.name, f"the Kolmogorov test needs counts, not a {hist.class_name}")
    if hist.axes[0].nbins < 2:
        return null(spec.name, "one bin: there is no distribution to compare")
    values, ref_values = hist.values(), reference.values()
    if np.any(values < 0) or np.any(ref_values < 0):
        return null(spec.name, "negative bin contents: the Kolmogorov test needs counts")
    total, ref_total = float(values.sum()), float(ref_values.sum())
    if total <= 0 or ref_total <= 0:
        return null(spec.name, f"the {'histogram' if total <= 0 else 'reference'} is empty")
    distance = float(np.max(np.abs(np.cumsum(values) / total - np.cumsum(ref_values) / ref_total)))
    # Effective entries (Σw)²/Σw², so weighted or scaled histograms count their real statistics.
    n1 = total * total / max(float(hist.variances().sum()), 1e-300)
    n2 = ref_total * ref_total / max(float(reference.variances().sum()), 1e-300)
    probability = kolmogorov_probability(distance * math.sqrt(n1 * n2 / (n1 + n2)))
    if spec.statistic == "distance":
        result = grade_upper(
            spec.name, "Kolmogorov distance", distance, spec.warning or 0.0, spec.error or 0.0
        )
        result.reason += f"; probability {fmt(probability)}"
        return result
    result = grade_lower(
        spec.name, "Kolmogorov probability", probability, spec.warning or 0.0, spec.error or 0.0
    )
    result.reason += f"; distance {fmt(distance)} from the reference"
    return result


def max_deviation_check(spec: CheckSpec, hist: Histogram, reference: Histogram) -> CheckResult:
    arrays = _scaled(spec, hist, reference)
    if isinstance(arrays, str):
        return null(spec.name, arrays)
    values, variances, ref_values, ref_variances = arrays
    sigma2 = variances + ref_variances
    if not np.any(sigma2 > 0):
        return null(spec.name, "no bin has an error: deviations cannot be measured in σ")
    with np.errstate(divide="ignore", invalid="ignore"):
        deviation = np.where(sigma2 > 0, np.abs(values - ref_values) / np.sqrt(sigma2), 0.0)
    index = np.unravel_index(int(np.argmax(deviation)), deviation.shape)
    largest = float(deviation[index])
    where = bin_position(hist, tuple(int(i) for i in index))
    return grade_upper(
        spec.name, f"largest deviation from the reference (at {where})", largest,
        spec.warning or 0.0, spec.error or 0.0, unit="σ",
    )  # fmt: skip
