"""Evaluate the alarm rules after a job and periodically for receivers.

:func:`evaluate_alarms` runs inside the job's transaction, right after its result
(and trend values) are stored: it reads the subsystem's trend values and the run's
check results from the database, judges every rule of the subsystem with the pure
functions of :mod:`overwatch.monitoring.alarms` and raises, updates or clears alarms
through :mod:`overwatch.storage.alarms`. :func:`evaluate_receiver_silences` is the
daemon's periodic job for ``receiver_silence`` rules.

Check rules judge the subsystem's newest run: a histogram's alarm clears when the
newest run's result no longer has the quality. A run older than the newest one that
is processed late (a backlog, ``overwatch db rebuild``) only leaves history: its
alarms are recorded already cleared and the current alarms stay as they are.

Trend rules judge the trend's newest values whichever run was processed. An open
alarm counts the verdict as seen again (``count``, last seen, message) only when the
newest value judged is of the run just processed: a late run, or a job that stored
no value of the trend, adds nothing newer, so it does not increase the count or
re-notify. Its value can still move a window (``mean_range``, ``fraction_in_range``,
``change``), so such a job raises an alarm that is not open, or clears one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from fnmatch import fnmatchcase

from sqlalchemy.orm import Session

from overwatch.config import Settings
from overwatch.monitoring.alarms import AlarmRule
from overwatch.monitoring.alarms import CheckQuality
from overwatch.monitoring.alarms import TrendPoint
from overwatch.monitoring.alarms import Verdict
from overwatch.monitoring.alarms import check_hits
from overwatch.monitoring.alarms import combine
from overwatch.monitoring.alarms import evaluate_trend
from overwatch.monitoring.alarms import next_streaks
from overwatch.monitoring.alarms import silence_verdict
from overwatch.storage import Database
from overwatch.storage.alarms import check_results_of_run
from overwatch.storage.alarms import clear_alarms
from overwatch.storage.alarms import load_streaks
from overwatch.storage.alarms import lock_subsystem_alarms
from overwatch.storage.alarms import newest_processed_run
from overwatch.storage.alarms import open_alarm_rules
from overwatch.storage.alarms import raise_alarm
from overwatch.storage.alarms import record_past_alarm
from overwatch.storage.alarms import save_streaks
from overwatch.storage.alarms import trend_points
from overwatch.storage.models import utcnow
from overwatch.storage.receivers import list_receivers

__all__ = ["AlarmSummary", "evaluate_alarms", "evaluate_receiver_silences"]

log = logging.getLogger(__name__)


@dataclass
class AlarmSummary:
    """What one evaluation did, by alarm target."""

    raised: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    cleared: int = 0


class _Evaluation:
    def __init__(self, session: Session, subsystem: str, run_number: int, now: datetime) -> None:
        self.session = session
        self.subsystem = subsystem
        self.run_number = run_number
        self.now = now
        newest = newest_processed_run(session, subsystem)
        self.late = newest is not None and newest > run_number
        self._checks: list[CheckQuality] | None = None
        self.summary = AlarmSummary()

    def checks(self) -> list[CheckQuality]:
        if self._checks is None:
            rows = check_results_of_run(self.session, self.subsystem, self.run_number)
            self._checks = [CheckQuality(*row) for row in rows]
        return self._checks

    def trend(self, rule: AlarmRule) -> Verdict:
        # A few more than needed: NaN values are dropped before judging.
        if rule.series == "runs":
            rows = trend_points(self.session, self.subsystem, rule.target, runs=2 * rule.last + 2)
        else:
            rows = trend_points(self.session, self.subsystem, rule.target, values=2 * rule.last + 2)
        return evaluate_trend(rule, [TrendPoint(*row) for row in rows])

    def check_streaks(self, rule: AlarmRule) -> dict[str, int]:
        """Histograms with their streak; the stored streaks move on unless the run is late."""
        hits = check_hits(rule, self.checks())
        if self.late:
            return {name: 1 for name, hit in hits.items() if hit}
        streaks = next_streaks(load_streaks(self.session, rule.name, self.subsystem), hits)
        save_streaks(self.session, rule.name, self.subsystem, streaks, self.run_number)
        return streaks

    def fired_histograms(self, rule: AlarmRule) -> list[str]:
        needed = 1 if self.late else rule.consecutive
        return [name for name, count in self.check_streaks(rule).items() if count >= needed]

    def part(self, rule: AlarmRule) -> Verdict:
        if rule.is_trend:
            return self.trend(rule)
        fired = self.fired_histograms(rule)
        if not fired:
            return Verdict(False, f"no histogram {rule.target} {rule.quality}", self.run_number)
        return Verdict(
            True,
            f"{len(fired)} histogram(s) {rule.target} {rule.quality}: {', '.join(fired[:5])}",
            self.run_number,
            fired[0],
        )

    def apply(
        self, rule: AlarmRule, target: str, verdict: Verdict, *, seen_again: bool = True
    ) -> None:
        if verdict.fired is None:
            return
        if not verdict.fired:
            self.summary.cleared += clear_alarms(
                self.session,
                rule=rule.name,
                subsystem=self.subsystem,
                targets=[target],
                now=self.now,
            )
            return
        run = verdict.run_number if verdict.run_number is not None else self.run_number
        _, created = raise_alarm(
            self.session,
            rule=rule.name,
            subsystem=self.subsystem,
            target=target,
            severity=rule.severity,
            message=verdict.message,
            run_number=run,
            histogram=verdict.histogram,
            now=self.now,
            seen_again=seen_again,
        )
        if created:
            self.summary.raised.append(target)
        elif seen_again:
            self.summary.updated.append(target)

    def apply_trend(self, rule: AlarmRule, verdict: Verdict) -> None:
        """A trend (or combined) verdict: news only if its newest value is this run's."""
        self.apply(rule, rule.target, verdict, seen_again=verdict.run_number == self.run_number)

    def check_rule(self, rule: AlarmRule) -> None:
        # One alarm per histogram, its target the histogram's name, so each points
        # at a run and a histogram; the rule's glob is in the message.
        fired = self.fired_histograms(rule)
        messages = {
            name: f"{name}: a check {'said bad' if rule.quality == 'bad' else 'said medium or bad'}"
            + (f" in {rule.consecutive} results in a row" if rule.consecutive > 1 else "")
            + f" (rule {rule.name}, histograms {rule.target})"
            for name in fired
        }
        if self.late:
            for name, message in messages.items():
                record_past_alarm(
                    self.session,
                    rule=rule.name,
                    subsystem=self.subsystem,
                    target=name,
                    severity=rule.severity,
                    message=message,
                    run_number=self.run_number,
                    histogram=name,
                    now=self.now,
                )
            return
        self.summary.cleared += clear_alarms(
            self.session, rule=rule.name, subsystem=self.subsystem, keep=fired, now=self.now
        )
        for name, message in messages.items():
            self.apply(rule, name, Verdict(True, message, self.run_number, name))

    def rule(self, rule: AlarmRule) -> None:
        if rule.kind == "check_quality":
            self.check_rule(rule)
        elif rule.rules:
            if not self.late or all(part.is_trend for part in rule.rules):
                self.apply_trend(rule, combine(rule, [self.part(p) for p in rule.rules]))
        else:
            self.apply_trend(rule, self.trend(rule))


def evaluate_alarms(
    session: Session,
    settings: Settings,
    subsystem: str,
    run_number: int,
    *,
    now: datetime | None = None,
) -> AlarmSummary:
    """Judge every rule of ``subsystem`` after a result of ``run_number`` was stored.

    Evaluations of one subsystem take turns (:func:`lock_subsystem_alarms`): a second
    worker waits for the first one's transaction and then sees its result, streaks and
    alarms."""
    rules = settings.alarms.for_subsystem(subsystem)
    if rules:
        lock_subsystem_alarms(session, subsystem)
    evaluation = _Evaluation(session, subsystem, run_number, now or utcnow())
    for rule in rules:
        evaluation.rule(rule)
    summary = evaluation.summary
    if summary.raised:
        log.warning(
            "alarm raised for run %d %s: %s", run_number, subsystem, ", ".join(summary.raised[:10])
        )
    return summary


def clear_alarms_of_removed_rules(
    settings: Settings, db: Database, *, now: datetime | None = None
) -> int:
    """Clear the active alarms that no configured rule judges any more: the rule was
    removed or renamed, or no longer covers their subsystem. Nothing else would clear
    them, and they would stay on the alarms page for good. How many were cleared."""
    rules = settings.alarms.rules
    cleared = 0
    with db.session() as session:
        for rule, subsystem in open_alarm_rules(session):
            if any(r.name == rule and r.applies_to(subsystem) for r in rules):
                continue
            count = clear_alarms(session, rule=rule, subsystem=subsystem, now=now)
            log.warning(
                "cleared %d alarm(s) of rule %r in %s: no configured rule covers them any more",
                count,
                rule,
                subsystem,
            )
            cleared += count
    return cleared


def evaluate_receiver_silences(
    settings: Settings, db: Database, *, now: datetime | None = None
) -> AlarmSummary:
    """Raise or clear ``receiver_silence`` alarms, one per rule and receiver, under the
    rule's subsystem (``"*"``, :data:`~overwatch.storage.alarms.ALL_SUBSYSTEMS`, for a
    rule over all subsystems: receivers belong to none)."""
    rules = settings.alarms.silence_rules()
    summary = AlarmSummary()
    if not rules:
        return summary
    now = now or utcnow()
    with db.session() as session:
        receivers = list_receivers(session)
        for rule in rules:
            subsystem = rule.subsystem
            for receiver in receivers:
                if not fnmatchcase(receiver.name, rule.target):
                    continue
                verdict = silence_verdict(rule, receiver.name, receiver.last_seen_at, now)
                if verdict.fired:
                    _, created = raise_alarm(
                        session,
                        rule=rule.name,
                        subsystem=subsystem,
                        target=receiver.name,
                        severity=rule.severity,
                        message=verdict.message,
                        run_number=None,
                        now=now,
                    )
                    (summary.raised if created else summary.updated).append(receiver.name)
                else:
                    summary.cleared += clear_alarms(
                        session,
                        rule=rule.name,
                        subsystem=subsystem,
                        targets=[receiver.name],
                        now=now,
                    )
    if summary.raised:
        log.warning("receiver silence alarm raised: %s", ", ".join(summary.raised))
    return summary
