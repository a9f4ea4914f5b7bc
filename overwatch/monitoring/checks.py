"""Declarative checks: run the configured checks on one histogram, aggregate qualities.

The contract, for processing (the caller) and for whoever extends the kinds:

- **What it sees.** :func:`run_checks` gets one
  :class:`~overwatch.histograms.model.Histogram`, the subsystem's name, the
  validated :class:`~overwatch.monitoring.config.CheckConfig` (``settings.checks``)
  and the reference histograms by histogram name (each a histogram, or a list
  of them when several reference runs are used). It reads nothing else: no
  files, no database, no settings, no environment.
- **What it gives.** One :class:`CheckResult` per configured check whose globs
  match the histogram's full name, in configuration order (``"*"`` checks
  first): ``check`` (the name results are stored and trended by, unique per
  subsystem), ``quality`` (``good``/``medium``/``bad``, or ``None`` when it
  cannot judge), ``reason`` (always set, worded for the shift crew), ``value``
  (the number judged, for trending) and ``extra`` (the pull test's pull map, a
  histogram to store and draw beside the checked one).
  A histogram with fewer entries (``fEntries``) than a check's ``min_entries``
  is not judged; one whose ``fEntries`` is 0 although its bins are filled (a
  derived histogram that did not count) is judged.
- **What it never does.** Raise on data: empty histograms, a single bin,
  NaN/inf contents, too few entries, a missing reference or one with other
  binning, profiles and 2D/3D histograms where a 1D statistic is asked all give
  ``None`` with the reason. It does not modify the histogram or the references.
- **Where it runs.** In any process, including the worker subprocesses that run
  the plugins' ``prepare``/``check`` hooks: the config is plain frozen data and
  pickles, and the functions keep no state between calls.
- **What it must not rely on.** The order in which histograms are checked, or
  any other histogram of the job than the one given and its references.

Integration in the pipeline (per histogram, after the plugin's ``prepare`` and
``check`` hooks, so checks see what the shifter sees)::

    results = run_checks(hist, subsystem=sys, config=settings.checks,
                         references=references_by_name)
    # store each result in check_results (name=r.check, quality=r.quality,
    # message=r.reason); store r.extra (if any) as a histogram of its own;
    hist_quality = histogram_quality(results, plugin_outcome.quality if plugin_outcome else None)
    # a subsystem's quality: subsystem_quality(qualities of its histograms);
    # a run's: run_quality(qualities of its subsystems)

:func:`from_plugin_outcome` turns a plugin's
:class:`~overwatch.detectors.api.CheckOutcome` into a :class:`CheckResult` so both
kinds of result are stored alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence

import numpy as np

from overwatch.detectors.api import CheckOutcome
from overwatch.detectors.api import worst_quality
from overwatch.histograms.model import Histogram
from overwatch.monitoring.comparison import chi2_check
from overwatch.monitoring.comparison import kolmogorov_check
from overwatch.monitoring.comparison import max_deviation_check
from overwatch.monitoring.comparison import reference_problem
from overwatch.monitoring.config import CheckConfig
from overwatch.monitoring.config import CheckSpec
from overwatch.monitoring.config import load_check_config
from overwatch.monitoring.pulls import pull_check
from overwatch.monitoring.ranges import range_check
from overwatch.monitoring.result import CheckResult
from overwatch.monitoring.result import null
from overwatch.monitoring.statistics import fmt
from overwatch.monitoring.statistics import non_finite_reason

__all__ = [
    "NO_REFERENCE",
    "PLUGIN_CHECK_NAME",
    "CheckConfig",
    "CheckResult",
    "References",
    "from_plugin_outcome",
    "histogram_quality",
    "load_check_config",
    "no_reference_reason",
    "run_check",
    "run_checks",
    "run_quality",
    "subsystem_quality",
]

#: A reference check's reason when no reference histogram is given, and the caller says no more.
NO_REFERENCE = "no reference histogram of this name: nothing to compare with"

#: The name a plugin's own check result is stored under.
PLUGIN_CHECK_NAME = "plugin"

#: Reference histograms by histogram name: one, or several reference runs.
References = Mapping[str, Histogram | Sequence[Histogram]]

_SINGLE_REFERENCE = {
    "chi2": chi2_check,
    "kolmogorov": kolmogorov_check,
    "max_deviation": max_deviation_check,
}


def _references_for(hist: Histogram, references: References | None) -> list[Histogram]:
    found = (references or {}).get(hist.name)
    if found is None:
        return []
    return [found] if isinstance(found, Histogram) else list(found)


def run_check(  # noqa: PLR0911 - a return per reason not to judge
    spec: CheckSpec,
    hist: Histogram,
    references: Sequence[Histogram] = (),
    *,
    no_reference: str = NO_REFERENCE,
) -> CheckResult:
    """Run one check on ``hist`` (the references are those of ``hist``, best first).

    A reference check without references gives ``null`` with ``no_reference`` as the
    reason (the caller knows why there is none: no reference run set, or no such
    histogram in it).
    """
    problem = non_finite_reason(hist)
    if problem:
        return null(spec.name, problem)
    too_few = _too_few_entries(spec, hist)
    if too_few:
        return null(spec.name, too_few)
    if not spec.needs_reference:
        return range_check(spec, hist)
    if not references:
        return null(spec.name, no_reference)
    for number, reference in enumerate(references, start=1):
        problem = reference_problem(spec, hist, reference)
        if problem:
            prefix = f"reference {number}: " if len(references) > 1 else ""
            return null(spec.name, prefix + problem)
    if spec.kind == "pull":
        return pull_check(spec, hist, references)
    # Single-reference comparisons use the first (the primary) reference.
    return _SINGLE_REFERENCE[spec.kind](spec, hist, references[0])


def _too_few_entries(spec: CheckSpec, hist: Histogram) -> str | None:
    if hist.entries >= spec.min_entries:
        return None
    if hist.entries <= 0:
        # Histograms a plugin derives (ratios, projections) may leave fEntries at 0
        # although their bins are filled: judge those rather than call them empty.
        filled = np.any(hist.contents != 0) or (
            hist.bin_entries is not None and np.any(hist.bin_entries != 0)
        )
        return None if filled else "empty histogram (0 entries): nothing to judge yet"
    return f"only {fmt(hist.entries)} entries, at least {fmt(spec.min_entries)} needed to judge"


def run_checks(
    hist: Histogram,
    *,
    subsystem: str,
    config: CheckConfig,
    references: References | None = None,
    no_reference: str = NO_REFERENCE,
) -> list[CheckResult]:
    """Every configured check of ``subsystem`` that matches ``hist``, in configuration order.

    ``no_reference`` is the reason a reference check gives when ``hist`` has no reference.
    """
    matching = config.matching(subsystem, hist.name)
    if not matching:
        return []
    refs = _references_for(hist, references)
    return [run_check(spec, hist, refs, no_reference=no_reference) for spec in matching]


def no_reference_reason(subsystem: str, reference_run: int | None) -> str:
    """Why a reference check of ``subsystem`` has nothing to compare with, for a shifter."""
    if reference_run is None:
        return (
            f"no reference run set for {subsystem}: nothing to compare with "
            "(an expert sets one on a run page or with 'overwatch reference set')"
        )
    return f"reference run {reference_run} has no {subsystem} histogram of this name"


def from_plugin_outcome(outcome: CheckOutcome | None) -> CheckResult | None:
    """A plugin's own :class:`CheckOutcome` as a result named :data:`PLUGIN_CHECK_NAME`."""
    if outcome is None:
        return None
    return CheckResult(PLUGIN_CHECK_NAME, outcome.quality, outcome.message)


def histogram_quality(results: Iterable[CheckResult], *also: str | None) -> str | None:
    """A histogram's quality: the worst of its checks (and of ``also``, e.g. the plugin's)."""
    return worst_quality([result.quality for result in results] + list(also))


def subsystem_quality(histogram_qualities: Iterable[str | None]) -> str | None:
    """A subsystem's quality: the worst of its histograms' (``None`` if none was judged)."""
    return worst_quality(list(histogram_qualities))


def run_quality(subsystem_qualities: Iterable[str | None]) -> str | None:
    """A run's quality: the worst of its subsystems' (``None`` if none was judged)."""
    return worst_quality(list(subsystem_qualities))
