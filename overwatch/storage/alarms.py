"""Alarm storage: raise-or-update, clear, acknowledge, and the queries pages ask.

The guarantee: at most one *active* alarm (``cleared_at IS NULL``) per (rule,
subsystem, target), kept by a partial unique index on SQLite and PostgreSQL. A
condition seen again updates that alarm (``last_seen_at``, ``count``, message,
severity, run, histogram); :func:`raise_alarm` inserts inside a savepoint, so when
another worker inserted the same alarm first it updates that one instead of
failing the job. :func:`lock_subsystem_alarms` makes the evaluations of one
subsystem take turns (a transaction-scoped advisory lock on PostgreSQL; SQLite has
one writer anyway), so two workers finishing runs of the same subsystem at once
neither insert the same streak twice nor judge "newest run" and streaks from each
other's uncommitted state. :func:`clear_alarms` sets ``cleared_at`` when the condition no
longer holds; a recurrence later raises a new alarm. Acknowledging records who and
when and does not clear.

An alarm's subsystem is the subsystem it is about, or ``"*"`` (:data:`ALL_SUBSYSTEMS`)
for one about every subsystem: a receiver silence of a ``subsystem: "*"`` rule
(receivers are not tied to a subsystem). Such an alarm is every subsystem's:
:func:`list_alarms` lists it under each subsystem as well as under ``"*"``, and
notifications route it to every channel.

Also the inputs of evaluation: a subsystem's stored trend values, the check results
of a run's current result, the newest processed run, and check-rule streaks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overwatch.monitoring.alarm_view import AlarmView
from overwatch.storage.models import Alarm
from overwatch.storage.models import AlarmStreak
from overwatch.storage.models import CheckResult
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from overwatch.storage.models import TrendValue
from overwatch.storage.models import utcnow

__all__ = [
    "ALARM_STATES",
    "ALL_SUBSYSTEMS",
    "AlarmCounts",
    "AlarmView",
    "acknowledge_alarm",
    "alarm_counts_by_run",
    "alarm_view",
    "check_results_of_run",
    "clear_alarms",
    "get_alarm",
    "list_alarms",
    "load_streaks",
    "lock_subsystem_alarms",
    "newest_processed_run",
    "raise_alarm",
    "record_past_alarm",
    "save_streaks",
    "trend_points",
]

#: ``active``: not cleared, not acknowledged; ``acknowledged``: not cleared; ``open``: both.
ALARM_STATES = ("active", "acknowledged", "open", "cleared")
#: The subsystem of an alarm about every subsystem (as a rule's ``subsystem: "*"``).
ALL_SUBSYSTEMS = "*"
MAX_MESSAGE = 2000


@dataclass(frozen=True)
class AlarmCounts:
    """A run's alarms: all it ever had, and those not cleared."""

    total: int = 0
    open: int = 0


def alarm_view(row: Alarm) -> AlarmView:
    """The plain-data copy of one alarms row."""
    return AlarmView(
        row.id,
        row.subsystem,
        row.run_number,
        row.histogram,
        row.rule,
        row.target,
        row.message,
        row.severity,
        row.raised_at,
        row.last_seen_at,
        row.count,
        row.cleared_at,
        row.acknowledged_by,
        row.acknowledged_at,
    )


def _active(session: Session, rule: str, subsystem: str, target: str) -> Alarm | None:
    return session.scalars(
        select(Alarm)
        .where(
            Alarm.rule == rule,
            Alarm.subsystem == subsystem,
            Alarm.target == target,
            Alarm.cleared_at.is_(None),
        )
        .with_for_update()
    ).one_or_none()


def lock_subsystem_alarms(session: Session, subsystem: str) -> None:
    """Wait until no other transaction evaluates ``subsystem``'s alarms; held until this
    transaction ends. On SQLite a no-op: its writers already go one at a time."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(f"overwatch alarms {subsystem}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def raise_alarm(
    session: Session,
    *,
    rule: str,
    subsystem: str,
    target: str,
    severity: str,
    message: str,
    run_number: int | None,
    histogram: str | None = None,
    now: datetime | None = None,
    seen_again: bool = True,
) -> tuple[Alarm, bool]:
    """Raise the alarm, or update the active one of the same key; ``(row, created)``.

    ``seen_again=False``: the finding rests on nothing newer than what the active
    alarm was raised or updated on (a late run): raise it if none is active, but
    leave an active one as it is (count, last seen, message)."""
    now = now or utcnow()
    message = message[:MAX_MESSAGE]
    row = _active(session, rule, subsystem, target)
    if row is None:
        row = Alarm(
            rule=rule,
            subsystem=subsystem,
            target=target,
            severity=severity,
            message=message,
            run_number=run_number,
            histogram=histogram,
            raised_at=now,
            last_seen_at=now,
            count=1,
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            # Another worker raised it first and committed: update that one.
            row = _active(session, rule, subsystem, target)
            if row is None:
                raise
        else:
            return row, True
    if not seen_again:
        return row, False
    row.last_seen_at = now
    row.count += 1
    row.message = message
    row.severity = severity
    if run_number is not None:
        row.run_number = run_number
    row.histogram = histogram
    return row, False


def clear_alarms(
    session: Session,
    *,
    rule: str,
    subsystem: str,
    targets: Collection[str] | None = None,
    keep: Collection[str] = (),
    now: datetime | None = None,
) -> int:
    """Clear the active alarms of ``rule`` in ``subsystem`` (only ``targets`` if given),
    except those whose target is in ``keep``; how many."""
    query = update(Alarm).where(
        Alarm.rule == rule, Alarm.subsystem == subsystem, Alarm.cleared_at.is_(None)
    )
    if targets is not None:
        query = query.where(Alarm.target.in_(list(targets)))
    if keep:
        query = query.where(Alarm.target.not_in(list(keep)))
    result = session.execute(
        query.values(cleared_at=now or utcnow()).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def open_alarm_rules(session: Session) -> list[tuple[str, str]]:
    """The (rule, subsystem) pairs that have active alarms."""
    rows = session.execute(
        select(Alarm.rule, Alarm.subsystem).where(Alarm.cleared_at.is_(None)).distinct()
    ).all()
    return [(rule, subsystem) for rule, subsystem in rows]


def record_past_alarm(
    session: Session,
    *,
    rule: str,
    subsystem: str,
    target: str,
    severity: str,
    message: str,
    run_number: int,
    histogram: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Record, already cleared, an alarm of a run older than the subsystem's newest one
    (processed late): it is history, not the current state. Once per run; whether added."""
    exists = session.scalar(
        select(func.count(Alarm.id)).where(
            Alarm.rule == rule,
            Alarm.subsystem == subsystem,
            Alarm.target == target,
            Alarm.run_number == run_number,
        )
    )
    if exists:
        return False
    now = now or utcnow()
    session.add(
        Alarm(
            rule=rule,
            subsystem=subsystem,
            target=target,
            severity=severity,
            message=message[:MAX_MESSAGE],
            run_number=run_number,
            histogram=histogram,
            raised_at=now,
            last_seen_at=now,
            count=1,
            cleared_at=now,
        )
    )
    return True


def acknowledge_alarm(
    session: Session, alarm_id: int, user: str, *, now: datetime | None = None
) -> AlarmView | None:
    """Mark an alarm acknowledged by ``user`` (the first acknowledgement stays); None if unknown."""
    row = session.get(Alarm, alarm_id, with_for_update=True)
    if row is None:
        return None
    if row.acknowledged_at is None:
        row.acknowledged_by = user
        row.acknowledged_at = now or utcnow()
        session.flush()
    return alarm_view(row)


def get_alarm(session: Session, alarm_id: int) -> AlarmView | None:
    row = session.get(Alarm, alarm_id)
    return None if row is None else alarm_view(row)


def list_alarms(
    session: Session,
    *,
    state: str | None = None,
    subsystem: str | None = None,
    run_number: int | None = None,
    limit: int = 500,
) -> list[AlarmView]:
    """Alarms, the open ones first, then the newest first; filtered as given.

    ``subsystem``: that subsystem's alarms and those of every subsystem (``"*"``);
    ``"*"`` alone: only those of every subsystem."""
    query = select(Alarm)
    if state == "active":
        query = query.where(Alarm.cleared_at.is_(None), Alarm.acknowledged_at.is_(None))
    elif state == "acknowledged":
        query = query.where(Alarm.cleared_at.is_(None), Alarm.acknowledged_at.is_not(None))
    elif state == "open":
        query = query.where(Alarm.cleared_at.is_(None))
    elif state == "cleared":
        query = query.where(Alarm.cleared_at.is_not(None))
    if subsystem is not None:
        query = query.where(Alarm.subsystem.in_((subsystem, ALL_SUBSYSTEMS)))
    if run_number is not None:
        query = query.where(Alarm.run_number == run_number)
    query = query.order_by(
        Alarm.cleared_at.is_not(None), Alarm.last_seen_at.desc(), Alarm.id.desc()
    ).limit(limit)
    return [alarm_view(row) for row in session.scalars(query)]


def alarm_counts_by_run(session: Session, run_numbers: Sequence[int]) -> dict[int, AlarmCounts]:
    """Per run (of those given): how many alarms point at it, and how many are open."""
    if not run_numbers:
        return {}
    open_ = func.sum(case((Alarm.cleared_at.is_(None), 1), else_=0))
    rows = session.execute(
        select(Alarm.run_number, func.count(Alarm.id), open_)
        .where(Alarm.run_number.in_(list(run_numbers)))
        .group_by(Alarm.run_number)
    )
    return {run: AlarmCounts(int(total), int(opened or 0)) for run, total, opened in rows if run}


def trend_points(
    session: Session,
    subsystem: str,
    name: str,
    *,
    runs: int | None = None,
    values: int | None = None,
) -> list[tuple[int, datetime, float]]:
    """``(run_number, time, value)`` of a stored trend: of its newest ``runs`` runs, or
    its newest ``values`` values (oldest first)."""
    where = (TrendValue.subsystem == subsystem, TrendValue.name == name)
    query = select(TrendValue.run_number, TrendValue.time, TrendValue.value).where(*where)
    if runs is not None:
        newest = (
            select(TrendValue.run_number)
            .where(*where)
            .distinct()
            .order_by(TrendValue.run_number.desc())
            .limit(runs)
        )
        query = query.where(TrendValue.run_number.in_(newest.scalar_subquery()))
    elif values is not None:
        query = query.order_by(TrendValue.time.desc(), TrendValue.id.desc()).limit(values)
    rows = [(int(r), t, float(v)) for r, t, v in session.execute(query)]
    return sorted(rows, key=lambda row: (row[1], row[0]))


def check_results_of_run(
    session: Session, subsystem: str, run_number: int
) -> list[tuple[str, str, str | None]]:
    """``(histogram, check, quality)`` of the current result of a run's subsystem."""
    rows = session.execute(
        select(HistogramRecord.name, CheckResult.name, CheckResult.quality)
        .join(CheckResult, CheckResult.histogram_id == HistogramRecord.id)
        .join(SubsystemRun, SubsystemRun.current_result_id == HistogramRecord.result_id)
        .join(Run, Run.id == SubsystemRun.run_id)
        .where(SubsystemRun.name == subsystem, Run.run_number == run_number)
        .order_by(HistogramRecord.id, CheckResult.id)
    )
    return [(h, c, q) for h, c, q in rows]


def newest_processed_run(session: Session, subsystem: str) -> int | None:
    """The highest run number of ``subsystem`` that has a current result."""
    return session.scalar(
        select(func.max(Run.run_number))
        .join(SubsystemRun, SubsystemRun.run_id == Run.id)
        .where(SubsystemRun.name == subsystem, SubsystemRun.current_result_id.is_not(None))
    )


def load_streaks(session: Session, rule: str, subsystem: str) -> dict[str, int]:
    rows = session.execute(
        select(AlarmStreak.histogram, AlarmStreak.count).where(
            AlarmStreak.rule == rule, AlarmStreak.subsystem == subsystem
        )
    )
    return {str(name): int(count) for name, count in rows}


def save_streaks(
    session: Session, rule: str, subsystem: str, streaks: dict[str, int], run_number: int
) -> None:
    """Replace the streaks of ``rule`` in ``subsystem`` by ``streaks``."""
    rows = session.scalars(
        select(AlarmStreak)
        .where(AlarmStreak.rule == rule, AlarmStreak.subsystem == subsystem)
        .with_for_update()
    ).all()
    now = utcnow()
    existing = {row.histogram: row for row in rows}
    for name, old in existing.items():
        if name not in streaks:
            session.delete(old)
    for name, count in streaks.items():
        row = existing.get(name)
        if row is None:
            session.add(
                AlarmStreak(
                    rule=rule,
                    subsystem=subsystem,
                    histogram=name,
                    count=count,
                    run_number=run_number,
                    updated_at=now,
                )
            )
        else:
            row.count, row.run_number, row.updated_at = count, run_number, now
    session.flush()
