"""``/metrics`` under a real gunicorn with two workers, read with Prometheus's own text parser.

Requests answered by either worker must add up in every scrape, whichever worker
answers it, and what a worker counted must survive that worker's death; the
figures kept in the database must match what is in it.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.jobs import enqueue_job
from overwatch.storage.models import utcnow
from overwatch.storage.receivers import record_receiver_activity
from tests.servers import WebServer

pytestmark = pytest.mark.slow

TIMEOUT = 30


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def server(settings: Settings, db: Database, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``overwatch web --workers 2`` with its metrics directory in ``tmp_path``."""
    metrics_dir = tmp_path / "metrics"
    with WebServer(settings, tmp_path, metrics_dir=str(metrics_dir)) as web:
        yield web.url, metrics_dir


def _worker_pids(metrics_dir: Path) -> set[int]:
    return {
        int(found.group(1))
        for path in metrics_dir.glob("counter_*.db")
        if (found := re.fullmatch(r"counter_(\d+)\.db", path.name))
    }


def _login_pages(base: str, count: int) -> None:
    def fetch(_: int) -> int:
        # A new connection each time, so the kernel hands requests to either worker.
        return requests.get(
            f"{base}/login", headers={"Connection": "close"}, timeout=TIMEOUT
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(fetch, range(count))) == {200}


def test_requests_from_both_workers_add_up_in_every_scrape(
    server: tuple[str, Path], db: Database
) -> None:
    base, metrics_dir = server
    sent = 0
    for _ in range(10):  # until both workers have answered some
        _login_pages(base, 40)
        sent += 40
        if len(_worker_pids(metrics_dir)) == 2:
            break
    pids = _worker_pids(metrics_dir)
    assert len(pids) == 2, pids

    for _ in range(6):  # scrapes answered by one worker or the other
        response = requests.get(f"{base}/metrics", timeout=TIMEOUT)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.text
        labels = {"endpoint": "auth.login", "method": "GET"}
        assert value(text, "overwatch_http_requests_total", status="200", **labels) == sent
        assert value(text, "overwatch_http_request_duration_seconds_count", **labels) == sent
        assert value(text, "overwatch_http_request_duration_seconds_sum", **labels) > 0

    # A worker that dies is replaced; what it counted stays in the totals.
    os.kill(sorted(pids)[0], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while len(_worker_pids(metrics_dir) - pids) == 0:
        _login_pages(base, 4)
        sent += 4
        assert time.monotonic() < deadline, "no new worker answered"
    text = requests.get(f"{base}/metrics", timeout=TIMEOUT).text
    total = value(
        text, "overwatch_http_requests_total", endpoint="auth.login", method="GET", status="200"
    )
    assert total == sent


def test_database_figures_are_read_at_scrape_time(server: tuple[str, Path], db: Database) -> None:
    base, _ = server
    first = requests.get(f"{base}/metrics", timeout=TIMEOUT).text
    assert value(first, "overwatch_database_up") == 1
    assert value(first, "overwatch_jobs", state="queued") == 0
    assert value(first, "overwatch_queue_oldest_age_seconds") == 0
    assert value(first, "overwatch_database_size_bytes") > 0

    with db.session() as session:
        job = enqueue_job(
            session, kind="process", dedupe_key="process:1:EMC", run_number=1, subsystem="EMC"
        )
        job.created_at = utcnow() - timedelta(minutes=10)
    record_receiver_activity(db, name="dqm", kind="dqm", accepted=1, last_file="a.root")
    record_receiver_activity(db, name="dqm", kind="dqm", accepted=1, last_file="b.root")
    record_receiver_activity(db, name="dqm", kind="dqm", refused=1, reason="not ROOT")

    text = requests.get(f"{base}/metrics", timeout=TIMEOUT).text
    assert value(text, "overwatch_jobs", state="queued") == 1
    assert 600 <= value(text, "overwatch_queue_oldest_age_seconds") < 700
    receiver = {"receiver": "dqm", "kind": "dqm"}
    assert value(text, "overwatch_receiver_files_received_total", **receiver) == 2
    assert value(text, "overwatch_receiver_files_refused_total", **receiver) == 1
    assert 0 <= value(text, "overwatch_receiver_last_file_age_seconds", **receiver) < 60
