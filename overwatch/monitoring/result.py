"""What a check returns, and how limits turn a number into a quality.

:class:`CheckResult` is the one type every check kind produces; :func:`grade_upper`
and :func:`grade_lower` apply a warning and an error threshold to a value and
word the reason the same way for every kind, so a shifter reads one style.
"""

from __future__ import annotations

from dataclasses import dataclass

from overwatch.histograms.model import Histogram
from overwatch.monitoring.statistics import fmt

__all__ = ["CheckResult", "grade_lower", "grade_upper", "null"]


@dataclass(slots=True)
class CheckResult:
    """The outcome of one check on one histogram.

    ``quality`` is ``"good"``, ``"medium"``, ``"bad"`` or ``None`` (could not judge:
    too few entries, no reference, NaN contents, ...); ``reason`` always says why,
    in words a shifter understands. ``value`` is the number that was judged (for
    trending; ``None`` when there is none) and ``extra`` an additional histogram
    to store and draw beside the checked one (the pull test's pull map).
    """

    check: str
    quality: str | None
    reason: str
    extra: Histogram | None = None
    value: float | None = None


def null(check: str, reason: str) -> CheckResult:
    """A result that does not judge, with the reason why."""
    return CheckResult(check, None, reason)


def grade_upper(
    check: str, label: str, value: float, warning: float, error: float, unit: str = ""
) -> CheckResult:
    """``bad`` above ``error``, ``medium`` above ``warning``, else ``good``."""
    limits = f"{fmt(error)}{unit} (warning {fmt(warning)}{unit})"
    if value > error:
        return CheckResult(
            check, "bad", f"{label} {fmt(value)}{unit} above the error limit {limits}", value=value
        )
    if value > warning:
        return CheckResult(
            check,
            "medium",
            f"{label} {fmt(value)}{unit} above the warning limit {fmt(warning)}{unit} "
            f"(error {fmt(error)}{unit})",
            value=value,
        )
    return CheckResult(
        check, "good", f"{label} {fmt(value)}{unit} within the warning limit {fmt(warning)}{unit}",
        value=value,
    )  # fmt: skip


def grade_lower(check: str, label: str, value: float, warning: float, error: float) -> CheckResult:
    """``bad`` below ``error``, ``medium`` below ``warning``, else ``good``."""
    if value < error:
        return CheckResult(
            check,
            "bad",
            f"{label} {fmt(value)} below the error limit {fmt(error)} (warning {fmt(warning)})",
            value=value,
        )
    if value < warning:
        return CheckResult(
            check,
            "medium",
            f"{label} {fmt(value)} below the warning limit {fmt(warning)} (error {fmt(error)})",
            value=value,
        )
    return CheckResult(
        check, "good", f"{label} {fmt(value)} within the warning limit {fmt(warning)}", value=value
    )
