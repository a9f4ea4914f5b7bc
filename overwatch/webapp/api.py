"""The JSON API under ``/api/v1/`` (described at ``/api/v1/openapi.json``).

Histogram JSON is the hot path: one indexed query returns the stored gzip bytes,
which go out as they are with ``Content-Encoding: gzip``, a strong ETag and
``Cache-Control``. For the rare client that refuses gzip they are inflated chunk
by chunk while the response is sent, so a huge histogram never sits decompressed
in a worker's memory.

A histogram is addressed as ``.../histogram?name=NAME``: in the query string every
stored name arrives as stored, where a path would lose ``.``/``..`` segments to
URL normalisation. The older ``.../histograms/<name>`` form still answers.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from typing import Any
from typing import NoReturn

from flask import Blueprint
from flask import Flask
from flask import abort
from flask import jsonify
from flask import request
from flask import url_for
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from overwatch.detectors import get_plugin
from overwatch.storage.queries import HistogramMeta
from overwatch.storage.queries import HistogramPayload
from overwatch.storage.queries import JobView
from overwatch.storage.queries import RunSummary
from overwatch.storage.queries import SubsystemSummary
from overwatch.storage.queries import get_job
from overwatch.storage.queries import get_result
from overwatch.storage.queries import get_run
from overwatch.storage.queries import histogram_payload
from overwatch.storage.queries import list_runs
from overwatch.storage.queries import result_histograms
from overwatch.storage.references import InvalidReferenceError
from overwatch.storage.references import ReferenceView
from overwatch.storage.references import list_references
from overwatch.storage.references import reference_for
from overwatch.storage.references import set_reference
from overwatch.webapp.auth import protect
from overwatch.webapp.auth import require_role
from overwatch.webapp.database import get_db
from overwatch.webapp.database import read_session
from overwatch.webapp.database import subsystem_or_404
from overwatch.webapp.database import write_session
from overwatch.webapp.errors import api_error
from overwatch.webapp.formatting import is_ongoing
from overwatch.webapp.openapi import openapi_document
from overwatch.webapp.params import histogram_name_arg
from overwatch.webapp.params import int_arg
from overwatch.webapp.runs import quality_arg
from overwatch.webapp.runs import run_quality
from overwatch.webapp.security import csrf
from overwatch.webapp.slicing import submit
from overwatch.webapp.status import collect_status

__all__ = ["REFERENCE_RUN_HEADER", "bp", "docs_bp", "init_app"]

bp = Blueprint("api", __name__, url_prefix="/api/v1")
protect(bp)
docs_bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")
MAX_PER_PAGE = 200
#: The current result changes while a run goes on: always revalidate (cheap with the ETag).
CURRENT_CACHE = "private, no-cache"
#: A stored time slice or reprocessing never changes.
RESULT_CACHE = "private, max-age=86400, immutable"
#: Bytes of gzip fed to, and at most produced by, one inflate step for identity clients.
INFLATE_CHUNK = 256 * 1024
#: The reference histogram's response names the run it comes from.
REFERENCE_RUN_HEADER = "Overwatch-Reference-Run"


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _subsystem_json(sub: SubsystemSummary) -> dict[str, Any]:
    return {
        "name": sub.name,
        "quality": sub.quality,
        "hlt_mode": sub.hlt_mode,
        "accumulation_mode": sub.accumulation_mode,
        "file_count": sub.file_count,
        "first_file_time": _time(sub.first_file_time),
        "last_file_time": _time(sub.last_file_time),
        "length_minutes": round(sub.length_minutes, 3),
        "ongoing": is_ongoing(sub.last_file_time),
        "url": url_for("api.subsystem", run_number=sub.run_number, subsystem=sub.name),
    }


def _run_json(run: RunSummary) -> dict[str, Any]:
    return {
        "run_number": run.run_number,
        "first_file_time": _time(run.first_file_time),
        "last_file_time": _time(run.last_file_time),
        "ongoing": is_ongoing(run.last_file_time),
        "quality": run_quality(run.subsystems),
        "subsystems": [_subsystem_json(sub) for sub in run.subsystems],
    }


def _histogram_json(
    sub: SubsystemSummary, hist: HistogramMeta, result_id: int | None
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "run_number": sub.run_number,
        "subsystem": sub.name,
        "name": hist.name,
    }
    if result_id is not None:
        values["result"] = result_id
    url = url_for("api.histogram", **values)
    data = asdict(hist)
    data.pop("group_id")
    data["url"] = url if hist.drawable else None
    # Every check's result (empty until checks store theirs), named as in the API.
    data["checks"] = [
        {"check": check.check, "quality": check.quality, "reason": check.reason}
        for check in hist.checks
    ]
    return data


def _job_json(job: JobView) -> dict[str, Any]:
    data = asdict(job)
    data["created_at"] = _time(job.created_at)
    data["finished_at"] = _time(job.finished_at)
    data["url"] = url_for("api.job", job_id=job.id)
    if job.result_id is not None and job.run_number is not None and job.subsystem:
        data["result_url"] = url_for(
            "api.subsystem",
            run_number=job.run_number,
            subsystem=job.subsystem,
            result=job.result_id,
        )
    return data


@bp.get("/runs")
def runs() -> Response:
    """Runs newest first: ``?page=N``, or ``?before=RUN`` / ``?after=RUN`` (keyset, follow
    ``older``/``newer``); ``?quality=bad|medium|good|none`` keeps the runs of that quality."""
    per_page = min(max(int_arg("per_page", 50) or 50, 1), MAX_PER_PAGE)
    quality = quality_arg()
    with read_session() as session:
        listing = list_runs(
            session,
            int_arg("page"),
            per_page,
            before=int_arg("before"),
            after=int_arg("after"),
            quality=quality,
        )
    keep: dict[str, Any] = {"quality": quality} if quality else {}
    links: dict[str, str | None] = {"newer": None, "older": None}
    if listing.runs and listing.has_newer:
        links["newer"] = url_for(
            "api.runs", after=listing.runs[0].run_number, per_page=per_page, **keep
        )
    if listing.runs and listing.has_older:
        links["older"] = url_for(
            "api.runs", before=listing.runs[-1].run_number, per_page=per_page, **keep
        )
    return jsonify(
        {
            "page": listing.page,
            "per_page": listing.per_page,
            "pages": listing.pages,
            "total": listing.total,
            **links,
            "runs": [_run_json(run) for run in listing.runs],
        }
    )


@bp.get("/runs/<int:run_number>")
def run(run_number: int) -> Response:
    with read_session() as session:
        found = get_run(session, run_number)
    if found is None:
        abort(404, f"no run {run_number}")
    return jsonify(_run_json(found))


@bp.get("/runs/<int:run_number>/<subsystem>")
def subsystem(run_number: int, subsystem: str) -> Response:
    """A subsystem's groups with their histograms (current result, or ``?result=ID``)."""
    sub = subsystem_or_404(run_number, subsystem)
    result_id = int_arg("result")
    with read_session() as session:
        result = get_result(session, result_id, sub.id) if result_id is not None else None
        if result_id is not None and result is None:
            abort(404, f"no result {result_id} for run {run_number} {subsystem}")
        shown = result_id if result_id is not None else sub.current_result_id
        groups = result_histograms(session, shown) if shown is not None else []
    data = _subsystem_json(sub)
    data["run_number"] = run_number
    data["result"] = (
        {
            "id": result.id,
            "kind": result.kind,
            "options": result.options,
            "quality": result.quality,
            "min_time": _time(result.min_time),
            "max_time": _time(result.max_time),
        }
        if result is not None
        else None
    )
    data["groups"] = [
        {
            "name": group.name,
            "layout": group.layout,
            "columns": group.columns,
            "histograms": [_histogram_json(sub, h, result_id) for h in group.histograms],
        }
        for group in groups
    ]
    return jsonify(data)


def inflate(data: bytes, chunk: int = INFLATE_CHUNK) -> Iterator[bytes]:
    """The decompressed content of gzip ``data``, in pieces of at most ``chunk`` bytes."""
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)  # | 16: gzip header and trailer
    view = memoryview(data)
    for start in range(0, len(view), chunk):
        pending: bytes | memoryview = view[start : start + chunk]
        while pending and not inflater.eof:
            # max_length bounds the output of one step: a chunk of zeros inflates 1000-fold.
            piece = inflater.decompress(pending, chunk)
            pending = inflater.unconsumed_tail
            if piece:
                yield piece
        if inflater.eof:
            break
    rest = inflater.flush()
    if rest:
        yield rest
    if not inflater.eof:
        raise zlib.error("stored histogram JSON is truncated")


@bp.get("/runs/<int:run_number>/<subsystem>/histogram")
def histogram(run_number: int, subsystem: str) -> Response:
    """One histogram's JSROOT JSON, straight from storage: ``?name=NAME[&result=ID]``."""
    return _histogram_response(run_number, subsystem, histogram_name_arg())


@bp.get("/runs/<int:run_number>/<subsystem>/histograms/<path:name>")
def histogram_by_path(run_number: int, subsystem: str, name: str) -> Response:
    """The older form of :func:`histogram` (names without ``.``/``..`` segments)."""
    return _histogram_response(run_number, subsystem, name)


def _histogram_response(run_number: int, subsystem: str, name: str) -> Response:
    result_id = int_arg("result")
    # One read needs no transaction: autocommit spares PostgreSQL a BEGIN and a ROLLBACK.
    engine = get_db().engine.execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        payload = histogram_payload(connection, run_number, subsystem, name, result_id)
    if payload is None:
        abort(404, f"no histogram {name!r} in run {run_number} {subsystem}")
    return _payload_response(
        payload, name, RESULT_CACHE if result_id is not None else CURRENT_CACHE
    )


def _payload_response(payload: HistogramPayload, name: str, cache: str) -> Response:
    """Stored JSROOT JSON as it is (gzip), or inflated for clients that refuse gzip."""
    if payload.json_gz is None:
        abort(
            422, f"{name!r} could not be converted for JSROOT: {payload.error or 'no JSON stored'}"
        )
    if request.if_none_match.contains(payload.etag):
        response = Response(status=304)
    elif request.accept_encodings["gzip"]:
        response = Response(payload.json_gz, mimetype="application/json")
        response.headers["Content-Encoding"] = "gzip"
    else:
        # A generator: inflated piece by piece as the client reads (no Content-Length).
        response = Response(inflate(payload.json_gz), mimetype="application/json")
    response.set_etag(payload.etag)
    response.headers["Cache-Control"] = cache
    response.headers["Vary"] = "Accept-Encoding"
    return response


def _reference_or_404(session: Session, run_number: int, subsystem: str) -> ReferenceView:
    found = reference_for(session, subsystem, run_number)
    if found is None:
        abort(404, f"no reference run set for {subsystem} (run {run_number})")
    return found


@bp.get("/runs/<int:run_number>/<subsystem>/reference")
def run_reference(run_number: int, subsystem: str) -> Response:
    """Which run is the reference of ``subsystem`` for this run (never the run itself)."""
    sub = subsystem_or_404(run_number, subsystem)
    with read_session() as session:
        view = _reference_or_404(session, run_number, sub.name)
    data = _reference_json(view)
    data["histogram_url"] = url_for(
        "api.reference_histogram", run_number=run_number, subsystem=sub.name
    )
    return jsonify(data)


@bp.get("/runs/<int:run_number>/<subsystem>/reference/histogram")
def reference_histogram(run_number: int, subsystem: str) -> Response:
    """The reference run's histogram ``?name=NAME`` as stored (JSROOT JSON), for overlays.

    The header ``Overwatch-Reference-Run`` names the reference run.
    """
    name = histogram_name_arg()
    sub = subsystem_or_404(run_number, subsystem)
    with read_session() as session:
        view = _reference_or_404(session, run_number, sub.name)
        payload = histogram_payload(session, view.run_number, sub.name, name)
    if payload is None:
        abort(
            404,
            f"the reference run {view.run_number} of {sub.name} has no histogram {name!r}",
        )
    # The reference may be changed, or its run reprocessed, at any time: revalidate.
    response = _payload_response(payload, name, CURRENT_CACHE)
    response.headers[REFERENCE_RUN_HEADER] = str(view.run_number)
    return response


@bp.get("/runs/<int:run_number>/<subsystem>/options")
def options(run_number: int, subsystem: str) -> Response:
    sub = subsystem_or_404(run_number, subsystem)
    return jsonify({"options": [option.describe() for option in get_plugin(sub.name).options]})


def _request(run_number: int, subsystem: str, kind: str) -> tuple[Response, int]:
    if not current_user.via_token:
        # Browsers calling with their session cookie must prove the call came from our page.
        csrf.protect()
    sub = subsystem_or_404(run_number, subsystem)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "send a JSON object")
    options = body.get("options", {})
    if not isinstance(options, dict):
        abort(400, "'options' must be an object of option names to values")
    minutes = (body.get("min_minutes"), body.get("max_minutes")) if kind == "time_slice" else None
    outcome = submit(sub, kind, options, minutes, current_user.name)
    if outcome.errors:
        reason = "; ".join(f"{key}: {value}" for key, value in outcome.errors.items())
        error = {"status": outcome.status, "reason": reason, "fields": outcome.errors}
        return jsonify({"error": error}), outcome.status
    if outcome.result_id is not None:
        url = url_for(
            "api.subsystem", run_number=run_number, subsystem=subsystem, result=outcome.result_id
        )
        return jsonify({"state": "done", "result_id": outcome.result_id, "result_url": url}), 200
    assert outcome.job_id is not None
    job_url = url_for("api.job", job_id=outcome.job_id)
    response = jsonify({"state": "queued", "job_id": outcome.job_id, "job_url": job_url})
    response.headers["Location"] = job_url
    return response, 202


@bp.post("/runs/<int:run_number>/<subsystem>/time-slices")
@require_role("expert")
def time_slice(run_number: int, subsystem: str) -> tuple[Response, int]:
    return _request(run_number, subsystem, "time_slice")


@bp.post("/runs/<int:run_number>/<subsystem>/reprocessings")
@require_role("expert")
def reprocessing(run_number: int, subsystem: str) -> tuple[Response, int]:
    return _request(run_number, subsystem, "reprocess")


def _reference_json(view: ReferenceView) -> dict[str, Any]:
    return {
        "subsystem": view.subsystem,
        "run_number": view.run_number,
        "runs": list(view.runs) if view.runs else None,
        "set_by": view.set_by,
        "set_at": _time(view.set_at),
    }


@bp.get("/references")
def references() -> Response:
    """Every subsystem's reference runs: the default one (``runs`` null) and per range."""
    with read_session() as session:
        views = list_references(session)
    return jsonify({"references": [_reference_json(view) for view in views]})


def _reference_body() -> tuple[int, tuple[int, int] | None]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "send a JSON object")
    run_number = body.get("run_number")
    if isinstance(run_number, bool) or not isinstance(run_number, int):
        _refuse("run_number", "must be a run number (an integer)")
    runs = body.get("runs")
    if runs is None:
        return run_number, None
    if (
        not isinstance(runs, list)
        or len(runs) != 2
        or any(isinstance(r, bool) or not isinstance(r, int) for r in runs)
    ):
        _refuse("runs", "must be [first, last] run numbers, or null for every run")
    if runs[0] > runs[1]:
        _refuse("runs", f"the range {runs[0]}-{runs[1]} is empty")
    return run_number, (runs[0], runs[1])


def _refuse(field: str, reason: str) -> NoReturn:
    abort(api_error(400, f"{field}: {reason}", fields={field: reason}))


@bp.put("/references/<subsystem>")
@require_role("expert")
def reference(subsystem: str) -> Response:
    """Mark a run as the reference of a subsystem: ``{"run_number": N, "runs": [A, B] | null}``."""
    if not current_user.via_token:
        csrf.protect()
    run_number, runs = _reference_body()
    with write_session() as session:
        try:
            view = set_reference(
                session, subsystem, run_number, runs=runs, set_by=current_user.name
            )
        except InvalidReferenceError as exc:
            _refuse(exc.field, exc.reason)
        data = _reference_json(view)
    return jsonify(data)


@bp.get("/jobs/<int:job_id>")
def job(job_id: int) -> Response:
    with read_session() as session:
        found = get_job(session, job_id)
    if found is None:
        abort(404, f"no job {job_id}")
    return jsonify(_job_json(found))


@bp.get("/status")
def status() -> tuple[Response, int]:
    info = collect_status()
    if not info["database"]["ok"]:
        return jsonify({"database": info["database"]}), 503
    now = info["now"]
    return jsonify(
        {
            "database": info["database"],
            "queue": info["queue"],
            "disk": [
                {
                    "subsystem": usage.subsystem,
                    "files": usage.files,
                    "bytes_on_disk": usage.bytes_on_disk,
                    "files_archived": usage.files_archived,
                    "bytes_archived": usage.bytes_archived,
                    "files_pruned": usage.files_pruned,
                }
                for usage in info["disk"]
            ],
            "subsystems": [
                {
                    "name": item.name,
                    "run_number": item.run_number,
                    "last_file_time": _time(item.last_file_time),
                    "last_file_name": item.last_file_name,
                    "age_seconds": round((now - item.last_file_time).total_seconds(), 1),
                }
                for item in info["subsystems"]
            ],
            "daemons": [
                {
                    "name": beat.name,
                    "heartbeat_at": _time(beat.heartbeat_at),
                    "alive": alive,
                    # Versions in use and the last failed reload of plugins and checks.
                    "plugins": (beat.info or {}).get("plugins"),
                }
                for beat, alive in info["daemons"]
            ],
            "running": [_job_json(item) for item in info["running"]],
            "failed": [_job_json(item) for item in info["failed"]],
            "receivers": [
                {
                    "name": item.name,
                    "kind": item.kind,
                    "alive": alive,
                    "first_seen_at": _time(item.first_seen_at),
                    "last_seen_at": _time(item.last_seen_at),
                    "age_seconds": round((now - item.last_seen_at).total_seconds(), 1),
                    "last_file": item.last_file,
                    "last_file_at": _time(item.last_file_at),
                    "accepted": item.accepted,
                    "refused": item.refused,
                    "bytes": item.bytes,
                    "last_refusal_reason": item.last_refusal_reason,
                    "last_refusal_at": _time(item.last_refusal_at),
                }
                for item, alive in info["receivers"]
            ],
            "notifications": {
                "channels": [
                    {
                        "channel": item.channel,
                        "sent": item.sent,
                        "pending": item.pending,
                        "failed": item.failed,
                        "last_sent_at": _time(item.last_sent_at),
                        "last_error": item.last_error,
                        "last_error_at": _time(item.last_error_at),
                    }
                    for item in info["notifications"]["channels"]
                ],
                "failures": [
                    {
                        "id": item.id,
                        "channel": item.channel,
                        "kind": item.kind,
                        "title": item.title,
                        "state": item.state,
                        "attempts": item.attempts,
                        "next_attempt_at": _time(item.next_attempt_at),
                        "last_error": item.last_error,
                        "history": item.history,
                    }
                    for item in info["notifications"]["failures"]
                ],
            },
        }
    ), 200


@docs_bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(docs_bp)
    app.register_blueprint(bp)
