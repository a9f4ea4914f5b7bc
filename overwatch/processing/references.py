"""The reference histograms of a job, for the declarative reference checks.

:class:`ReferenceLoader` asks storage which run is the subsystem's reference for
the job's run (:func:`~overwatch.storage.references.reference_for`; never the run
itself), reads the stored JSON of that run's histograms that a reference check
of the subsystem could look at, and decodes them into the histogram model. Only
those names are read, and nothing at all when the subsystem has no reference
check. Decoded references are kept per reference result, so a daemon
processing an ongoing run again and again decodes its reference once; a
reprocessed reference run has a new result and is read afresh.
"""

from __future__ import annotations

import gzip
import logging
import threading
from collections import OrderedDict

from overwatch.histograms.model import Histogram
from overwatch.monitoring.config import CheckConfig
from overwatch.processing.jsroot_decode import JsrootDecodeError
from overwatch.processing.jsroot_decode import from_jsroot_json
from overwatch.storage import Database
from overwatch.storage.references import reference_for
from overwatch.storage.references import reference_histograms
from overwatch.storage.references import reference_result

__all__ = ["JobReferences", "ReferenceLoader"]

log = logging.getLogger(__name__)

#: Reference results kept decoded (one per subsystem and range is typical).
CACHE_SIZE = 8


class JobReferences:
    """The references of one job: histograms by name, and which run they come from."""

    def __init__(self, run_number: int | None, histograms: dict[str, Histogram]) -> None:
        self.run_number = run_number
        self.histograms = histograms


NO_REFERENCES = JobReferences(None, {})


class ReferenceLoader:
    """Loads and caches decoded reference histograms (one per :class:`Worker`)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._cache: OrderedDict[tuple[int, tuple[object, ...]], dict[str, Histogram]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def load(
        self, db: Database, config: CheckConfig, subsystem: str, run_number: int
    ) -> JobReferences:
        """The reference histograms a job of ``subsystem`` run ``run_number`` may compare with."""
        specs = tuple(spec for spec in config.for_subsystem(subsystem) if spec.needs_reference)
        if not specs:
            return NO_REFERENCES
        with db.session() as session:
            reference = reference_for(session, subsystem, run_number)
            if reference is None:
                return NO_REFERENCES
            result_id = reference_result(session, subsystem, reference.run_number)
            if result_id is None:
                return JobReferences(reference.run_number, {})
            key = (result_id, specs)
            with self._lock:
                cached = self._cache.get(key)
                if cached is not None:
                    self._cache.move_to_end(key)
                    return JobReferences(reference.run_number, cached)
            stored = reference_histograms(
                session, result_id, lambda name: any(spec.matches(name) for spec in specs)
            )
        histograms = {}
        for name, data in stored.items():
            try:
                histograms[name] = from_jsroot_json(gzip.decompress(data), name)
            except JsrootDecodeError as exc:
                # That histogram's checks say "no reference"; the job goes on.
                log.warning(
                    "reference run %s %s: cannot read %s back: %s",
                    reference.run_number,
                    subsystem,
                    name,
                    exc,
                )
        with self._lock:
            self._cache[key] = histograms
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return JobReferences(reference.run_number, histograms)
