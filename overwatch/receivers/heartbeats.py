"""Receiver heartbeats: recording them from the ZMQ receiver and replay, and finding
silent receivers.

:class:`Heartbeat` turns the receivers' callbacks into
:func:`overwatch.storage.receivers.record_receiver_activity` calls (the DQM endpoint
records its own, inside its request). A database that is briefly away costs a
heartbeat, never a received file: the failure is logged and receiving goes on.

:func:`log_silent_receivers` is called wherever receivers are looked at (the status
page, ``/healthz``, the API) and by the processing daemon on its schedule, so a
silence is noticed even when nobody has the status page open. Which process logs it
does not matter: the storage layer hands each silence to exactly one caller.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from overwatch.storage import Database
from overwatch.storage.receivers import ReceiverView
from overwatch.storage.receivers import claim_new_silences
from overwatch.storage.receivers import record_receiver_activity

if TYPE_CHECKING:
    from overwatch.receivers.replay import ReplayedFile
    from overwatch.receivers.zmqreceiver import Outcome

__all__ = ["Heartbeat", "log_silent_receivers"]

log = logging.getLogger(__name__)

#: Longest receiver name the heartbeat table holds.
MAX_NAME = 128


class Heartbeat:
    """Records one receiver's activity; its methods fit the receivers' callbacks."""

    def __init__(self, db: Database, name: str, kind: str) -> None:
        self.db = db
        self.name = name[:MAX_NAME]
        self.kind = kind

    def record(
        self,
        *,
        accepted: int = 0,
        refused: int = 0,
        nbytes: int = 0,
        last_file: str | None = None,
        reason: str | None = None,
    ) -> None:
        try:
            record_receiver_activity(
                self.db,
                name=self.name,
                kind=self.kind,
                accepted=accepted,
                refused=refused,
                nbytes=nbytes,
                last_file=last_file,
                reason=reason,
            )
        except SQLAlchemyError as exc:
            log.warning("heartbeat of %s not recorded: %s", self.name, exc)

    def zmq_file(self, outcome: Outcome) -> None:
        """``ZmqReceiver(on_file=...)``: a stored (or duplicate) snapshot."""
        stored = outcome.stored
        self.record(
            accepted=0 if outcome.result == "duplicate" else 1,
            nbytes=stored.nbytes if stored is not None else 0,
            last_file=stored.path.name if stored is not None else None,
        )

    def refused(self, reason: str) -> None:
        """``ZmqReceiver(on_refused=...)``: a message refused with its reason."""
        self.record(refused=1, reason=reason)

    def replayed(self, event: ReplayedFile) -> None:
        """``replay(on_file=...)``: one file delivered (or refused) by a replay."""
        if event.delivery == "stopped":
            return
        if event.delivery == "refused":
            self.record(refused=1, reason=f"{event.file_name} refused")
        else:
            self.record(
                accepted=0 if event.delivery == "duplicate" else 1,
                nbytes=event.nbytes,
                last_file=event.file_name,
            )


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
