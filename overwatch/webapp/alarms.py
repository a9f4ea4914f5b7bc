"""Alarms for people and programs: the alarms page, acknowledging, and the alarms API.

``/alarms`` lists alarms (open ones first) with filters by state, subsystem and run
(``subsystem=*``: the alarms of every subsystem, e.g. receiver silences, which also
show under each subsystem);
each alarm links to its run page, at the histogram it points at. Experts acknowledge
an alarm with a CSRF-protected form POST; viewers see no button and get 403.
``GET /api/v1/alarms[?state=&subsystem=&run=]`` answers ``{"alarms": [...]}`` and
``POST /api/v1/alarms/<id>/ack`` acknowledges (expert token, or session plus CSRF
header). Views ask :mod:`overwatch.storage.alarms` for small dataclasses.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Flask
from flask import abort
from flask import flash
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from overwatch.storage.alarms import ALARM_STATES
from overwatch.storage.alarms import ALL_SUBSYSTEMS
from overwatch.storage.alarms import AlarmView
from overwatch.storage.alarms import acknowledge_alarm
from overwatch.storage.alarms import list_alarms
from overwatch.webapp.auth import protect
from overwatch.webapp.auth import require_role
from overwatch.webapp.database import read_session
from overwatch.webapp.database import write_session
from overwatch.webapp.formatting import hist_anchor
from overwatch.webapp.params import int_arg
from overwatch.webapp.security import csrf

__all__ = ["alarm_json", "alarm_url", "api_bp", "bp", "init_app"]

bp = Blueprint("alarms", __name__)
protect(bp)
api_bp = Blueprint("alarms_api", __name__, url_prefix="/api/v1")
protect(api_bp)
#: Most alarms one page or API call lists.
LIMIT = 500


def alarm_url(alarm: AlarmView) -> str | None:
    """The run page of the alarm's run, at its histogram (in the problems view)."""
    if alarm.run_number is None:
        return None
    if alarm.histogram is None:
        return url_for("runs.run_page", run_number=alarm.run_number, subsystem=alarm.subsystem)
    page = url_for(
        "runs.run_page", run_number=alarm.run_number, subsystem=alarm.subsystem, order="problems"
    )
    return f"{page}#{hist_anchor(alarm.histogram)}"


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def alarm_json(alarm: AlarmView) -> dict[str, Any]:
    return {
        "id": alarm.id,
        "state": alarm.state,
        "subsystem": alarm.subsystem,
        "run_number": alarm.run_number,
        "histogram": alarm.histogram,
        "rule": alarm.rule,
        "target": alarm.target,
        "severity": alarm.severity,
        "message": alarm.message,
        "raised_at": _time(alarm.raised_at),
        "last_seen_at": _time(alarm.last_seen_at),
        "count": alarm.count,
        "cleared_at": _time(alarm.cleared_at),
        "acknowledged_by": alarm.acknowledged_by,
        "acknowledged_at": _time(alarm.acknowledged_at),
        "url": alarm_url(alarm),
        "ack_url": url_for("alarms_api.acknowledge", alarm_id=alarm.id),
    }


def _filters() -> dict[str, Any]:
    state = request.args.get("state", "") or None
    if state is not None and state not in ALARM_STATES:
        abort(400, f"query parameter 'state' must be one of {', '.join(ALARM_STATES)}")
    subsystem = request.args.get("subsystem", "").strip() or None
    if subsystem is not None and not (
        subsystem == ALL_SUBSYSTEMS or (len(subsystem) <= 32 and subsystem.isidentifier())
    ):
        abort(
            400,
            "query parameter 'subsystem' must be a subsystem name such as EMC, "
            'or "*" for the alarms of every subsystem',
        )
    return {"state": state, "subsystem": subsystem, "run_number": int_arg("run")}


@bp.get("/alarms")
def alarms_page() -> str:
    filters = _filters()
    with read_session() as session:
        alarms = list_alarms(session, limit=LIMIT, **filters)
    return render_template(
        "alarms.html",
        alarms=alarms,
        filters=filters,
        states=ALARM_STATES,
        alarm_url=alarm_url,
        every=ALL_SUBSYSTEMS,
    )


@bp.post("/alarms/<int:alarm_id>/ack")
@require_role("expert")
def acknowledge_form(alarm_id: int) -> Response:
    with write_session() as session:
        found = acknowledge_alarm(session, alarm_id, current_user.name)
    if found is None:
        abort(404, f"no alarm {alarm_id}")
    flash(f"Alarm {alarm_id} acknowledged by {found.acknowledged_by}.")
    back = request.form.get("next", "")
    # Only our own pages: an absolute or protocol-relative URL would be an open redirect.
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("alarms.alarms_page")
    return redirect(back)


@api_bp.get("/alarms")
def alarms_api() -> Response:
    filters = _filters()
    with read_session() as session:
        alarms = list_alarms(session, limit=LIMIT, **filters)
    return jsonify({"alarms": [alarm_json(alarm) for alarm in alarms]})


@api_bp.post("/alarms/<int:alarm_id>/ack")
@require_role("expert")
def acknowledge(alarm_id: int) -> Response:
    if not current_user.via_token:
        # Browsers calling with their session cookie must prove the call came from our page.
        csrf.protect()
    with write_session() as session:
        found = acknowledge_alarm(session, alarm_id, current_user.name)
    if found is None:
        abort(404, f"no alarm {alarm_id}")
    return jsonify(alarm_json(found))


def init_app(app: Flask) -> None:
    csrf.exempt(api_bp)
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
