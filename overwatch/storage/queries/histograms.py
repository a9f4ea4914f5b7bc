"""Read-side queries for histograms: a result's groups, one histogram's metadata, its JSON.

Every function answers from the ``histograms (result_id, name)`` and ``(group_id,
position)`` indexes (``check_results (histogram_id)`` for the checks) and returns small
frozen dataclasses, never ORM objects. The plugin's annotations (``info``) are read
through properties that know its conventions: ``display`` hints (``display.name`` is
the title a person reads), ``check`` the reason of the quality, ``info`` free-text lines.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import Connection
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from overwatch.storage.models import CheckResult
from overwatch.storage.models import HistogramGroup
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Result
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun

__all__ = [
    "CheckView",
    "GroupView",
    "HistogramMeta",
    "HistogramPayload",
    "histogram_meta",
    "histogram_payload",
    "result_histograms",
]


@dataclass(frozen=True)
class CheckView:
    """One stored check result of a histogram: the check's name, its quality and reason."""

    check: str
    quality: str | None
    reason: str


@dataclass(frozen=True)
class HistogramMeta:
    """Everything about a stored histogram except its JSON."""

    name: str
    class_name: str
    title: str
    group_id: int | None
    position: int
    entries: float
    draw_options: str
    quality: str | None
    info: dict[str, Any]
    json_size: int
    etag: str
    error: str | None
    #: Every check's result, in the order the checks ran (empty until they are stored).
    checks: tuple[CheckView, ...] = ()

    @property
    def drawable(self) -> bool:
        return self.error is None and self.json_size > 0

    @property
    def display(self) -> dict[str, Any]:
        """The plugin's display hints (``info["display"]``): ``name``, ``show_title``, ..."""
        hints = (self.info or {}).get("display")
        return hints if isinstance(hints, dict) else {}

    @property
    def display_name(self) -> str:
        """The name a person reads: the plugin's pretty name, else the stored name."""
        name = self.display.get("name")
        return name if isinstance(name, str) and name else self.name

    @property
    def reason(self) -> str | None:
        """Why the histogram has its quality, in the plugin's words (``info["check"]``)."""
        reason = (self.info or {}).get("check")
        return str(reason) if reason else None

    @property
    def notes(self) -> list[str]:
        """The plugin's free-text lines (``info["info"]``)."""
        lines = (self.info or {}).get("info")
        if isinstance(lines, str):
            return [lines]
        return [str(line) for line in lines] if isinstance(lines, list) else []

    @property
    def facts(self) -> dict[str, Any]:
        """The plugin's other annotations, without display hints, reason and notes."""
        hidden = ("display", "check", "info")
        return {key: value for key, value in (self.info or {}).items() if key not in hidden}


@dataclass(frozen=True)
class GroupView:
    id: int | None
    name: str
    histograms: list[HistogramMeta]
    #: The plugin's layout hint (e.g. "grid") and its number of columns; "" and 0: none.
    layout: str = ""
    columns: int = 0

    @property
    def qualities(self) -> list[str | None]:
        return [hist.quality for hist in self.histograms]


@dataclass(frozen=True)
class HistogramPayload:
    """The hot path's answer: the stored gzip bytes and their ETag."""

    json_gz: bytes | None
    etag: str
    error: str | None


_META_COLUMNS = (
    HistogramRecord.name,
    HistogramRecord.class_name,
    HistogramRecord.title,
    HistogramRecord.group_id,
    HistogramRecord.position,
    HistogramRecord.entries,
    HistogramRecord.draw_options,
    HistogramRecord.quality,
    HistogramRecord.info,
    HistogramRecord.json_size,
    HistogramRecord.etag,
    HistogramRecord.error,
)


def _meta(row: Any, checks: Iterable[CheckView]) -> HistogramMeta:
    """A row of :data:`_META_COLUMNS` (in the dataclass's field order) and its checks."""
    values: dict[str, Any] = dict(row._mapping)
    return HistogramMeta(**values, checks=tuple(checks))


def result_histograms(session: Session, result_id: int) -> list[GroupView]:
    """The result's groups in order, each with its histograms' metadata (no JSON).

    Histograms outside every group come last in a group named "Other".
    """
    groups = session.execute(
        select(
            HistogramGroup.id, HistogramGroup.name, HistogramGroup.layout, HistogramGroup.columns
        )
        .where(HistogramGroup.result_id == result_id)
        .order_by(HistogramGroup.position)
    ).all()
    views = {
        group_id: GroupView(group_id, name, [], layout, columns)
        for group_id, name, layout, columns in groups
    }
    ungrouped = GroupView(None, "Other", [])
    rows = session.execute(
        select(*_META_COLUMNS)
        .where(HistogramRecord.result_id == result_id)
        .order_by(HistogramRecord.group_id, HistogramRecord.position, HistogramRecord.name)
    ).all()
    checks = _result_checks(session, result_id)
    for row in rows:
        meta = _meta(row, checks.get(row.name, ()))
        target = views.get(meta.group_id) if meta.group_id is not None else None
        (target or ungrouped).histograms.append(meta)
    ordered = [view for view in views.values() if view.histograms]
    if ungrouped.histograms:
        ordered.append(ungrouped)
    return ordered


def _check_rows(session: Session, *where: ColumnElement[bool]) -> list[Any]:
    return list(
        session.execute(
            select(HistogramRecord.name, CheckResult.name, CheckResult.quality, CheckResult.message)
            .join(CheckResult, CheckResult.histogram_id == HistogramRecord.id)
            .where(*where)
            .order_by(CheckResult.id)
        ).all()
    )


def _result_checks(session: Session, result_id: int) -> dict[str, list[CheckView]]:
    """Every stored check result of a result's histograms, by histogram name (one query)."""
    found: dict[str, list[CheckView]] = {}
    for hist_name, check, quality, message in _check_rows(
        session, HistogramRecord.result_id == result_id
    ):
        found.setdefault(hist_name, []).append(CheckView(check, quality, message or ""))
    return found


def histogram_meta(session: Session, result_id: int, name: str) -> HistogramMeta | None:
    row = session.execute(
        select(*_META_COLUMNS).where(
            HistogramRecord.result_id == result_id, HistogramRecord.name == name
        )
    ).one_or_none()
    if row is None:
        return None
    checks = _check_rows(
        session, HistogramRecord.result_id == result_id, HistogramRecord.name == name
    )
    return _meta(row, [CheckView(c, q, m or "") for _, c, q, m in checks])


@functools.cache
def _payload_statement(by_result: bool) -> Executable:
    """Built once: constructing the statement costs more than running it on the hot path."""
    query = (
        select(HistogramRecord.json_gz, HistogramRecord.etag, HistogramRecord.error)
        .select_from(Run)
        .join(
            SubsystemRun,
            and_(SubsystemRun.run_id == Run.id, SubsystemRun.name == bindparam("subsystem")),
        )
    )
    if by_result:
        query = query.join(
            Result,
            and_(Result.id == bindparam("result_id"), Result.subsystem_id == SubsystemRun.id),
        )
        target: Any = Result.id
    else:
        target = SubsystemRun.current_result_id
    return query.join(
        HistogramRecord,
        and_(HistogramRecord.result_id == target, HistogramRecord.name == bindparam("name")),
    ).where(Run.run_number == bindparam("run_number"))


def histogram_payload(
    connection: Connection | Session,
    run_number: int,
    subsystem: str,
    name: str,
    result_id: int | None = None,
) -> HistogramPayload | None:
    """The stored JSON of one histogram in one indexed query, without ORM objects.

    Without ``result_id`` it is the subsystem's current result; with it, that result,
    provided it belongs to the subsystem named. Takes a plain connection so the hot
    path skips the ORM session.
    """
    params: dict[str, Any] = {"run_number": run_number, "subsystem": subsystem, "name": name}
    if result_id is not None:
        params["result_id"] = result_id
    row = connection.execute(_payload_statement(result_id is not None), params).one_or_none()
    return HistogramPayload(*row) if row is not None else None
