"""An e-mail reaches a local SMTP server for each new alarm, once within the cool-down.

End to end from the demo's planted problems: the demo data set is processed by
``overwatch process --once`` with a ``notifications`` channel that mails a real
SMTP server (aiosmtpd); processing again, and a new snapshot in which the problem
persists, update the alarm but send nothing more. Also ``overwatch demo
--smtp-sink``, whose own SMTP server prints and keeps each mail.
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from click.testing import CliRunner

from overwatch.cli import cli
from overwatch.config import Settings
from overwatch.demo import PLANTED_PROBLEMS
from overwatch.demo import generate_demo_data
from overwatch.monitoring.notifications.messages import MAX_TITLE
from overwatch.receivers.filenames import build_file_name
from overwatch.receivers.filenames import parse_file_name
from overwatch.storage import Database
from overwatch.storage.alarms import AlarmView
from overwatch.storage.alarms import list_alarms
from tests.notifysupport import SmtpSink

pytestmark = pytest.mark.slow

RUNS = 3
MINUTES = 8  # the ongoing run's drift needs a few minutes to go out of range


def environment(settings: Settings, notifications: object | None = None) -> dict[str, str | None]:
    return {
        "OVERWATCH_DATA_DIR": str(settings.data_dir),
        "OVERWATCH_DATABASE_URL": settings.effective_database_url,
        "OVERWATCH_FILE_SETTLE_SECONDS": "0",
        "OVERWATCH_PROCESSING_WORKERS": "1",
        "OVERWATCH_LOG_LEVEL": "WARNING",
        "OVERWATCH_TIMEZONE": settings.timezone,
        # Unset while a command runs (and afterwards) unless given.
        "OVERWATCH_NOTIFICATIONS": None if notifications is None else json.dumps(notifications),
    }


def subject(alarm: AlarmView) -> str:
    """The subject a new alarm's mail has (long ones are shortened with an ellipsis)."""
    text = " ".join(f"[Overwatch] CRITICAL {alarm.subsystem}: {alarm.message}".split())
    return text if len(text) <= MAX_TITLE else text[: MAX_TITLE - 1] + "…"


def alarms(db: Database) -> list[AlarmView]:
    with db.session() as session:
        return sorted(list_alarms(session), key=lambda a: a.id)


def snapshot_again(settings: Settings, run: int, subsystem: str) -> None:
    """The run's newest receiver file once more, a minute later: the problem persists."""
    # Newest by the time in the name: names do not sort by time (minute 5 after minute 10).
    newest = max(
        (settings.data_dir / f"Run{run}" / subsystem).glob("*.root"),
        key=lambda path: parse_file_name(path.name, settings.tz).timestamp,
    )
    when = parse_file_name(newest.name, settings.tz).timestamp + timedelta(minutes=1)
    later = build_file_name(subsystem, run, "C", when, settings.tz)
    shutil.copy2(newest, settings.data_dir / later)


def test_process_once_mails_each_new_alarm_once_within_the_cooldown(
    settings: Settings, db: Database
) -> None:
    generate_demo_data(settings.data_dir, settings.tz, runs=RUNS, minutes=MINUTES)
    runner = CliRunner()
    with SmtpSink() as sink:
        notifications = {
            "channels": {"shift": {"url": sink.url()}},
            "cooldown_minutes": 60,
            "digest_threshold": 50,
        }
        env = environment(settings, notifications)
        result = runner.invoke(cli, ["process", "--once"], env=env)
        assert result.exit_code == 0, result.output
        raised = alarms(db)
        planted = {(p.run_number(RUNS), p.subsystem) for p in PLANTED_PROBLEMS}
        assert {(a.run_number, a.subsystem) for a in raised} == planted
        assert f"notifications: {len(raised)} alarm(s) due, {len(raised)} message(s) sent" in (
            result.output
        )
        assert len(sink.messages) == len(raised)
        subjects = sorted(str(mail["Subject"]) for mail in sink.messages)
        assert subjects == sorted(subject(a) for a in raised), subjects
        assert all(recipients == ["shift@example.org"] for recipients in sink.handler.recipients)

        # Nothing new to process: nothing new to say.
        result = runner.invoke(cli, ["process", "--once"], env=env)
        assert result.exit_code == 0, result.output
        assert len(sink.messages) == len(raised)

        # The ongoing run's problem seen again in a new snapshot: the same alarms, updated,
        # within the cool-down: not mailed again.
        ongoing = {a.id: a for a in raised if a.cleared_at is None}
        assert {(a.run_number, a.subsystem) for a in ongoing.values()} == {(294834, "TPC")}
        snapshot_again(settings, 294834, "TPC")
        result = runner.invoke(cli, ["process", "--once"], env=env)
        assert result.exit_code == 0, result.output
        assert "1 job(s) done" in result.output
        assert "notifications: 0 alarm(s) due, 0 message(s) sent" in result.output
        updated = {a.id: a for a in alarms(db) if a.id in ongoing}
        assert {(i, a.count, a.cleared_at) for i, a in updated.items()} == {
            (i, a.count + 1, None) for i, a in ongoing.items()
        }
        assert len(alarms(db)) == len(raised)
        assert len(sink.messages) == len(raised)


def test_demo_smtp_sink_mails_every_alarm_once_and_keeps_the_mails(
    settings: Settings, db: Database
) -> None:
    result = CliRunner().invoke(
        cli,
        ["demo", "--runs", "2", "--minutes", "2", "--no-serve", "--smtp-sink"],
        env=environment(settings),
    )
    assert result.exit_code == 0, result.output
    raised = alarms(db)
    assert raised
    assert "every alarm is e-mailed there once" in result.output
    printed = [line for line in result.output.splitlines() if line.startswith("[smtp-sink] mail")]
    assert len(printed) == len(raised), result.output
    assert f"{len(raised)} message(s) sent" in result.output
    kept = sorted((settings.data_dir / "mail").glob("*.eml"))
    assert [path.name for path in kept] == [f"{n:04d}.eml" for n in range(1, len(raised) + 1)]
    mails = [message_from_bytes(path.read_bytes(), policy=default_policy) for path in kept]
    assert {mail["To"] for mail in mails} == {"shift@localhost"}
    assert sorted(str(mail["Subject"]) for mail in mails) == sorted(subject(a) for a in raised)


@pytest.fixture(autouse=True)
def _no_leftover_notifications(monkeypatch: pytest.MonkeyPatch) -> None:
    # `demo --smtp-sink` exports the setting for the daemon it starts; not for later tests.
    monkeypatch.delenv("OVERWATCH_NOTIFICATIONS", raising=False)
