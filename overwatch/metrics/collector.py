"""Figures that live in the database, computed when Prometheus scrapes.

:class:`DatabaseCollector` asks a handful of cheap questions (job counts by state,
the oldest queued job, the receivers' heartbeat rows, the daemons' heartbeats, the
database's size) in one short read transaction. Being read at scrape time, these
figures are the same whichever web worker or machine answers, and need no
multiprocess bookkeeping. When the database cannot be reached the scrape still
succeeds, with ``overwatch_database_up 0`` and none of the other figures.

Metric names:

- ``overwatch_database_up`` gauge
- ``overwatch_jobs{state}`` gauge: jobs queued, running, failed and superseded (not
  done: counting the whole history at every scrape would slow down as it grows; the
  daemons count finished jobs in ``overwatch_jobs_finished_total``)
- ``overwatch_queue_oldest_age_seconds`` gauge: how long the oldest queued job has waited (0: none)
- ``overwatch_receiver_files_received_total{receiver,kind}`` counter
- ``overwatch_receiver_files_refused_total{receiver,kind}`` counter
- ``overwatch_receiver_last_file_age_seconds{receiver,kind}`` gauge: since each receiver's last file
- ``overwatch_daemon_heartbeat_age_seconds{daemon}`` gauge: since each processing daemon's heartbeat
- ``overwatch_database_size_bytes`` gauge (asked at most once a minute per process)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from overwatch.storage import Database
from overwatch.storage.figures import database_bytes
from overwatch.storage.figures import job_counts
from overwatch.storage.figures import oldest_queued_at
from overwatch.storage.models import utcnow
from overwatch.storage.queries.status import heartbeats
from overwatch.storage.receivers import list_receivers

__all__ = ["DatabaseCollector"]

log = logging.getLogger(__name__)

#: How long one answer about the database's size is reused.
SIZE_SECONDS = 60.0


class DatabaseCollector(Collector):
    """A Prometheus collector reading the database at every scrape."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._size: tuple[float, int] | None = None  # (monotonic time, bytes)

    def _database_bytes(self, session: Session) -> int:
        """The database's size, asked at most every :data:`SIZE_SECONDS`: PostgreSQL's
        ``pg_database_size`` walks the database's files, the slowest question here, and
        the answer changes slowly."""
        now = time.monotonic()
        if self._size is None or now - self._size[0] > SIZE_SECONDS:
            self._size = (now, database_bytes(session))
        return self._size[1]

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily(
            "overwatch_database_up", "1 when the database answered this scrape, else 0."
        )
        try:
            families = self._families()
        except SQLAlchemyError as exc:
            log.warning("metrics: the database did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> list[Any]:
        now = utcnow()
        with self.db.new_session() as session:
            counts = job_counts(session)
            oldest = oldest_queued_at(session)
            receivers = list_receivers(session)
            daemons = heartbeats(session)
            size = self._database_bytes(session)
        jobs = GaugeMetricFamily(
            "overwatch_jobs",
            "Jobs in each state but done (queued, running, failed, superseded).",
            labels=["state"],
        )
        for state, count in counts.items():
            jobs.add_metric([state], count)
        age = GaugeMetricFamily(
            "overwatch_queue_oldest_age_seconds",
            "Seconds the oldest queued job has been waiting; 0 when nothing waits.",
        )
        age.add_metric([], max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
        labels = ["receiver", "kind"]
        received = CounterMetricFamily(
            "overwatch_receiver_files_received",
            "Files each receiver stored (from its heartbeat row, all processes together).",
            labels=labels,
        )
        refused = CounterMetricFamily(
            "overwatch_receiver_files_refused",
            "Files or messages each receiver refused.",
            labels=labels,
        )
        last_file = GaugeMetricFamily(
            "overwatch_receiver_last_file_age_seconds",
            "Seconds since each receiver stored its last file.",
            labels=labels,
        )
        for receiver in receivers:
            key = [receiver.name, receiver.kind]
            received.add_metric(key, receiver.accepted)
            refused.add_metric(key, receiver.refused)
            if receiver.last_file_at is not None:
                last_file.add_metric(key, max((now - receiver.last_file_at).total_seconds(), 0.0))
        beats = GaugeMetricFamily(
            "overwatch_daemon_heartbeat_age_seconds",
            "Seconds since each processing daemon last published its heartbeat.",
            labels=["daemon"],
        )
        for beat in daemons:
            beats.add_metric([beat.name], max((now - beat.heartbeat_at).total_seconds(), 0.0))
        database = GaugeMetricFamily(
            "overwatch_database_size_bytes", "Size of the database on disk, in bytes."
        )
        database.add_metric([], size)
        return [jobs, age, received, refused, last_file, beats, database]
