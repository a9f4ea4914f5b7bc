"""Which alarms are due on a channel: the routing and the cool-down, as pure decisions.

For each channel and each candidate alarm, :func:`due_notifications` looks at what
the channel was told before about that alarm (:class:`Told`) and decides:

- never told, not acknowledged, and the channel wants the subsystem and severity →
  ``new`` (also for an alarm that already cleared before a pass saw it: it did fire);
- told, the alarm still active and now more severe than anything told → ``escalated``;
- told, still active, not acknowledged, and the last notice is older than the
  cool-down → ``reminder``;
- anything else → nothing: an alarm notified once is not repeated while it
  persists within the cool-down, and an acknowledged or cleared alarm is not
  repeated at all. A re-raise after a clear is a new alarm row, hence ``new``.

:func:`batches` then groups what is due on a channel into messages: one per alarm,
or a single digest when ``digest_threshold`` or more are due at once.

No database and no clock here: the delivery pass passes both in.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from overwatch.monitoring.alarm_view import AlarmView
from overwatch.monitoring.notifications.config import ChannelSpec
from overwatch.monitoring.notifications.config import severity_rank

__all__ = ["Due", "Told", "batches", "due_notifications"]


@dataclass(frozen=True, slots=True)
class Told:
    """What one channel was told about one alarm so far."""

    #: Notifications of the alarm on the channel (the next one's ``seq``).
    times: int
    #: The most severe severity notified.
    severity: str
    last_at: datetime


@dataclass(frozen=True, slots=True)
class Due:
    note: AlarmView
    #: new | escalated | reminder
    reason: str
    #: The notification's number for this alarm on this channel (0 for the first).
    seq: int


def _decide(note: AlarmView, told: Told | None, now: datetime, cooldown: timedelta) -> str | None:
    if told is None:
        # Acknowledged before any notice: someone is on it already.
        return "new" if note.acknowledged_at is None else None
    if note.cleared_at is not None:
        return None
    if severity_rank(note.severity) > severity_rank(told.severity):
        return "escalated"
    if note.acknowledged_at is None and now - told.last_at >= cooldown:
        return "reminder"
    return None


def due_notifications(
    channel: ChannelSpec,
    candidates: Iterable[AlarmView],
    told: Mapping[int, Told],
    now: datetime,
    cooldown: timedelta,
) -> list[Due]:
    """The alarms to notify on ``channel`` now, in the order of ``candidates``.

    ``told`` maps an alarm id to what this channel was told about it.
    """
    due = []
    for note in candidates:
        if not channel.wants(note.subsystem, note.severity):
            continue
        previous = told.get(note.id)
        reason = _decide(note, previous, now, cooldown)
        if reason is not None:
            due.append(Due(note, reason, previous.times if previous else 0))
    return due


def batches(due: Sequence[Due], digest_threshold: int) -> list[list[Due]]:
    """The messages to send: ``[[d] for d in due]``, or ``[due]`` (one digest) when
    ``digest_threshold`` or more are due at once."""
    if len(due) >= digest_threshold:
        return [list(due)]
    return [[d] for d in due]
