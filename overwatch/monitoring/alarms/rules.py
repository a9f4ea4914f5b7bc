"""Evaluate alarm rules on plain data: trend points, check qualities, receiver times.

Nothing here reads the database or the clock; the caller (processing) reads what a
rule needs and stores what it says. Each function answers with a :class:`Verdict`:
``fired`` is ``True`` (the condition holds: raise or update the alarm), ``False``
(it no longer holds: clear the alarm) or ``None`` (cannot judge: leave the alarm as
it is). The edge cases, the same for every trend kind:

- **no history yet**: fewer values than the rule needs (one for ``value_range``, two
  for ``change``, ``last`` for ``mean_range`` and ``fraction_in_range``) is ``None``;
- **NaN and infinite values** are no measurement: they are dropped before judging,
  so a NaN neither raises nor clears an alarm;
- **a gap in runs** (run numbers missing from the series) is ignored: "previous" and
  "the last N" are the previous and last N values stored, whatever their run numbers
  (runs are shared between detectors, so gaps are normal); the message names the runs.

``all`` is ``True`` when every part is, ``False`` when one is; ``any`` is ``True``
when one part is, ``False`` when every part is; otherwise ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from fnmatch import fnmatchcase

from overwatch.monitoring.alarms.config import AlarmRule

__all__ = [
    "CheckQuality",
    "TrendPoint",
    "Verdict",
    "check_hits",
    "combine",
    "evaluate_trend",
    "next_streaks",
    "series",
    "silence_verdict",
]

#: Which qualities count for ``quality: bad`` and ``quality: medium``.
_QUALITIES = {"bad": ("bad",), "medium": ("medium", "bad")}


@dataclass(frozen=True, slots=True)
class TrendPoint:
    run_number: int
    time: datetime
    value: float


@dataclass(frozen=True, slots=True)
class CheckQuality:
    """One stored check result of one histogram."""

    histogram: str
    check: str
    quality: str | None


@dataclass(frozen=True, slots=True)
class Verdict:
    fired: bool | None
    message: str
    run_number: int | None = None
    histogram: str | None = None


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _limits(rule: AlarmRule) -> str:
    low = "-inf" if rule.low is None else _fmt(rule.low)
    high = "+inf" if rule.high is None else _fmt(rule.high)
    return f"[{low}, {high}]"


def series(rule: AlarmRule, points: Iterable[TrendPoint]) -> list[TrendPoint]:
    """The values a trend rule judges, oldest first: finite ones, per run or per snapshot."""
    finite = sorted(
        (p for p in points if math.isfinite(p.value)), key=lambda p: (p.run_number, p.time)
    )
    if rule.series == "snapshots":
        return sorted(finite, key=lambda p: p.time)
    last: dict[int, TrendPoint] = {}
    for point in finite:
        last[point.run_number] = point
    return [last[run] for run in sorted(last)]


def _runs(points: Sequence[TrendPoint]) -> str:
    runs = sorted({p.run_number for p in points})
    return f"run {runs[0]}" if len(runs) == 1 else f"runs {runs[0]}-{runs[-1]}"


def evaluate_trend(rule: AlarmRule, points: Iterable[TrendPoint]) -> Verdict:  # noqa: PLR0911
    """Judge a trend rule on the stored points of its trend (any order)."""
    values = series(rule, points)
    what = f"{rule.subsystem if rule.subsystem != '*' else ''} {rule.target}".strip()
    if rule.kind == "value_range":
        if not values:
            return Verdict(None, f"{what}: no value yet")
        newest = values[-1]
        fired = not rule.in_range(newest.value)
        state = "outside" if fired else "inside"
        return Verdict(
            fired,
            f"{what} = {_fmt(newest.value)} in run {newest.run_number}, {state} {_limits(rule)}",
            newest.run_number,
        )
    if rule.kind == "change":
        if len(values) < 2:
            return Verdict(None, f"{what}: no previous value yet")
        previous, newest = values[-2], values[-1]
        delta = newest.value - previous.value
        relative = abs(delta) / abs(previous.value) if previous.value else math.inf
        too_big = (rule.max_absolute is not None and abs(delta) > rule.max_absolute) or (
            rule.max_relative is not None and delta != 0 and relative > rule.max_relative
        )
        return Verdict(
            too_big,
            f"{what} changed by {_fmt(delta)} ({_fmt(100 * relative)} %) from "
            f"{_fmt(previous.value)} (run {previous.run_number}) to {_fmt(newest.value)} "
            f"(run {newest.run_number})",
            newest.run_number,
        )
    if len(values) < rule.last:
        return Verdict(None, f"{what}: {len(values)} of {rule.last} values so far")
    window = values[-rule.last :]
    newest_run = window[-1].run_number
    if rule.kind == "mean_range":
        mean = sum(p.value for p in window) / len(window)
        fired = not rule.in_range(mean)
        state = "outside" if fired else "inside"
        return Verdict(
            fired,
            f"mean of the last {rule.last} {what} ({_runs(window)}) = {_fmt(mean)}, "
            f"{state} {_limits(rule)}",
            newest_run,
        )
    inside = sum(1 for p in window if rule.in_range(p.value))
    fired = inside < rule.fraction * len(window)
    return Verdict(
        fired,
        f"{inside} of the last {len(window)} {what} ({_runs(window)}) in {_limits(rule)}; "
        f"at least {_fmt(100 * rule.fraction)} % wanted",
        newest_run,
    )


def check_hits(rule: AlarmRule, results: Iterable[CheckQuality]) -> dict[str, bool]:
    """Per histogram matching the rule's target: whether a matching check said the quality."""
    wanted = _QUALITIES[rule.quality]
    hits: dict[str, bool] = {}
    for result in results:
        if not fnmatchcase(result.histogram, rule.target):
            continue
        hit = fnmatchcase(result.check, rule.check) and result.quality in wanted
        hits[result.histogram] = hits.get(result.histogram, False) or hit
    return hits


def next_streaks(previous: Mapping[str, int], hits: Mapping[str, bool]) -> dict[str, int]:
    """Results in a row with the quality, per histogram, after one more result.

    A histogram missing from the new result has no streak any more.
    """
    return {name: previous.get(name, 0) + 1 for name, hit in hits.items() if hit}


def silence_verdict(rule: AlarmRule, receiver: str, last_seen: datetime, now: datetime) -> Verdict:
    silent = now - last_seen
    fired = silent > timedelta(minutes=rule.minutes)
    minutes = silent.total_seconds() / 60
    return Verdict(
        fired,
        f"receiver {receiver} silent for {minutes:.1f} min (limit {_fmt(rule.minutes)} min)",
    )


def combine(rule: AlarmRule, parts: Sequence[Verdict]) -> Verdict:
    """An ``all`` / ``any`` rule's verdict from its parts' verdicts (in rule order)."""
    states = [part.fired for part in parts]
    if rule.kind == "all":
        fired = False if False in states else (None if None in states else True)
    else:
        fired = True if True in states else (None if None in states else False)
    shown = [p for p in parts if p.fired] if fired else list(parts)
    joiner = " and " if rule.kind == "all" else " or "
    runs = [p.run_number for p in parts if p.run_number is not None]
    histogram = next((p.histogram for p in shown if p.histogram), None)
    return Verdict(
        fired, joiner.join(p.message for p in shown), max(runs) if runs else None, histogram
    )
