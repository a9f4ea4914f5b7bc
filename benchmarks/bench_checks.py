"""What the checks cost: the demo's mixed run processed with and without them.

Each measurement starts from an empty database and data directory:

1. a reference run of the demo generator (another seed, so it is not the same
   data) is written, processed and set as the reference of EMC, HLT and TPC;
2. the measured run (EMC, HLT, TPC; ``--demo-minutes`` snapshots each, so 30
   files and 3 jobs by default) is written, and the clock covers its scan and
   processing up to the committed results, as in ``bench_processing.py``.

Three configurations, measured in turns within the same run so that the
machine's other load hits them alike:

- ``plugins``: the detector plugins (their own checks) and no declarative checks;
- ``default``: plus the example check set of ``config.yaml`` (its commented
  ``checks:`` block: entries everywhere, means, empty fractions, one pull test,
  Kolmogorov and χ² against the reference);
- ``pull-all``: plus a beta-binomial pull test on *every* histogram against the
  reference run (each keeping its pull map where it says medium or bad, the
  default ``pull_map: problems``).

It prints histograms per second (pull maps not counted: the same histograms
processed in each configuration) and the ratio of each configuration's best
rate to the ``plugins`` one.

    python benchmarks/bench_checks.py [--workers 1 2] [--repeat 3]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]
        [--profile pull-all]

With ``--database-url`` each measurement works in a private PostgreSQL schema
that is dropped afterwards. ``--profile NAME`` runs that configuration once more
under cProfile (1 worker, CPU time) and prints where the time went.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import resource
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from overwatch.config import Settings
from overwatch.config import load_settings
from overwatch.demo import FIRST_RUN
from overwatch.demo import SUBSYSTEMS
from overwatch.demo import generate_demo_data
from overwatch.monitoring.config import CheckConfig
from overwatch.monitoring.config import load_check_config
from overwatch.processing.daemon import process_pending
from overwatch.processing.scan import scan
from overwatch.storage import Database
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Result
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from overwatch.storage.references import set_reference
from tests.databases import private_database

CONFIG_EXAMPLE = Path(__file__).resolve().parent.parent / "config.yaml"
REFERENCE_RUN = FIRST_RUN
MEASURED_RUN = FIRST_RUN + 1
#: The pull test on every histogram (its own pull maps excluded).
PULL_EVERYWHERE: dict[str, Any] = {
    "name": "pull-all",
    "kind": "pull",
    "histograms": "*",
    "exclude": "*_pulls",
}
CONFIGURATIONS = ("plugins", "default", "pull-all")


def example_checks() -> dict[str, Any]:
    """The commented ``checks:`` example of ``config.yaml``, as YAML loads it."""
    lines = CONFIG_EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = lines.index("# checks:")
    block = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        block.append(re.sub(r"^# ?", "", line))
    raw = yaml.safe_load("\n".join(block))
    if not isinstance(raw, dict) or not isinstance(raw.get("checks"), dict):
        raise SystemExit(f"no commented checks example found in {CONFIG_EXAMPLE}")
    return dict(raw["checks"])


def check_config(name: str) -> CheckConfig:
    if name == "plugins":
        return CheckConfig()
    raw = example_checks()
    if name == "pull-all":
        raw["*"] = [*raw.get("*", []), PULL_EVERYWHERE]
    return load_check_config(raw)


def settings_for(root: Path, database_url: str, workers: int, checks: CheckConfig) -> Settings:
    settings = load_settings(
        environ={},
        use_default_file=False,
        overrides={
            "data_dir": str(root / "data"),
            "database_url": database_url,
            "file_settle_seconds": 0,
            "log_level": "WARNING",
        },
    )
    return replace(settings, processing_workers=workers, checks=checks)


def prepare_reference(settings: Settings, db: Database, minutes: int, now: datetime) -> None:
    """Write, process and set the reference run (not timed)."""
    generate_demo_data(
        settings.data_dir,
        settings.tz,
        runs=1,
        minutes=minutes,
        now=now - timedelta(hours=2),
        seed=1,
        first_run=REFERENCE_RUN,
    )
    scan(settings, db)
    summary = process_pending(replace(settings, checks=CheckConfig()), db, workers=1)
    if summary.failed:
        raise SystemExit(f"reference jobs failed: {summary.failures}")
    with db.session() as session:
        for subsystem in SUBSYSTEMS:
            set_reference(session, subsystem, REFERENCE_RUN, set_by="bench")


def stored_counts(db: Database) -> tuple[int, int]:
    """The measured run's stored histograms: ``(checked ones, pull maps)``."""
    with db.session() as session:
        infos = session.scalars(
            select(HistogramRecord.info)
            .join(Result, HistogramRecord.result_id == Result.id)
            .join(SubsystemRun, Result.subsystem_id == SubsystemRun.id)
            .join(Run, SubsystemRun.run_id == Run.id)
            .where(Run.run_number == MEASURED_RUN)
        ).all()
    companions = sum(1 for info in infos if "companion_of" in info)
    return len(infos) - companions, companions


def cpu_seconds() -> float:
    """User + system time of this process and its finished children (forked helpers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(
    name: str, workers: int, minutes: int, database_url: str | None, profiler: Any = None
) -> tuple[int, int, float, float]:
    """Histograms, pull maps, wall and CPU seconds for one configuration, from an empty database."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        private_database(database_url, Path(tmp), "bench") as url,
    ):
        settings = settings_for(Path(tmp), url, workers, check_config(name))
        settings.data_dir.mkdir(parents=True)
        db = Database(settings.effective_database_url)
        db.ensure_schema()
        now = datetime.now(UTC)
        prepare_reference(settings, db, minutes, now)
        generate_demo_data(
            settings.data_dir, settings.tz, runs=1, minutes=minutes, now=now,
            first_run=MEASURED_RUN,
        )  # fmt: skip
        if profiler is not None:
            profiler.enable()
        start = time.perf_counter()
        cpu = cpu_seconds()
        scan(settings, db)
        summary = process_pending(settings, db, workers=workers)
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds() - cpu
        if profiler is not None:
            profiler.disable()
        if summary.failed:
            raise SystemExit(f"benchmark jobs failed: {summary.failures}")
        histograms, pull_maps = stored_counts(db)
        db.dispose()
    return histograms, pull_maps, elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--demo-minutes", type=int, default=10)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--only", choices=CONFIGURATIONS, nargs="+", default=list(CONFIGURATIONS))
    parser.add_argument("--profile", choices=CONFIGURATIONS, help="profile one configuration")
    parser.add_argument("--profile-out", help="also write the profile's pstats to this file")
    args = parser.parse_args()

    print(f"database: {'PostgreSQL' if args.database_url else 'SQLite'}")
    for workers in args.workers:
        rates: dict[str, list[float]] = {name: [] for name in args.only}
        cpu_rates: dict[str, list[float]] = {name: [] for name in args.only}
        counts: dict[str, tuple[int, int]] = {}
        for _ in range(args.repeat):
            # In turns, so that a burst of other load does not hit one configuration only.
            for name in args.only:
                count, maps, seconds, cpu = measure(
                    name, workers, args.demo_minutes, args.database_url
                )
                counts[name] = count, maps
                rates[name].append(count / seconds)
                cpu_rates[name].append(count / cpu)
        base = max(rates["plugins"]) if "plugins" in rates else None
        cpu_base = max(cpu_rates["plugins"]) if "plugins" in cpu_rates else None
        for name in args.only:
            best = max(rates[name])
            cpu_best = max(cpu_rates[name])
            ratio = f" = {best / base:.2f} x plugins" if base else ""
            cpu_ratio = f" = {cpu_best / cpu_base:.2f} x plugins" if cpu_base else ""
            print(
                f"{name:>8}, {workers} worker(s): {counts[name][0]} histograms "
                f"(+{counts[name][1]} pull maps): best {best:,.0f} hist/s{ratio} "
                f"(runs: {', '.join(f'{r:,.0f}' for r in rates[name])}); "
                f"per CPU second {cpu_best:,.0f}{cpu_ratio}"
            )

    if args.profile:
        # CPU time, not wall time: the machine's other load then hardly shows.
        profiler = cProfile.Profile(time.process_time)
        measure(args.profile, 1, args.demo_minutes, args.database_url, profiler)
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(
            r"overwatch|sqlalchemy/orm/session|zlib|orjson", 45
        )
        if args.profile_out:
            stats.dump_stats(args.profile_out)


if __name__ == "__main__":
    main()
