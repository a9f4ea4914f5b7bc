"""The beta-binomial pull test (the method of CMS AutoDQM), with its pull map.

For every bin the question is: given the reference run(s), how surprising is the
number of entries the histogram has there? With ``r`` of the reference's ``R``
entries in the bin, the bin's share ``p`` of the data is uncertain as
``Beta(r + 1, R - r + 1)`` (a flat prior updated by the reference), and the
histogram's ``k`` of ``N`` entries then follow the beta-binomial distribution
``BetaBinomial(N, r + 1, R - r + 1)``. The surprise is the likelihood ratio of
``k`` to the most likely count, turned into a pull ``√(-2 ln ratio)`` (which is
``|k - m| / σ`` in the Gaussian limit) signed by whether the bin has more or
less than the reference predicts. With several reference runs the ratios are
averaged before taking the logarithm, so a bin agreeing with any of them is not
surprising.

Two numbers judge the histogram:

- the χ² of the pulls per bin used (Σ pull² / bins with entries in the histogram
  or a reference), ≈ 1 when histogram and reference agree;
- the largest |pull|, corrected for the number of bins looked at (Šidák): its
  two-sided normal tail probability ``p`` becomes ``1 - (1 - p)^bins``, and that
  probability is turned back into a pull. A 4σ bin among 1000 is then an
  unremarkable 1.9σ, while a 4σ single bin stays 4σ.

Counts are the effective entries per bin (content²/variance), so a histogram
scaled by 1/events is judged on its raw statistics. The pull map (one pull per
bin to 0.01σ, 0 where no bin is used) is returned as a ``TH1F``/``TH2F``/``TH3F``
named ``<name>_pulls`` to be stored and drawn beside the histogram, when the
check says medium or bad (or always, with ``pull_map: always``).

Only the used bins are computed, with one vectorised log-gamma call per
reference (:func:`~overwatch.monitoring.statistics.lgamma`): the check costs a
fraction of what storing the histogram does (``benchmarks/bench_checks.py``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from overwatch.histograms.model import Axis
from overwatch.histograms.model import Histogram
from overwatch.monitoring.config import CheckSpec
from overwatch.monitoring.result import CheckResult
from overwatch.monitoring.result import null
from overwatch.monitoring.statistics import bin_position
from overwatch.monitoring.statistics import counts
from overwatch.monitoring.statistics import fmt
from overwatch.monitoring.statistics import lgamma
from overwatch.monitoring.statistics import pull_for_probability
from overwatch.monitoring.statistics import two_sided_probability

__all__ = [
    "PULL_MAP_DECIMALS",
    "PullSummary",
    "corrected_pull",
    "pull_check",
    "pull_map",
    "pull_summary",
    "pulls",
]

Array = NDArray[np.float64]

#: The pull map holds each pull to this many decimals (of σ).
PULL_MAP_DECIMALS = 2
_AXIS_FIELDS = tuple(item.name for item in dataclasses.fields(Axis))


def _log_ratio(k: Array, total: float, ref: Array, ref_total: float) -> Array:
    """ln(pmf(k) / pmf(most likely count)) per bin, ≤ 0."""
    alpha = ref + 1.0
    beta = ref_total - ref + 1.0
    # pmf(m + 1) / pmf(m) >= 1 exactly when m <= (N + 1) r / R - 1, so the most
    # likely count is floor((N + 1) r / R) (ties at integers have equal probability).
    mode = np.clip(np.floor((total + 1.0) * ref / ref_total), 0.0, total)
    # ln of the beta-binomial pmf up to terms that do not depend on the count c:
    # ln C(N, c) + ln B(c + alpha, N - c + beta) = kernel(c) + const(N, alpha, beta), with
    # kernel(c) = lgamma(c + alpha) + lgamma(N - c + beta) - lgamma(c + 1) - lgamma(N - c + 1).
    # One lgamma call over all eight arguments of k and the mode: per-call overhead,
    # not arithmetic, is what small histograms pay.
    args = np.empty((2, 4, k.size))
    for row, count in ((args[0], k), (args[1], mode)):
        rest = total - count
        np.add(count, alpha, out=row[0])
        np.add(rest, beta, out=row[1])
        np.add(count, 1.0, out=row[2])
        np.add(rest, 1.0, out=row[3])
    terms = lgamma(args)
    kernel = terms[:, 0] + terms[:, 1] - terms[:, 2] - terms[:, 3]
    ratio: Array = np.minimum(kernel[0] - kernel[1], 0.0)
    return ratio


class PullSummary:
    """Per-bin pulls against the references, and what judges them.

    Only the bins used (entries in the histogram or a reference) are computed;
    the others are 0 in the pull map and count nowhere.
    """

    def __init__(self, data: Array, references: Sequence[Array]) -> None:
        total = float(data.sum())
        used = data > 0
        for ref in references:
            used |= ref > 0
        self.used = used
        where = np.flatnonzero(used)
        k = np.ravel(data)[where]
        log_ratios = []
        expected = np.zeros_like(k)
        for ref in references:
            ref_total = float(ref.sum())
            mine = np.ravel(ref)[where]
            log_ratios.append(_log_ratio(k, total, mine, ref_total))
            expected += mine / ref_total
        if len(log_ratios) == 1:
            log_mean = log_ratios[0]
        else:
            expected /= len(references)
            # Mean of the likelihood ratios over the references, in logarithms so that
            # hugely improbable bins do not underflow to zero.
            log_mean = np.logaddexp.reduce(np.stack(log_ratios), axis=0) - math.log(len(references))
        magnitude = np.sqrt(np.maximum(-2.0 * log_mean, 0.0))
        self.pulls: Array = np.zeros(data.shape, dtype=np.float64)
        self.pulls.flat[where] = np.sign(k / total - expected) * magnitude
        self.bins = int(where.size)
        self.chi2 = float(np.dot(magnitude, magnitude) / self.bins) if self.bins else 0.0
        self.index = np.unravel_index(int(np.argmax(np.abs(self.pulls))), self.pulls.shape)
        self.largest = float(self.pulls[self.index])
        self.corrected = math.copysign(corrected_pull(abs(self.largest), self.bins), self.largest)


def corrected_pull(pull: float, bins: int) -> float:
    """The largest of ``bins`` pulls, as the pull of one bin with the same false-alarm rate."""
    if bins <= 1:
        return pull
    probability = max(two_sided_probability(pull), 1e-300)
    # 1 - (1 - p)^n without cancellation for tiny p.
    corrected = -math.expm1(bins * math.log1p(-probability)) if probability < 1 else 1.0
    return pull_for_probability(corrected)


def pull_summary(hist: Histogram, references: Sequence[Histogram]) -> PullSummary | str:
    """The pull summary of ``hist`` against ``references``, or why there is none."""
    data = counts(hist)
    if isinstance(data, str):
        return data
    if float(data.sum()) <= 0:
        return "the histogram is empty"
    ref_counts = []
    for number, reference in enumerate(references, start=1):
        ref = counts(reference)
        which = "the reference" if len(references) == 1 else f"reference {number}"
        if isinstance(ref, str):
            return f"{which}: {ref}"
        if float(ref.sum()) <= 0:
            return f"{which} is empty"
        ref_counts.append(ref)
    return PullSummary(data, ref_counts)


def pulls(hist: Histogram, references: Sequence[Histogram]) -> tuple[PullSummary, Histogram] | str:
    """The pull summary and pull map of ``hist`` against ``references``, or why there is none."""
    summary = pull_summary(hist, references)
    if isinstance(summary, str):
        return summary
    return summary, pull_map(hist, summary)


def _axis_copy(axis: Axis) -> Axis:
    # What may be changed in place gets its own copy; a deep copy of every axis
    # cost more than the pulls themselves.
    copied = Axis.__new__(Axis)
    for name in _AXIS_FIELDS:
        setattr(copied, name, getattr(axis, name))
    copied.edges = axis.edges.copy()
    copied.attributes = dict(axis.attributes)
    if axis.labels is not None:
        copied.labels = dict(axis.labels)
    if axis.mod_labels is not None:
        copied.mod_labels = copy.deepcopy(axis.mod_labels)
    return copied


def pull_map(hist: Histogram, summary: PullSummary) -> Histogram:
    """The pulls of ``summary`` as a histogram ``<name>_pulls`` with the binning of ``hist``."""
    # Rounded to PULL_MAP_RESOLUTION and kept in single precision: a colour map
    # needs no more, and its JSON then takes a third of the bytes and time to write
    # (the summary's numbers come from the exact pulls). Under- and overflow stay empty.
    contents = np.zeros(tuple(size + 2 for size in summary.pulls.shape), dtype=np.float32)
    contents[(slice(1, -1),) * summary.pulls.ndim] = np.round(summary.pulls, PULL_MAP_DECIMALS)
    pull_map = Histogram(
        name=f"{hist.name}_pulls",
        class_name=f"TH{hist.ndim}F",
        title=f"Pulls of {hist.title or hist.object_name} against the reference",
        axes=tuple(_axis_copy(axis) for axis in hist.axes),
        contents=contents,
        entries=float(summary.bins),
        draw_options={1: "hist", 2: "colz"}.get(hist.ndim, "box2"),
    )
    pull_map.metadata["info"] = [
        f"Beta-binomial pulls of {hist.name} against the reference: "
        f"{summary.bins} bins used, χ²/bin {fmt(summary.chi2)}"
    ]
    return pull_map


def pull_check(spec: CheckSpec, hist: Histogram, references: Sequence[Histogram]) -> CheckResult:
    summary = pull_summary(hist, references)
    if isinstance(summary, str):
        return null(spec.name, summary)
    where = bin_position(hist, tuple(int(i) for i in summary.index))
    facts = (
        f"largest pull {fmt(summary.largest)}σ at {where} "
        f"({fmt(summary.corrected)}σ corrected for {summary.bins} bins), "
        f"χ²/bin of the pulls {fmt(summary.chi2)}"
    )
    size = abs(summary.corrected)
    exceeded = []
    quality = "good"
    for level, pull_limit, chi2_limit in (
        ("bad", spec.pull_error, spec.chi2_error),
        ("medium", spec.pull_warning, spec.chi2_warning),
    ):
        if size > pull_limit:
            exceeded.append(
                f"corrected pull above the {_limit_name(level)} limit {fmt(pull_limit)}σ"
            )
        if summary.chi2 > chi2_limit:
            exceeded.append(f"χ²/bin above the {_limit_name(level)} limit {fmt(chi2_limit)}")
        if exceeded:
            quality = level
            break
    reason = f"{facts}: {' and '.join(exceeded)}" if exceeded else f"{facts}: within the limits"
    # A shifter needs the map where the test sees a problem; beside every good
    # histogram it would double the page and the stored result for noise.
    wanted = exceeded or spec.pull_map == "always"
    extra = pull_map(hist, summary) if wanted else None
    return CheckResult(spec.name, quality, reason, extra=extra, value=summary.corrected)


def _limit_name(level: str) -> str:
    return "error" if level == "bad" else "warning"
