"""The sending side of the ZMQ wire: what ``overwatch replay --zmq-bind`` serves.

Two senders, one per receiver mode, both implementing the replay's sink
(:class:`~overwatch.receivers.replay.SnapshotSink`):

* :class:`ZmqPublisher` (for receivers in ``sub`` mode) binds an XPUB socket.
  Plain PUB/SUB drops whatever is published before a subscription has travelled
  back to the publisher (ZMQ's "slow joiner"), so the publisher counts
  subscribers from the subscribe/unsubscribe messages XPUB hands it
  (``XPUB_VERBOSER``: one per subscriber, also when it disconnects) and sends a
  snapshot only while at least one is connected; it waits otherwise.
  ``XPUB_NODROP`` makes a full queue block the sender instead of dropping.
  A subscriber that dies loses what was in flight to it, as with any PUB/SUB;
  use ``req`` mode where every snapshot must be acknowledged.
* :class:`ZmqReplier` (for receivers in ``req`` mode) binds a REP socket served
  by a background thread. Snapshots handed to it queue up; each request gets the
  oldest unacknowledged one (with ``pending``, how many more are ready) or
  ``{"status": "empty"}``. A snapshot leaves the queue only when a later request
  acknowledges its ``id`` as stored, duplicate or refused, so a receiver that
  restarts gets it again, and :meth:`ZmqReplier.finish` returns once all are
  acknowledged.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import zmq

from overwatch.receivers.snapshot import WIRE_VERSION
from overwatch.receivers.snapshot import Snapshot
from overwatch.receivers.snapshot import encode_snapshot

__all__ = ["Acknowledgement", "ZmqPublisher", "ZmqReplier"]

log = logging.getLogger(__name__)

POLL_MS = 100
#: How long closing waits for queued messages to leave, in milliseconds.
LINGER_MS = 30_000


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """A receiver's verdict on one snapshot (req mode)."""

    snapshot: Snapshot
    result: str
    reason: str | None


class ZmqPublisher:
    """Publish snapshots on ``endpoint`` (XPUB), waiting for a subscriber before each."""

    def __init__(self, endpoint: str, *, context: zmq.Context[Any] | None = None) -> None:
        self.endpoint = endpoint
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.XPUB)
        self._socket.setsockopt(zmq.XPUB_VERBOSER, 1)
        self._socket.setsockopt(zmq.XPUB_NODROP, 1)
        self._socket.setsockopt(zmq.LINGER, LINGER_MS)
        self._socket.bind(endpoint)
        self.subscribers = 0

    def _read_subscriptions(self, timeout_ms: int) -> None:
        while self._socket.poll(timeout_ms, zmq.POLLIN):
            message = self._socket.recv()
            if message[:1] == b"\x01":
                self.subscribers += 1
            elif message[:1] == b"\x00":
                self.subscribers = max(0, self.subscribers - 1)
            timeout_ms = 0

    def wait_for_subscriber(self, stop: threading.Event) -> bool:
        """Block until a subscriber is connected (True) or ``stop`` is set (False)."""
        self._read_subscriptions(0)
        announced = False
        while self.subscribers == 0:
            if stop.is_set():
                return False
            if not announced:
                log.info("waiting for a subscriber on %s", self.endpoint)
                announced = True
            self._read_subscriptions(POLL_MS)
        return True

    def deliver(self, snapshot: Snapshot, stop: threading.Event) -> bool:
        """Publish one snapshot once somebody listens; False if stopped first."""
        frames = encode_snapshot(snapshot)
        while self.wait_for_subscriber(stop):
            try:
                self._socket.send_multipart(frames, flags=zmq.NOBLOCK)
            except zmq.Again:
                # A subscriber's queue is full (NODROP): wait for room, keep listening.
                self._socket.poll(POLL_MS, zmq.POLLOUT)
                continue
            return True
        return False

    def finish(self, stop: threading.Event) -> bool:
        """Nothing to wait for: closing lingers until queued messages have left."""
        return not stop.is_set()

    def close(self) -> None:
        self._socket.close()


@dataclass
class _Entry:
    ident: str
    snapshot: Snapshot


class ZmqReplier:
    """Answer receivers' requests on ``endpoint`` (REP) with queued snapshots.

    ``on_ack(ack)`` runs in the serving thread for every acknowledged snapshot.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        context: zmq.Context[Any] | None = None,
        on_ack: Callable[[Acknowledgement], None] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.on_ack = on_ack
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.REP)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.bind(endpoint)
        self._stream = secrets.token_hex(4)
        self._counter = 0
        self._queue: collections.deque[_Entry] = collections.deque()
        self._lock = threading.Condition()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="zmq-replier", daemon=True)
        self._thread.start()

    def deliver(self, snapshot: Snapshot, stop: threading.Event) -> bool:
        """Queue a snapshot for the next request (never blocks)."""
        with self._lock:
            self._counter += 1
            self._queue.append(_Entry(f"{self._stream}-{self._counter}", snapshot))
        return True

    @property
    def unacknowledged(self) -> int:
        with self._lock:
            return len(self._queue)

    def finish(self, stop: threading.Event) -> bool:
        """Wait until every queued snapshot is acknowledged (True) or ``stop`` is set."""
        with self._lock:
            while self._queue:
                if stop.is_set():
                    return False
                self._lock.wait(POLL_MS / 1000)
        return True

    def close(self) -> None:
        self._closing.set()
        self._thread.join()
        self._socket.close()

    def _serve(self) -> None:
        while not self._closing.is_set():
            if self._socket.poll(POLL_MS, zmq.POLLIN):
                request = self._socket.recv_multipart()
                self._socket.send_multipart(self._reply(request))

    def _reply(self, request: list[bytes]) -> list[bytes]:
        try:
            fields = orjson.loads(request[0]) if len(request) == 1 else None
        except orjson.JSONDecodeError:
            fields = None
        if not isinstance(fields, dict) or fields.get("version") != WIRE_VERSION:
            return [orjson.dumps({"status": "error", "reason": "malformed request"})]
        ack = fields.get("ack")
        acknowledged: Acknowledgement | None = None
        with self._lock:
            if isinstance(ack, dict) and self._queue and ack.get("id") == self._queue[0].ident:
                result, reason = ack.get("result"), ack.get("reason")
                if result in ("stored", "duplicate", "refused"):
                    entry = self._queue.popleft()
                    acknowledged = Acknowledgement(entry.snapshot, str(result), _text(reason))
                    self._lock.notify_all()
                elif result == "failed":
                    log.warning("receiver could not store %s: %s", ack.get("id"), reason)
            head = self._queue[0] if self._queue else None
            pending = len(self._queue) - 1
        if acknowledged is not None:
            if acknowledged.result == "refused":
                log.warning("receiver refused a snapshot: %s", acknowledged.reason)
            if self.on_ack is not None:
                self.on_ack(acknowledged)
        if head is None:
            return [orjson.dumps({"version": WIRE_VERSION, "status": "empty"})]
        header = dataclasses.replace(head.snapshot.header, id=head.ident)
        return encode_snapshot(Snapshot(header, head.snapshot.body), pending=pending)


def _text(value: object) -> str | None:
    return value[:500] if isinstance(value, str) else None
