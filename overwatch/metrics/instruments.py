"""The metrics processes update as they work: HTTP latency by endpoint, job durations and outcomes.

Every function here is a no-op until metrics are on in this process: the web app
switches them on with :func:`enable` (``metrics_enabled``), the processing daemon
when it serves metrics (``metrics_bind``), and worker processes it spawns inherit
``PROMETHEUS_MULTIPROC_DIR``. So a process without metrics never imports
prometheus-client, and ``overwatch --help`` stays quick.

Metric names (the Grafana dashboard in ``deploy/`` uses them):

- ``overwatch_http_request_duration_seconds{endpoint,method}`` histogram
- ``overwatch_http_requests_total{endpoint,method,status}`` counter
- ``overwatch_job_duration_seconds{subsystem,kind}`` histogram
- ``overwatch_jobs_finished_total{subsystem,kind,outcome}`` counter
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from overwatch.metrics.multiprocess import ENV

__all__ = ["enable", "enabled", "observe_job", "observe_request"]

#: Web requests take milliseconds; a slow page or a large upload takes seconds.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: A job takes from a fraction of a second (a small file) to minutes (a reprocessing).
JOB_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

_state = {"enabled": False}


def enable() -> None:
    """Switch metrics on in this process (call after the multiprocess directory is set)."""
    _state["enabled"] = True


def enabled() -> bool:
    return _state["enabled"] or bool(os.environ.get(ENV))


@dataclass(frozen=True)
class _Instruments:
    http_seconds: Any
    http_requests: Any
    job_seconds: Any
    jobs_finished: Any


_created: list[_Instruments] = []
#: The first requests of a worker arrive on several threads at once; the metrics are made once.
_lock = threading.Lock()


def _instruments() -> _Instruments:
    if _created:
        return _created[0]
    with _lock:
        if not _created:
            _created.append(_make())
    return _created[0]


def _make() -> _Instruments:
    from prometheus_client import Counter  # noqa: PLC0415 - only once metrics are on
    from prometheus_client import Histogram  # noqa: PLC0415

    return _Instruments(
        http_seconds=Histogram(
            "overwatch_http_request_duration_seconds",
            "Time from a request's arrival in the app to its response, by endpoint.",
            ["endpoint", "method"],
            buckets=HTTP_BUCKETS,
        ),
        http_requests=Counter(
            "overwatch_http_requests",
            "Requests answered by the web app, by endpoint and status code.",
            ["endpoint", "method", "status"],
        ),
        job_seconds=Histogram(
            "overwatch_job_duration_seconds",
            "Processing time of one job, by subsystem and kind (process, time slice, reprocess).",
            ["subsystem", "kind"],
            buckets=JOB_BUCKETS,
        ),
        jobs_finished=Counter(
            "overwatch_jobs_finished",
            "Jobs finished by this daemon's workers, by subsystem, kind and outcome.",
            ["subsystem", "kind", "outcome"],
        ),
    )


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    """One answered request; ``endpoint`` is the Flask endpoint name (bounded, unlike paths)."""
    if not enabled():
        return
    found = _instruments()
    found.http_seconds.labels(endpoint, method).observe(seconds)
    found.http_requests.labels(endpoint, method, str(status)).inc()


def observe_job(subsystem: str | None, kind: str, outcome: str, seconds: float) -> None:
    """One finished job (any outcome: done, failed, queued again, lost)."""
    if not enabled():
        return
    found = _instruments()
    name = subsystem or "-"
    found.job_seconds.labels(name, kind).observe(seconds)
    found.jobs_finished.labels(name, kind, outcome).inc()
