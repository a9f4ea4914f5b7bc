"""Whole-process intake against ROOT: ``overwatch process --once`` vs a ROOT script.

Both sides are timed from outside, as a user would time them: a fresh process,
start-up and imports included, over the same files, warm in the page cache.

- Overwatch: ``python -m overwatch process --once`` on a data directory holding the
  receiver files and an empty, already migrated SQLite database (scan, checksums,
  registration, filing, the jobs, JSROOT JSON, gzip, storage).
- ROOT: ``import ROOT``, then for every file ``TFile::Open``, every key read and
  converted with ``TBufferJSON::ToJSON`` (the CERN ``root`` wheel).

Data sets:

- ``small``: ``--files`` receiver files (default 300: 100 runs x 3 subsystems, one
  file each, so every file is processed), each holding 50 TH1F of 100 bins and 50
  TH2F of 50 x 50 bins, as receivers write them every minute;
- ``large``: 3 files (3 runs) of 1,000 TH1F of 1,000 bins in 10 directories.

Prints each repetition and the best of both sides, and the ratio
ROOT seconds / Overwatch seconds (above 1 means Overwatch is faster).

    python benchmarks/bench_whole.py [small large] [--repeat 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

ROOT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT_DIR))

from benchmarks.rootjson import root_available  # noqa: E402
from benchmarks.rootjson import root_json  # noqa: E402
from overwatch.receivers.writer import write_receiver_file  # noqa: E402

TZ = ZoneInfo("Europe/Zurich")
SUBSYSTEMS = ("EMC", "HLT", "TPC")


def write_small(directory: Path, files: int) -> int:
    """``files`` receiver files of 100 histograms, one per (run, subsystem)."""
    rng = np.random.default_rng(1)
    edges_1d = np.linspace(0.0, 100.0, 101)
    edges_2d = np.linspace(0.0, 50.0, 51)
    start = datetime(2018, 10, 22, 9, 0, 0, tzinfo=TZ)
    for index in range(files):
        run, subsystem = 290000 + index // len(SUBSYSTEMS), SUBSYSTEMS[index % len(SUBSYSTEMS)]
        objects: dict[str, object] = {}
        for number in range(50):
            counts = rng.poisson(20, 100).astype(np.float32)
            objects[f"{subsystem}hist{number}"] = (counts, edges_1d)
        for number in range(50):
            counts_2d = rng.poisson(5, (50, 50)).astype(np.float32)
            objects[f"{subsystem}map{number}"] = (counts_2d, edges_2d, edges_2d)
        stamp = start + timedelta(minutes=index)
        write_receiver_file(directory, subsystem, run, "C", stamp, objects, TZ)
    return files * 100


def write_large(directory: Path) -> int:
    """3 files of 1,000 TH1F x 1,000 bins in 10 directories, one run each."""
    rng = np.random.default_rng(1)
    edges = np.linspace(0.0, 100.0, 1001)
    for index in range(3):
        objects: dict[str, object] = {}
        for number in range(1000):
            counts = rng.poisson(50, 1000).astype(np.float32)
            objects[f"dir{number // 100}/hist{number}"] = (counts, edges)
        stamp = datetime(2018, 10, 22, 9, 53, 55, tzinfo=TZ) + timedelta(minutes=index)
        write_receiver_file(directory, "EMC", 294832 + index, "C", stamp, objects, TZ)
    return 3000


def _environment(data_dir: Path, database: Path, workers: int) -> dict[str, str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("OVERWATCH_")}
    environ.update(
        {
            "PYTHONPATH": str(ROOT_DIR),
            "OVERWATCH_DATA_DIR": str(data_dir),
            "OVERWATCH_DATABASE_URL": f"sqlite:///{database}",
            "OVERWATCH_FILE_SETTLE_SECONDS": "0",
            "OVERWATCH_LOG_LEVEL": "WARNING",
            "OVERWATCH_PROCESSING_WORKERS": str(workers),
        }
    )
    return environ


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_overwatch(source: Path, work: Path, workers: int) -> tuple[float, float, str]:
    """Wall and CPU seconds of one ``process --once`` over a fresh copy of ``source``;
    its summary line."""
    if work.exists():
        shutil.rmtree(work)
    data_dir = work / "data"
    shutil.copytree(source, data_dir)
    database = work / "overwatch.sqlite"
    environ = _environment(data_dir, database, workers)
    command = [sys.executable, "-m", "overwatch"]
    subprocess.run([*command, "db", "upgrade"], env=environ, check=True, capture_output=True)
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(
        [*command, "process", "--once"], env=environ, check=True, capture_output=True, text=True
    )
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    return seconds, cpu, done.stdout.strip().splitlines()[-1]


def time_root(source: Path) -> tuple[float, float, int] | None:
    """Wall and CPU seconds of one ROOT process converting every file in ``source``;
    objects converted."""
    if not root_available():
        return None
    files = sorted(source.glob("*.root"))
    cpu, start = _children_cpu(), time.perf_counter()
    measured = root_json(files)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    return seconds, cpu, int(measured["count"])


def bench(name: str, source: Path, count: int, repeat: int, workers: int, tmp: Path) -> None:
    files = len(list(source.glob("*.root")))
    print(f"{name}: {files} files, {count} histograms")
    own: list[float] = []
    reference: list[float] = []
    for attempt in range(repeat):
        # Alternate the two, so a burst of load elsewhere hits both alike.
        seconds, cpu, summary = time_overwatch(source, tmp / f"{name}-{attempt}", workers)
        own.append(seconds)
        print(f"  overwatch ({workers} workers) {seconds:6.2f} s wall {cpu:6.2f} s CPU   {summary}")
        measured = time_root(source)
        if measured is not None:
            reference.append(measured[0])
            print(
                f"  ROOT                  {measured[0]:6.2f} s wall {measured[1]:6.2f} s CPU   "
                f"{measured[2]} objects"
            )
    best = min(own)
    line = f"{name}: best Overwatch {best:.2f} s ({count / best:,.0f} hist/s)"
    if reference:
        root_best = min(reference)
        line += (
            f", best ROOT {root_best:.2f} s ({count / root_best:,.0f} hist/s); "
            f"ratio ROOT/Overwatch {root_best / best:.2f}"
        )
    else:
        line += "; ROOT not importable (pip install root for the reference)"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", choices=["small", "large"], default=[])
    parser.add_argument("--files", type=int, default=300, help="files of the small data set")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for dataset in args.datasets or ["small", "large"]:
            source = tmp / f"{dataset}-source"
            count = write_small(source, args.files) if dataset == "small" else write_large(source)
            bench(dataset, source, count, args.repeat, args.workers, tmp)


if __name__ == "__main__":
    main()
