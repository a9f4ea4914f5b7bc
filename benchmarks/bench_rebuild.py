"""``overwatch db rebuild`` on 1,000 demo runs, on SQLite and on PostgreSQL.

    PYTHONPATH=. python benchmarks/bench_rebuild.py --workdir /tmp/rebuild \\
        [--runs 1000] [--minutes 1] [--database-url postgresql://postgres@127.0.0.1:5432/test]

Stages, each skipped when its output exists already in ``--workdir`` (so a long
run can be resumed):

1. ``generate``: ``overwatch.demo.generate_demo_data`` writes ``--runs`` runs of
   ``--minutes`` snapshots per subsystem (EMC, HLT, TPC). One snapshot per run
   keeps 1,000 runs feasible on a small machine: a rebuild's cost is per job (one
   per run and subsystem, reading that subsystem's newest file), so more minutes
   mean more files to register and check-sum but the same number of jobs.
2. ``process``: ``overwatch process --once`` on a SQLite file: the database as a
   site would have it before the rebuild.
3. ``rebuild sqlite``: ``overwatch db rebuild --yes``, timed (wall clock of the
   command, start-up included).
4. ``rebuild postgresql`` (with ``--database-url``): the same in a private schema
   of that database (dropped afterwards), starting from the same files (already
   filed under ``Run<N>/`` by stage 2); ``--twice`` rebuilds it once more, so that
   the second rebuild also deletes what the first derived.

Every command runs as its own process with a clean ``OVERWATCH_*`` environment;
its last lines (the command's own summary) are printed with the wall time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.databases import private_schema  # noqa: E402


def _env(workdir: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERWATCH_")}
    env.update(
        OVERWATCH_DATA_DIR=str(workdir / "data"),
        OVERWATCH_DATABASE_URL=url,
        OVERWATCH_SECRET_KEY="bench-" + "x" * 40,
        OVERWATCH_FILE_SETTLE_SECONDS="0",
        PYTHONPATH=str(ROOT),
    )
    return env


def _run(label: str, args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "overwatch", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    summary = [line for line in done.stdout.splitlines() if line.strip()][-3:]
    print(f"\n$ overwatch {' '.join(args)}    # {label}")
    print("\n".join(summary))
    print(f"exit {done.returncode}, {seconds:.1f} s wall, load average {os.getloadavg()[0]:.1f}")
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{label} failed")
    return seconds


def generate(workdir: Path, runs: int, minutes: int) -> None:
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    from overwatch.demo import generate_demo_data  # noqa: PLC0415

    marker = workdir / "generated"
    if marker.exists():
        print(f"demo data already in {workdir / 'data'}")
        return
    start = time.perf_counter()
    files = generate_demo_data(
        workdir / "data",
        ZoneInfo("Europe/Zurich"),
        runs=runs,
        minutes=minutes,
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    size = sum(path.stat().st_size for path in files)
    marker.write_text(f"{len(files)} files\n")
    print(
        f"generated {len(files)} files ({size / 2**20:.0f} MiB) for {runs} runs x {minutes} "
        f"snapshot(s) in {time.perf_counter() - start:.0f} s"
    )


def rebuild_postgresql(workdir: Path, base: str, twice: bool) -> None:
    with private_schema(base, "bench") as url:
        env = _env(workdir, url)
        _run("PostgreSQL, empty schema: migrate", ["db", "upgrade"], env)
        _run("PostgreSQL", ["db", "rebuild", "--yes"], env)
        if twice:
            _run("PostgreSQL, again on the rebuilt database", ["db", "rebuild", "--yes"], env)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=1)
    parser.add_argument("--database-url", help="also rebuild on this PostgreSQL database")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--twice", action="store_true", help="on PostgreSQL, rebuild the rebuilt database again"
    )
    args = parser.parse_args()
    workdir: Path = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    generate(workdir, args.runs, args.minutes)
    sqlite = _env(workdir, f"sqlite:///{workdir / 'overwatch.db'}")
    if not args.skip_sqlite:
        if not (workdir / "processed").exists():
            _run("SQLite, first processing", ["process", "--once"], sqlite)
            (workdir / "processed").write_text("yes\n")
        _run("SQLite", ["db", "rebuild", "--yes"], sqlite)
    if args.database_url:
        rebuild_postgresql(workdir, args.database_url, args.twice)


if __name__ == "__main__":
    main()
