"""The demo's ongoing run: new snapshots every few seconds, as a receiver writes them.

:func:`continue_run` takes up the simulation of one demo run where
:func:`overwatch.demo.generate_demo_data` left it (same seed, same conditions, so the
planted problems go on: the TPC drift keeps climbing) and writes one snapshot per
subsystem every ``interval`` seconds, stamped with the current time, through the
receivers' atomic writer into the data directory. Each simulated minute takes
``interval`` seconds, so a newcomer watches the run page, its "ongoing" mark and the
status page's receiver heartbeat change without reloading. It records a heartbeat
as the receiver ``demo live``.

:func:`live_process` runs it in a process of its own (spawned: a fresh interpreter
that shares nothing with the demo), stopped by SIGINT or SIGTERM, and by the end of
the process that started it.
"""

from __future__ import annotations

import logging
import signal
import threading
import zlib
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from types import FrameType
from typing import Any

import numpy as np

from overwatch.config import Settings
from overwatch.demo import HLT_MODE
from overwatch.demo import SIMULATIONS
from overwatch.demo import SUBSYSTEMS
from overwatch.demo import run_conditions
from overwatch.demo.simulation import RunSimulation
from overwatch.receivers.writer import write_receiver_file

__all__ = ["LIVE_RECEIVER", "continue_run", "live_process"]

log = logging.getLogger(__name__)

#: The heartbeat name of the demo's live writer on the status page.
LIVE_RECEIVER = "demo live"
#: Seconds between snapshots: each stands for one minute of data taking.
DEFAULT_INTERVAL = 5.0


def _simulations(
    seed: int, run_number: int, index: int, runs: int, subsystems: Sequence[str]
) -> dict[str, RunSimulation]:
    # The same streams generate_demo_data used, so the run goes on as it began.
    conditions = run_conditions(seed, run_number, index, runs)
    return {
        subsystem: SIMULATIONS[subsystem](
            np.random.default_rng([seed, run_number, zlib.crc32(subsystem.encode())]), conditions
        )
        for subsystem in subsystems
    }


def continue_run(
    settings: Settings,
    *,
    run_number: int,
    index: int,
    runs: int,
    minutes_done: int,
    stop: threading.Event,
    interval: float = DEFAULT_INTERVAL,
    seed: int = 20181022,
    subsystems: Sequence[str] = SUBSYSTEMS,
    db: Any = None,
) -> int:
    """Write snapshots of minute ``minutes_done + 1``, ``+ 2``, ... until ``stop``; returns
    how many files were written. ``index``/``runs`` place the run among the demo's runs
    (they decide its planted problem); ``db``, if given, receives the heartbeats."""
    simulations = _simulations(seed, run_number, index, runs, subsystems)
    for minute in range(1, minutes_done + 1):
        for simulation in simulations.values():
            simulation.advance(minute)
    heartbeat = None
    if db is not None:
        from overwatch.receivers.heartbeats import Heartbeat  # noqa: PLC0415

        heartbeat = Heartbeat(db, LIVE_RECEIVER, "replay")
    written = 0
    minute = minutes_done
    last_second = None
    while not stop.wait(interval):
        minute += 1
        now = datetime.now(UTC).replace(microsecond=0)
        if now == last_second:  # names have whole seconds; never reuse one
            continue
        last_second = now
        for subsystem, simulation in simulations.items():
            simulation.advance(minute)
            path = write_receiver_file(
                settings.data_dir,
                subsystem,
                run_number,
                HLT_MODE,
                now,
                simulation.snapshot(),
                settings.tz,
            )
            written += 1
            if heartbeat is not None:
                heartbeat.record(accepted=1, nbytes=path.stat().st_size, last_file=path.name)
        log.info("demo run %d: minute %d written", run_number, minute)
    return written


def _live_main(settings: Settings, arguments: dict[str, Any]) -> None:
    from overwatch.logs import configure_logging  # noqa: PLC0415

    configure_logging(settings)  # the same format and level as the daemon beside it
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    from overwatch.processing.lifeline import exit_with_parent  # noqa: PLC0415
    from overwatch.storage import Database  # noqa: PLC0415

    exit_with_parent(arguments.pop("parent_pid"), signal.SIGTERM)
    db = Database(settings.effective_database_url)
    try:
        continue_run(settings, stop=stop, db=db, **arguments)
    finally:
        db.dispose()


def live_process(settings: Settings, **arguments: Any) -> Any:
    """Start :func:`continue_run` in a spawned process; stop it with ``terminate()``."""
    import multiprocessing  # noqa: PLC0415
    import os  # noqa: PLC0415

    process = multiprocessing.get_context("spawn").Process(
        target=_live_main,
        args=(settings, {**arguments, "parent_pid": os.getpid()}),
        name="overwatch-demo-live",
    )
    process.start()
    return process
