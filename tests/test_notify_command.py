"""``overwatch notify test`` against a real SMTP server, and a channel that is down."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from overwatch.cli import cli
from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.models import NotificationDelivery
from tests.notifysupport import SmtpSink
from tests.notifysupport import refused_port


def test_notify_test_sends_to_each_channel_and_reports_a_failure(
    tmp_path: Path, settings: Settings, db: Database
) -> None:
    with SmtpSink() as sink:
        config_file = tmp_path / "config.yaml"
        config_file.write_text(
            "notifications:\n"
            "  timeout_seconds: 5\n"
            "  channels:\n"
            f"    mail: {{url: '{sink.url()}'}}\n"
            f"    down: {{url: 'json://127.0.0.1:{refused_port()}/hook'}}\n"
        )
        base = ["--config", str(config_file), "--database-url", settings.effective_database_url]
        runner = CliRunner()
        result = runner.invoke(cli, [*base, "notify", "test", "--channel", "mail"], env={})
        assert result.exit_code == 0, result.output
        assert "mail: sent" in result.output
        assert len(sink.messages) == 1
        assert sink.messages[0]["Subject"] == "[Overwatch] test message to mail"

        result = runner.invoke(cli, [*base, "notify", "test"], env={})
        assert result.exit_code == 1
        assert "down: FAILED" in result.output
        assert "Connection refused" in result.output
        assert len(sink.messages) == 2

        result = runner.invoke(cli, [*base, "notify", "test", "--channel", "nope"], env={})
        assert result.exit_code == 2
        assert "known: mail, down" in result.output
    with db.session() as session:
        rows = session.scalars(select(NotificationDelivery).order_by(NotificationDelivery.id)).all()
        assert [(row.channel, row.kind, row.state) for row in rows] == [
            ("mail", "test", "sent"),
            ("mail", "test", "sent"),
            ("down", "test", "failed"),
        ]
