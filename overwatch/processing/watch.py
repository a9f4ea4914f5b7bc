"""Arrival notices: react to receiver files the moment they are complete.

The periodic scan finds every file eventually; this module makes the common case fast.
It watches the top of the data directory with the operating system's file events
(inotify on Linux, through the maintained ``watchdog`` library) and reports a file as
*complete* when one of these happens to it:

- it is renamed into place (a writer's hidden temporary file becomes the final name,
  as rsync does) or moved in from another directory;
- it appears as a hard link and nobody opens it (how the atomic writer publishes
  without ever replacing a file);
- a process that had it open for writing closes it (a writer that writes in place).

A name that appears and is opened is *writing* until it is closed; the scan's settle
time still applies to anything the periodic scan finds on its own.
Notices are batched and delivered on a thread of their own, so a slow scan never
makes the event thread drop events. Nothing depends on a notice arriving: a missed
one (network file systems report nothing, the daemon was down) is caught by the next
periodic scan.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from overwatch.receivers.filenames import is_candidate

__all__ = ["Arrivals", "DirectoryWatcher"]

log = logging.getLogger(__name__)

#: A name that appeared is complete if no writer has opened it within this time. inotify
#: queues a creating open(2) right behind the creation, so this is only a safety margin.
UNOPENED_AFTER_SECONDS = 0.1


@dataclass
class Arrivals:
    """One batch of notices: files that are complete and may be taken at once."""

    complete: set[Path] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.complete)


class DirectoryWatcher:
    """Deliver :class:`Arrivals` for ``directory`` to ``on_arrival`` until :meth:`stop`.

    ``on_arrival`` runs on the watcher's delivery thread, one batch at a time; notices
    that come in meanwhile are merged into the next batch.
    """

    def __init__(self, directory: Path, on_arrival: Callable[[Arrivals], None]) -> None:
        self.directory = directory
        self._on_arrival = on_arrival
        self._lock = threading.Lock()
        self._pending = Arrivals()
        #: Names that appeared, with when; promoted to complete unless a writer opens them.
        self._appeared: dict[Path, float] = {}
        self._writing: set[Path] = set()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._observer: Any = None
        self._thread: threading.Thread | None = None

    def _candidate(self, path: str | bytes) -> Path | None:
        name = Path(path.decode() if isinstance(path, bytes) else path)
        if name.parent != self.directory or not is_candidate(name.name):
            return None
        return name

    def _complete(self, name: Path) -> None:
        with self._lock:
            self._appeared.pop(name, None)
            self._writing.discard(name)
            self._pending.complete.add(name)
        self._wake.set()

    def _appear(self, name: Path) -> None:
        with self._lock:
            self._appeared[name] = time.monotonic()
        self._wake.set()

    def _open(self, name: Path) -> None:
        with self._lock:
            if self._appeared.pop(name, None) is not None:
                self._writing.add(name)

    def _handler(self) -> Any:
        from watchdog.events import FileClosedEvent  # noqa: PLC0415 - daemon only
        from watchdog.events import FileCreatedEvent  # noqa: PLC0415
        from watchdog.events import FileMovedEvent  # noqa: PLC0415
        from watchdog.events import FileOpenedEvent  # noqa: PLC0415
        from watchdog.events import FileSystemEventHandler  # noqa: PLC0415

        watcher = self

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                path = event.dest_path if isinstance(event, FileMovedEvent) else event.src_path
                name = watcher._candidate(path)
                if name is None:
                    return
                if isinstance(event, FileMovedEvent | FileClosedEvent):
                    watcher._complete(name)
                elif isinstance(event, FileCreatedEvent):
                    watcher._appear(name)
                elif isinstance(event, FileOpenedEvent):
                    watcher._open(name)

        return _Handler()

    def _promote_unopened(self) -> bool:
        """Move names nobody opened to the pending batch; True while some still wait."""
        now = time.monotonic()
        for name, appeared in list(self._appeared.items()):
            if now - appeared >= UNOPENED_AFTER_SECONDS:
                del self._appeared[name]
                self._pending.complete.add(name)
        return bool(self._appeared)

    def _deliver(self) -> None:
        waiting = False
        while not self._stopping.is_set():
            self._wake.wait(UNOPENED_AFTER_SECONDS if waiting else None)
            if self._stopping.is_set():
                return
            with self._lock:
                waiting = self._promote_unopened()
                batch, self._pending = self._pending, Arrivals()
                self._wake.clear()
            if not batch:
                continue
            try:
                self._on_arrival(batch)
            except Exception:  # the periodic scan retries; keep watching
                log.exception(
                    "handling arrivals in %s failed; the periodic scan will retry", self.directory
                )

    def start(self) -> None:
        """Start watching; raises ``OSError`` when the platform cannot watch the directory."""
        from watchdog.observers import Observer  # noqa: PLC0415 - daemon only

        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory = self.directory.resolve()
        observer = Observer()
        observer.schedule(self._handler(), str(self.directory), recursive=False)
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._thread = threading.Thread(
            target=self._deliver, name="overwatch-arrivals", daemon=True
        )
        self._thread.start()
        log.info("watching %s for new files", self.directory)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=30)
