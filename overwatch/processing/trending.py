"""Trend values of a result, at processing time and afterwards (``overwatch trending backfill``).

Both paths compute from the same thing: the histograms as stored (their JSROOT
JSON, decoded back to the histogram model by
:func:`~overwatch.processing.jsroot_decode.from_jsroot_json`) and the figures
their checks stored. So a back-filled value is exactly the value processing
stored for the same result, whatever the histogram's storage type, and a value
on the trending page is always one a shifter can recompute from the histogram
drawn on the run page.

- :func:`result_trends` runs inside the processing job on the rows about to be
  stored; the worker stores the values in the job's one transaction (with the
  result; :attr:`~overwatch.storage.records.ResultData.trends`).
- :func:`backfill` walks every run's current result in the database and stores
  the values of the configured trends, replacing those of the same processing.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass

from overwatch.config import Settings
from overwatch.detectors.api import DetectorPlugin
from overwatch.detectors.api import ProcessingContext
from overwatch.detectors.registry import get_plugin
from overwatch.histograms.model import Histogram
from overwatch.monitoring.trending.config import TrendConfig
from overwatch.monitoring.trending.config import TrendSpec
from overwatch.monitoring.trending.values import trend_value
from overwatch.processing.jsroot_decode import JsrootDecodeError
from overwatch.processing.jsroot_decode import from_jsroot_json
from overwatch.storage import Database
from overwatch.storage.records import HistogramRow
from overwatch.storage.trends import StoredHistogram
from overwatch.storage.trends import run_results
from overwatch.storage.trends import store_trend_values
from overwatch.storage.trends import stored_histograms

__all__ = ["BackfillReport", "backfill", "extract_trends", "result_trends"]

log = logging.getLogger(__name__)


def extract_trends(
    specs: Sequence[TrendSpec],
    stored: Mapping[str, StoredHistogram],
    plugin: DetectorPlugin,
    context: ProcessingContext,
) -> dict[str, float]:
    """The value of each trend in ``specs`` whose histogram is in ``stored`` and gives one."""
    values: dict[str, float] = {}
    decoded: dict[str, Histogram | str] = {}
    for spec in specs:
        item = stored.get(spec.histogram)
        if item is None or item.json_gz is None:
            continue
        if spec.histogram not in decoded:
            try:
                data = zlib.decompress(item.json_gz, wbits=31)
                decoded[spec.histogram] = from_jsroot_json(data, spec.histogram)
            except (JsrootDecodeError, zlib.error) as exc:
                # A graph or another non-histogram object: no statistic to trend.
                decoded[spec.histogram] = f"cannot be read back as a histogram: {exc}"
        hist = decoded[spec.histogram]
        if isinstance(hist, str):
            log.debug("trend %s/%s: %s", context.subsystem, spec.name, hist)
            continue
        value = trend_value(
            spec,
            hist,
            check_values=item.checks,
            plugin=plugin,
            context=context,
        )
        if isinstance(value, str):
            log.debug("trend %s/%s of run %s: %s", context.subsystem, spec.name,
                      context.run_number, value)  # fmt: skip
            continue
        values[spec.name] = value
    return values


def result_trends(
    config: TrendConfig,
    plugin: DetectorPlugin,
    context: ProcessingContext,
    rows: Sequence[HistogramRow],
) -> dict[str, float]:
    """The trend values of a result about to be stored (its histogram rows)."""
    specs = config.for_subsystem(context.subsystem)
    if not specs:
        return {}
    wanted = {spec.histogram for spec in specs}
    stored = {
        row.name: StoredHistogram(row.name, row.json_gz, {c.name: c.value for c in row.checks})
        for row in rows
        if row.name in wanted
    }
    return extract_trends(specs, stored, plugin, context)


@dataclass
class BackfillReport:
    results: int = 0
    values: int = 0


def backfill(
    settings: Settings,
    db: Database,
    subsystems: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BackfillReport:
    """Compute the configured trends of every run's current result and store them.

    One transaction per result, so an interrupted backfill keeps what it did and a
    second run redoes the rest (values of the same processing are replaced).
    ``progress(done, total)`` is called after each result.
    """
    config = settings.trending
    names = [s for s in (subsystems or list(config.subsystems)) if config.for_subsystem(s)]
    with db.session() as session:
        todo = run_results(session, names)
    report = BackfillReport()
    for done, item in enumerate(todo, start=1):
        specs = config.for_subsystem(item.subsystem)
        context = ProcessingContext(item.run_number, item.subsystem, "run", dict(item.options),
                                    max_time=item.time)  # fmt: skip
        with db.session() as session:
            stored = stored_histograms(session, item.result_id, [s.histogram for s in specs])
            values = extract_trends(specs, stored, get_plugin(item.subsystem), context)
            count = store_trend_values(session, item.subsystem, item.run_number, item.time, values)
        report.results += 1
        report.values += count
        if progress is not None:
            progress(done, len(todo))
    return report
