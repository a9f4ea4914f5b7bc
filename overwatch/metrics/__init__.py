"""Prometheus metrics of the web app and the processing daemon.

- :mod:`overwatch.metrics.multiprocess` keeps counts right when several processes
  (gunicorn workers, the daemon's worker processes) update the same metrics:
  prometheus-client's multiprocess mode, with one directory per server, emptied at
  start, and dead processes marked.
- :mod:`overwatch.metrics.instruments` holds the metrics processes update as they
  work (HTTP latency by endpoint, job durations and outcomes); each call is a no-op
  until metrics are switched on, so a process without metrics never imports
  prometheus-client.
- :mod:`overwatch.metrics.collector` computes, at scrape time, the figures that live
  in the database (jobs by state, queue age, receivers, database size).
- :mod:`overwatch.metrics.exposition` builds the text a scrape returns and the
  daemon's own endpoint.

Metrics know storage, never the web app or processing; both of those call in here.
Names and labels are listed in docs/operations.md and used by deploy/grafana-dashboard.json.
"""

from __future__ import annotations

__all__: list[str] = []
