"""End-to-end processing benchmark: receiver file in the data dir -> stored JSROOT JSON.

Two data sets:

- ``flat``: one file of 1000 TH1F x 1000 bins in 10 directories;
- ``demo``: a realistic mixed run (EMC, HLT, TPC; TH1/TH2/TProfile) from ``overwatch demo``.

For each it times scan + processing + storage on SQLite and prints histograms per
second and peak memory (this process and its worker processes). When ``import ROOT``
works, it times ROOT's own read + ``TBufferJSON`` over the same flat file in the same
run (in a subprocess, so memory is measured apart) and prints the ratio.

    python benchmarks/bench_processing.py [--workers 1 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.rootjson import root_available
from benchmarks.rootjson import root_json
from overwatch.config import Settings
from overwatch.config import load_settings
from overwatch.demo import generate_demo_data
from overwatch.processing.daemon import process_pending
from overwatch.processing.scan import scan
from overwatch.receivers.writer import write_receiver_file
from overwatch.storage import Database


def write_flat_file(data_dir: Path, settings: Settings) -> Path:
    rng = np.random.default_rng(1)
    edges = np.linspace(0.0, 100.0, 1001)
    objects = {}
    for index in range(1000):
        counts = rng.poisson(50, 1000).astype(np.float32)
        objects[f"dir{index // 100}/hist{index}"] = (counts, edges)
    stamp = datetime(2018, 10, 22, 9, 53, 55, tzinfo=settings.tz)
    return write_receiver_file(data_dir, "EMC", 294832, "C", stamp, objects, settings.tz)


def settings_for(directory: Path) -> Settings:
    return load_settings(
        environ={},
        use_default_file=False,
        overrides={
            "data_dir": str(directory / "data"),
            "file_settle_seconds": 0,
            "log_level": "WARNING",
        },
    )


def run_pipeline(settings: Settings, workers: int) -> tuple[int, float]:
    db = Database(settings.effective_database_url)
    db.ensure_schema()
    start = time.perf_counter()
    scan(settings, db)
    summary = process_pending(settings, db, workers=workers)
    elapsed = time.perf_counter() - start
    db.dispose()
    if summary.failed:
        raise SystemExit(f"benchmark jobs failed: {summary.failures}")
    return summary.histograms, elapsed


def peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def ratios(results: list[tuple[str, int, float]], root_rate: float) -> list[str]:
    return [
        f"ratio to ROOT, flat file, {workers} worker(s): {best / root_rate:.2f}"
        for dataset, workers, best in results
        if dataset == "flat"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--demo-minutes", type=int, default=10)
    args = parser.parse_args()

    results: list[tuple[str, int, float]] = []
    for workers in args.workers:
        for dataset in ("flat", "demo"):
            rates = []
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory() as tmp:
                    settings = replace(settings_for(Path(tmp)), processing_workers=workers)
                    settings.data_dir.mkdir(parents=True)
                    if dataset == "flat":
                        write_flat_file(settings.data_dir, settings)
                    else:
                        generate_demo_data(
                            settings.data_dir,
                            settings.tz,
                            runs=1,
                            minutes=args.demo_minutes,
                            now=datetime.now(UTC),
                        )
                    count, seconds = run_pipeline(settings, workers)
                    rates.append(count / seconds)
            best = max(rates)
            line = (
                f"{dataset:>5} end-to-end, {workers} worker(s): {count} histograms, "
                f"best {best:,.0f} hist/s (runs: {', '.join(f'{r:,.0f}' for r in rates)})"
            )
            results.append((dataset, workers, best))
            print(line)
    own, children = peak_mb()
    print(
        f"peak memory: benchmark process {own:.0f} MB, largest helper/worker process {children:.0f} MB"
    )

    # ROOT last, so its 400+ MB process does not count towards the peaks above.
    root_rate: float | None = None
    with tempfile.TemporaryDirectory() as tmp:
        reference = settings_for(Path(tmp) / "ref")
        reference.data_dir.mkdir(parents=True)
        flat_file = write_flat_file(reference.data_dir, reference)
        if root_available():
            measured = [root_json([flat_file]) for _ in range(args.repeat)]
            rates = [run["count"] / run["seconds"] for run in measured]
            root_rate = max(rates)
            print(
                f"ROOT read + TBufferJSON (1 core): {measured[0]['count']:.0f} histograms, "
                f"best {root_rate:,.0f} hist/s (runs: {', '.join(f'{r:,.0f}' for r in rates)}), "
                f"peak {max(run['maxrss_mb'] for run in measured):.0f} MB"
            )
        else:
            print("ROOT not importable: no reference measurement (pip install root to get one)")

    if root_rate:
        for line in ratios(results, root_rate):
            print(line)


if __name__ == "__main__":
    main()
