"""The delivery pass against real receivers: an SMTP server (aiosmtpd) and HTTP servers,
one that is down and one that hangs; cool-down, escalation, digest, retries."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from overwatch.config import Settings
from overwatch.processing.alarms import evaluate_receiver_silences
from overwatch.processing.notify import deliver_notifications
from overwatch.processing.notify import plan_notifications
from overwatch.storage import Database
from overwatch.storage.models import Alarm
from overwatch.storage.models import NotificationDelivery
from overwatch.storage.models import NotificationItem
from overwatch.storage.models import utcnow
from overwatch.storage.receivers import record_receiver_activity
from tests.notifysupport import HangingServer
from tests.notifysupport import HttpReceiver
from tests.notifysupport import SmtpSink
from tests.notifysupport import refused_port

MakeSettings = Callable[..., Settings]


def notify_settings(make_settings: MakeSettings, channels: dict[str, Any], **top: Any) -> Settings:
    return make_settings(notifications={"channels": channels, **top})


def add_alarm(
    db: Database,
    *,
    subsystem: str = "EMC",
    severity: str = "warning",
    rule: str = "hot-channels",
    target: str = "hFastOR",
    message: str = "hot FastOR channels",
    run_number: int = 294832,
) -> int:
    now = utcnow()
    with db.session() as session:
        alarm = Alarm(
            subsystem=subsystem,
            run_number=run_number,
            histogram=target,
            rule=rule,
            target=target,
            message=message,
            severity=severity,
            raised_at=now,
            last_seen_at=now,
            count=1,
        )
        session.add(alarm)
        session.flush()
        return alarm.id


def update_alarm(db: Database, alarm_id: int, **values: Any) -> None:
    with db.session() as session:
        alarm = session.get(Alarm, alarm_id)
        assert alarm is not None
        alarm.last_seen_at = utcnow()
        alarm.count += 1
        for key, value in values.items():
            setattr(alarm, key, value)


def deliveries(db: Database) -> list[NotificationDelivery]:
    with db.session() as session:
        return list(session.scalars(select(NotificationDelivery).order_by(NotificationDelivery.id)))


def test_a_new_alarm_is_mailed_once_within_the_cooldown_and_again_when_it_escalates(
    make_settings: MakeSettings, db: Database
) -> None:
    with SmtpSink() as sink:
        settings = notify_settings(
            make_settings,
            {"shift-mail": {"url": sink.url()}},
            base_url="https://overwatch.example.org",
        )
        alarm_id = add_alarm(db)
        report = deliver_notifications(settings, db)
        assert (report.planned, report.sent, report.failed) == (1, 1, 0)
        assert len(sink.messages) == 1
        mail = sink.messages[0]
        assert mail["Subject"] == "[Overwatch] WARNING EMC: hot FastOR channels"
        assert mail["To"] == "shift@example.org"
        text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        assert "rule hot-channels on hFastOR, run 294832" in text
        assert "https://overwatch.example.org/runs/294832/EMC/view/hFastOR" in text

        # Seen again by the next processing: the same alarm, within the cool-down.
        for _ in range(3):
            update_alarm(db, alarm_id)
            assert deliver_notifications(settings, db).planned == 0
        assert len(sink.messages) == 1

        update_alarm(db, alarm_id, severity="critical")
        assert deliver_notifications(settings, db).sent == 1
        assert len(sink.messages) == 2
        assert sink.messages[1]["Subject"].startswith("[Overwatch] escalated: CRITICAL EMC")
        update_alarm(db, alarm_id)
        deliver_notifications(settings, db)
        assert len(sink.messages) == 2

        # Cleared, then raised again: a new alarm, a new message.
        update_alarm(db, alarm_id, cleared_at=utcnow())
        deliver_notifications(settings, db)
        add_alarm(db)
        assert deliver_notifications(settings, db).sent == 1
        assert len(sink.messages) == 3
    states = [row.state for row in deliveries(db)]
    assert states == ["sent", "sent", "sent"]


def test_a_persisting_alarm_is_reminded_after_the_cooldown(
    make_settings: MakeSettings, db: Database
) -> None:
    settings = notify_settings(
        make_settings, {"hook": {"url": "json://127.0.0.1:9/hook"}}, cooldown_minutes=30
    )
    add_alarm(db)
    now = utcnow()
    assert plan_notifications(settings, db, now) == 1
    assert plan_notifications(settings, db, now + timedelta(minutes=29)) == 0
    assert plan_notifications(settings, db, now + timedelta(minutes=31)) == 1
    with db.session() as session:
        reasons = session.scalars(select(NotificationItem.reason).order_by(NotificationItem.seq))
        assert list(reasons) == ["new", "reminder"]


def test_many_alarms_at_once_go_out_as_one_digest(
    make_settings: MakeSettings, db: Database
) -> None:
    with HttpReceiver() as receiver:
        settings = notify_settings(
            make_settings, {"hook": {"url": receiver.url()}}, digest_threshold=3
        )
        for index in range(6):
            add_alarm(
                db,
                subsystem="EMC" if index % 2 else "TPC",
                severity="critical" if index == 4 else "warning",
                rule=f"rule-{index}",
                message=f"problem {index}",
            )
        report = deliver_notifications(settings, db)
        assert (report.planned, report.sent) == (6, 1)
        assert len(receiver.posts) == 1
        post = receiver.posts[0]
        assert post["title"] == "[Overwatch] 6 alarms (1 critical): EMC, TPC"
        lines = [line for line in post["message"].splitlines() if line.startswith("- ")]
        assert len(lines) == 6
        assert lines[0].startswith("- CRITICAL TPC: problem 4")
        assert post["type"] == "failure"
        # Each alarm is told once: the next pass sends nothing.
        assert deliver_notifications(settings, db).planned == 0
        assert len(receiver.posts) == 1


def test_channels_get_only_their_subsystems_and_severities(
    make_settings: MakeSettings, db: Database
) -> None:
    with HttpReceiver() as emc, HttpReceiver() as everything:
        settings = notify_settings(
            make_settings,
            {
                "emc-experts": {
                    "url": emc.url(),
                    "subsystems": ["EMC"],
                    "min_severity": "critical",
                },
                "shift": {"url": everything.url()},
            },
            digest_threshold=10,
        )
        add_alarm(db, subsystem="EMC", severity="warning", rule="a", message="emc warning")
        add_alarm(db, subsystem="EMC", severity="critical", rule="b", message="emc critical")
        add_alarm(db, subsystem="TPC", severity="critical", rule="c", message="tpc critical")
        deliver_notifications(settings, db)
    assert [post["message"].splitlines()[0] for post in emc.posts] == [
        "EMC alarm (critical): emc critical"
    ]
    assert len(everything.posts) == 3


def test_a_silent_receiver_of_every_subsystem_reaches_channels_of_particular_subsystems(
    make_settings: MakeSettings, db: Database
) -> None:
    with HttpReceiver() as emc, HttpReceiver() as tpc:
        settings = make_settings(
            alarms=[
                {"name": "DQM silent", "kind": "receiver_silence", "subsystem": "*",
                 "target": "dqm*", "minutes": 15},
            ],
            notifications={
                "channels": {
                    "emc": {"url": emc.url(), "subsystems": ["EMC"]},
                    "tpc": {"url": tpc.url(), "subsystems": ["TPC", "HLT"]},
                },
                "base_url": "https://overwatch.example.org",
            },
        )  # fmt: skip
        record_receiver_activity(
            db, name="dqm-agent-1", kind="dqm-agent", now=utcnow() - timedelta(minutes=20)
        )
        evaluate_receiver_silences(settings, db)
        report = deliver_notifications(settings, db)
        assert (report.planned, report.sent) == (2, 2)
    for receiver in (emc, tpc):
        [post] = receiver.posts
        assert post["title"].startswith(
            "[Overwatch] WARNING all subsystems: receiver dqm-agent-1 silent for 20"
        )
        lines = post["message"].splitlines()
        assert lines[0].startswith("Alarm of all subsystems (warning): receiver dqm-agent-1")
        assert "Alarms: https://overwatch.example.org/alarms?subsystem=%2A" in lines


def test_a_channel_that_is_down_is_retried_with_exponential_backoff_then_given_up(
    make_settings: MakeSettings, db: Database
) -> None:
    with SmtpSink() as sink:
        settings = notify_settings(
            make_settings,
            {
                "down": {"url": f"json://127.0.0.1:{refused_port()}/hook"},
                "mail": {"url": sink.url()},
            },
            retry_seconds=0.5,
            max_attempts=3,
        )
        add_alarm(db)
        report = deliver_notifications(settings, db)
        # The channel that answers is not held up by the one that is down.
        assert (report.sent, report.retrying) == (1, 1)
        assert len(sink.messages) == 1
        down = next(row for row in deliveries(db) if row.channel == "down")
        assert down.state == "pending"
        assert down.attempts == 1
        assert "Connection refused" in (down.last_error or "")
        assert down.next_attempt_at is not None
        first_wait = (down.next_attempt_at - utcnow()).total_seconds()
        assert 0 < first_wait <= 0.5
        # Not due yet: nothing is tried.
        assert deliver_notifications(settings, db).retrying == 0
        for expected_wait in (1.0, None):
            time.sleep(max((down.next_attempt_at - utcnow()).total_seconds(), 0) + 0.05)
            deliver_notifications(settings, db)
            down = next(row for row in deliveries(db) if row.channel == "down")
            if expected_wait is not None:
                assert down.state == "pending"
                last_try = down.history[-1]["at"]
                assert down.next_attempt_at is not None
                waited = down.next_attempt_at - utcnow().fromisoformat(last_try)
                assert waited.total_seconds() == pytest.approx(expected_wait)
        assert down.state == "failed"
        assert down.attempts == 3
        assert [entry["ok"] for entry in down.history] == [False, False, False]
        assert all("Connection refused" in entry["error"] for entry in down.history)
    assert len(sink.messages) == 1


def test_a_hanging_channel_times_out_and_does_not_hold_up_the_others(
    make_settings: MakeSettings, db: Database
) -> None:
    with HangingServer() as hanging, HttpReceiver() as receiver:
        settings = notify_settings(
            make_settings,
            {"hangs": {"url": hanging.url()}, "works": {"url": receiver.url()}},
            timeout_seconds=1.5,
        )
        add_alarm(db)
        started = time.perf_counter()
        report = deliver_notifications(settings, db)
        elapsed = time.perf_counter() - started
        assert elapsed < 1.5 + 2.0
        assert hanging.accepted == 1
        assert len(receiver.posts) == 1
        assert (report.sent, report.retrying) == (1, 1)
        hung = next(row for row in deliveries(db) if row.channel == "hangs")
        assert hung.last_error == "timed out after 1.5 s"
        # While the first attempt still hangs, the retry fails at once instead of piling up.
        with db.session() as session:
            row = session.get(NotificationDelivery, hung.id)
            assert row is not None
            row.next_attempt_at = utcnow()
        started = time.perf_counter()
        deliver_notifications(settings, db)
        assert time.perf_counter() - started < 1.0
        hung = next(row for row in deliveries(db) if row.channel == "hangs")
        assert hung.attempts == 2
        assert hung.last_error == "an earlier delivery to this channel is still hanging"
