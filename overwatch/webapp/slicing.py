"""Time slices and reprocessing: validation, job submission, the form and the job page.

:func:`submit` is shared by the run-page form and the API. It checks the minutes
against the run's length and the options against the detector plugin, serves a
stored result for a request made before (no recomputation), and otherwise queues
a job for the processing daemon, behind live processing and within the user's
quota of queued requests (over it, the request is refused: 429). A job's page
follows the job and, once it is done, leads to its result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import abort
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from overwatch.detectors import OptionError
from overwatch.detectors import get_plugin
from overwatch.storage.jobs import QueueQuotaError
from overwatch.storage.jobs import enqueue_request
from overwatch.storage.queries import SubsystemSummary
from overwatch.storage.queries import get_job
from overwatch.storage.records import find_result
from overwatch.storage.records import request_key
from overwatch.webapp.auth import protect
from overwatch.webapp.auth import require_role
from overwatch.webapp.database import get_settings
from overwatch.webapp.database import read_session
from overwatch.webapp.database import subsystem_or_404
from overwatch.webapp.database import write_session
from overwatch.webapp.runs import render_run_page

__all__ = ["KINDS", "Submission", "bp", "init_app", "parse_form", "submit"]

KINDS = ("time_slice", "reprocess")
#: Rounding slack: the form shows the run length to two decimals.
LENGTH_TOLERANCE_MINUTES = 0.01

bp = Blueprint("slicing", __name__)
protect(bp)


@dataclass
class Submission:
    """Outcome of a request: a queued job, a stored result, or errors per field."""

    job_id: int | None = None
    result_id: int | None = None
    errors: dict[str, str] = field(default_factory=dict)
    #: The user's quota of queued requests is used up (errors["quota"] says so).
    over_quota: bool = False

    @property
    def status(self) -> int:
        """HTTP status for a refused request."""
        return 429 if self.over_quota else 400


def _minutes(raw: Any, name: str, errors: dict[str, str]) -> float | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        errors[name] = "required"
        return None
    if isinstance(raw, bool):
        errors[name] = "expected a number of minutes"
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        errors[name] = "expected a number of minutes"
        return None
    if not math.isfinite(value):
        errors[name] = "expected a finite number of minutes"
        return None
    return value


def _check_range(
    sub: SubsystemSummary, low: float | None, high: float | None, errors: dict[str, str]
) -> None:
    length = sub.length_minutes
    if low is not None and low < 0:
        errors["min_minutes"] = "must not be negative"
    elif low is not None and low >= length and low > 0:
        errors["min_minutes"] = f"the run is only {length:.2f} minutes long"
    if low is None or high is None:
        return
    if high <= low:
        errors.setdefault("max_minutes", "must be greater than the start of the slice")
    elif high > length + LENGTH_TOLERANCE_MINUTES:
        errors["max_minutes"] = f"the run is only {length:.2f} minutes long"


def submit(
    sub: SubsystemSummary,
    kind: str,
    options: dict[str, Any],
    minutes: tuple[Any, Any] | None,
    user: str,
) -> Submission:
    """Validate a request and queue it (or find it stored)."""
    errors: dict[str, str] = {}
    if kind not in KINDS:
        return Submission(errors={"kind": f"must be one of {', '.join(KINDS)}"})
    span: tuple[float, float] | None = None
    if kind == "time_slice":
        low = _minutes(minutes[0] if minutes else None, "min_minutes", errors)
        high = _minutes(minutes[1] if minutes else None, "max_minutes", errors)
        _check_range(sub, low, high, errors)
        if low is not None and high is not None:
            span = (low, min(high, sub.length_minutes))
    try:
        validated = get_plugin(sub.name).validate_options(options)
    except OptionError as exc:
        errors[f"option:{exc.option}"] = exc.reason
        validated = {}
    if errors:
        return Submission(errors=errors)
    key = request_key(kind, validated, span)
    with write_session() as session:
        stored = find_result(session, sub.id, kind, key)
        if stored is not None:
            return Submission(result_id=stored.id)
        params: dict[str, Any] = {"options": validated}
        if span is not None:
            params.update(min_minutes=span[0], max_minutes=span[1])
        try:
            job = enqueue_request(
                session,
                kind=kind,
                dedupe_key=f"{kind}:{sub.id}:{key}",
                subsystem_id=sub.id,
                run_number=sub.run_number,
                subsystem=sub.name,
                params=params,
                requested_by=user,
                quota=get_settings().request_queue_quota,
            )
        except QueueQuotaError as exc:
            return Submission(errors={"quota": str(exc)}, over_quota=True)
        return Submission(job_id=job.id)


def parse_form(sub: SubsystemSummary, form: Any) -> dict[str, Any]:
    """Processing options from a form: unchecked boxes mean False, empty fields the default."""
    options: dict[str, Any] = {}
    for option in get_plugin(sub.name).options:
        field_name = f"opt_{option.name}"
        if option.type is bool:
            options[option.name] = field_name in form
        elif form.get(field_name, "").strip():
            options[option.name] = form[field_name].strip()
    return options


@bp.post("/runs/<int:run_number>/<subsystem>/requests")
@require_role("expert")
def request_form(run_number: int, subsystem: str) -> Response | tuple[str, int]:
    sub = subsystem_or_404(run_number, subsystem)
    kind = request.form.get("kind", "time_slice")
    minutes = (request.form.get("min_minutes"), request.form.get("max_minutes"))
    outcome = submit(sub, kind, parse_form(sub, request.form), minutes, current_user.name)
    if outcome.errors:
        page = render_run_page(sub, form_errors=outcome.errors, form_values=request.form)
        return page, outcome.status
    if outcome.result_id is not None:
        return redirect(
            url_for(
                "runs.run_page",
                run_number=run_number,
                subsystem=subsystem,
                result=outcome.result_id,
            )
        )
    return redirect(url_for("slicing.job_page", job_id=outcome.job_id))


@bp.get("/jobs/<int:job_id>")
def job_page(job_id: int) -> str | Response:
    """A request's progress; once it is done, its result (the page follows a running job
    and opens the result by itself, see static/job.js)."""
    with read_session() as session:
        job = get_job(session, job_id)
    if job is None:
        abort(404, f"no job {job_id}")
    if job.state == "done" and job.result_id is not None and job.run_number and job.subsystem:
        return redirect(
            url_for(
                "runs.run_page",
                run_number=job.run_number,
                subsystem=job.subsystem,
                result=job.result_id,
            )
        )
    return render_template("job.html", job=job)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
