"""Sending messages through apprise, each channel in a thread of its own, with a deadline.

The guarantee: :func:`send_all` returns within ``timeout`` seconds (plus thread
start-up), whatever the channels do. Every channel's messages are sent, in order,
by one daemon thread; the caller waits for all of them until the common deadline.
A channel still busy then is reported as timed out, for every message it had not
finished, and its thread is left to end on its own (apprise's own socket timeouts
end it); until it has, further sends to that channel fail at once with "an earlier
delivery is still hanging" instead of piling up threads.

apprise is imported on first use, never at import of this module. Its log records
of a delivery are kept as that delivery's error text (a context variable marks
which delivery a record belongs to, and apprise carries the context into its own
worker threads); its DEBUG records are not passed on to the program's log, as they
may show the URL.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from overwatch.monitoring.notifications.config import ChannelSpec
from overwatch.monitoring.notifications.config import NotificationConfigError
from overwatch.monitoring.notifications.config import mask_url
from overwatch.monitoring.notifications.messages import Message

__all__ = ["Outcome", "check_channels", "send_all"]

log = logging.getLogger(__name__)

#: Longest error text kept per delivery.
MAX_ERROR = 2000
_APPRISE_TYPES = {"critical": "failure", "warning": "warning", "info": "info"}
_records: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "overwatch_notification_records", default=None
)
_hanging: dict[str, threading.Thread] = {}
_hanging_lock = threading.Lock()
_capture_lock = threading.Lock()
_capture_installed = False


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    seconds: float
    error: str | None = None


class _Capture(logging.Filter):
    """On the ``apprise`` logger: keep a delivery's records, pass on what was asked for."""

    def __init__(self, passthrough_level: int) -> None:
        super().__init__()
        self.passthrough_level = passthrough_level

    def filter(self, record: logging.LogRecord) -> bool:
        kept = _records.get()
        if kept is not None:
            text = record.getMessage()
            # Warnings say what failed; the DEBUG "Socket Exception: ..." says why.
            if record.levelno >= logging.WARNING or "Exception" in text:
                kept.append(text)
        return record.levelno >= self.passthrough_level


def _install_capture() -> None:
    global _capture_installed  # noqa: PLW0603 - one filter per process, installed on first use
    with _capture_lock:
        if _capture_installed:
            return
        logger = logging.getLogger("apprise")
        passthrough = max(logger.getEffectiveLevel(), logging.INFO)
        logger.addFilter(_Capture(passthrough))
        logger.setLevel(logging.DEBUG)
        _capture_installed = True


def _apprise_for(url: str) -> Any:
    import apprise  # noqa: PLC0415 - a heavy import, only where messages are sent

    # Sequential sending: this thread is the one the caller waits for.
    notifier = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
    return notifier if notifier.add(url) else None


def check_channels(channels: Sequence[ChannelSpec]) -> None:
    """Raise :class:`NotificationConfigError` naming the first channel whose URL apprise
    does not understand (an unknown scheme, a missing token)."""
    for channel in channels:
        if _apprise_for(channel.url) is None:
            raise NotificationConfigError(
                f"notifications.channels.{channel.name}.url",
                f"apprise cannot use this URL ({mask_url(channel.url)}); "
                "see https://github.com/caronc/apprise/wiki for the forms",
            )


def _error_text(kept: list[str], url: str, fallback: str) -> str:
    text = "; ".join(dict.fromkeys(kept)) or fallback
    return text.replace(url, mask_url(url))[:MAX_ERROR]


def _send_one(channel: ChannelSpec, message: Message) -> Outcome:
    started = time.perf_counter()
    kept: list[str] = []
    token = _records.set(kept)
    try:
        notifier = _apprise_for(channel.url)
        if notifier is None:
            return Outcome(False, 0.0, f"apprise cannot use the URL {mask_url(channel.url)}")
        ok = bool(
            notifier.notify(
                body=message.body,
                title=message.title,
                notify_type=_APPRISE_TYPES.get(message.severity, "info"),
            )
        )
    except Exception as exc:  # noqa: BLE001 - a plugin's failure is this delivery's error
        kept.append(f"{type(exc).__name__}: {exc}")
        ok = False
    finally:
        _records.reset(token)
    seconds = time.perf_counter() - started
    if ok:
        return Outcome(True, seconds)
    return Outcome(False, seconds, _error_text(kept, channel.url, "apprise reported a failure"))


class _ChannelRun:
    """One channel's messages, sent in order by one daemon thread."""

    def __init__(self, channel: ChannelSpec, items: list[tuple[int, Message]]) -> None:
        self.channel = channel
        self.items = items
        self.outcomes: dict[int, Outcome] = {}
        self.thread = threading.Thread(target=self._run, name=f"notify-{channel.name}", daemon=True)

    def _run(self) -> None:
        for key, message in self.items:
            self.outcomes[key] = _send_one(self.channel, message)


def send_all(
    jobs: Sequence[tuple[int, ChannelSpec, Message]], timeout: float
) -> dict[int, Outcome]:
    """Send ``(key, channel, message)`` jobs, channels in parallel; outcomes by key.

    Returns within ``timeout`` seconds: what has not finished by then is a failure
    "timed out after N s".
    """
    _install_capture()
    by_channel: dict[str, _ChannelRun] = {}
    results: dict[int, Outcome] = {}
    for key, channel, message in jobs:
        run = by_channel.get(channel.name)
        if run is None:
            run = by_channel[channel.name] = _ChannelRun(channel, [])
        run.items.append((key, message))
    started = time.perf_counter()
    runs = []
    for name, run in by_channel.items():
        with _hanging_lock:
            earlier = _hanging.get(name)
            if earlier is not None and earlier.is_alive():
                busy = Outcome(False, 0.0, "an earlier delivery to this channel is still hanging")
                results.update(dict.fromkeys((key for key, _ in run.items), busy))
                continue
            _hanging.pop(name, None)
        run.thread.start()
        runs.append(run)
    deadline = started + timeout
    for run in runs:
        run.thread.join(max(deadline - time.perf_counter(), 0.0))
        if run.thread.is_alive():
            with _hanging_lock:
                _hanging[run.channel.name] = run.thread
            log.warning(
                "notification channel %s did not answer within %g s", run.channel.name, timeout
            )
        elapsed = time.perf_counter() - started
        for key, _ in run.items:
            # Read once: the thread may still add outcomes after the deadline.
            outcome = run.outcomes.get(key)
            results[key] = outcome or Outcome(False, elapsed, f"timed out after {timeout:g} s")
    return results
