"""Trending pages (``/trends``, ``/trends/<subsystem>``) and the trends API.

``GET /api/v1/trends/<subsystem>`` lists the subsystem's trends (configured, or
with stored values) with the URL of each; ``GET <url>?x=run|time[&since=&until=
&format=csv]`` answers its points, in time order (every processing) or in run
order (each run's last value), with the limits drawn as bands
(:func:`~overwatch.monitoring.trending.trend_limits`). ``since``/``until`` are
run numbers (whole numbers) or ISO 8601 times (UTC when no offset is given);
anything else is a 400 naming the parameter.

The page is drawn in the browser by ``static/trends.js`` from that JSON with
JSROOT (a ``TMultiGraph``: limit bands, then the values); no inline script.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import Literal

from flask import Blueprint
from flask import Flask
from flask import abort
from flask import jsonify
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from overwatch.monitoring.trending import trend_limits
from overwatch.monitoring.trending.config import TrendSpec
from overwatch.storage.trends import TrendPoint
from overwatch.storage.trends import trend_series
from overwatch.storage.trends import trend_subsystems
from overwatch.storage.trends import trend_summaries
from overwatch.webapp.auth import protect
from overwatch.webapp.database import get_settings
from overwatch.webapp.database import read_session
from overwatch.webapp.errors import api_error
from overwatch.webapp.params import DB_INT_MAX

__all__ = ["TrendEntry", "api_bp", "bp", "init_app", "parse_bound"]

bp = Blueprint("trends", __name__, url_prefix="/trends")
protect(bp)
api_bp = Blueprint("trends_api", __name__, url_prefix="/api/v1/trends")
protect(api_bp)

X_AXES = ("time", "run")
FORMATS = ("json", "csv")


@dataclass(frozen=True)
class TrendEntry:
    """One trend of a subsystem as listed: its definition (if configured) and stored values."""

    name: str
    title: str
    kind: str
    histogram: str
    configured: bool
    points: int
    last_time: datetime | None
    last_run: int | None


def _subsystems() -> list[str]:
    configured = [name for name, specs in get_settings().trending.subsystems.items() if specs]
    with read_session() as session:
        stored = trend_subsystems(session)
    return sorted({*configured, *stored})


def _entries(subsystem: str) -> list[TrendEntry]:
    """Configured trends in configuration order, then trends only the database still holds."""
    specs: tuple[TrendSpec, ...] = get_settings().trending.for_subsystem(subsystem)
    with read_session() as session:
        stored = {item.name: item for item in trend_summaries(session, subsystem)}
    entries = []
    for spec in specs:
        item = stored.pop(spec.name, None)
        entries.append(
            TrendEntry(spec.name, spec.label, spec.kind, spec.histogram, True,
                       item.points if item else 0, item.last_time if item else None,
                       item.last_run if item else None)
        )  # fmt: skip
    entries += [
        TrendEntry(name, name, "", "", False, item.points, item.last_time, item.last_run)
        for name, item in sorted(stored.items())
    ]
    return entries


def _entries_or_404(subsystem: str) -> list[TrendEntry]:
    entries = _entries(subsystem)
    if not entries:
        abort(404, f"no trends for subsystem {subsystem}")
    return entries


def parse_bound(name: str, raw: str | None) -> datetime | int | None:
    """``since``/``until``: a run number, or an ISO 8601 time (UTC when naive); 400 otherwise."""
    if raw is None or raw == "":
        return None
    if raw.isascii() and raw.isdigit():
        if len(raw) > len(str(DB_INT_MAX)) or int(raw) > DB_INT_MAX:
            abort(api_error(400, f"{name}: run number above {DB_INT_MAX}"))
        return int(raw)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        abort(api_error(400, f"{name}: expected a run number or an ISO 8601 time, got {raw!r}"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _choice(name: str, choices: tuple[str, ...]) -> str:
    value = request.args.get(name) or choices[0]
    if value not in choices:
        abort(api_error(400, f"{name}: must be one of {', '.join(choices)}, got {value!r}"))
    return value


def _point_json(point: TrendPoint) -> dict[str, Any]:
    return {"run_number": point.run_number, "time": point.time.isoformat(), "value": point.value}


def _entry_json(subsystem: str, entry: TrendEntry) -> dict[str, Any]:
    url = url_for("trends_api.trend", subsystem=subsystem, name=entry.name)
    return {
        "name": entry.name,
        "title": entry.title,
        "kind": entry.kind or None,
        "histogram": entry.histogram or None,
        "configured": entry.configured,
        "points": entry.points,
        "last_time": entry.last_time.isoformat() if entry.last_time else None,
        "last_run": entry.last_run,
        "url": url,
        "csv_url": url_for("trends_api.trend", subsystem=subsystem, name=entry.name, format="csv"),
        "limits": trend_limits(get_settings(), subsystem, entry.name),
    }


@api_bp.get("/")
def subsystems() -> Response:
    """Subsystems with trends, each with the URL of its list."""
    return jsonify(
        {
            "subsystems": [
                {"name": name, "url": url_for("trends_api.trend_list", subsystem=name)}
                for name in _subsystems()
            ]
        }
    )


@api_bp.get("/<subsystem>")
def trend_list(subsystem: str) -> Response:
    entries = _entries_or_404(subsystem)
    return jsonify({"subsystem": subsystem, "trends": [_entry_json(subsystem, e) for e in entries]})


@api_bp.get("/<subsystem>/<name>")
def trend(subsystem: str, name: str) -> Response:
    """The points of one trend: ``?x=time|run&since=&until=&format=json|csv``."""
    x: Literal["time", "run"] = "run" if _choice("x", X_AXES) == "run" else "time"
    output = _choice("format", FORMATS)
    since = parse_bound("since", request.args.get("since"))
    until = parse_bound("until", request.args.get("until"))
    entry = next((e for e in _entries_or_404(subsystem) if e.name == name), None)
    if entry is None:
        abort(404, f"no trend {name!r} for subsystem {subsystem}")
    with read_session() as session:
        points = trend_series(session, subsystem, name, by=x, since=since, until=until)
    if output == "csv":
        return _csv(subsystem, name, x, points)
    return jsonify(
        {
            "subsystem": subsystem,
            "name": name,
            "title": entry.title,
            "x": x,
            "points": [_point_json(point) for point in points],
            "limits": trend_limits(get_settings(), subsystem, name),
        }
    )


def _csv(subsystem: str, name: str, x: str, points: list[TrendPoint]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["run_number", "time", "value"])
    for point in points:
        writer.writerow([point.run_number, point.time.isoformat(), repr(point.value)])
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{subsystem}_{name}_by_{x}.csv"'
    )
    return response


@bp.get("/")
def trends_index() -> str:
    return render_template("trends.html", subsystems=_subsystems(), subsystem=None, entries=[])


@bp.get("/<subsystem>")
def trends_page(subsystem: str) -> str:
    entries = _entries_or_404(subsystem)
    x = request.args.get("x", "time")
    x = x if x in X_AXES else "time"
    names = {entry.name for entry in entries}
    chosen = [name for name in request.args.getlist("trend") if name in names]
    if not chosen:
        # By default the trends with limits (what a shifter watches), else the first one.
        limited = [e.name for e in entries if trend_limits(get_settings(), subsystem, e.name)]
        chosen = limited or [entries[0].name]
    return render_template(
        "trends.html",
        subsystems=_subsystems(),
        subsystem=subsystem,
        entries=entries,
        chosen=chosen,
        x=x,
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
