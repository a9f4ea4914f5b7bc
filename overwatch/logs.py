"""Logging set-up for every process: readable lines or JSON lines, and optional Sentry.

``log_format: text`` (the default) keeps the classic one-line format;
``log_format: json`` writes one JSON object per line with ``time`` (UTC, ISO 8601),
``level``, ``logger``, ``process`` and ``message``, plus the fields a caller passed
in ``extra=`` (the daemon's line per job carries ``job_id``, ``kind``, ``run``,
``subsystem``, ``duration_seconds``, ``outcome`` and ``histograms``) and, on
errors, ``exception``. Log shippers read these lines without a grammar.

``sentry_dsn`` sends errors to Sentry; without a DSN the sentry-sdk package is
never imported, and with one but no package the program stops at start naming
the setting.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from datetime import UTC
from datetime import datetime
from typing import Any

from overwatch.config import ConfigError
from overwatch.config import Settings

__all__ = ["JOB_FIELDS", "JsonFormatter", "check_sentry", "configure_logging", "init_sentry"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TEXT_FORMAT_PROCESS = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"
#: The fields of the daemon's line per job (given with ``extra=``).
JOB_FIELDS = ("job_id", "kind", "run", "subsystem", "duration_seconds", "outcome", "histograms")
#: Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.processName,
            "pid": record.process,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(settings: Settings, *, process_name: bool = False) -> None:
    """Set the root logger's level and format from the settings, like ``logging.basicConfig``:
    where logging is already set up (a test runner), only a JSON format is imposed."""
    root = logging.getLogger()
    formatter: logging.Formatter = (
        JsonFormatter()
        if settings.log_format == "json"
        else logging.Formatter(TEXT_FORMAT_PROCESS if process_name else TEXT_FORMAT)
    )
    if root.handlers:
        if settings.log_format == "json":
            for existing in root.handlers:
                existing.setFormatter(formatter)
        return
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(settings.log_level)


def init_sentry(settings: Settings) -> bool:
    """Start reporting errors to Sentry when ``sentry_dsn`` is set; True if it was started.

    Called in each process that does the work (every web worker after the fork, the
    daemon and each of its worker processes): Sentry's sending thread does not survive
    a fork.
    """
    if not settings.sentry_dsn:
        return False
    try:
        import sentry_sdk  # noqa: PLC0415 - optional, only with a DSN
    except ImportError:
        raise ConfigError(
            "sentry_dsn",
            settings.sources.get("sentry_dsn", "default"),
            "needs the sentry-sdk package: pip install 'overwatch[sentry]'",
        ) from None
    from overwatch import __version__  # noqa: PLC0415

    sentry_sdk.init(dsn=settings.sentry_dsn, release=f"overwatch@{__version__}")
    return True


def check_sentry(settings: Settings) -> None:
    """Fail at start, naming the setting, when a DSN is set but sentry-sdk is not installed."""
    if settings.sentry_dsn and importlib.util.find_spec("sentry_sdk") is None:
        raise ConfigError(
            "sentry_dsn",
            settings.sources.get("sentry_dsn", "default"),
            "needs the sentry-sdk package: pip install 'overwatch[sentry]'",
        )
