"""The pure planning of notifications: which alarms are due on a channel, and why.

New, escalated, a reminder after the cool-down (not before, not when acknowledged or
cleared), routing by subsystem and severity, and the digest threshold; no database
and no clock, as :mod:`overwatch.monitoring.notifications.planning` promises.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest

from overwatch.monitoring.alarm_view import AlarmView
from overwatch.monitoring.notifications.config import ChannelSpec
from overwatch.monitoring.notifications.planning import Due
from overwatch.monitoring.notifications.planning import Told
from overwatch.monitoring.notifications.planning import batches
from overwatch.monitoring.notifications.planning import due_notifications

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
COOLDOWN = timedelta(minutes=30)
SHIFT = ChannelSpec("shift", "json://127.0.0.1/hook")


def note(alarm_id: int = 1, **values: object) -> AlarmView:
    base = AlarmView(
        id=alarm_id,
        subsystem="EMC",
        run_number=294832,
        histogram="hFastOR",
        rule="bad histogram",
        target="hFastOR",
        message="hot FastOR channels",
        severity="warning",
        raised_at=NOW - timedelta(hours=1),
        last_seen_at=NOW,
        count=4,
    )
    return replace(base, **values)  # type: ignore[arg-type]


def told(minutes_ago: float, severity: str = "warning", times: int = 1) -> Told:
    return Told(times, severity, NOW - timedelta(minutes=minutes_ago))


def plan(
    *notes: AlarmView, history: dict[int, Told] | None = None, channel: ChannelSpec = SHIFT
) -> list[tuple[int, str, int]]:
    due = due_notifications(channel, notes, history or {}, NOW, COOLDOWN)
    return [(d.note.id, d.reason, d.seq) for d in due]


def test_a_new_alarm_is_due_once_and_not_again_within_the_cooldown() -> None:
    assert plan(note()) == [(1, "new", 0)]
    for minutes in (0, 1, 29.9):
        assert plan(note(), history={1: told(minutes)}) == []


def test_a_persisting_unacknowledged_alarm_is_reminded_after_the_cooldown() -> None:
    assert plan(note(), history={1: told(30)}) == [(1, "reminder", 1)]
    assert plan(note(), history={1: told(95, times=3)}) == [(1, "reminder", 3)]


def test_an_acknowledged_alarm_is_not_reminded_and_not_announced() -> None:
    acknowledged = note(acknowledged_at=NOW - timedelta(minutes=5))
    assert plan(acknowledged, history={1: told(120)}) == []
    # Acknowledged before any pass saw it: someone is on it already.
    assert plan(acknowledged) == []


def test_a_cleared_alarm_is_announced_if_never_told_but_never_reminded() -> None:
    cleared = note(cleared_at=NOW - timedelta(minutes=1))
    assert plan(cleared) == [(1, "new", 0)]
    assert plan(cleared, history={1: told(120)}) == []
    assert plan(replace(cleared, severity="critical"), history={1: told(1)}) == []


def test_a_rise_in_severity_is_escalated_at_once_even_within_the_cooldown() -> None:
    critical = note(severity="critical")
    assert plan(critical, history={1: told(1)}) == [(1, "escalated", 1)]
    # Even acknowledged: a worse problem than the one acknowledged.
    acked = replace(critical, acknowledged_at=NOW)
    assert plan(acked, history={1: told(1)}) == [(1, "escalated", 1)]
    # Told as critical already: within the cool-down nothing, then reminders.
    assert plan(critical, history={1: told(1, "critical", 2)}) == []
    assert plan(critical, history={1: told(31, "critical", 2)}) == [(1, "reminder", 2)]
    # Back down to warning after a critical notice: nothing new to say.
    assert plan(note(), history={1: told(1, "critical")}) == []


def test_channels_get_only_their_subsystems_and_severities() -> None:
    experts = ChannelSpec("emc", "json://x/y", subsystems=("EMC",), min_severity="critical")
    notes = [
        note(1),
        note(2, severity="critical"),
        note(3, subsystem="TPC", severity="critical"),
    ]
    assert plan(*notes, channel=experts) == [(2, "new", 0)]
    assert plan(*notes) == [(1, "new", 0), (2, "new", 0), (3, "new", 0)]


def test_an_alarm_of_every_subsystem_goes_to_channels_of_particular_subsystems() -> None:
    """A receiver silence of a ``subsystem: "*"`` rule is stored under "*": it concerns
    every subsystem, so every channel gets it (severity still applies)."""
    experts = ChannelSpec("emc", "json://x/y", subsystems=("EMC",), min_severity="critical")
    tpc = ChannelSpec("tpc", "json://x/z", subsystems=("TPC", "HLT"))
    silences = [note(1, subsystem="*", severity="critical"), note(2, subsystem="*")]
    assert plan(*silences, channel=experts) == [(1, "new", 0)]
    assert plan(*silences, channel=tpc) == [(1, "new", 0), (2, "new", 0)]
    assert plan(note(3, subsystem="EMC"), channel=tpc) == []


def test_each_alarm_is_judged_on_what_this_channel_was_told_of_it() -> None:
    history = {1: told(5), 3: told(40)}
    assert plan(note(1), note(2), note(3), history=history) == [(2, "new", 0), (3, "reminder", 1)]


@pytest.mark.parametrize(
    ("due", "threshold", "sizes"),
    [(0, 3, []), (1, 3, [1]), (2, 3, [1, 1]), (3, 3, [3]), (7, 3, [7]), (9, 10, [1] * 9)],
)
def test_a_digest_when_the_threshold_is_reached(due: int, threshold: int, sizes: list[int]) -> None:
    items = [Due(note(index), "new", 0) for index in range(due)]
    grouped = batches(items, threshold)
    assert [len(batch) for batch in grouped] == sizes
    assert [d for batch in grouped for d in batch] == items
