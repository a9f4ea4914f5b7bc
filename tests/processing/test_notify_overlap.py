"""A notification pass hanging longer than the pass interval: the daemon skips the passes
in between and says so once, instead of APScheduler warning on every pass."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

import pytest

from overwatch.config import Settings
from overwatch.monitoring.notifications.config import load_notification_config
from overwatch.processing.daemon import run_daemon
from overwatch.storage import Database
from tests.notifysupport import HangingServer
from tests.notifysupport import wait_for
from tests.processing.test_notify import add_alarm

pytestmark = pytest.mark.slow

TIMEOUT = 4.0


def test_passes_during_a_hang_are_skipped_with_one_message(
    settings: Settings, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with HangingServer() as hanging:
        notifying = replace(
            settings,
            scan_interval=3600.0,
            watch_files=False,
            notifications=load_notification_config(
                {
                    "channels": {"hangs": {"url": hanging.url()}},
                    "timeout_seconds": TIMEOUT,
                    "interval_seconds": 0.5,
                }
            ),
        )
        add_alarm(db)
        stop = threading.Event()
        daemon = threading.Thread(
            target=run_daemon, args=(notifying, db), kwargs={"workers": 1, "stop": stop}
        )
        daemon.start()
        try:
            assert wait_for(lambda: hanging.accepted == 1, timeout=30)
            # Several pass intervals while the first delivery hangs, then past its deadline.
            time.sleep(TIMEOUT + 1.5)
        finally:
            stop.set()
            daemon.join(timeout=60)
        assert not daemon.is_alive()
        assert hanging.accepted == 1

    messages = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert not [m for m in messages if "maximum number of running instances" in m[2]]
    assert not [m for m in messages if "was missed by" in m[2]]
    skipped = [m for m in messages if "skipping passes until it ends" in m[2]]
    assert skipped == [
        (
            "overwatch.processing.daemon",
            logging.WARNING,
            "notifications: the previous pass is still running; skipping passes until it ends",
        )
    ]
    assert any("notifications: the long pass ended" in m[2] for m in messages)
    assert any(f"timed out after {TIMEOUT:g} s" in m[2] for m in messages)
