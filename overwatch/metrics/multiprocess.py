"""Metrics from several processes added up: prometheus-client's multiprocess mode.

Each gunicorn worker (and each processing worker process) writes its counts to
memory-mapped files in one directory; a scrape, answered by any one worker, reads
them all. Three rules keep the figures right, and this module applies them:

1. The directory is named in ``PROMETHEUS_MULTIPROC_DIR`` *before* any worker
   imports prometheus-client (the library picks its storage at import).
2. It is emptied when a server starts: counts left by a previous run of the same
   server would otherwise be added to the new ones.
3. When a worker process exits, it is marked dead, so its live gauges disappear
   (its counters and histograms stay: what it counted did happen).

:class:`GunicornMetrics` wires this into gunicorn's server hooks; ``overwatch web``
and the rendered ``gunicorn.conf.py`` both use it.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from overwatch.config import Settings

__all__ = ["ENV", "GunicornMetrics", "multiprocess_dir", "prepare_directory", "process_exited"]

log = logging.getLogger(__name__)

#: The variable prometheus-client reads to switch to multiprocess mode.
ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> Path | None:
    """The directory this process writes its metrics to, when multiprocess mode is on."""
    value = os.environ.get(ENV)
    return Path(value) if value else None


def prepare_directory(configured: Path | None, purpose: str) -> tuple[Path, bool]:
    """Choose, empty and announce (in the environment) the directory for this server.

    ``configured`` (the ``metrics_dir`` setting) wins, then a directory already named
    in the environment (e.g. by a systemd unit), else a new temporary one. Returns the
    directory and whether it was made here (and so should be removed at exit).
    """
    made = False
    if configured is not None:
        directory = configured
    elif os.environ.get(ENV):
        directory = Path(os.environ[ENV])
    else:
        directory = Path(tempfile.mkdtemp(prefix=f"overwatch-metrics-{purpose}-"))
        made = True
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[ENV] = str(directory)
    return directory, made


def process_exited(pid: int) -> None:
    """Mark a worker process dead so its live gauges no longer count."""
    if not os.environ.get(ENV):
        return
    from prometheus_client import multiprocess  # noqa: PLC0415 - only with metrics on

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class GunicornMetrics:
    """gunicorn server hooks for multiprocess metrics: ``on_starting``, ``child_exit``, ``on_exit``.

    With ``settings`` None the settings are loaded when the server starts (the rendered
    ``gunicorn.conf.py`` runs before any settings exist).
    """

    def __init__(self, settings: Settings | None = None, purpose: str = "web") -> None:
        self.settings = settings
        self.purpose = purpose
        self.directory: Path | None = None
        self.made = False

    def on_starting(self, _server: Any = None) -> None:
        settings = self.settings
        if settings is None:
            from overwatch.config import load_settings  # noqa: PLC0415

            settings = self.settings = load_settings()
        if not settings.metrics_enabled:
            return
        self.directory, self.made = prepare_directory(settings.metrics_dir, self.purpose)
        log.info("web workers keep their metrics in %s", self.directory)

    def child_exit(self, _server: Any, worker: Any) -> None:
        if self.directory is not None:
            process_exited(int(worker.pid))

    def on_exit(self, _server: Any = None) -> None:
        if self.directory is not None and self.made:
            shutil.rmtree(self.directory, ignore_errors=True)

    def hooks(self) -> dict[str, Any]:
        """The hooks as gunicorn settings, for ``BaseApplication.load_config``."""
        return {
            "on_starting": self.on_starting,
            "child_exit": self.child_exit,
            "on_exit": self.on_exit,
        }
