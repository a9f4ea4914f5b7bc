"""The status page for operators and ``GET /healthz`` for load balancers.

``/healthz`` needs no login and answers 200 ``{"status": "ok"}`` when the database
answers, else 503 saying only that it is unreachable: the driver's message names
the database host, port and name, which anonymous callers must not learn, so it
goes to the log. The status page shows per subsystem the last
received file and its age, the processing daemons' heartbeats, the queue, and the
running and failed jobs with their errors, the received files' disk usage per
subsystem (in the data dir, archived, removed by the retention policy), and the
alarm notifications per channel with the deliveries that failed (or wait to retry)
and their last error.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import jsonify
from flask import render_template
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from overwatch.receivers.heartbeats import log_silent_receivers
from overwatch.storage.jobs import queue_counts
from overwatch.storage.models import utcnow
from overwatch.storage.notifications import channel_status
from overwatch.storage.notifications import recent_failures
from overwatch.storage.queries import heartbeats
from overwatch.storage.queries import list_jobs
from overwatch.storage.queries import subsystem_activity
from overwatch.storage.receivers import ReceiverView
from overwatch.storage.receivers import list_receivers
from overwatch.storage.retention import disk_usage
from overwatch.webapp.auth import protect
from overwatch.webapp.database import get_db
from overwatch.webapp.database import get_settings
from overwatch.webapp.database import read_session

__all__ = ["bp", "collect_status", "health_bp", "init_app", "receiver_states"]

bp = Blueprint("status", __name__)
protect(bp)
health_bp = Blueprint("health", __name__)
logger = logging.getLogger(__name__)
#: All that /healthz says about a failure.
UNREACHABLE = "database unreachable"


def _database_error() -> str | None:
    """None when the database answers, else a reason without the connection details."""
    try:
        get_db().ping()
    except SQLAlchemyError as exc:
        logger.warning("database unreachable: %s: %s", type(exc).__name__, exc)
        return f"{UNREACHABLE} ({type(exc).__name__}); the web app's log has the details"
    return None


def receiver_states(now: datetime) -> list[tuple[ReceiverView, bool]]:
    """Every receiver with whether it is alive; newly silent ones are logged at WARNING."""
    minutes = get_settings().receiver_silence_minutes
    log_silent_receivers(get_db(), minutes)
    with read_session() as session:
        receivers = list_receivers(session)
    return [(receiver, not receiver.silent(now, minutes)) for receiver in receivers]


@health_bp.get("/healthz")
def healthz() -> Response:
    problem = _database_error()
    body: dict[str, Any] = (
        {"status": "ok"} if problem is None else {"status": "unavailable", "reason": UNREACHABLE}
    )
    if problem is None:
        # A silent receiver does not make the web app unhealthy. Anyone may see how many
        # receivers are alive; their names (which may carry hosts) need a login.
        states = receiver_states(utcnow())
        body["receivers_alive"] = sum(1 for _, alive in states if alive)
        body["receivers_dead"] = sum(1 for _, alive in states if not alive)
        if current_user.is_authenticated:
            body["receivers"] = [
                {
                    "name": receiver.name,
                    "kind": receiver.kind,
                    "last_seen_at": receiver.last_seen_at.isoformat(),
                    "alive": alive,
                }
                for receiver, alive in states
            ]
    response = jsonify(body)
    response.status_code = 200 if problem is None else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def _daemon_alive(beat: datetime, now: datetime) -> bool:
    # A daemon beats at every scan; three missed scans (at least a minute) means it is gone.
    limit = max(3 * get_settings().scan_interval, 60.0)
    return (now - beat).total_seconds() < limit


def collect_status() -> dict[str, Any]:
    """Everything the status page shows, also served as JSON by the API."""
    now = utcnow()
    problem = _database_error()
    if problem is not None:
        return {"database": {"ok": False, "reason": problem}, "now": now}
    with read_session() as session:
        activity = subsystem_activity(session)
        beats = heartbeats(session)
        counts = queue_counts(session)
        running = list_jobs(session, state="running", limit=50)
        failed = list_jobs(session, state="failed", limit=20)
        disk = disk_usage(session)
        notifications = {
            "channels": channel_status(session),
            "failures": recent_failures(session, limit=10),
        }
    return {
        "database": {"ok": True, "reason": ""},
        "now": now,
        "subsystems": activity,
        "daemons": [(beat, _daemon_alive(beat.heartbeat_at, now)) for beat in beats],
        "queue": counts,
        "running": running,
        "failed": failed,
        "receivers": receiver_states(now),
        "disk": disk,
        "notifications": notifications,
    }


@bp.get("/status")
def status_page() -> tuple[str, int]:
    info = collect_status()
    return render_template("status.html", info=info), 200 if info["database"]["ok"] else 503


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(health_bp)
