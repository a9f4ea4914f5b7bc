"""One stored alarm as plain data: what the alarm pages show and notifications say.

:mod:`overwatch.storage.alarms` builds it from a row of the alarms table; the
notification planning and messages (:mod:`overwatch.monitoring.notifications`) read it
without knowing a database, and the web app renders it. It lives here, below storage,
because monitoring must not import storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["AlarmView"]


@dataclass(frozen=True, slots=True)
class AlarmView:
    """One alarm (a row of the alarms table)."""

    id: int
    subsystem: str
    run_number: int | None
    histogram: str | None
    rule: str
    target: str
    message: str
    severity: str
    raised_at: datetime
    last_seen_at: datetime
    count: int
    cleared_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None

    @property
    def state(self) -> str:
        """``cleared``; else ``acknowledged``; else ``active``."""
        if self.cleared_at is not None:
            return "cleared"
        return "acknowledged" if self.acknowledged_at is not None else "active"
