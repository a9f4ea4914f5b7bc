"""Replay archived receiver files: how a site rehearses a shift and tests drive a run.

:func:`replay` takes receiver files (a ``Run<N>/`` folder as processing files them,
with its ``<SYS>/`` subfolders, a folder of loose files, or single files), orders
them by the time in their names, and hands them, at their original pace divided
by ``speed``, to a sink: :class:`DataDirSink` writes them into a data directory
through the atomic writer, the ZMQ senders of :mod:`overwatch.receivers.zmqsender`
serve them to ZMQ receivers. The ROOT bytes are never changed; only the name
may be:

* ``as_run`` renumbers every file as another run (the source must hold one run);
* the HLT mode is kept, except ``E`` (the HLT's own replay mode, which processing
  sets aside unprocessed) becomes ``C``, so a replay is processed like data
  taking; ``hlt_mode`` forces one mode for all files;
* ``now_times`` stamps each file with the time it is replayed (one second past
  the previous file of its subsystem at the least, so names stay unique and in
  order) instead of its original time, so the run looks ongoing (the live demo).

Setting ``stop_event`` stops the replay between two files (a file being written
is finished first: the writer is atomic). The function runs in any thread; the
demo runs it in the background with ``now_times=True``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Literal
from typing import Protocol
from zoneinfo import ZoneInfo

from overwatch.receivers.filenames import HLT_MODES
from overwatch.receivers.filenames import FileNameError
from overwatch.receivers.filenames import ReceivedFileName
from overwatch.receivers.filenames import is_candidate
from overwatch.receivers.filenames import parse_file_name
from overwatch.receivers.snapshot import MAX_RUN_NUMBER
from overwatch.receivers.snapshot import Snapshot
from overwatch.receivers.snapshot import SnapshotError
from overwatch.receivers.snapshot import SnapshotHeader
from overwatch.receivers.snapshot import store_snapshot

__all__ = [
    "Clock",
    "DataDirSink",
    "Delivery",
    "ReplayError",
    "ReplayFile",
    "ReplaySummary",
    "ReplayedFile",
    "SnapshotSink",
    "SystemClock",
    "collect_files",
    "replay",
    "replay_mode",
]

log = logging.getLogger(__name__)

Delivery = Literal["stored", "duplicate", "sent", "refused", "stopped"]


class ReplayError(ValueError):
    """A replay that cannot start: no files, several runs for ``as_run``, a bad option."""


class SnapshotSink(Protocol):
    """Where replayed snapshots go."""

    def deliver(self, snapshot: Snapshot, stop: threading.Event) -> Delivery | bool:
        """Hand over one snapshot; ``False``/``"stopped"`` if ``stop`` was set first."""
        ...

    def finish(self, stop: threading.Event) -> bool:
        """Wait until everything handed over has arrived; False if stopped first."""
        ...

    def close(self) -> None:
        """Release sockets or files."""
        ...


class Clock(Protocol):
    """Time as the replay sees it (tests pass a clock that records the waits)."""

    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait ``seconds``; True if ``stop`` was set meanwhile."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        return stop.wait(seconds)


class DataDirSink:
    """Write replayed snapshots into a data directory as receiver files."""

    def __init__(self, data_dir: Path, tz: ZoneInfo) -> None:
        self.data_dir = Path(data_dir)
        self.tz = tz

    def deliver(self, snapshot: Snapshot, stop: threading.Event) -> Delivery:
        try:
            stored = store_snapshot(self.data_dir, snapshot, self.tz)
        except SnapshotError as exc:
            log.warning("replay: %s", exc)
            return "refused"
        return "duplicate" if stored.duplicate else "stored"

    def finish(self, stop: threading.Event) -> bool:
        return True

    def close(self) -> None:
        """Nothing to release."""


@dataclass(frozen=True, slots=True)
class ReplayFile:
    """One archived receiver file and what its name says."""

    path: Path
    name: ReceivedFileName


@dataclass(frozen=True, slots=True)
class ReplayedFile:
    """Progress report for one file (passed to ``on_file``)."""

    index: int
    total: int
    source: Path
    header: SnapshotHeader
    #: The receiver file name it is delivered under.
    file_name: str
    nbytes: int
    delivery: Delivery


@dataclass
class ReplaySummary:
    total: int
    delivered: int = 0
    duplicates: int = 0
    refused: int = 0
    stopped: bool = False
    #: Files in the source whose names are not receiver file names.
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def _files_under(source: Path) -> Iterable[Path]:
    if source.is_file():
        yield source
        return
    if not source.is_dir():
        raise ReplayError(f"{source} is neither a file nor a folder")
    for path in source.rglob("*.root"):
        relative = path.relative_to(source).parts
        if path.is_file() and not any(part.startswith(".") for part in relative):
            yield path


def collect_files(
    sources: Path | Iterable[Path], tz: ZoneInfo
) -> tuple[list[ReplayFile], list[tuple[Path, str]]]:
    """Receiver files under ``sources`` in time order, and the skipped files with reasons."""
    roots = [Path(sources)] if isinstance(sources, str | Path) else [Path(s) for s in sources]
    files: dict[Path, ReplayFile] = {}
    skipped: list[tuple[Path, str]] = []
    for root in roots:
        for path in _files_under(root):
            if not is_candidate(path.name):
                continue
            try:
                files[path.resolve()] = ReplayFile(path, parse_file_name(path.name, tz))
            except FileNameError as exc:
                skipped.append((path, str(exc)))
    ordered = sorted(
        files.values(), key=lambda f: (f.name.timestamp, f.name.subsystem, f.path.name)
    )
    return ordered, skipped


def replay_mode(original: str, forced: str | None = None) -> str:
    """The HLT mode a replayed file gets: ``forced``, else the original with ``E`` -> ``C``."""
    if forced is not None:
        return forced
    return "C" if original == "E" else original


def _check_options(
    files: list[ReplayFile], speed: float, as_run: int | None, hlt_mode: str | None
) -> None:
    if not speed > 0:
        raise ReplayError(f"speed must be greater than 0, got {speed}")
    if as_run is not None:
        if not 1 <= as_run <= MAX_RUN_NUMBER:
            raise ReplayError(f"run number {as_run} must be between 1 and {MAX_RUN_NUMBER}")
        runs = sorted({f.name.run_number for f in files})
        if len(runs) > 1:
            raise ReplayError(f"--as-run needs files of one run; these hold runs {runs}")
    if hlt_mode is not None and hlt_mode not in HLT_MODES:
        raise ReplayError(f"unknown HLT mode {hlt_mode!r} (known: {sorted(HLT_MODES)})")


def replay(
    source: Path | Iterable[Path],
    *,
    sink: SnapshotSink,
    tz: ZoneInfo,
    speed: float = 1.0,
    as_run: int | None = None,
    hlt_mode: str | None = None,
    now_times: bool = False,
    on_file: Callable[[ReplayedFile], None] | None = None,
    stop_event: threading.Event | None = None,
    clock: Clock | None = None,
) -> ReplaySummary:
    """Feed the receiver files of ``source`` to ``sink``; see the module docstring.

    ``on_file`` is called after each file is handed over. Raises
    :class:`ReplayError` before sending anything if the replay cannot start.
    """
    files, skipped = collect_files(source, tz)
    for path, reason in skipped:
        log.warning("replay: skipping %s: %s", path, reason)
    if not files:
        raise ReplayError(f"no receiver files in {source}")
    _check_options(files, speed, as_run, hlt_mode)
    stop = stop_event or threading.Event()
    clock = clock or SystemClock()
    summary = ReplaySummary(total=len(files), skipped=skipped)
    start, first = clock.monotonic(), files[0].name.timestamp
    previous: dict[tuple[str, int], datetime] = {}
    for index, item in enumerate(files, start=1):
        offset = (item.name.timestamp - first).total_seconds() / speed
        delay = start + offset - clock.monotonic()
        if (delay > 0 and clock.wait(delay, stop)) or stop.is_set():
            summary.stopped = True
            break
        run_number = as_run if as_run is not None else item.name.run_number
        when = item.name.timestamp
        if now_times:
            key = (item.name.subsystem, run_number)
            when = clock.now().astimezone(UTC).replace(microsecond=0)
            if key in previous and when <= previous[key]:
                when = previous[key] + timedelta(seconds=1)
            previous[key] = when
        body = item.path.read_bytes()
        header = SnapshotHeader(
            subsystem=item.name.subsystem,
            run_number=run_number,
            hlt_mode=replay_mode(item.name.hlt_mode, hlt_mode),
            time=when,
            sha256=hashlib.sha256(body).hexdigest(),
        )
        outcome = sink.deliver(Snapshot(header, body), stop)
        delivery: Delivery = (
            "sent" if outcome is True else "stopped" if outcome is False else outcome
        )
        if delivery == "stopped":
            summary.stopped = True
            break
        summary.delivered += delivery != "refused"
        summary.duplicates += delivery == "duplicate"
        summary.refused += delivery == "refused"
        if on_file is not None:
            on_file(
                ReplayedFile(
                    index=index,
                    total=len(files),
                    source=item.path,
                    header=header,
                    file_name=header.file_name(tz),
                    nbytes=len(body),
                    delivery=delivery,
                )
            )
    if not summary.stopped and not sink.finish(stop):
        summary.stopped = True
    return summary
