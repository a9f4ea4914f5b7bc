"""The run page's "Make this run the reference" form (expert role).

It does what ``overwatch reference set SUBSYSTEM RUN [--runs A-B]`` and
``PUT /api/v1/references/<subsystem>`` do, through the same storage function
(:func:`~overwatch.storage.references.set_reference`) and the same reading of a
range (:func:`~overwatch.storage.references.parse_runs`): the shown run becomes
the subsystem's reference for every run, or for the runs A-B. The form carries a
CSRF token like every form of the app; a post without it is refused (400).

A refused form re-renders the run page with the reason beside the field (400);
a stored reference redirects back to the run page with a note saying what was set.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Flask
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from overwatch.storage.references import InvalidReferenceError
from overwatch.storage.references import ReferenceView
from overwatch.storage.references import parse_runs
from overwatch.storage.references import set_reference
from overwatch.webapp.auth import protect
from overwatch.webapp.auth import require_role
from overwatch.webapp.database import subsystem_or_404
from overwatch.webapp.database import write_session
from overwatch.webapp.runs import render_run_page

__all__ = ["FORM_ERROR_PREFIX", "bp", "describe", "init_app"]

#: Keys of this form's errors in the run page's ``form_errors`` (the request form has its own).
FORM_ERROR_PREFIX = "reference:"

bp = Blueprint("references", __name__)
protect(bp)


def describe(view: ReferenceView) -> str:
    """What a reference covers, in words: "every run" or "runs A-B"."""
    return f"runs {view.runs[0]}-{view.runs[1]}" if view.runs else "every run"


@bp.post("/runs/<int:run_number>/<subsystem>/reference")
@require_role("expert")
def set_form(run_number: int, subsystem: str) -> Response | tuple[str, int]:
    """Mark the run as the subsystem's reference (``runs``: an optional range ``A-B``)."""
    sub = subsystem_or_404(run_number, subsystem)
    text = request.form.get("runs", "").strip()
    try:
        runs = parse_runs(text or None)
        with write_session() as session:
            view = set_reference(session, sub.name, run_number, runs=runs, set_by=current_user.name)
    except InvalidReferenceError as exc:
        errors = {FORM_ERROR_PREFIX + exc.field: exc.reason}
        return render_run_page(sub, form_errors=errors, form_values=request.form), 400
    flash(
        f"{sub.name}: run {run_number} is now the reference for {describe(view)}. "
        "Reference checks use it the next time a run is processed."
    )
    return redirect(url_for("runs.run_page", run_number=run_number, subsystem=sub.name))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_filter(describe, "reference_scope")
