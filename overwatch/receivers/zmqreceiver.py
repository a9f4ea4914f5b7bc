"""The ZMQ receiver: snapshots from an HLT publisher or merger become receiver files.

The counterpart of the ALICE HLT ZMQ receivers, in two modes:

* ``sub``: a SUB socket connects to a publisher and stores every snapshot it
  publishes. Publishers that follow :mod:`overwatch.receivers.zmqsender` wait for
  the subscription before sending, so a receiver that is connected loses nothing.
* ``req``: a REQ socket asks a merger (or a replay) for a snapshot every
  ``interval`` seconds, and at once again while the reply says more are
  ``pending``. Each request acknowledges the previous reply (stored, duplicate,
  refused, or failed), so a sender that keeps unacknowledged snapshots (the
  replay does) resends them after a receiver restart: nothing is lost, and the
  writer turns a resent snapshot that was already stored into a duplicate, not a
  second file. A merger that does not answer within ``reply_timeout`` gets a
  fresh socket (ZMQ's REQ cannot send twice without a reply: the "lazy pirate").

Every message is checked by :func:`~overwatch.receivers.snapshot.decode_snapshot`
and written by :func:`~overwatch.receivers.snapshot.store_snapshot`; a bad one is
logged with its reason, reported to ``on_refused`` and never stops the receiver.
Heartbeats hook in through ``on_file`` and ``on_refused``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import Literal
from zoneinfo import ZoneInfo

import orjson
import zmq

from overwatch.receivers.snapshot import MAX_HEADER_BYTES
from overwatch.receivers.snapshot import WIRE_VERSION
from overwatch.receivers.snapshot import Snapshot
from overwatch.receivers.snapshot import SnapshotError
from overwatch.receivers.snapshot import StoredSnapshot
from overwatch.receivers.snapshot import decode_snapshot
from overwatch.receivers.snapshot import store_snapshot

__all__ = ["Outcome", "ReceiverStats", "ZmqMode", "ZmqReceiver"]

log = logging.getLogger(__name__)

ZmqMode = Literal["sub", "req"]
Result = Literal["stored", "duplicate", "refused", "failed"]

#: How often the receive loops look at their stop event, in milliseconds.
POLL_MS = 200


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one message."""

    result: Result
    reason: str | None = None
    stored: StoredSnapshot | None = None
    snapshot: Snapshot | None = None
    #: The sender's ``id`` of the snapshot, echoed in the acknowledgement.
    ident: str | None = None


@dataclass
class ReceiverStats:
    """Counts since the receiver started."""

    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    failed: int = 0
    last_file: str | None = None
    reasons: list[str] = field(default_factory=list)


class ZmqReceiver:
    """Receive snapshots from ``endpoint`` into ``data_dir`` until ``stop`` is set.

    ``on_file(outcome)`` is called for every stored or duplicate snapshot,
    ``on_refused(reason)`` for every refused message and every failed write.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        data_dir: Path,
        tz: ZoneInfo,
        max_bytes: int,
        mode: ZmqMode = "sub",
        interval: float = 10.0,
        reply_timeout: float = 30.0,
        on_file: Callable[[Outcome], None] | None = None,
        on_refused: Callable[[str], None] | None = None,
        context: zmq.Context[Any] | None = None,
    ) -> None:
        if mode not in ("sub", "req"):
            raise ValueError(f"mode must be 'sub' or 'req', got {mode!r}")
        self.endpoint = endpoint
        self.data_dir = Path(data_dir)
        self.tz = tz
        self.max_bytes = max_bytes
        self.mode: ZmqMode = mode
        self.interval = interval
        self.reply_timeout = reply_timeout
        self.on_file = on_file
        self.on_refused = on_refused
        self.stats = ReceiverStats()
        self._context = context

    def handle(self, frames: Sequence[bytes]) -> Outcome:
        """Check and store one message; never raises for anything the sender controls."""
        ident = _sender_id(frames)
        try:
            snapshot = decode_snapshot(frames, max_bytes=self.max_bytes)
            stored = store_snapshot(self.data_dir, snapshot, self.tz)
        except SnapshotError as exc:
            return self._refused("refused", f"refused: {exc}", ident)
        except OSError as exc:
            return self._refused("failed", f"could not store the snapshot: {exc}", ident)
        if stored.duplicate:
            self.stats.duplicates += 1
            log.info("duplicate snapshot %s ignored", stored.path.name)
        else:
            self.stats.stored += 1
            log.info("stored %s (%d bytes)", stored.path.name, stored.nbytes)
        self.stats.last_file = stored.path.name
        outcome = Outcome(
            "duplicate" if stored.duplicate else "stored",
            stored=stored,
            snapshot=snapshot,
            ident=ident,
        )
        if self.on_file is not None:
            self.on_file(outcome)
        return outcome

    def _refused(self, result: Result, reason: str, ident: str | None) -> Outcome:
        if result == "failed":
            self.stats.failed += 1
            log.error("%s: %s", self.endpoint, reason)
        else:
            self.stats.refused += 1
            log.warning("%s: %s", self.endpoint, reason)
        self.stats.reasons.append(reason)
        del self.stats.reasons[:-100]  # the latest reasons are the useful ones
        if self.on_refused is not None:
            self.on_refused(reason)
        return Outcome(result, reason=reason, ident=ident)

    def run(self, stop: threading.Event) -> ReceiverStats:
        """Receive until ``stop`` is set; returns the counts."""
        context = self._context or zmq.Context.instance()
        log.info("ZMQ receiver (%s mode) connecting to %s", self.mode, self.endpoint)
        if self.mode == "sub":
            self._run_sub(context, stop)
        else:
            self._run_req(context, stop)
        return self.stats

    def _socket(self, context: zmq.Context[Any], kind: int) -> zmq.Socket[Any]:
        sock: zmq.Socket[Any] = context.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        # A hard cap so a hostile frame cannot exhaust memory: ZMQ drops the peer
        # instead. Frames up to twice the limit still arrive and are refused with
        # a logged reason.
        sock.setsockopt(zmq.MAXMSGSIZE, 2 * self.max_bytes + MAX_HEADER_BYTES)
        return sock

    def _run_sub(self, context: zmq.Context[Any], stop: threading.Event) -> None:
        sock = self._socket(context, zmq.SUB)
        try:
            sock.setsockopt(zmq.SUBSCRIBE, b"")
            sock.connect(self.endpoint)
            while not stop.is_set():
                if sock.poll(POLL_MS, zmq.POLLIN):
                    self.handle(sock.recv_multipart())
        finally:
            sock.close()

    def _run_req(self, context: zmq.Context[Any], stop: threading.Event) -> None:
        sock: zmq.Socket[Any] | None = None
        ack: dict[str, Any] | None = None
        try:
            while not stop.is_set():
                if sock is None:
                    sock = self._socket(context, zmq.REQ)
                    sock.connect(self.endpoint)
                sock.send(orjson.dumps({"version": WIRE_VERSION, "ack": ack}))
                frames = self._await_reply(sock, stop)
                if frames is None:
                    # No answer: a REQ socket cannot ask again, so start afresh. The
                    # unsent acknowledgement goes with the next request.
                    sock.close()
                    sock = None
                    if not stop.is_set():
                        log.warning(
                            "%s: no reply within %.0f s; reconnecting",
                            self.endpoint,
                            self.reply_timeout,
                        )
                    continue
                ack, pending = self._answer(frames)
                if not pending:
                    stop.wait(self.interval)
        finally:
            if sock is not None:
                sock.close()

    def _await_reply(self, sock: zmq.Socket[Any], stop: threading.Event) -> list[bytes] | None:
        waited = 0.0
        while not stop.is_set() and waited < self.reply_timeout:
            if sock.poll(POLL_MS, zmq.POLLIN):
                return sock.recv_multipart()
            waited += POLL_MS / 1000
        return None

    def _answer(self, frames: list[bytes]) -> tuple[dict[str, Any] | None, bool]:
        """Handle one reply; the acknowledgement to send and whether more are pending."""
        if len(frames) == 1:
            status = _json_object(frames[0])
            if status is None or status.get("status") not in ("empty", "error"):
                self._refused("refused", "refused: a one-frame reply that is no status", None)
            elif status.get("status") == "error":
                log.warning("%s: sender reports: %s", self.endpoint, status.get("reason"))
            return None, False
        outcome = self.handle(frames)
        ack = {
            "id": outcome.ident,
            "sha256": hashlib.sha256(frames[1]).hexdigest() if len(frames) == 2 else None,
            "result": outcome.result,
            "reason": outcome.reason,
        }
        return ack, _pending(frames)


def _json_object(data: bytes) -> dict[str, Any] | None:
    if len(data) > MAX_HEADER_BYTES:
        return None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _sender_id(frames: Sequence[bytes]) -> str | None:
    """The header's ``id`` if it is well formed (echoed back, so checked like the rest)."""
    header = _json_object(frames[0]) if frames else None
    ident = header.get("id") if header else None
    if isinstance(ident, str) and 0 < len(ident) <= 128 and ident.isascii() and ident.isprintable():
        return ident
    return None


def _pending(frames: Sequence[bytes]) -> bool:
    header = _json_object(frames[0])
    pending = header.get("pending") if header else None
    return isinstance(pending, int) and not isinstance(pending, bool) and pending > 0
