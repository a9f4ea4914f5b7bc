"""Run a detector plugin over a real ROOT file the way processing does (without a database)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

from overwatch.detectors import DetectorPlugin
from overwatch.detectors import ProcessingContext
from overwatch.processing.pipeline import FileRef
from overwatch.processing.pipeline import build_result
from overwatch.processing.pipeline import load_state
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
