"""Pages for people: the run list, run pages, single histograms and the ROOT file view.

Views ask :mod:`overwatch.storage.queries` for small dataclasses and render them;
the histograms themselves are fetched by the browser from the JSON API and drawn
by JSROOT. Raw ROOT files are found through the database by id, never by a path
taken from the request.

Histogram names travel in the query string (``view?name=...``), where no browser
or proxy rewrites them: a stored name like ``..`` or ``a/../b`` would be
"normalised" away in a path. The older ``view/<name>`` form still answers.

Quality is what a shift looks at first: the run list shows each run's quality (the
worst of its subsystems') and filters by it (``?quality=bad``, keyset pages keep the
filter); the run page shows a badge per subsystem, group and histogram with the
reason and the plugin's information beside the drawing, and ``?order=problems``
lists the bad, then the medium histograms of every group first. The side menu opens
each group to links to its histograms' cards (ids from the ``anchor`` filter), and a
time slice's banner says the minutes asked for and the minutes its files allowed
(:class:`SliceSpan`).

When the subsystem has a reference run for the run shown, each 1D and 2D histogram
offers to overlay that run's histogram (normalised to the same integral) or to show
the ratio; the browser fetches the reference's stored JSON from the API and does
the arithmetic (``static/reference.js``). Experts mark the shown run as the
reference on the same page (:mod:`overwatch.webapp.references`).

The run page search runs the viewer's regular expression with RE2, whose time is
linear in the input for every pattern, so no pattern can stall a worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import re2
from flask import Blueprint
from flask import Flask
from flask import abort
from flask import redirect
from flask import render_template
from flask import request
from flask import send_file
from flask import url_for
from werkzeug.wrappers import Response

from overwatch.detectors import get_plugin
from overwatch.detectors.api import worst_quality
from overwatch.storage.alarms import alarm_counts_by_run
from overwatch.storage.alarms import list_alarms
from overwatch.storage.queries import QUALITY_FILTERS
from overwatch.storage.queries import GroupView
from overwatch.storage.queries import HistogramMeta
from overwatch.storage.queries import ResultView
from overwatch.storage.queries import SubsystemSummary
from overwatch.storage.queries import get_result
from overwatch.storage.queries import get_run
from overwatch.storage.queries import histogram_meta
from overwatch.storage.queries import list_jobs
from overwatch.storage.queries import list_runs
from overwatch.storage.queries import neighbour_runs
from overwatch.storage.queries import raw_file
from overwatch.storage.queries import requested_minutes
from overwatch.storage.queries import result_histograms
from overwatch.storage.references import reference_for
from overwatch.webapp.alarms import alarm_url
from overwatch.webapp.auth import protect
from overwatch.webapp.database import get_settings
from overwatch.webapp.database import read_session
from overwatch.webapp.database import subsystem_or_404
from overwatch.webapp.params import histogram_name_arg
from overwatch.webapp.params import int_arg

__all__ = [
    "MAX_PATTERN",
    "PER_PAGE",
    "SliceSpan",
    "bp",
    "init_app",
    "problems_first",
    "quality_arg",
    "render_run_page",
    "run_quality",
    "search_histograms",
    "slice_span",
]

PER_PAGE = 50
#: Longer search patterns are refused with a 400: nobody types more, and RE2's time
#: and memory grow with the pattern too.
MAX_PATTERN = 200

bp = Blueprint("runs", __name__)
protect(bp)


def quality_arg() -> str | None:
    """The ``quality`` filter of a run list (bad, medium, good or none); 400 for others."""
    raw = request.args.get("quality", "")
    if raw == "":
        return None
    if raw not in QUALITY_FILTERS:
        abort(400, f"query parameter 'quality' must be one of {', '.join(QUALITY_FILTERS)}")
    return raw


def run_quality(subsystems: list[SubsystemSummary]) -> str | None:
    """A run's quality: the worst of its subsystems' (``None`` if none was checked)."""
    return worst_quality([sub.quality for sub in subsystems])


@bp.get("/runs")
def run_list() -> str:
    page = int_arg("page")
    quality = quality_arg()
    with read_session() as session:
        listing = list_runs(
            session,
            page,
            PER_PAGE,
            before=int_arg("before"),
            after=int_arg("after"),
            quality=quality,
        )
        alarm_counts = alarm_counts_by_run(session, [run.run_number for run in listing.runs])
    if listing.page is not None and listing.page > listing.pages:
        abort(404, f"there are only {listing.pages} pages of runs")
    return render_template(
        "runs.html",
        listing=listing,
        quality=quality,
        quality_filters=QUALITY_FILTERS,
        alarm_counts=alarm_counts,
    )


@bp.get("/runs/<int:run_number>")
def run_redirect(run_number: int) -> Response:
    with read_session() as session:
        run = get_run(session, run_number)
    if run is None or not run.subsystems:
        abort(404, f"no run {run_number}")
    first = run.subsystems[0].name
    return redirect(url_for("runs.run_page", run_number=run_number, subsystem=first))


def _name_matcher(pattern: str) -> tuple[Callable[[str], bool], str | None]:
    """A case-insensitive test of names for ``pattern`` (RE2 syntax, else plain text), and a note."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # a viewer's typo is no server error
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        folded = pattern.casefold()
        return (
            lambda name: folded in name.casefold(),
            f"not a regular expression RE2 accepts ({reason}); searched as plain text",
        )
    return (lambda name: compiled.search(name) is not None), None


def search_histograms(groups: list[GroupView], pattern: str) -> tuple[list[GroupView], str | None]:
    """Histograms whose name matches ``pattern`` (a regular expression, else plain text).

    Patterns longer than :data:`MAX_PATTERN` are refused with a 400.
    """
    if len(pattern) > MAX_PATTERN:
        abort(400, f"the search pattern is longer than {MAX_PATTERN} characters")
    matches, note = _name_matcher(pattern)
    found = [hist for group in groups for hist in group.histograms if matches(hist.name)]
    return [GroupView(None, f"Search: {pattern}", found)], note


#: Quality order of the "problems first" view: the worst first.
PROBLEMS = ("bad", "medium")


def problems_first(
    groups: list[GroupView],
) -> tuple[list[tuple[str, HistogramMeta]], int]:
    """The bad, then the medium histograms of every group (group order kept within each
    quality), each with its group's name; and how many histograms have no problem."""
    problems = [
        (group.name, hist)
        for quality in PROBLEMS
        for group in groups
        for hist in group.histograms
        if hist.quality == quality
    ]
    total = sum(len(group.histograms) for group in groups)
    return problems, total - len(problems)


@dataclass(frozen=True)
class SliceSpan:
    """What a time slice was asked for and what its files allowed, in minutes since the
    run's first file (a slice can only start and end where a received file does)."""

    asked: tuple[float, float] | None
    allowed: tuple[float, float]
    start: datetime
    end: datetime


def slice_span(
    sub: SubsystemSummary, result: ResultView, asked: tuple[float, float] | None
) -> SliceSpan | None:
    """The span of a time-slice ``result`` of ``sub`` (``None`` for other results)."""
    if result.kind != "time_slice" or result.min_time is None or result.max_time is None:
        return None

    def minutes(when: datetime) -> float:
        return max((when - sub.run_first_file_time).total_seconds() / 60, 0.0)

    allowed = (minutes(result.min_time), minutes(result.max_time))
    return SliceSpan(asked, allowed, result.min_time, result.max_time)


def render_run_page(
    sub: SubsystemSummary,
    *,
    form_errors: dict[str, str] | None = None,
    form_values: Any = None,
) -> str:
    """The run page of one subsystem (also re-rendered with errors by the request form)."""
    result_id = int_arg("result")
    query = request.args.get("q", "").strip()
    order = request.args.get("order", "")
    if order not in ("", "groups", "problems"):
        abort(400, "query parameter 'order' must be 'groups' or 'problems'")
    with read_session() as session:
        run = get_run(session, sub.run_number)
        assert run is not None  # the subsystem row was just read
        previous, following = neighbour_runs(session, sub.run_number)
        result = None
        if result_id is not None:
            result = get_result(session, result_id, sub.id)
            if result is None:
                abort(404, f"no result {result_id} for run {sub.run_number} {sub.name}")
        asked = requested_minutes(session, result.id) if result is not None else None
        shown_id = result.id if result is not None else sub.current_result_id
        groups = result_histograms(session, shown_id) if shown_id is not None else []
        jobs = list_jobs(session, subsystem_id=sub.id, limit=8)
        alarms = list_alarms(session, run_number=sub.run_number, limit=50)
        reference = reference_for(session, sub.name, sub.run_number)
    search_note = None
    problems, unproblematic = problems_first(groups)
    show_problems = order == "problems" and not query
    if show_problems:
        selected = None
    elif query:
        shown_groups, search_note = search_histograms(groups, query)
        selected = shown_groups[0] if shown_groups else None
    else:
        wanted = request.args.get("group")
        selected = next((g for g in groups if g.name == wanted), groups[0] if groups else None)
    settings = get_settings()
    return render_template(
        "run.html",
        run=run,
        sub=sub,
        groups=groups,
        selected=selected,
        result=result,
        span=slice_span(sub, result, asked) if result is not None else None,
        query=query,
        search_note=search_note,
        show_problems=show_problems,
        problems=problems,
        unproblematic=unproblematic,
        run_quality=run_quality(run.subsystems),
        previous=previous,
        following=following,
        jobs=jobs,
        alarms=alarms,
        alarm_url=alarm_url,
        reference=reference,
        options=[option.describe() for option in get_plugin(sub.name).options],
        form_errors=form_errors or {},
        form_values=form_values or {},
        live_seconds=settings.live_refresh_seconds,
    )


@bp.get("/runs/<int:run_number>/<subsystem>")
def run_page(run_number: int, subsystem: str) -> str:
    return render_run_page(subsystem_or_404(run_number, subsystem))


@bp.get("/runs/<int:run_number>/<subsystem>/view")
def histogram_page(run_number: int, subsystem: str) -> str:
    """One histogram, large: ``?name=NAME`` (any stored name) and optionally ``&result=ID``."""
    return _histogram_page(run_number, subsystem, histogram_name_arg())


@bp.get("/runs/<int:run_number>/<subsystem>/view/<path:name>")
def histogram_page_by_path(run_number: int, subsystem: str, name: str) -> str:
    """The older form of :func:`histogram_page` (names without ``.``/``..`` segments)."""
    return _histogram_page(run_number, subsystem, name)


def _histogram_page(run_number: int, subsystem: str, name: str) -> str:
    sub = subsystem_or_404(run_number, subsystem)
    result_id = int_arg("result")
    with read_session() as session:
        if result_id is not None and get_result(session, result_id, sub.id) is None:
            abort(404, f"no result {result_id} for run {run_number} {subsystem}")
        shown = result_id if result_id is not None else sub.current_result_id
        hist = histogram_meta(session, shown, name) if shown is not None else None
        reference = reference_for(session, sub.name, sub.run_number)
    if hist is None:
        abort(404, f"no histogram {name!r} in run {run_number} {subsystem}")
    return render_template(
        "histogram.html", sub=sub, hist=hist, result_id=result_id, reference=reference
    )


@bp.get("/runs/<int:run_number>/<subsystem>/file")
def root_file_page(run_number: int, subsystem: str) -> str:
    sub = subsystem_or_404(run_number, subsystem)
    with read_session() as session:
        found = raw_file(session, sub.id, int_arg("file"))
    if found is None:
        abort(404, f"run {run_number} {subsystem} has no received file")
    return render_template("rootfile.html", sub=sub, file_id=found[0], file_name=found[2])


@bp.get("/runs/<int:run_number>/<subsystem>/file/raw")
def raw_root_file(run_number: int, subsystem: str) -> Response:
    """The received ROOT file itself (newest, or ``?file=ID``), with HTTP range support for JSROOT."""
    return _serve_file(subsystem_or_404(run_number, subsystem), int_arg("file"), None)


@bp.get("/runs/<int:run_number>/<subsystem>/files/<int:file_id>/<file_name>")
def named_root_file(run_number: int, subsystem: str, file_id: int, file_name: str) -> Response:
    """The same file under its own name, so JSROOT's file browser shows a meaningful title."""
    return _serve_file(subsystem_or_404(run_number, subsystem), file_id, file_name)


@bp.get("/runs/<int:run_number>/<subsystem>/file/object")
def root_file_object(run_number: int, subsystem: str) -> Response:
    """One object (``?name=dir/hist``) of a received file (``?file=ID``) as processing
    stores it for drawing: the file view asks for it when JSROOT read a function without
    saved points, which it could only draw by compiling the formula (refused by the CSP)."""
    # Imported here: only this view reads ROOT files (uproot) in a web worker.
    from overwatch.processing.drawing import NotDrawableError  # noqa: PLC0415
    from overwatch.processing.drawing import drawing_json  # noqa: PLC0415
    from overwatch.processing.reader import CorruptFileError  # noqa: PLC0415

    path, file_name = _file_on_disk(subsystem_or_404(run_number, subsystem), int_arg("file"))
    name = request.args.get("name", "")
    max_bins = get_settings().max_histogram_bins or None
    try:
        data = drawing_json(path, name, max_bins=max_bins)
    except NotDrawableError as exc:
        abort(404, f"{file_name}: {exc.reason}")
    except CorruptFileError as exc:
        abort(404, f"{file_name} cannot be read: {exc.reason}")
    response = Response(data, mimetype="application/json")
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _file_on_disk(
    sub: SubsystemSummary, file_id: int | None, file_name: str | None = None
) -> tuple[Path, str]:
    """The path and name of a subsystem's received file that is still on disk, else 404."""
    with read_session() as session:
        found = raw_file(session, sub.id, file_id)
    if found is None or (file_name is not None and found[2] != file_name):
        abort(404, f"run {sub.run_number} {sub.name} has no such received file")
    settings = get_settings()
    path = settings.received_file_path(found[1], found[3]).resolve()
    # The path comes from the database, but a tampered row must still not leave the
    # data dir (or the archive, for an archived run).
    inside = any(
        path.is_relative_to(base.resolve())
        for base in (settings.data_dir, settings.effective_archive_dir)
    )
    if found[3] == "pruned" or not inside or not path.is_file():
        abort(404, f"{found[2]} is no longer on disk (removed by the retention policy)")
    return path, found[2]


def _serve_file(sub: SubsystemSummary, file_id: int | None, file_name: str | None) -> Response:
    return _send_root_file(*_file_on_disk(sub, file_id, file_name))


def _send_root_file(path: Path, name: str) -> Response:
    response = send_file(
        path,
        mimetype="application/octet-stream",
        as_attachment=request.args.get("download") == "1",
        download_name=name,
        conditional=True,
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    # Groups and runs aggregate like subsystems do: the worst quality wins.
    app.add_template_filter(worst_quality, "worst")
