"""The processing daemon's own Prometheus endpoint (``metrics_bind``).

It exports what only the daemon sees: every job's duration by subsystem and kind,
and the jobs finished by outcome (:mod:`overwatch.metrics.instruments`). The
daemon and its worker processes count in a directory of their own
(prometheus-client's multiprocess mode), made fresh at start and removed at stop,
so no other server's counts mix in; exited workers are marked dead. Figures kept
in the database (queue, receivers, size) come from the web app's ``/metrics``, so
scraping both never counts them twice. Without ``metrics_bind`` nothing is
counted and prometheus-client is not imported.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from overwatch.metrics.multiprocess import ENV
from overwatch.metrics.multiprocess import prepare_directory
from overwatch.metrics.multiprocess import process_exited

__all__ = ["DaemonMetrics"]


class DaemonMetrics:
    """Start before the worker processes (they inherit where to count); stop after them."""

    def __init__(self, bind: str | None) -> None:
        self.bind = bind
        self.directory: Path | None = None
        self.server: Any = None

    def start(self) -> None:
        if self.bind is None:
            # A directory inherited from a web server must not receive the jobs' counts.
            os.environ.pop(ENV, None)
            return
        fresh = Path(tempfile.mkdtemp(prefix="overwatch-metrics-processing-"))
        self.directory, _ = prepare_directory(fresh, "processing")
        # Only now: prometheus-client chooses multiprocess mode when it is first imported.
        from overwatch.metrics.exposition import serve_daemon_metrics  # noqa: PLC0415

        self.server = serve_daemon_metrics(self.bind)

    def process_exited(self, pid: int | None) -> None:
        if self.directory is not None and pid is not None:
            process_exited(pid)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
