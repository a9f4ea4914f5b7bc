"""Reference runs: which run a subsystem's reference checks compare with.

An expert marks a run as the reference of a subsystem, either for every run
(the subsystem's default) or for a range of run numbers. For one run the
reference is the narrowest range that contains it (the newest of equal ones),
else the default; a reference is never the run itself, so the run marked as
reference is compared with the next candidate instead. Setting a reference for a
subsystem and range that already has one replaces it.

The reference histograms are those of the reference run's current result of the
same subsystem, as stored (after the plugin's ``prepare``): processing decodes
them from their stored JSON (see :mod:`overwatch.processing.references`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Reference
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from overwatch.storage.models import utcnow

__all__ = [
    "InvalidReferenceError",
    "ReferenceView",
    "clear_reference",
    "list_references",
    "parse_runs",
    "reference_for",
    "reference_histograms",
    "reference_result",
    "set_first_good_references",
    "set_reference",
]


class InvalidReferenceError(ValueError):
    """A reference that cannot be set; ``field`` names the offending input."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class ReferenceView:
    """One reference as listed by the command line and the API."""

    subsystem: str
    run_number: int
    runs: tuple[int, int] | None
    set_by: str
    set_at: datetime


_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


def parse_runs(text: str | None) -> tuple[int, int] | None:
    """``"A-B"`` as ``(A, B)``; ``None`` for no range.

    Raises :class:`InvalidReferenceError` (field ``runs``) with the reason; the command
    line and the run page's form both read ranges with it.
    """
    if text is None:
        return None
    match = _RANGE.match(text)
    if match is None:
        raise InvalidReferenceError(
            "runs", f"expected a range of run numbers like 294800-294900, got {text!r}"
        )
    low, high = int(match.group(1)), int(match.group(2))
    if low > high:
        raise InvalidReferenceError(
            "runs", f"the range {low}-{high} is empty (the first run is after the last)"
        )
    return low, high


def _view(row: Reference) -> ReferenceView:
    runs = (
        (row.run_min, row.run_max) if row.run_min is not None and row.run_max is not None else None
    )
    return ReferenceView(row.subsystem, row.run_number, runs, row.set_by, row.set_at)


def _same_range(runs: tuple[int, int] | None) -> object:
    if runs is None:
        return and_(Reference.run_min.is_(None), Reference.run_max.is_(None))
    return and_(Reference.run_min == runs[0], Reference.run_max == runs[1])


def set_reference(
    session: Session,
    subsystem: str,
    run_number: int,
    *,
    runs: tuple[int, int] | None = None,
    set_by: str = "",
) -> ReferenceView:
    """Mark ``run_number`` as the reference of ``subsystem`` (for ``runs``, inclusive, if given).

    The run must have a processed result of that subsystem: its histograms are
    what reference checks compare with.
    """
    if runs is not None and runs[0] > runs[1]:
        raise InvalidReferenceError("runs", f"the range {runs[0]}-{runs[1]} is empty")
    sub = session.scalars(
        select(SubsystemRun)
        .join(Run, SubsystemRun.run_id == Run.id)
        .where(Run.run_number == run_number, SubsystemRun.name == subsystem)
    ).one_or_none()
    if sub is None:
        raise InvalidReferenceError("run_number", f"run {run_number} has no {subsystem} data")
    if sub.current_result_id is None:
        raise InvalidReferenceError(
            "run_number",
            f"run {run_number} {subsystem} is not processed yet: nothing to compare with",
        )
    session.execute(
        delete(Reference).where(Reference.subsystem == subsystem, _same_range(runs))  # type: ignore[arg-type]
    )
    row = Reference(
        subsystem=subsystem,
        run_number=run_number,
        run_min=runs[0] if runs else None,
        run_max=runs[1] if runs else None,
        set_by=set_by,
        set_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return _view(row)


def clear_reference(
    session: Session, subsystem: str, *, runs: tuple[int, int] | None = None, every: bool = False
) -> int:
    """Remove the reference of ``subsystem`` for ``runs`` (the default one if ``None``).

    With ``every``, all of the subsystem's references go. Returns how many were removed.
    """
    query = delete(Reference).where(Reference.subsystem == subsystem)
    if not every:
        query = query.where(_same_range(runs))  # type: ignore[arg-type]
    return int(session.execute(query).rowcount)  # type: ignore[attr-defined]


def list_references(session: Session, subsystem: str | None = None) -> list[ReferenceView]:
    """Every reference (of ``subsystem``), by subsystem, the default first, then by range."""
    query = select(Reference)
    if subsystem is not None:
        query = query.where(Reference.subsystem == subsystem)
    rows = session.scalars(query).all()
    rows = sorted(
        rows,
        key=lambda r: (r.subsystem, r.run_min is not None, r.run_min or 0, r.run_max or 0),
    )
    return [_view(row) for row in rows]


def reference_for(session: Session, subsystem: str, run_number: int) -> ReferenceView | None:
    """The reference of ``subsystem`` for ``run_number``: never the run itself."""
    rows: Sequence[Reference] = session.scalars(
        select(Reference).where(
            Reference.subsystem == subsystem, Reference.run_number != run_number
        )
    ).all()
    ranged = [
        row
        for row in rows
        if row.run_min is not None
        and row.run_max is not None
        and row.run_min <= run_number <= row.run_max
    ]
    if ranged:
        ranged.sort(key=lambda r: (r.run_max - r.run_min, -r.set_at.timestamp(), -r.id))  # type: ignore[operator]
        return _view(ranged[0])
    default = [row for row in rows if row.run_min is None]
    return _view(max(default, key=lambda r: (r.set_at, r.id))) if default else None


def reference_result(session: Session, subsystem: str, run_number: int) -> int | None:
    """The id of run ``run_number``'s current ``subsystem`` result, if it has one."""
    return session.scalar(
        select(SubsystemRun.current_result_id)
        .join(Run, SubsystemRun.run_id == Run.id)
        .where(Run.run_number == run_number, SubsystemRun.name == subsystem)
    )


def reference_histograms(
    session: Session, result_id: int, wanted: Callable[[str], bool]
) -> dict[str, bytes]:
    """The stored JSON (gzip) of result ``result_id``'s histograms whose name is ``wanted``."""
    names = [
        name
        for name in session.scalars(
            select(HistogramRecord.name).where(
                HistogramRecord.result_id == result_id, HistogramRecord.json_gz.is_not(None)
            )
        )
        if wanted(name)
    ]
    found: dict[str, bytes] = {}
    if names:
        for name, data in session.execute(
            select(HistogramRecord.name, HistogramRecord.json_gz).where(
                HistogramRecord.result_id == result_id, HistogramRecord.name.in_(names)
            )
        ):
            if data is not None:
                found[name] = data
    return found


def set_first_good_references(session: Session, *, set_by: str) -> list[ReferenceView]:
    """Give every subsystem that has no reference yet its first run of quality ``good``
    as the reference for every run (what ``overwatch demo`` does, so the overlay is there
    out of the box). Subsystems without a good run get none. Returns those set."""
    have = set(session.scalars(select(Reference.subsystem).distinct()))
    firsts = session.execute(
        select(SubsystemRun.name, func.min(Run.run_number))
        .join(Run, SubsystemRun.run_id == Run.id)
        .where(SubsystemRun.quality == "good", SubsystemRun.current_result_id.is_not(None))
        .group_by(SubsystemRun.name)
        .order_by(SubsystemRun.name)
    ).all()
    return [
        set_reference(session, name, run_number, set_by=set_by)
        for name, run_number in firsts
        if name not in have
    ]
