"""Scale figures on PostgreSQL: 10,000 runs x 3 subsystems x 100 histograms.

    PYTHONPATH=. python benchmarks/bench_scale.py --database-url postgresql://postgres@127.0.0.1:5432/test
    PYTHONPATH=. python benchmarks/bench_scale.py --database-url ... --skip-populate   # only the daemons

Three measurements, each in a private schema of the given database (made here,
dropped afterwards):

* **size**: ``--template-runs`` runs are stored through the storage layer
  (``register_file`` + ``store_result`` + a done job, one transaction per run, as
  processing does) with payloads taken from a real result: one demo run is
  generated, processed on SQLite, and its histograms (gzip JSROOT JSON, groups,
  checks) are reused, cycled up to ``--histograms`` per subsystem. Those rows are
  then copied inside PostgreSQL (``INSERT … SELECT`` with shifted ids, run
  numbers and times) until there are ``--runs`` runs: the same rows a store
  would write, in run order, without sending 6 GB through one Python client on
  a busy machine. Reported: bytes per run (tables + indexes + TOAST) and the
  share of the histogram payloads.
* **pages**: ``overwatch web`` (gunicorn, real HTTP) on that database; one
  client, logged in, asks for run lists (newest page, page 2, a page found by run
  number, the oldest page) and run pages of random runs; p50 / p95.
* **daemons**: a smaller real data set (``--process-runs`` demo runs, one
  snapshot per subsystem) is scanned into a fresh schema, then 1, 2 and 4
  ``overwatch process --workers 1`` daemons claim from the one queue; jobs/s from
  the first attempt's start to the last one's end.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any
from typing import cast

from sqlalchemy import Table
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.cputime import tree_cpu_seconds
from overwatch.config import Settings
from overwatch.config import load_settings
from overwatch.storage import Database
from overwatch.storage.models import CheckResult
from overwatch.storage.models import HistogramGroup
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Job
from overwatch.storage.models import JobAttempt
from overwatch.storage.models import ReceivedFile
from overwatch.storage.models import Result
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from overwatch.storage.models import UTCDateTime
from overwatch.storage.records import CheckRow
from overwatch.storage.records import GroupRow
from overwatch.storage.records import HistogramRow
from overwatch.storage.records import ResultData
from overwatch.storage.records import register_file
from overwatch.storage.records import store_result
from overwatch.storage.users import create_user
from tests.databases import private_schema
from tests.servers import WebServer

FIRST = 500_000
START = datetime(2019, 1, 1, tzinfo=UTC)
PASSWORD = "bench-password"
SECRET = "bench-" + "x" * 40


def _settings(data_dir: Path, url: str, **extra: Any) -> Settings:
    overrides: dict[str, Any] = {
        "data_dir": str(data_dir),
        "database_url": url,
        "secret_key": SECRET,
        "file_settle_seconds": 0,
        **extra,
    }
    return load_settings(environ={}, overrides=overrides, use_default_file=False)


# -- real payloads ---------------------------------------------------------------


def real_results(workdir: Path) -> dict[str, ResultData]:
    """One demo run (3 snapshots) processed on SQLite; its stored results per subsystem."""
    from overwatch.demo import generate_demo_data  # noqa: PLC0415
    from overwatch.processing.daemon import process_pending  # noqa: PLC0415
    from overwatch.processing.scan import scan  # noqa: PLC0415

    data = workdir / "payload-data"
    settings = _settings(data, f"sqlite:///{workdir / 'payload.db'}", processing_workers=1)
    generate_demo_data(data, settings.tz, runs=1, minutes=3, now=START)
    db = Database(settings.effective_database_url)
    db.ensure_schema()
    scan(settings, db)
    process_pending(settings, db, workers=1)
    out: dict[str, ResultData] = {}
    with db.session() as session:
        for sub in session.scalars(select(SubsystemRun)):
            result_id = sub.current_result_id
            groups = session.scalars(
                select(HistogramGroup)
                .where(HistogramGroup.result_id == result_id)
                .order_by(HistogramGroup.position)
            ).all()
            names = {group.id: group.name for group in groups}
            checks: dict[int, list[CheckRow]] = {}
            for check in session.scalars(
                select(CheckResult)
                .join(HistogramRecord, HistogramRecord.id == CheckResult.histogram_id)
                .where(HistogramRecord.result_id == result_id)
            ):
                checks.setdefault(check.histogram_id, []).append(
                    CheckRow(check.name, check.quality, check.message)
                )
            rows = [
                HistogramRow(
                    name=h.name,
                    class_name=h.class_name,
                    title=h.title,
                    group=names.get(h.group_id) if h.group_id else None,
                    json_gz=h.json_gz,
                    json_size=h.json_size,
                    etag=h.etag,
                    entries=h.entries,
                    draw_options=h.draw_options,
                    quality=h.quality,
                    info=h.info,
                    error=h.error,
                    checks=checks.get(h.id, []),
                )
                for h in session.scalars(
                    select(HistogramRecord)
                    .where(HistogramRecord.result_id == result_id)
                    .order_by(HistogramRecord.group_id, HistogramRecord.position)
                )
            ]
            out[sub.name] = ResultData(
                kind="run",
                groups=[GroupRow(g.name, g.selector, g.layout, g.columns) for g in groups],
                histograms=rows,
                quality=sub.quality,
            )
    db.dispose()
    return out


def widen(data: ResultData, count: int) -> ResultData:
    """``count`` histograms: the real ones, cycled under new names once they run out."""
    rows = []
    for index in range(count):
        base = data.histograms[index % len(data.histograms)]
        copy = index // len(data.histograms)
        rows.append(replace(base, name=base.name if copy == 0 else f"{base.name}_copy{copy}"))
    return replace(data, histograms=rows)


# -- size ------------------------------------------------------------------------


def populate(url: str, payloads: dict[str, ResultData], runs: int, skip: int = 0) -> float:
    """Runs ``skip`` to ``runs`` through the storage layer; returns the seconds it took."""
    db = Database(url)
    db.ensure_schema()
    if not skip:
        with db.session() as session:
            create_user(session, "bench", PASSWORD, "expert")
    clock = time.perf_counter()
    for index in range(skip, runs):
        number = FIRST + index
        begin = START + timedelta(hours=index)
        with db.session() as session:
            for name, data in payloads.items():
                file, _ = register_file(
                    session,
                    run_number=number,
                    subsystem=name,
                    hlt_mode="C",
                    accumulation_mode="cumulative",
                    timestamp=begin + timedelta(minutes=40),
                    path=f"Run{number}/{name}/{name}histos_{number}_C_2019_1_1_0_40_0.root",
                    size=80_000,
                    checksum="0" * 64,
                )
                file.state = "processed"
                sub = file.subsystem
                result_id = store_result(session, sub, replace(data, file_ids=[file.id]))
                sub.processed_until = sub.processed_at = file.timestamp
                job = session.scalar(
                    insert(Job)
                    .values(
                        kind="process",
                        subsystem_id=sub.id,
                        run_number=number,
                        subsystem=name,
                        dedupe_key=f"process:{sub.id}",
                        state="done",
                        attempts=1,
                        finished_at=file.timestamp,
                        worker="bench",
                        result_id=result_id,
                    )
                    .returning(Job.id)
                )
                session.execute(
                    insert(JobAttempt).values(
                        job_id=job,
                        attempt=1,
                        worker="bench",
                        plugin=name,
                        started_at=file.timestamp,
                        finished_at=file.timestamp,
                        duration_seconds=0.5,
                        outcome="done",
                        files={"ids": [file.id]},
                        histogram_count=len(data.histograms),
                    )
                )
        if (index + 1) % 500 == 0:
            rate = (index + 1) / (time.perf_counter() - clock)
            print(f"  populated {index + 1:,} runs ({rate:.1f} runs/s)", file=sys.stderr)
    seconds = time.perf_counter() - clock
    db.dispose()
    return seconds


#: Tables holding a run's rows, parents first.
RUN_TABLES = (
    Run,
    SubsystemRun,
    ReceivedFile,
    Result,
    HistogramGroup,
    HistogramRecord,
    CheckResult,
    Job,
    JobAttempt,
)


def replicate(url: str, template: int, runs: int) -> float:
    """Copy the first ``template`` runs' rows until there are ``runs`` runs; seconds taken."""
    tables = [cast(Table, model.__table__) for model in RUN_TABLES]
    db = Database(url)
    clock = time.perf_counter()
    with db.engine.begin() as connection:
        top = {t.name: connection.scalar(select(func.max(t.c.id))) or 0 for t in tables}
    for copy in range(1, runs // template):
        shift = f"interval '{copy * template} hours'"
        with db.engine.begin() as connection:
            for table in tables:
                columns = []
                for column in table.c:
                    name = f'"{column.name}"'
                    if column.name == "id":
                        value = f"{name} + {copy * top[table.name]}"
                    elif column.name == "current_result_id":
                        value = "NULL"  # set below, once the results exist
                    elif column.foreign_keys:
                        target = next(iter(column.foreign_keys)).column.table.name
                        value = f"{name} + {copy * top[target]}"
                    elif column.name == "run_number":
                        value = f"{name} + {copy * template}"
                    elif column.name == "path":
                        value = f"replace({name}, '/', '-{copy}/')"
                    elif isinstance(column.type, UTCDateTime):
                        value = f"{name} + {shift}"
                    else:
                        value = name
                    columns.append(value)
                names = ", ".join(f'"{column.name}"' for column in table.c)
                connection.execute(
                    text(
                        f'INSERT INTO "{table.name}" ({names}) SELECT {", ".join(columns)} '
                        f'FROM "{table.name}" WHERE id <= {top[table.name]}'
                    )
                )
            connection.execute(
                text(
                    "UPDATE subsystem_runs AS s SET current_result_id = t.current_result_id"
                    f" + {copy * top['results']} FROM subsystem_runs AS t"
                    f" WHERE t.id <= {top['subsystem_runs']}"
                    f" AND s.id = t.id + {copy * top['subsystem_runs']}"
                )
            )
        if (copy + 1) * template % 1000 == 0:
            print(f"  {(copy + 1) * template:,} runs", file=sys.stderr)
    with db.engine.begin() as connection:
        for table in tables:
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), max(id)) "
                    f'FROM "{table.name}"'
                )
            )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # What autovacuum does soon after a bulk load: statistics and the visibility map.
        connection.execute(text("VACUUM ANALYZE"))
    db.dispose()
    return time.perf_counter() - clock


def report_size(url: str, runs: int, payloads: dict[str, ResultData]) -> None:
    db = Database(url)
    with db.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT c.relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid),"
                " pg_indexes_size(c.oid) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                " ORDER BY 2 DESC"
            )
        ).all()
        payload = connection.scalar(text("SELECT sum(length(json_gz)) FROM histograms"))
    db.dispose()
    total = sum(row[1] for row in rows)
    hists = sum(len(d.histograms) for d in payloads.values())
    print(f"\n### Database size, {runs:,} runs x {len(payloads)} subsystems\n")
    print(f"histograms per run: {hists}; gzip JSON per run: {(payload or 0) / runs / 1024:.0f} KiB")
    print(
        f"total {total / 2**30:.2f} GiB, {total / runs / 1024:.0f} KiB per run "
        f"(payload share {100 * (payload or 0) / total:.0f} %)\n"
    )
    print("| table | total (incl. TOAST, indexes) | of which indexes |")
    print("|---|---|---|")
    for name, size, _heap, indexes in rows[:8]:
        print(f"| {name} | {size / 2**20:,.0f} MiB | {indexes / 2**20:,.0f} MiB |")


# -- pages -----------------------------------------------------------------------


def _env(url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERWATCH_")}
    env.update(
        OVERWATCH_DATABASE_URL=url,
        OVERWATCH_DATA_DIR=str(data_dir),
        OVERWATCH_SECRET_KEY=SECRET,
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
        **extra,
    )
    return env


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


def bench_pages(url: str, runs: int, workdir: Path, samples: int) -> None:
    """Run list and run page p50/p95 over HTTP, and the server's CPU time per request."""
    import requests  # noqa: PLC0415

    server = WebServer(_settings(workdir / "web-data", url), workdir, workers=2).start()
    assert server.process is not None
    base = server.url
    lists = ["/runs", "/runs?after=0"] + (["/runs?page=2"] if runs > 100 else [])
    pages: dict[str, Any] = {
        "run list": lambda number: random.choice([*lists, f"/runs?before={number}"]),
        "run page": lambda number: f"/runs/{number}/{random.choice(['EMC', 'HLT', 'TPC'])}",
    }
    timings: dict[str, list[float]] = {}
    cpu: dict[str, float] = {}
    try:
        session = requests.Session()
        page = session.get(f"{base}/login").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token is not None
        response = session.post(
            f"{base}/login",
            data={"name": "bench", "password": PASSWORD, "csrf_token": token.group(1)},
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text
        for label, make in pages.items():
            for warm in range(10):  # both workers, their connections and template caches
                session.get(base + make(FIRST + warm))
            values = []
            before = tree_cpu_seconds(server.process.pid)
            for _ in range(samples):
                path = make(FIRST + random.randrange(runs))
                start = time.perf_counter()
                response = session.get(base + path, headers={"Accept-Encoding": "gzip"})
                values.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            cpu[label] = (tree_cpu_seconds(server.process.pid) - before) / samples * 1000
            timings[label] = values
    finally:
        server.stop()
    print(
        f"\n### Pages over HTTP (gunicorn, 2 workers), {runs:,} runs, {samples} samples each"
        f" (load average {os.getloadavg()[0]:.1f})\n"
    )
    print("| page | p50 | p95 | server CPU per request |")
    print("|---|---|---|---|")
    for label, values in timings.items():
        print(
            f"| {label} | {statistics.median(values):.1f} ms | {_percentile(values, 0.95):.1f} ms "
            f"| {cpu[label]:.1f} ms |"
        )


# -- daemons ---------------------------------------------------------------------


def bench_daemons(base: str, workdir: Path, process_runs: int, counts: list[int]) -> None:
    from overwatch.demo import generate_demo_data  # noqa: PLC0415
    from overwatch.processing.scan import scan  # noqa: PLC0415

    template = workdir / "daemon-template"
    generate_demo_data(template, _settings(template, "sqlite://").tz, runs=process_runs, minutes=1)
    print(
        f"\n### {process_runs * 3} processing jobs ({process_runs} demo runs x 3 subsystems, "
        "one snapshot each), daemons sharing one PostgreSQL queue\n"
    )
    print("| daemons | jobs (+ extra) | seconds | jobs/s | histograms/s | workers seen |")
    print("|---|---|---|---|---|---|")
    for count in counts:
        with private_schema(base, "bench") as url:
            data = workdir / f"daemon-data-{count}"
            shutil.copytree(template, data)
            settings = _settings(data, url)
            db = Database(url)
            db.ensure_schema()
            queued = scan(settings, db).jobs_queued
            env = _env(
                url,
                data,
                OVERWATCH_SCAN_INTERVAL="3600",
                OVERWATCH_WATCH_FILES="false",
                OVERWATCH_FILE_SETTLE_SECONDS="0",
            )
            daemons = [
                subprocess.Popen(
                    [sys.executable, "-m", "overwatch", "process", "--workers", "1"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(count)
            ]
            try:
                while True:
                    time.sleep(0.5)
                    with db.session() as session:
                        left = session.scalar(
                            select(func.count()).where(Job.state.in_(["queued", "running"]))
                        )
                    if not left:
                        break
            finally:
                for daemon in daemons:
                    daemon.send_signal(signal.SIGTERM)
                for daemon in daemons:
                    daemon.wait(timeout=120)
            with db.session() as session:
                first, last, hists, workers, attempts, jobs = session.execute(
                    select(
                        func.min(JobAttempt.started_at),
                        func.max(JobAttempt.finished_at),
                        func.sum(JobAttempt.histogram_count),
                        func.count(func.distinct(JobAttempt.worker)),
                        func.count(),
                        func.count(func.distinct(JobAttempt.job_id)),
                    ).where(JobAttempt.outcome == "done")
                ).one()
                results = session.scalar(select(func.count()).select_from(Result))
                skipped = session.scalar(
                    select(func.count()).where(
                        JobAttempt.outcome == "done", JobAttempt.error.like("skipped:%")
                    )
                )
                other = session.execute(
                    select(JobAttempt.outcome, func.count())
                    .where(JobAttempt.outcome != "done")
                    .group_by(JobAttempt.outcome)
                ).all()
                twice = session.execute(
                    select(JobAttempt.job_id, JobAttempt.attempt, JobAttempt.worker)
                    .where(JobAttempt.outcome == "done")
                    .where(
                        JobAttempt.job_id.in_(
                            select(JobAttempt.job_id)
                            .where(JobAttempt.outcome == "done")
                            .group_by(JobAttempt.job_id)
                            .having(func.count() > 1)
                        )
                    )
                ).all()
            db.dispose()
            assert first is not None
            assert last is not None
            seconds = (last - first).total_seconds()
            assert results == queued, (results, queued)
            # Throughput counts the queued work (one job per run and subsystem); jobs a
            # daemon's scan added while the same subsystem was running are extra, and
            # end at once (skipped) when nothing new arrived.
            print(
                f"| {count} | {queued} (+{jobs - queued}, {skipped} skipped) | {seconds:.1f} "
                f"| {queued / seconds:.2f} "
                f"| {hists / seconds:.0f} | {workers} |"
            )
            if other or twice or attempts != jobs:
                print(f"  {attempts} done attempts; others: {other}; done twice: {twice}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="a PostgreSQL server's database")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--histograms", type=int, default=100, help="per subsystem")
    parser.add_argument(
        "--template-runs", type=int, default=100, help="runs stored through the storage layer"
    )
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--process-runs", type=int, default=40)
    parser.add_argument("--daemons", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--skip-populate", action="store_true", help="only the daemons")
    args = parser.parse_args()
    random.seed(1)
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if not args.skip_populate:
            payloads = {
                name: widen(data, args.histograms) for name, data in real_results(workdir).items()
            }
            with private_schema(args.database_url, "bench") as url:
                template = min(args.template_runs, args.runs)
                seconds = populate(url, payloads, template)
                print(
                    f"\nstored {template} runs through store_result in {seconds:.0f} s "
                    f"({template / seconds:.2f} runs/s)"
                )
                bench_pages(url, template, workdir, args.samples)
                seconds = replicate(url, template, args.runs)
                print(f"copied them to {args.runs:,} runs in {seconds:.0f} s")
                report_size(url, args.runs, payloads)
                bench_pages(url, args.runs, workdir, args.samples)
        if args.daemons:
            bench_daemons(args.database_url, workdir, args.process_runs, args.daemons)
    print(f"\nload average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
