"""Metrics benchmarks: the cost of one scrape's database figures, and of counting one request.

    python benchmarks/bench_metrics.py                                  # SQLite in a temporary file
    python benchmarks/bench_metrics.py --database-url postgresql+psycopg://...   # an empty schema

The database holds 100,000 jobs (1 % queued) and 20 receivers. The request cost is
measured in prometheus-client's multiprocess mode, as under gunicorn. Figures print
as Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from overwatch.storage import Database
from overwatch.storage.models import Job
from overwatch.storage.models import utcnow
from overwatch.storage.receivers import record_receiver_activity

JOBS = 100_000
RECEIVERS = 20
SCRAPES = 30
OBSERVATIONS = 20_000

REQUEST_COST = f"""
import time
from overwatch.metrics.instruments import observe_request
observe_request("runs.run_page", "GET", 200, 0.01)
started = time.perf_counter()
for index in range({OBSERVATIONS}):
    observe_request("runs.run_page", "GET", 200, 0.01)
print((time.perf_counter() - started) / {OBSERVATIONS} * 1e6)
"""


def fill(db: Database) -> None:
    now = utcnow()
    rows = [
        {
            "kind": "process",
            "run_number": index // 3,
            "subsystem": ("EMC", "HLT", "TPC")[index % 3],
            "dedupe_key": f"bench:{index}",
            "state": "queued" if index % 100 == 0 else "done",
            "priority": 10,
            "attempts": 1,
            "max_attempts": 3,
            "created_at": now - timedelta(seconds=index),
            "params": {},
        }
        for index in range(JOBS)
    ]
    with db.session() as session:
        session.execute(insert(Job), rows)
    for index in range(RECEIVERS):
        record_receiver_activity(
            db, name=f"agent{index}", kind="dqm", accepted=5, last_file="x.root"
        )


def scrape_ms(db: Database) -> tuple[float, float]:
    from overwatch.metrics.collector import DatabaseCollector  # noqa: PLC0415

    collector = DatabaseCollector(db)
    list(collector.collect())
    times = []
    for _ in range(SCRAPES):
        started = time.perf_counter()
        list(collector.collect())
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def request_us() -> float:
    with tempfile.TemporaryDirectory() as directory:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}
        done = subprocess.run(
            [sys.executable, "-c", REQUEST_COST],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="An empty database or schema (default: SQLite).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite:///{Path(directory) / 'bench.db'}"
        db = Database(url)
        db.ensure_schema()
        fill(db)
        median, worst = scrape_ms(db)
        db.dispose()
    kind = url.split(":", 1)[0].split("+")[0]
    print("| database | scrape: database figures, median | max |")
    print("|---|---|---|")
    print(f"| {kind}, {JOBS:,} jobs, {RECEIVERS} receivers | {median:.1f} ms | {worst:.1f} ms |")
    print()
    print(f"counting one request (histogram + counter, multiprocess mode): {request_us():.1f} µs")


if __name__ == "__main__":
    main()
