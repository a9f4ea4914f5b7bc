"""The status page and /healthz."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy import update

from overwatch.storage import Database
from overwatch.storage.jobs import enqueue_job
from overwatch.storage.jobs import fail_job
from overwatch.storage.models import DaemonHeartbeat
from overwatch.storage.models import ReceivedFile
from overwatch.storage.models import utcnow
from tests.webapp.builders import add_run

Client = Callable[[str], FlaskClient]


def test_healthz_is_public_and_ok(app: Flask) -> None:
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "receivers_alive": 0, "receivers_dead": 0}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_is_503_with_a_reason_when_the_database_is_unreachable(
    app: Flask, tmp_path: Path
) -> None:
    state = app.extensions["overwatch"]
    state.db.dispose()
    # A directory is not a database file: every connection attempt fails.
    state.db = Database(f"sqlite:///{tmp_path}")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["reason"] == "database unreachable"


def test_status_page_shows_files_daemons_queue_and_failures(
    client_as: Client, db: Database
) -> None:
    ids = add_run(db, 10)
    now = utcnow()
    with db.session() as session:
        session.add(
            DaemonHeartbeat(name="host:1", started_at=now - timedelta(hours=1), heartbeat_at=now)
        )
        session.add(
            DaemonHeartbeat(
                name="host:2",
                started_at=now - timedelta(days=1),
                heartbeat_at=now - timedelta(hours=2),
            )
        )
        job = enqueue_job(
            session,
            kind="process",
            dedupe_key="x",
            subsystem_id=ids["EMC"],
            run_number=10,
            subsystem="EMC",
            max_attempts=1,
        )
        job.state = "running"
        job.attempts = 1
        session.flush()
        fail_job(session, job.id, "Traceback: ValueError: broken file")
    page = client_as("viewer").get("/status")
    assert page.status_code == 200
    text = page.text
    assert '<span class="badge badge-good">reachable</span>' in text
    assert "EMChistos_10_C_2018_10_22_08_13_55.root" in text
    assert '<tr><td>host:1</td><td><span class="badge badge-good">' in text
    assert '<tr><td>host:2</td><td><span class="badge badge-bad">2 h ago</span>' in text
    assert '<span class="state state-failed">failed 1</span>' in text
    assert "Traceback: ValueError: broken file" in text


def test_status_page_says_when_no_daemon_reported(client_as: Client) -> None:
    text = client_as("viewer").get("/status").text
    assert "No processing daemon has reported" in text
    assert "Nothing received yet." in text


def test_status_shows_disk_usage_per_subsystem(client_as: Client, db: Database) -> None:
    ids = add_run(db, 10)
    megabytes = 3 * 1024 * 1024
    with db.session() as session:
        session.execute(update(ReceivedFile).values(size=megabytes))
        emc = session.scalars(
            select(ReceivedFile).where(ReceivedFile.subsystem_id == ids["EMC"])
        ).all()
        emc[0].state = "archived"
        emc[1].state = "pruned"
        count = len(emc)
    page = client_as("viewer").get("/status")
    assert "<h2>Disk: received files</h2>" in page.text
    rows = client_as("viewer").get("/api/v1/status").json["disk"]
    usage = {row["subsystem"]: row for row in rows}["EMC"]
    assert (usage["files"], usage["files_archived"], usage["files_pruned"]) == (count - 2, 1, 1)
    assert usage["bytes_on_disk"] == (count - 2) * megabytes
    assert usage["bytes_archived"] == megabytes
    assert "3.0 MB" in page.text


def test_status_page_shows_failed_notification_deliveries(
    client_as: Client, db: Database, make_settings: Callable[..., object]
) -> None:
    from overwatch.processing.notify import deliver_notifications  # noqa: PLC0415
    from tests.notifysupport import HttpReceiver  # noqa: PLC0415
    from tests.notifysupport import refused_port  # noqa: PLC0415
    from tests.processing.test_notify import add_alarm  # noqa: PLC0415

    with HttpReceiver() as receiver:
        settings = make_settings(
            notifications={
                "channels": {
                    "down": {"url": f"json://127.0.0.1:{refused_port()}/hook"},
                    "works": {"url": receiver.url()},
                },
                "max_attempts": 2,
            }
        )
        add_alarm(db, message="dead supermodule")
        deliver_notifications(settings, db)  # type: ignore[arg-type]
    page = client_as("viewer").get("/status").get_data(as_text=True)
    assert "<h2>Notifications</h2>" in page
    assert 'class="channel channel-failing"><td>down</td>' in page
    assert 'class="channel channel-ok"><td>works</td>' in page
    assert "[Overwatch] WARNING EMC: dead supermodule" in page
    assert "Connection refused" in page
    assert "1 attempt, next try" in page
    api = client_as("viewer").get("/api/v1/status").json
    failures = api["notifications"]["failures"]
    assert [item["channel"] for item in failures] == ["down"]
    assert "Connection refused" in failures[0]["last_error"]
