"""Alarm evaluation against the database, on SQLite and PostgreSQL.

Check rules are judged on results the real pipeline stored: receiver files written
with uproot, scanned and processed by the Worker, with a ``mean`` check that calls
``h_bad`` bad when its values sit high. Trend rules are judged on rows inserted
into ``trend_values`` directly. Covers raise-or-update, clearing and re-raising,
``consecutive`` streaks, the receiver-silence job of the daemon's schedule, a run
processed late (check and trend rules), and two workers raising the same alarm at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import select

from overwatch.config import Settings
from overwatch.processing.alarms import evaluate_alarms
from overwatch.processing.daemon import schedule
from overwatch.processing.scan import scan
from overwatch.processing.worker import Worker
from overwatch.receivers.writer import write_receiver_file
from overwatch.storage import Database
from overwatch.storage.alarms import AlarmView
from overwatch.storage.alarms import list_alarms
from overwatch.storage.models import AlarmStreak
from overwatch.storage.models import TrendValue
from overwatch.storage.models import utcnow
from overwatch.storage.receivers import record_receiver_activity

SYS = "TST"
START = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)
CHECKS = {SYS: [{"kind": "mean", "histograms": "h_*", "error_max": 15}]}
EDGES = np.linspace(0.0, 20.0, 21)


def bad_rule(consecutive: int = 1, name: str = "bad") -> dict[str, Any]:
    return {
        "name": name,
        "kind": "check_quality",
        "subsystem": SYS,
        "target": "h_*",
        "consecutive": consecutive,
        "severity": "critical",
    }


def check_settings(make_settings: Callable[..., Settings], *rules: dict[str, Any]) -> Settings:
    return make_settings(checks=CHECKS, alarms=list(rules))


class Snapshots:
    """Writes one receiver file per call (a minute after the previous one) and processes it."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.minute = 0
        self.rng = np.random.default_rng(3)

    def __call__(self, run: int, *bad: str) -> None:
        """Process one snapshot of ``run`` in which the histograms named in ``bad`` are bad."""
        objects = {
            name: np.histogram(self.rng.normal(18.0 if name in bad else 5.0, 1.0, 500), EDGES)
            for name in ("h_bad", "h_other", "h_ok")
        }
        when = START + timedelta(minutes=self.minute)
        self.minute += 1
        write_receiver_file(self.settings.data_dir, SYS, run, "C", when, objects, self.settings.tz)
        scan(self.settings, self.db)
        outcomes = Worker(self.settings, self.db).run_until_idle()
        assert [o.state for o in outcomes] == ["done"], outcomes


def alarms(db: Database, **filters: Any) -> list[AlarmView]:
    with db.session() as session:
        return sorted(list_alarms(session, **filters), key=lambda a: a.id)


def streaks(db: Database) -> dict[str, int]:
    with db.session() as session:
        return {row.histogram: row.count for row in session.scalars(select(AlarmStreak))}


def test_a_bad_histogram_is_one_alarm_updated_while_it_persists_cleared_then_raised_anew(
    make_settings: Callable[..., Settings], db: Database
) -> None:
    settings = check_settings(make_settings, bad_rule())
    snapshot = Snapshots(settings, db)
    snapshot(100)
    assert alarms(db) == []

    seen = []
    for _ in range(3):
        snapshot(100, "h_bad")
        [alarm] = alarms(db)
        seen.append(alarm)
    assert [a.count for a in seen] == [1, 2, 3]
    assert len({a.id for a in seen}) == 1
    assert seen[0].last_seen_at < seen[1].last_seen_at < seen[2].last_seen_at
    assert {a.raised_at for a in seen} == {seen[0].raised_at}
    first = seen[-1]
    assert (first.run_number, first.subsystem, first.histogram, first.target) == (
        100,
        SYS,
        "h_bad",
        "h_bad",
    )
    assert first.rule == "bad"
    assert first.severity == "critical"
    assert first.cleared_at is None

    # The next run's result is good: the alarm clears, and stays one row.
    snapshot(101)
    [cleared] = alarms(db)
    assert cleared.id == first.id
    assert cleared.cleared_at is not None
    assert cleared.count == 3

    # Bad again: a new alarm, the old one stays cleared history.
    snapshot(101, "h_bad")
    old, new = alarms(db)
    assert old.id == first.id
    assert old.cleared_at == cleared.cleared_at
    assert new.cleared_at is None
    assert (new.run_number, new.count) == (101, 1)
    assert old.cleared_at is not None
    assert new.raised_at > old.cleared_at


def test_each_bad_histogram_has_its_own_alarm_and_clears_on_its_own(
    make_settings: Callable[..., Settings], db: Database
) -> None:
    settings = check_settings(make_settings, bad_rule())
    snapshot = Snapshots(settings, db)
    snapshot(100, "h_bad", "h_other")
    assert {a.histogram for a in alarms(db, state="open")} == {"h_bad", "h_other"}
    snapshot(100, "h_bad")
    assert [a.histogram for a in alarms(db, state="open")] == ["h_bad"]
    assert [a.histogram for a in alarms(db, state="cleared")] == ["h_other"]


def test_consecutive_bad_results_are_counted_in_alarm_streaks(
    make_settings: Callable[..., Settings], db: Database
) -> None:
    settings = check_settings(make_settings, bad_rule(consecutive=3))
    snapshot = Snapshots(settings, db)
    snapshot(100, "h_bad")
    snapshot(100, "h_bad", "h_other")
    assert streaks(db) == {"h_bad": 2, "h_other": 1}
    assert alarms(db) == []
    # A good result in between ends the streak (the row goes).
    snapshot(100, "h_other")
    assert streaks(db) == {"h_other": 2}
    snapshot(101, "h_bad", "h_other")
    assert streaks(db) == {"h_bad": 1, "h_other": 3}
    [alarm] = alarms(db)
    assert (alarm.histogram, alarm.run_number, alarm.count) == ("h_other", 101, 1)
    assert "in 3 results in a row" in alarm.message
    snapshot(101, "h_bad", "h_other")
    snapshot(101, "h_bad", "h_other")
    assert streaks(db) == {"h_bad": 3, "h_other": 5}
    assert {(a.histogram, a.count) for a in alarms(db)} == {("h_bad", 1), ("h_other", 3)}
    snapshot(101)
    assert streaks(db) == {}
    assert all(a.cleared_at is not None for a in alarms(db))


def test_an_old_run_processed_late_leaves_history_and_does_not_touch_current_alarms(
    make_settings: Callable[..., Settings], db: Database
) -> None:
    settings = check_settings(make_settings, bad_rule(consecutive=2))
    snapshot = Snapshots(settings, db)
    snapshot(201, "h_bad")
    snapshot(201, "h_bad")
    [current] = alarms(db)
    assert (current.run_number, current.count) == (201, 1)

    # Run 200's files arrive after run 201 was processed: good in one snapshot...
    snapshot(200)
    assert alarms(db) == [current]
    assert streaks(db) == {"h_bad": 2}
    # ... bad in the next: history of run 200, recorded cleared, once.
    snapshot(200, "h_other", "h_bad")
    snapshot(200, "h_other", "h_bad")
    now = alarms(db)
    assert now[0] == current
    history = now[1:]
    assert {(a.run_number, a.histogram) for a in history} == {(200, "h_bad"), (200, "h_other")}
    assert all(a.cleared_at is not None and a.count == 1 for a in history)
    assert streaks(db) == {"h_bad": 2}

    # The newest run goes on where it was: its streak and its alarm.
    snapshot(201, "h_bad")
    assert streaks(db) == {"h_bad": 3}
    [active] = alarms(db, state="open")
    assert (active.id, active.count) == (current.id, 2)


# -- trend rules on stored trend values ------------------------------------------------


def add_trend(db: Database, run: int, value: float, *, name: str = "emc_mean") -> None:
    with db.session() as session:
        session.add(
            TrendValue(
                subsystem="EMC",
                name=name,
                run_number=run,
                time=START + timedelta(hours=run - 100),
                value=value,
            )
        )


def evaluate(settings: Settings, db: Database, run: int) -> None:
    with db.session() as session:
        evaluate_alarms(session, settings, "EMC", run)


def test_a_trend_out_of_range_is_raised_updated_cleared_and_raised_anew(
    make_settings: Callable[..., Settings], db: Database
) -> None:
    settings = make_settings(
        alarms=[
            {
                "name": "EMC mean",
                "kind": "value_range",
                "subsystem": "EMC",
                "target": "emc_mean",
                "min": 0,
                "max": 10,
            }
        ]
    )
    evaluate(settings, db, 100)  # no value yet: nothing
    assert alarms(db) == []
    for run, value in ((100, 12.0), (101, 13.0), (104, 14.0)):
        add_trend(db, run, value)
        evaluate(settings, db, run)
    [alarm] = alarms(db)
    # Seen three times out of range, across a gap in runs.
    assert (alarm.count, alarm.run_number, alarm.target, alarm.histogram) == (
        3,
        104,
        "emc_mean",
        None,
    )
    assert alarm.message == "EMC emc_mean = 14 in run 104, outside [0, 10]"
    assert alarm.severity == "warning"

    add_trend(db, 105, 5.0)
    evaluate(settings, db, 105)
    [cleared] = alarms(db)
    assert cleared.cleared_at is not None
    add_trend(db, 106, -1.0)
    evaluate(settings, db, 106)
    old, new = alarms(db)
    assert old.id == alarm.id
    assert (new.count, new.run_number, new.cleared_at) == (1, 106, None)


def test_a_late_run_does_not_count_an_open_trend_alarm_again(
    make_settings: Callable[..., Settings], db: Database
) -> None:
    settings = make_settings(
        alarms=[
            {"name": "EMC mean", "kind": "value_range", "subsystem": "EMC",
             "target": "emc_mean", "max": 10},
        ]
    )  # fmt: skip
    for run, value in ((100, 12.0), (101, 13.0)):
        add_trend(db, run, value)
        evaluate(settings, db, run)
    [alarm] = alarms(db)
    assert (alarm.count, alarm.run_number) == (2, 101)

    # Runs 99 and 98 are processed after run 101, out of range and in range: the
    # verdict on run 101's value is no news, so the open alarm stays as it was.
    for run, value in ((99, 11.0), (98, 5.0)):
        add_trend(db, run, value)
        evaluate(settings, db, run)
        assert alarms(db) == [alarm]
    # Run 102 processed without a value of the trend (say its histogram was empty).
    evaluate(settings, db, 102)
    assert alarms(db) == [alarm]

    # Its next processing has a value: counted.
    add_trend(db, 102, 14.0)
    evaluate(settings, db, 102)
    [seen] = alarms(db)
    assert (seen.id, seen.count, seen.run_number) == (alarm.id, 3, 102)


def test_a_late_run_that_moves_a_window_raises_or_clears_once_without_counting_again(
    make_settings: Callable[..., Settings], db: Database
) -> None:
    settings = make_settings(
        alarms=[
            {"name": "EMC mean of 3", "kind": "mean_range", "subsystem": "EMC",
             "target": "emc_mean", "last": 3, "max": 10},
            {"name": "EMC mean and jump", "kind": "all", "subsystem": "EMC",
             "rules": [{"kind": "mean_range", "target": "emc_mean", "last": 3, "max": 10},
                       {"kind": "change", "target": "emc_mean", "max_absolute": 1}]},
        ]
    )  # fmt: skip
    for run, value in ((100, 4.0), (103, 20.0)):
        add_trend(db, run, value)
        evaluate(settings, db, run)
    assert alarms(db) == []  # two values of three

    # Run 101 arrives late: the last three runs are now 100, 101, 103, mean 13.
    add_trend(db, 101, 15.0)
    evaluate(settings, db, 101)
    mean, both = alarms(db)
    assert (mean.rule, mean.count, mean.run_number) == ("EMC mean of 3", 1, 103)
    assert "runs 100-103" in mean.message
    assert (both.rule, both.count, both.run_number) == ("EMC mean and jump", 1, 103)

    # Run 99 is outside the window: nothing changes, nothing is counted again.
    add_trend(db, 99, 30.0)
    evaluate(settings, db, 99)
    assert alarms(db) == [mean, both]

    # Run 102 arrives late too: 101, 102, 103 have mean 10, in range: both clear.
    add_trend(db, 102, -5.0)
    evaluate(settings, db, 102)
    assert [(a.id, a.count, a.state) for a in alarms(db)] == [
        (mean.id, 1, "cleared"),
        (both.id, 1, "cleared"),
    ]


def test_the_receiver_silence_job_raises_updates_and_clears(
    make_settings: Callable[..., Settings], db: Database
) -> None:
    settings = make_settings(
        alarms=[
            {
                "name": "DQM silent",
                "kind": "receiver_silence",
                "subsystem": "*",
                "target": "dqm*",
                "minutes": 15,
            }
        ]
    )
    [job] = [task for task in schedule(settings) if task.name == "receiver silence alarms"]
    assert job.seconds <= 60
    now = utcnow()
    record_receiver_activity(
        db, name="dqm-agent-1", kind="dqm-agent", now=now - timedelta(minutes=20)
    )
    record_receiver_activity(db, name="dqm-agent-2", kind="dqm-agent", now=now)
    record_receiver_activity(db, name="zmq-1", kind="zmq", now=now - timedelta(hours=3))
    job.func(settings, db)
    [alarm] = alarms(db)
    assert (alarm.rule, alarm.target, alarm.run_number) == ("DQM silent", "dqm-agent-1", None)
    assert "receiver dqm-agent-1 silent for 20" in alarm.message
    job.func(settings, db)
    [again] = alarms(db)
    assert (again.id, again.count) == (alarm.id, 2)
    assert again.last_seen_at > alarm.last_seen_at

    record_receiver_activity(db, name="dqm-agent-1", kind="dqm-agent", accepted=1)
    job.func(settings, db)
    [cleared] = alarms(db)
    assert cleared.cleared_at is not None
    assert cleared.count == 2


def test_alarms_of_a_rule_no_longer_configured_are_cleared(
    make_settings: Callable[..., Settings], db: Database
) -> None:
    from overwatch.processing.alarms import clear_alarms_of_removed_rules  # noqa: PLC0415

    def rule(name: str, subsystem: str) -> dict[str, Any]:
        return {"name": name, "kind": "value_range", "subsystem": subsystem,
                "target": "emc_mean", "min": 0, "max": 10}  # fmt: skip

    before = make_settings(alarms=[rule("EMC mean", "EMC"), rule("old mean", "*")])
    add_trend(db, 100, 12.0)
    evaluate(before, db, 100)
    assert sorted(a.rule for a in alarms(db) if a.cleared_at is None) == ["EMC mean", "old mean"]
    assert clear_alarms_of_removed_rules(before, db) == 0
    # "old mean" removed; "EMC mean" kept but moved to TPC: EMC's alarms of both go.
    after = make_settings(alarms=[rule("EMC mean", "TPC")])
    assert clear_alarms_of_removed_rules(after, db) == 2
    assert [a for a in alarms(db) if a.cleared_at is None] == []
    # A rule still configured for the subsystem keeps its alarm.
    evaluate(before, db, 100)
    kept = make_settings(alarms=[rule("EMC mean", "*")])
    assert clear_alarms_of_removed_rules(kept, db) == 1
    assert [a.rule for a in alarms(db) if a.cleared_at is None] == ["EMC mean"]
