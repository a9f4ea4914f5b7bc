"""Silent receivers: found from the heartbeats and logged at WARNING, once per silence.

Called wherever receivers are looked at (the status page, ``/healthz``, the API)
and by the processing daemon on its schedule, so a silence is noticed even when
nobody has the status page open. Which process logs it does not matter: the
storage layer hands each silence to exactly one caller.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from overwatch.storage import Database
from overwatch.storage.receivers import ReceiverView
from overwatch.storage.receivers import claim_new_silences

__all__ = ["log_silent_receivers"]

log = logging.getLogger(__name__)


def log_silent_receivers(db: Database, silence_minutes: float) -> list[ReceiverView]:
    """Log each receiver that fell silent since the last look; returns them."""
    try:
        with db.session() as session:
            silent = claim_new_silences(session, silence_minutes)
    except SQLAlchemyError as exc:
        log.error("could not check receiver heartbeats: %s", exc)
        return []
    for receiver in silent:
        log.warning(
            "receiver %s (%s) silent since %s: nothing received for more than %g minute(s)",
            receiver.name,
            receiver.kind,
            receiver.last_seen_at.isoformat(timespec="seconds"),
            silence_minutes,
        )
    return silent
