"""The delivery pass: alarms in the database become messages on the configured channels.

:func:`deliver_notifications` is a scheduled job of the processing daemon (every
``notifications.interval_seconds``), run by the scheduler's own threads and never
inside a processing job, so a channel that is down or hangs cannot hold up or slow
processing. Each pass:

1. **plans**: per channel, reads the alarms seen in the last ``max_age_hours``,
   decides which are due (:mod:`overwatch.monitoring.notifications.planning`: new,
   escalated, or reminded after the cool-down), and records them as deliveries
   in one transaction: one message per alarm, or one digest when
   ``digest_threshold`` or more are due on the channel at once;
2. **sends**: claims the deliveries that are due (new ones and retries whose
   backoff has passed) and sends them with a deadline of ``timeout_seconds``
   (:func:`overwatch.monitoring.notifications.delivery.send_all`);
3. **records** each attempt: sent, retried after ``retry_seconds`` doubled per
   failure, or failed after ``max_attempts``, with the error for the status page.

Also here: :func:`send_test`, what ``overwatch notify test`` does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from overwatch.config import Settings
from overwatch.monitoring.notifications.config import ChannelSpec
from overwatch.monitoring.notifications.config import NotificationConfig
from overwatch.monitoring.notifications.delivery import Outcome
from overwatch.monitoring.notifications.delivery import send_all
from overwatch.monitoring.notifications.messages import Message
from overwatch.monitoring.notifications.messages import alarm_message
from overwatch.monitoring.notifications.messages import digest_message
from overwatch.monitoring.notifications.messages import test_message
from overwatch.monitoring.notifications.planning import Due
from overwatch.monitoring.notifications.planning import Told
from overwatch.monitoring.notifications.planning import batches
from overwatch.monitoring.notifications.planning import due_notifications
from overwatch.storage import Database
from overwatch.storage.jobs import worker_name
from overwatch.storage.models import utcnow
from overwatch.storage.notifications import PlannedItem
from overwatch.storage.notifications import add_delivery
from overwatch.storage.notifications import claim_due
from overwatch.storage.notifications import fail_unknown_channels
from overwatch.storage.notifications import notification_candidates
from overwatch.storage.notifications import record_attempt
from overwatch.storage.notifications import told_about

__all__ = ["PassReport", "deliver_notifications", "plan_notifications", "send_test"]

log = logging.getLogger(__name__)


@dataclass
class PassReport:
    """What one pass did: deliveries planned, and the attempts' results."""

    planned: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: dict[int, str] = field(default_factory=dict)


def _messages(due: list[Due], config: NotificationConfig) -> list[tuple[Message, list[Due]]]:
    messages = []
    for batch in batches(due, config.digest_threshold):
        if len(batch) > 1:
            message = digest_message([(d.note, d.reason) for d in batch], config.base_url)
        else:
            message = alarm_message(batch[0].note, batch[0].reason, config.base_url)
        messages.append((message, batch))
    return messages


def _plan_channel(
    db: Database, channel: ChannelSpec, config: NotificationConfig, now: datetime
) -> int:
    since = now - timedelta(hours=config.max_age_hours)
    cooldown = timedelta(minutes=config.cooldown_minutes)
    try:
        with db.session() as session:
            notes = notification_candidates(session, since)
            told = {
                alarm_id: Told(times, severity, last)
                for alarm_id, (times, severity, last) in told_about(
                    session, channel.name, [note.id for note in notes]
                ).items()
            }
            due = due_notifications(channel, notes, told, now, cooldown)
            for message, carried in _messages(due, config):
                add_delivery(
                    session,
                    channel=channel.name,
                    kind="digest" if len(carried) > 1 else "alarm",
                    severity=message.severity,
                    title=message.title,
                    body=message.body,
                    items=[
                        PlannedItem(d.note.id, d.seq, d.note.severity, d.reason) for d in carried
                    ],
                    now=now,
                )
    except IntegrityError:
        # Another daemon planned the same notices first: they are its to send.
        log.info("notifications for %s were planned by another daemon", channel.name)
        return 0
    return len(due)


def plan_notifications(settings: Settings, db: Database, now: datetime | None = None) -> int:
    """Record the deliveries due now on every channel; the number of alarms planned."""
    config = settings.notifications
    now = now or utcnow()
    with db.session() as session:
        given_up = fail_unknown_channels(session, [c.name for c in config.channels], now)
    if given_up:
        log.warning("%d pending notification(s) to removed channels given up", given_up)
    return sum(_plan_channel(db, channel, config, now) for channel in config.channels)


def _record(
    db: Database, config: NotificationConfig, outcomes: dict[int, Outcome], report: PassReport
) -> None:
    now = utcnow()
    with db.session() as session:
        for delivery_id, outcome in outcomes.items():
            state = record_attempt(
                session,
                delivery_id,
                ok=outcome.ok,
                seconds=outcome.seconds,
                error=outcome.error,
                now=now,
                max_attempts=config.max_attempts,
                retry_delay=config.retry_delay,
            )
            if state == "sent":
                report.sent += 1
            elif state == "pending":
                report.retrying += 1
            elif state == "failed":
                report.failed += 1
            if outcome.error:
                report.errors[delivery_id] = outcome.error
    for delivery_id, error in report.errors.items():
        log.warning("notification %d failed: %s", delivery_id, error)


def deliver_notifications(settings: Settings, db: Database) -> PassReport:
    """One pass: plan what is due, send what is due, record the results."""
    config = settings.notifications
    report = PassReport()
    if not config:
        return report
    report.planned = plan_notifications(settings, db)
    # A claim outlives the longest send; then another daemon may take the delivery.
    stale = timedelta(seconds=config.timeout_seconds * 2 + 60)
    with db.session() as session:
        claimed = claim_due(session, utcnow(), f"notify@{worker_name()}", stale)
    jobs = []
    for delivery in claimed:
        channel = config.channel(delivery.channel)
        if channel is not None:
            jobs.append(
                (delivery.id, channel, Message(delivery.title, delivery.body, delivery.severity))
            )
    if jobs:
        _record(db, config, send_all(jobs, config.timeout_seconds), report)
    return report


def send_test(settings: Settings, db: Database, channels: list[ChannelSpec]) -> dict[str, Outcome]:
    """Send a test message to each channel now, recorded like any delivery."""
    config = settings.notifications
    now = utcnow()
    ids: dict[int, ChannelSpec] = {}
    with db.session() as session:
        for channel in channels:
            message = test_message(channel.name, now)
            delivery_id = add_delivery(
                session,
                channel=channel.name,
                kind="test",
                severity="info",
                title=message.title,
                body=message.body,
                now=now,
                state="sending",
            )
            ids[delivery_id] = channel
    outcomes = send_all(
        [(key, channel, test_message(channel.name, now)) for key, channel in ids.items()],
        config.timeout_seconds,
    )
    _record(db, config, outcomes, PassReport())
    return {ids[key].name: outcome for key, outcome in outcomes.items()}
