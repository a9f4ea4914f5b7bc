"""Numbers the checks judge, computed on the histogram model with numpy only.

Every function here returns either a value or a *reason* (a string a shifter
understands) why the value cannot be computed; none raises on odd input
(empty histograms, NaN/inf contents, missing axes, profiles), so a check never
turns bad data into a failed job. The special functions the statistical tests
need (log-gamma on arrays, the Kolmogorov distribution, normal tails) are small
enough to write down instead of depending on scipy.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

from overwatch.histograms.model import Histogram

__all__ = [
    "bin_position",
    "counts",
    "describe_binning_difference",
    "fmt",
    "kolmogorov_probability",
    "lgamma",
    "moments",
    "non_finite_reason",
    "pull_for_probability",
    "two_sided_probability",
]

_AXES = "xyz"
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
# ln Γ(x) = ln Γ(x + 8) - ln(x(x+1)...(x+7)): Stirling's series at ≥ 9 is then exact
# to ~1e-13, far below what the pull test can resolve.
_SHIFT = 8
# Up to this many arguments below the shift are left to math.lgamma, one by one,
# which costs less than eight array operations for them.
_FEW = 256


def fmt(value: float) -> str:
    """A number for a reason: four significant digits, no trailing noise."""
    return f"{value:.4g}"


def non_finite_reason(hist: Histogram, what: str = "") -> str | None:
    """Why a histogram cannot be judged because of NaN/inf contents, else ``None``."""
    arrays = [hist.contents]
    if hist.sumw2 is not None:
        arrays.append(hist.sumw2)
    if hist.bin_entries is not None:
        arrays.append(hist.bin_entries)
    shape = hist.contents.shape
    floating = [array for array in arrays if array.shape == shape and array.dtype.kind == "f"]
    # NaN and infinities show in the extremes (which cannot overflow): two
    # reductions settle the common case, and only a histogram that fails is counted.
    if all(
        array.size == 0 or (math.isfinite(float(array.min())) and math.isfinite(float(array.max())))
        for array in floating
    ):
        return None
    bad = np.zeros(shape, dtype=bool)
    for array in floating:
        bad |= ~np.isfinite(array)
    count = int(bad.sum())
    if not count:
        return None
    subject = f"{what} " if what else ""
    return f"{subject}{count} bin{'s' if count > 1 else ''} hold NaN or infinity: cannot judge"


def moments(hist: Histogram, axis: int) -> tuple[float, float] | str:
    """Mean and RMS along ``axis`` (0, 1, 2 = x, y, z) as ROOT's ``GetMean``/``GetRMS``.

    ROOT's running sums (``fTsumw``, ``fTsumwx``, ...) are used when filled, so the
    numbers equal the statistics box JSROOT draws; otherwise bin centres weighted
    by the contents (profiles: by the bin entries) of the inner bins.
    """
    if axis >= hist.ndim:
        return (
            f"the histogram is {hist.ndim}D: it has no {_AXES[axis]} axis "
            f"(set axis: x{', y' if hist.ndim > 1 else ''})"
        )
    letter = _AXES[axis]
    sumw = hist.stats.get("fTsumw", 0.0)
    sumwx = hist.stats.get(f"fTsumw{letter}")
    sumwx2 = hist.stats.get(f"fTsumw{letter}2")
    if sumw > 0 and sumwx is not None and sumwx2 is not None:
        mean = sumwx / sumw
        return mean, math.sqrt(max(sumwx2 / sumw - mean * mean, 0.0))
    weights = (
        hist.bin_entries if hist.is_profile and hist.bin_entries is not None else hist.contents
    )
    inner = weights[(slice(1, -1),) * hist.ndim].astype(np.float64)
    other = tuple(index for index in range(hist.ndim) if index != axis)
    projected = inner.sum(axis=other) if other else inner
    total = float(projected.sum())
    if total <= 0:
        return "no positive bin contents: mean and RMS are undefined"
    centers = hist.axes[axis].centers
    mean = float(np.dot(projected, centers) / total)
    variance = float(np.dot(projected, (centers - mean) ** 2) / total)
    return mean, math.sqrt(max(variance, 0.0))


def counts(hist: Histogram) -> NDArray[np.float64] | str:
    """Effective entries per inner bin (content²/variance), or why there are none.

    For an unweighted histogram these are the bin contents; a histogram scaled by
    a constant (e.g. 1/events) gives back its raw counts, because contents and
    variances scale together. Profiles hold means, not counts.
    """
    if hist.is_profile:
        return f"it is a profile ({hist.class_name}): bin means are not counts"
    values = hist.values()
    if np.any(values < 0):
        return "it has negative bin contents: the bins are not counts"
    variances = hist.variances()
    # Divided only where the variance is positive (no errstate: it costs more than
    # the division on a small histogram).
    effective = np.array(values, dtype=np.float64)
    np.divide(values * values, variances, out=effective, where=variances > 0)
    return effective


def describe_binning_difference(hist: Histogram, reference: Histogram) -> str | None:
    """Why ``reference`` cannot be compared bin by bin with ``hist``, else ``None``."""
    if reference.ndim != hist.ndim:
        return f"the reference is {reference.ndim}D but the histogram is {hist.ndim}D"
    if reference.is_profile != hist.is_profile:
        return f"the reference is a {reference.class_name} but the histogram a {hist.class_name}"
    for index, (mine, theirs) in enumerate(zip(hist.axes, reference.axes, strict=True)):
        if not mine.same_binning(theirs):
            return (
                f"the reference has other binning on the {_AXES[index]} axis: "
                f"{theirs.nbins} bins on [{fmt(theirs.low)}, {fmt(theirs.high)}] instead of "
                f"{mine.nbins} on [{fmt(mine.low)}, {fmt(mine.high)}]"
            )
    return None


def bin_position(hist: Histogram, index: tuple[int, ...]) -> str:
    """Where an inner bin (0-based index) is, in axis coordinates: ``x = 3.5``."""
    centres = [fmt(float(ax.centers[i])) for ax, i in zip(hist.axes, index, strict=True)]
    if len(centres) == 1:
        return f"x = {centres[0]}"
    return f"({', '.join(_AXES[: len(centres)])}) = ({', '.join(centres)})"


def _stirling(x: NDArray[np.float64]) -> NDArray[np.float64]:
    # Stirling's series for ln Γ(x), exact to ~1e-13 relative for x ≥ 9.
    inverse = 1.0 / x
    inverse2 = inverse * inverse
    series = inverse * (
        1 / 12
        + inverse2 * (-1 / 360 + inverse2 * (1 / 1260 + inverse2 * (-1 / 1680 + inverse2 / 1188)))
    )
    return np.asarray((x - 0.5) * np.log(x) - x + _HALF_LOG_2PI + series, dtype=np.float64)


def lgamma(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``ln Γ(x)`` element-wise for ``x ≥ 1`` (what the beta-binomial needs).

    Stirling's series for arguments of 9 and more. Below, a few arguments get
    :func:`math.lgamma` one by one; many get the series at ``x + 8`` less
    ``ln(x(x+1)...(x+7))``, which stays below 17^8, so one logarithm replaces
    eight. Agrees with :func:`math.lgamma` to about 1e-13 relative
    (``tests/monitoring/test_statistics.py`` holds it to that).
    """
    x = np.asarray(x, dtype=np.float64)
    shape = x.shape
    x = x.ravel()
    small = np.flatnonzero(x < _SHIFT + 1)
    if not small.size:
        return _stirling(x).reshape(shape)
    if small.size <= _FEW:
        result = _stirling(np.maximum(x, _SHIFT + 1.0))
        result[small] = [math.lgamma(value) for value in x[small].tolist()]
        return result.reshape(shape)
    low = x[small]
    product = low.copy()
    for step in range(1, _SHIFT):
        product *= low + step
    shifted = x.copy()
    shifted[small] = low + _SHIFT
    result = _stirling(shifted)
    result[small] -= np.log(product)
    return result.reshape(shape)


def kolmogorov_probability(z: float) -> float:
    """Probability that the Kolmogorov statistic exceeds ``z`` (``TMath::KolmogorovProb``)."""
    if z < 0.2:
        return 1.0
    if z < 1.0:
        # The theta-function form converges fast for small z.
        factor = -(math.pi**2) / (8 * z * z)
        total = sum(math.exp((2 * k - 1) ** 2 * factor) for k in range(1, 6))
        return min(max(1.0 - math.sqrt(2 * math.pi) / z * total, 0.0), 1.0)
    total = sum((1.0 if k % 2 else -1.0) * math.exp(-2.0 * k * k * z * z) for k in range(1, 8))
    return min(max(2.0 * total, 0.0), 1.0)


def two_sided_probability(pull: float) -> float:
    """``P(|Z| ≥ |pull|)`` for a standard normal ``Z`` (the χ² tail with one degree of freedom)."""
    return math.erfc(abs(pull) / math.sqrt(2.0))


def pull_for_probability(probability: float) -> float:
    """The ``|pull|`` whose two-sided normal tail is ``probability`` (inverse of the above)."""
    # 1e-300 is about 37σ, the largest pull a double can express this way.
    probability = min(max(probability, 1e-300), 1.0)
    if probability >= 1.0:
        return 0.0
    return float(-NormalDist().inv_cdf(probability / 2.0))
