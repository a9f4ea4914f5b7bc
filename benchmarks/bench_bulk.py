"""Bulk reprocessing benchmark: local workers against a local Dask cluster of 1 and 2 workers.

Writes ``--runs`` demo runs (HLT, whose files TPC borrows: two jobs per run, one
snapshot each), processes them once, then times ``overwatch reprocess`` three ways
over the same jobs: one local worker process (warm), a Dask cluster with one worker,
and one with two workers (``dask scheduler`` + ``dask worker`` processes on
localhost, prepared — imports, plugins — before the clock starts).
Prints jobs per second and the speed-up of two Dask workers over one.

    python benchmarks/bench_bulk.py [--runs 100] [--database-url postgresql://...]

SQLite is the default; use PostgreSQL for figures that stand for several hosts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from overwatch.config import Settings
from overwatch.config import load_settings
from overwatch.demo import generate_demo_data
from overwatch.processing import bulk
from overwatch.processing.daemon import process_pending
from overwatch.processing.scan import scan
from overwatch.storage import Database
from tests.dasksupport import DaskCluster


def _prepare(address: str, settings: Settings) -> None:
    from distributed import Client  # noqa: PLC0415

    with Client(address) as client:
        client.run(bulk.prepare_worker, settings)


def _settings(data_dir: Path, database_url: str | None) -> Settings:
    overrides: dict[str, object] = {"data_dir": str(data_dir), "file_settle_seconds": 0}
    if database_url:
        overrides["database_url"] = database_url
    return load_settings(environ={}, overrides=overrides, use_default_file=False)


def _timed(label: str, jobs: int, run: object) -> float:
    start = time.perf_counter()
    summary = run()  # type: ignore[operator]
    seconds = time.perf_counter() - start
    assert summary.failed == 0, summary.failures
    print(f"{label:<28} {jobs} jobs in {seconds:6.1f} s  {jobs / seconds:6.1f} jobs/s")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        generate_demo_data(data_dir, ZoneInfo("UTC"), runs=args.runs, minutes=1, subsystems=["HLT"])
        settings = _settings(data_dir, args.database_url)
        db = Database(settings.effective_database_url)
        db.ensure_schema()
        scan(settings, db)
        process_pending(settings, db, workers=1)
        jobs = len(bulk.queue(settings, db))
        local = _timed(
            "local, 1 worker process",
            jobs,
            lambda: bulk.run_local(settings, db, bulk.queue(settings, db), workers=1),
        )
        timings = {}
        for workers in (1, 2):
            cluster = DaskCluster(Path(tmp))
            try:
                cluster.start(workers=workers)
                # Imports and plugin loading (seconds per worker) once, before the clock starts.
                _prepare(cluster.address, settings)
                timings[workers] = _timed(
                    f"Dask, {workers} worker(s)",
                    jobs,
                    lambda address=cluster.address: bulk.run_on_dask(
                        settings, db, bulk.queue(settings, db), address
                    ),
                )
            finally:
                cluster.stop()
        print(
            f"speed-up of 2 Dask workers over 1: {timings[1] / timings[2]:.2f}; "
            f"1 Dask worker against local: {local / timings[1]:.2f}"
        )
        db.dispose()


if __name__ == "__main__":
    main()
