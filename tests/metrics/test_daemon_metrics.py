"""The processing daemon's own ``/metrics`` (``metrics_bind``) and its JSON log lines.

A real daemon with two worker processes (itself and one child) processes demo
files; its endpoint, read with Prometheus's parser, counts every finished job with
its duration, whichever process ran it, and with ``log_format: json`` every log
line is a JSON object, one per job with run, subsystem, duration and outcome.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests
from sqlalchemy import select

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.models import Job
from tests.metrics.test_gunicorn_metrics import samples
from tests.servers import free_port

pytestmark = pytest.mark.slow


def _finished_jobs(db: Database) -> list[tuple[str | None, str, str]]:
    with db.session() as session:
        rows = session.execute(
            select(Job.subsystem, Job.kind, Job.state).where(Job.state.in_(["done", "failed"]))
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_daemon_metrics_count_every_job_and_logs_are_json_lines(
    settings: Settings, db: Database
) -> None:
    from overwatch.demo import generate_demo_data  # noqa: PLC0415

    generate_demo_data(settings.data_dir, settings.tz, runs=2, minutes=2, subsystems=("EMC", "HLT"))
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OVERWATCH_")},
        "OVERWATCH_DATA_DIR": str(settings.data_dir),
        "OVERWATCH_DATABASE_URL": settings.effective_database_url,
        "OVERWATCH_FILE_SETTLE_SECONDS": "0",
        "OVERWATCH_PROCESSING_WORKERS": "2",
        "OVERWATCH_METRICS_BIND": f"127.0.0.1:{port}",
        "OVERWATCH_LOG_FORMAT": "json",
        "OVERWATCH_LOG_LEVEL": "INFO",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "overwatch", "process"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        finished: list[tuple[str | None, str, str]] = []
        while time.monotonic() < deadline:
            with db.session() as session:
                waiting = session.scalar(
                    select(Job.id).where(Job.state.in_(["queued", "running"])).limit(1)
                )
            finished = _finished_jobs(db)
            if finished and waiting is None:
                break
            time.sleep(0.5)
        assert finished, "no job finished"
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    finally:
        daemon.send_signal(signal.SIGTERM)
        output, _ = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, output

    found = samples(text)
    for subsystem in {sub for sub, _, _ in finished}:
        expected = sum(1 for sub, kind, _ in finished if sub == subsystem and kind == "process")
        labels = (("kind", "process"), ("subsystem", str(subsystem)))
        assert found[("overwatch_job_duration_seconds_count", labels)] == expected
        assert found[("overwatch_job_duration_seconds_sum", labels)] > 0
        done = (("kind", "process"), ("outcome", "done"), ("subsystem", str(subsystem)))
        assert found.get(("overwatch_jobs_finished_total", done), 0) == sum(
            1 for sub, _, state in finished if sub == subsystem and state == "done"
        )
    # The database figures are the web app's, not exported twice.
    assert not any(name == "overwatch_jobs" for name, _ in found)

    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in lines)
    job_lines = [entry for entry in lines if "job_id" in entry]
    assert len(job_lines) == len(finished)
    for entry in job_lines:
        assert entry["subsystem"] in {sub for sub, _, _ in finished}
        assert isinstance(entry["run"], int)
        assert entry["outcome"] in {"done", "failed"}
        assert entry["duration_seconds"] > 0
    # Each line names the process that ran the job (the daemon or its worker process).
    assert all(isinstance(entry["pid"], int) for entry in job_lines)
