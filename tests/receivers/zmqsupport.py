"""Helpers for the ZMQ and replay tests: endpoints, receivers in threads, archived runs."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from overwatch.receivers.writer import write_receiver_file
from overwatch.receivers.zmqreceiver import Outcome
from overwatch.receivers.zmqreceiver import ZmqMode
from overwatch.receivers.zmqreceiver import ZmqReceiver

ZURICH = ZoneInfo("Europe/Zurich")
START = datetime(2018, 10, 22, 7, 0, 0, tzinfo=UTC)
#: Upper bound for anything a test waits for; a healthy run takes well under a second.
TIMEOUT = 60.0


def free_endpoint() -> str:
    """A TCP endpoint on a port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def root_files(directory: Path) -> list[str]:
    """Every entry anywhere under ``directory`` (hidden temporaries too), sorted."""
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())


@dataclass
class RunningReceiver:
    receiver: ZmqReceiver
    stop: threading.Event
    thread: threading.Thread
    outcomes: list[Outcome]
    refusals: list[str]


@contextlib.contextmanager
def running_receiver(
    endpoint: str,
    data_dir: Path,
    *,
    mode: ZmqMode = "sub",
    max_bytes: int = 10_000_000,
    interval: float = 0.05,
    after_file: Callable[[RunningReceiver], None] | None = None,
) -> Iterator[RunningReceiver]:
    """A receiver in a background thread, stopped and joined when the block ends."""
    outcomes: list[Outcome] = []
    refusals: list[str] = []
    stop = threading.Event()
    running: RunningReceiver

    def on_file(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if after_file is not None:
            after_file(running)

    receiver = ZmqReceiver(
        endpoint,
        data_dir=data_dir,
        tz=ZURICH,
        max_bytes=max_bytes,
        mode=mode,
        interval=interval,
        reply_timeout=5.0,
        on_file=on_file,
        on_refused=refusals.append,
    )
    thread = threading.Thread(target=receiver.run, args=(stop,), daemon=True)
    running = RunningReceiver(receiver, stop, thread, outcomes, refusals)
    thread.start()
    try:
        yield running
    finally:
        stop.set()
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "receiver did not stop"


def write_archive(
    root: Path,
    run_number: int,
    subsystems: tuple[str, ...] = ("EMC", "TPC"),
    minutes: int = 3,
    *,
    hlt_mode: str = "C",
    start: datetime = START,
) -> list[Path]:
    """A ``Run<N>/<SYS>/`` folder as processing files it; returns files in time order."""
    written: list[Path] = []
    for minute in range(minutes):
        for offset, subsystem in enumerate(subsystems):
            when = start + timedelta(minutes=minute, seconds=offset * 7)
            counts = np.arange(10, dtype=np.float64) * (minute + 1) + offset
            objects: dict[str, Any] = {
                f"{subsystem}QA/hist_a": (counts, np.linspace(0, 10, 11)),
                f"{subsystem}QA/hist_b": (counts * 2, np.linspace(0, 10, 11)),
            }
            folder = root / f"Run{run_number}" / subsystem
            written.append(
                write_receiver_file(folder, subsystem, run_number, hlt_mode, when, objects, ZURICH)
            )
    return written
