"""Notification deliveries: what was planned, claimed, sent or given up, and why.

The guarantees:

- **Told once.** Every alarm a delivery carries is a :class:`NotificationItem`
  numbered per (alarm, channel); the unique key (alarm, channel, seq) makes two
  daemons that plan the same notice at once collide (:func:`add_delivery` raises
  :class:`~sqlalchemy.exc.IntegrityError`) instead of sending it twice.
- **Sent by one daemon.** :func:`claim_due` moves a due delivery from ``pending``
  to ``sending`` with one conditional ``UPDATE``; only the daemon whose update
  matched sends it. One that died while sending is reclaimed after ``stale_after``.
- **Every attempt recorded.** :func:`record_attempt` appends the attempt to the
  delivery's history and either marks it ``sent``, schedules the retry after the
  backoff the caller computed, or gives it up as ``failed`` with the last error.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from overwatch.monitoring.alarm_view import AlarmView
from overwatch.storage.alarms import alarm_view
from overwatch.storage.models import Alarm
from overwatch.storage.models import NotificationDelivery
from overwatch.storage.models import NotificationItem

__all__ = [
    "ChannelStatus",
    "DeliveryView",
    "PlannedItem",
    "add_delivery",
    "channel_status",
    "claim_due",
    "fail_unknown_channels",
    "notification_candidates",
    "recent_failures",
    "record_attempt",
    "told_about",
]

#: Deliveries one pass claims at most (the rest wait for the next pass).
CLAIM_LIMIT = 100


@dataclass(frozen=True)
class PlannedItem:
    alarm_id: int
    seq: int
    severity: str
    reason: str


@dataclass(frozen=True)
class DeliveryView:
    id: int
    channel: str
    kind: str
    severity: str
    title: str
    body: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    history: list[dict[str, object]]


def _view(row: NotificationDelivery) -> DeliveryView:
    return DeliveryView(
        row.id,
        row.channel,
        row.kind,
        row.severity,
        row.title,
        row.body,
        row.state,
        row.attempts,
        row.created_at,
        row.next_attempt_at,
        row.sent_at,
        row.last_error,
        list(row.history or []),
    )


def notification_candidates(session: Session, since: datetime) -> list[AlarmView]:
    """Alarms seen since ``since``: active ones, and ones that cleared meanwhile."""
    rows = session.scalars(
        select(Alarm)
        .where(
            Alarm.last_seen_at >= since,
            or_(Alarm.cleared_at.is_(None), Alarm.cleared_at >= since),
        )
        .order_by(Alarm.id)
    ).all()
    return [alarm_view(row) for row in rows]


def told_about(
    session: Session, channel: str, alarm_ids: Sequence[int]
) -> dict[int, tuple[int, str, datetime]]:
    """Per alarm id: (notices so far, most severe severity told, when last told)."""
    if not alarm_ids:
        return {}
    critical = func.max(case((NotificationItem.severity == "critical", 1), else_=0))
    rows = session.execute(
        select(
            NotificationItem.alarm_id,
            func.max(NotificationItem.seq),
            critical,
            func.max(NotificationItem.created_at),
        )
        .where(NotificationItem.channel == channel, NotificationItem.alarm_id.in_(alarm_ids))
        .group_by(NotificationItem.alarm_id)
    ).all()
    return {
        alarm_id: (int(seq) + 1, "critical" if worst else "warning", last)
        for alarm_id, seq, worst, last in rows
    }


def add_delivery(
    session: Session,
    *,
    channel: str,
    kind: str,
    severity: str,
    title: str,
    body: str,
    items: Iterable[PlannedItem] = (),
    now: datetime,
    state: str = "pending",
) -> int:
    """Record a delivery due at ``now`` with the alarms it carries; its id."""
    delivery = NotificationDelivery(
        channel=channel,
        kind=kind,
        severity=severity,
        title=title[:512],
        body=body,
        state=state,
        attempts=0,
        created_at=now,
        next_attempt_at=now if state == "pending" else None,
        history=[],
    )
    session.add(delivery)
    session.flush()
    for item in items:
        session.add(
            NotificationItem(
                delivery_id=delivery.id,
                alarm_id=item.alarm_id,
                channel=channel,
                seq=item.seq,
                severity=item.severity,
                reason=item.reason,
                created_at=now,
            )
        )
    session.flush()
    return delivery.id


def claim_due(
    session: Session, now: datetime, worker: str, stale_after: timedelta
) -> list[DeliveryView]:
    """Claim the deliveries due now for ``worker``; also reclaims ones stuck in ``sending``."""
    session.execute(
        update(NotificationDelivery)
        .where(
            NotificationDelivery.state == "sending",
            NotificationDelivery.claimed_at < now - stale_after,
        )
        .values(state="pending", claimed_at=None, claimed_by=None)
    )
    due_ids = session.scalars(
        select(NotificationDelivery.id)
        .where(NotificationDelivery.state == "pending", NotificationDelivery.next_attempt_at <= now)
        .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
        .limit(CLAIM_LIMIT)
    ).all()
    claimed = []
    for delivery_id in due_ids:
        result = session.execute(
            update(NotificationDelivery)
            .where(NotificationDelivery.id == delivery_id, NotificationDelivery.state == "pending")
            .values(state="sending", claimed_at=now, claimed_by=worker)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(delivery_id)
    rows = session.scalars(
        select(NotificationDelivery)
        .where(NotificationDelivery.id.in_(claimed))
        .order_by(NotificationDelivery.id)
    ).all()
    return [_view(row) for row in rows]


def record_attempt(
    session: Session,
    delivery_id: int,
    *,
    ok: bool,
    seconds: float,
    error: str | None,
    now: datetime,
    max_attempts: int,
    retry_delay: Callable[[int], float],
) -> str:
    """Record one attempt; the delivery's new state (sent, pending for a retry, failed)."""
    row = session.get(NotificationDelivery, delivery_id)
    if row is None:
        return "gone"
    row.attempts += 1
    row.history = [
        *(row.history or []),
        {"at": now.isoformat(), "ok": ok, "seconds": round(seconds, 3), "error": error},
    ]
    row.claimed_at = None
    row.claimed_by = None
    if ok:
        row.state, row.sent_at, row.next_attempt_at = "sent", now, None
    elif row.attempts >= max_attempts or row.kind == "test":
        row.state, row.last_error, row.next_attempt_at = "failed", error, None
    else:
        delay = timedelta(seconds=retry_delay(row.attempts))
        row.state, row.last_error, row.next_attempt_at = "pending", error, now + delay
    return row.state


def fail_unknown_channels(session: Session, known: Iterable[str], now: datetime) -> int:
    """Give up pending deliveries to channels no longer configured; how many."""
    result = session.execute(
        update(NotificationDelivery)
        .where(
            NotificationDelivery.state.in_(["pending", "sending"]),
            NotificationDelivery.channel.not_in(list(known)),
        )
        .values(
            state="failed",
            next_attempt_at=None,
            last_error="the channel is no longer configured",
            claimed_at=None,
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ChannelStatus:
    """A channel's deliveries for the status page."""

    channel: str
    sent: int
    pending: int
    failed: int
    last_sent_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None


def channel_status(session: Session) -> list[ChannelStatus]:
    """Per channel that has deliveries: counts, last success, last error."""
    counts = session.execute(
        select(
            NotificationDelivery.channel,
            func.sum(case((NotificationDelivery.state == "sent", 1), else_=0)),
            func.sum(case((NotificationDelivery.state.in_(["pending", "sending"]), 1), else_=0)),
            func.sum(case((NotificationDelivery.state == "failed", 1), else_=0)),
            func.max(NotificationDelivery.sent_at),
        )
        .group_by(NotificationDelivery.channel)
        .order_by(NotificationDelivery.channel)
    ).all()
    statuses = []
    for channel, sent, pending, failed, last_sent in counts:
        last_error = session.execute(
            select(NotificationDelivery.last_error, NotificationDelivery.history)
            .where(
                NotificationDelivery.channel == channel,
                NotificationDelivery.last_error.is_not(None),
            )
            .order_by(NotificationDelivery.id.desc())
            .limit(1)
        ).one_or_none()
        error_at = None
        if last_error is not None:
            failures = [entry for entry in last_error[1] or [] if not entry.get("ok")]
            error_at = datetime.fromisoformat(str(failures[-1]["at"])) if failures else None
        statuses.append(
            ChannelStatus(
                channel,
                int(sent or 0),
                int(pending or 0),
                int(failed or 0),
                last_sent,
                last_error[0] if last_error is not None else None,
                error_at,
            )
        )
    return statuses


def recent_failures(session: Session, limit: int = 10) -> list[DeliveryView]:
    """Deliveries given up, or waiting to retry after a failure, newest first."""
    rows = session.scalars(
        select(NotificationDelivery)
        .where(
            or_(
                NotificationDelivery.state == "failed",
                (NotificationDelivery.state == "pending") & (NotificationDelivery.attempts > 0),
            )
        )
        .order_by(NotificationDelivery.id.desc())
        .limit(limit)
    ).all()
    return [_view(row) for row in rows]
