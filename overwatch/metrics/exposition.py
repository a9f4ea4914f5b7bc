"""What a scrape returns: the web app's ``/metrics`` body and the processing daemon's endpoint.

In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set) a scrape adds up the files
of every process of the server; otherwise it reads this process's own registry.
The web app adds the figures read from the database (:class:`DatabaseCollector`);
the daemon's endpoint has only what its workers count (job durations and outcomes),
so the database figures are not exported twice when both are scraped.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import REGISTRY
from prometheus_client import CollectorRegistry
from prometheus_client import generate_latest
from prometheus_client import multiprocess

from overwatch.metrics.collector import DatabaseCollector
from overwatch.metrics.multiprocess import multiprocess_dir
from overwatch.storage import Database

__all__ = [
    "CONTENT_TYPE",
    "database_collector",
    "metrics_registry",
    "render_metrics",
    "serve_daemon_metrics",
]

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class _Merged:
    """This process's registry plus a database collector, without registering one in the other."""

    def __init__(self, *parts: Any) -> None:
        self.parts = parts

    def collect(self) -> Any:
        for part in self.parts:
            yield from part.collect()


def metrics_registry(database: DatabaseCollector | None = None) -> Any:
    """A registry to read at one scrape: every process's counts, plus the database's figures."""
    directory = multiprocess_dir()
    if directory is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
        if database is not None:
            registry.register(database)
        return registry
    return _Merged(REGISTRY, database) if database is not None else REGISTRY


def render_metrics(database: DatabaseCollector | None = None) -> bytes:
    """The text exposition format of everything :func:`metrics_registry` holds."""
    return generate_latest(metrics_registry(database))


def database_collector(db: Database) -> DatabaseCollector:
    """One collector per web worker, kept between scrapes (it remembers the database size)."""
    return DatabaseCollector(db)


def serve_daemon_metrics(bind: str) -> Any:
    """Serve the daemon's metrics at ``http://bind/metrics`` from a background thread.

    Returns the HTTP server (``shutdown()`` stops it).
    """
    from prometheus_client import start_http_server  # noqa: PLC0415

    host, _, port = bind.rpartition(":")
    server, _thread = start_http_server(
        int(port), addr=host.strip("[]") or "127.0.0.1", registry=metrics_registry()
    )
    log.info("processing metrics on http://%s/metrics", bind)
    return server
