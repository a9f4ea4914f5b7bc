"""A hanging notification channel does not slow processing: measured with the daemon.

The same files (same content, other run numbers) are processed by the daemon twice:
without notifications, and with a channel that accepts the connection and never
answers while an alarm is due. Processing must take about as long both times, be
done while the delivery still hangs, and the delivery must end as timed out.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func
from sqlalchemy import select

from overwatch.config import Settings
from overwatch.monitoring.notifications.config import load_notification_config
from overwatch.processing.daemon import run_daemon
from overwatch.receivers.writer import write_receiver_file
from overwatch.storage import Database
from overwatch.storage.models import Job
from overwatch.storage.models import NotificationDelivery
from tests.notifysupport import HangingServer
from tests.notifysupport import wait_for
from tests.processing.test_notify import add_alarm

pytestmark = pytest.mark.slow

SUBSYSTEMS = ("EMC", "HLT", "FMD")
#: The delivery's deadline: far longer than processing the files takes.
HANG_TIMEOUT = 12.0


def write_runs(settings: Settings, first_run: int) -> None:
    rng = np.random.default_rng(7)
    when = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    for run in (first_run, first_run + 1):
        for subsystem in SUBSYSTEMS:
            objects = {
                f"h{index}": np.histogram(rng.normal(size=2000), bins=200) for index in range(60)
            }
            write_receiver_file(settings.data_dir, subsystem, run, "C", when, objects, settings.tz)
            when += timedelta(minutes=1)


def done_jobs(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).where(Job.state == "done")) or 0)


def process_with_daemon(
    settings: Settings, db: Database, first_run: int, expected: int, ready: Any = None
) -> tuple[float, float]:
    """Start a daemon, wait until ``ready()``, then write the files; (seconds from the
    first file written until ``expected`` jobs are done, time.monotonic() when they were).
    The daemon takes the files from their file events and is stopped afterwards."""
    settings = replace(settings, scan_interval=3600.0, watch_files=True)
    stop = threading.Event()
    daemon = threading.Thread(
        target=run_daemon, args=(settings, db), kwargs={"workers": 1, "stop": stop}
    )
    daemon.start()
    try:
        time.sleep(1.0)  # the start-up scan has run
        if ready is not None:
            assert wait_for(ready, timeout=30)
        started = time.monotonic()
        write_runs(settings, first_run)
        assert wait_for(lambda: done_jobs(db) >= expected, timeout=120, step=0.02)
        finished = time.monotonic()
        return finished - started, finished
    finally:
        stop.set()
        daemon.join(timeout=120)
        assert not daemon.is_alive()


def test_a_hanging_channel_does_not_slow_processing(settings: Settings, db: Database) -> None:
    jobs = len(SUBSYSTEMS) * 2
    plain, _ = process_with_daemon(settings, db, 1000, jobs)

    with HangingServer() as hanging:
        notifying = replace(
            settings,
            notifications=load_notification_config(
                {
                    "channels": {"hangs": {"url": hanging.url()}},
                    "timeout_seconds": HANG_TIMEOUT,
                    "interval_seconds": 1,
                }
            ),
        )
        add_alarm(db)
        with_hang, finished = process_with_daemon(
            notifying, db, 2000, 2 * jobs, ready=lambda: hanging.accepted == 1
        )
        # The daemon stops only once the hanging delivery reached its deadline.
        hang_started = hanging.accepted_at[0]

    print(
        f"processing: {plain:.2f} s without notifications, {with_hang:.2f} s with a hanging channel"
    )
    # The hang overlapped processing, and processing was done long before its deadline.
    assert hang_started < finished
    assert finished < hang_started + HANG_TIMEOUT
    assert with_hang < plain * 1.5 + 2.0
    assert with_hang < HANG_TIMEOUT / 2
    with db.session() as session:
        delivery = session.scalars(select(NotificationDelivery)).one()
        assert delivery.attempts == 1
        assert delivery.last_error == f"timed out after {HANG_TIMEOUT:g} s"
        seconds = delivery.history[0]["seconds"]
        assert seconds == pytest.approx(HANG_TIMEOUT, abs=1.0)
