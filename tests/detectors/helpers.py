"""Run a detector plugin over a real ROOT file the way processing does (without a database)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from overwatch.detectors import DetectorPlugin
from overwatch.detectors import ProcessingContext
from overwatch.processing.pipeline import FileRef
from overwatch.processing.pipeline import build_result
from overwatch.processing.pipeline import load_state
from overwatch.storage import Database
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from overwatch.storage.records import HistogramRow
from overwatch.storage.records import ResultData


def context(plugin: DetectorPlugin, subsystem: str, **options: Any) -> ProcessingContext:
    return ProcessingContext(294832, subsystem, "run", plugin.validate_options(options))


def process(
    plugin: DetectorPlugin, path: Path, subsystem: str, **options: Any
) -> tuple[ResultData, dict[str, HistogramRow]]:
    """Read ``path`` and run every hook through the pipeline's own :func:`build_result`."""
    histograms, unconvertible = load_state([FileRef(1, path, datetime.now(UTC))])
    result = build_result(plugin, context(plugin, subsystem, **options), histograms, unconvertible)
    return result, {row.name: row for row in result.histograms}


def current_rows(db: Database, run_number: int, subsystem: str) -> dict[str, HistogramRecord]:
    """The stored histograms of a subsystem's current result, by name."""
    with db.session() as session:
        sub = session.scalars(
            select(SubsystemRun)
            .join(Run, Run.id == SubsystemRun.run_id)
            .where(Run.run_number == run_number, SubsystemRun.name == subsystem)
        ).one()
        rows = session.scalars(
            select(HistogramRecord).where(HistogramRecord.result_id == sub.current_result_id)
        ).all()
        session.expunge_all()
        return {row.name: row for row in rows}
