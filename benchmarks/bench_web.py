"""Web app benchmarks: page server time, histogram JSON throughput, drawing time in chromium.

    python benchmarks/bench_web.py pages   # run list / run page server time at 1k, 5k, 10k runs x 3 subsystems
    python benchmarks/bench_web.py json    # histogram JSON vs a static file under gunicorn, 32 clients
    python benchmarks/bench_web.py draw    # run page with 50 histograms: time until all are drawn
    python benchmarks/bench_web.py all

SQLite by default; ``--database-url postgresql://...`` measures PostgreSQL (an
empty database or schema; its tables are dropped and rebuilt). Figures print as
Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text

from overwatch.config import Settings
from overwatch.config import load_settings
from overwatch.storage import Database
from overwatch.storage.models import Base
from overwatch.storage.models import HistogramGroup
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import ReceivedFile
from overwatch.storage.models import Result
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from overwatch.storage.users import create_user

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import free_port  # noqa: E402
from tests.servers import wait_until_healthy  # noqa: E402
from tests.webapp.browser import launch_chromium  # noqa: E402
from tests.webapp.browser import log_in  # noqa: E402
from tests.webapp.histjson import th1  # noqa: E402
from tests.webapp.histjson import th2  # noqa: E402

SUBSYSTEMS = ("EMC", "HLT", "TPC")
HISTS_PER_SUBSYSTEM = 6
START = datetime(2018, 1, 1, tzinfo=UTC)
PASSWORD = "bench-password"


def _settings(data_dir: Path, database_url: str | None, *, pre_ping: bool = False) -> Settings:
    overrides: dict[str, Any] = {
        "data_dir": str(data_dir),
        "secret_key": "bench-" + "x" * 40,
        "web_database_pre_ping": pre_ping,
    }
    if database_url:
        overrides["database_url"] = database_url
    return load_settings(environ={}, overrides=overrides, use_default_file=False)


def _reset(settings: Settings) -> None:
    """Empty a PostgreSQL database (or schema) so the benchmark builds it from scratch."""
    database = Database(settings.effective_database_url)
    Base.metadata.drop_all(database.engine)
    with database.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    database.dispose()


def _payloads() -> list[tuple[bytes, int, str, str]]:
    raws = [
        ("TH2F", th2("towers", [[(x * 7 + y * 3) % 11 for y in range(48)] for x in range(24)])),
        ("TH1F", th1("energy", [((i * 37) % 101) + 5 for i in range(200)], low=0, high=100)),
    ]
    out = []
    for class_name, raw in raws:
        out.append(
            (
                gzip.compress(raw, 4, mtime=0),
                len(raw),
                hashlib.blake2b(raw, digest_size=20).hexdigest(),
                class_name,
            )
        )
    return out


def build_database(
    settings: Settings, runs: int, first: int = 100_000, hists: int = HISTS_PER_SUBSYSTEM
) -> Database:
    """``runs`` runs x 3 subsystems, each with a processed result of ``hists`` histograms."""
    db = Database(settings.effective_database_url)
    db.ensure_schema()
    payloads = _payloads()
    with db.session() as session:
        if session.scalar(select(Run.id).limit(1)) is None:
            create_user(session, "bench", PASSWORD, "expert")
    batch = 500
    for offset in range(0, runs, batch):
        numbers = range(first + offset, first + min(offset + batch, runs))
        with db.session() as session:
            run_rows = [
                {
                    "run_number": n,
                    "first_file_time": START + timedelta(hours=n - first),
                    "last_file_time": START + timedelta(hours=n - first, minutes=40),
                    "created_at": START,
                }
                for n in numbers
            ]
            session.execute(insert(Run), run_rows)
            run_ids = dict(
                session.execute(
                    select(Run.run_number, Run.id).where(Run.run_number.in_(numbers))
                ).all()
            )
            sub_rows = [
                {
                    "run_id": run_ids[n],
                    "name": name,
                    "hlt_mode": "C",
                    "accumulation_mode": "cumulative",
                    "first_file_time": START + timedelta(hours=n - first),
                    "last_file_time": START + timedelta(hours=n - first, minutes=40),
                    "file_count": 40,
                    "quality": random.choice(["good", "good", "medium", "bad", None]),
                }
                for n in numbers
                for name in SUBSYSTEMS
            ]
            session.execute(insert(SubsystemRun), sub_rows)
            subs = session.execute(
                select(SubsystemRun.id, SubsystemRun.name, SubsystemRun.run_id).where(
                    SubsystemRun.run_id.in_(run_ids.values())
                )
            ).all()
            result_ids = {}
            for sub_id, _name, _run in subs:
                result = Result(
                    subsystem_id=sub_id,
                    kind="run",
                    key="",
                    options={},
                    file_ids={},
                    created_at=START,
                )
                session.add(result)
                session.flush()
                result_ids[sub_id] = result.id
                group = HistogramGroup(result_id=result.id, name="Main", position=0, selector="")
                session.add(group)
                session.flush()
                session.execute(
                    insert(HistogramRecord),
                    [
                        {
                            "result_id": result.id,
                            "group_id": group.id,
                            "position": i,
                            "name": f"Main/h{i:02d}",
                            "class_name": payloads[i % 2][3],
                            "title": f"histogram {i}",
                            "entries": 1000.0,
                            "draw_options": "colz" if i % 2 == 0 else "",
                            "quality": "good",
                            "info": {"info": ["ok"]},
                            "json_gz": payloads[i % 2][0],
                            "json_size": payloads[i % 2][1],
                            "etag": payloads[i % 2][2],
                        }
                        for i in range(hists)
                    ],
                )
                session.execute(
                    insert(ReceivedFile),
                    [
                        {
                            "subsystem_id": sub_id,
                            "path": f"Run{sub_id}/{_name}/f{sub_id}.root",
                            "file_name": f"f{sub_id}.root",
                            "timestamp": START,
                            "size": 1,
                            "checksum": "0" * 64,
                            "state": "processed",
                            "received_at": START,
                        }
                    ],
                )
            for sub_id, result_id in result_ids.items():
                session.get(SubsystemRun, sub_id).current_result_id = result_id  # type: ignore[union-attr]
    if db.is_postgresql:
        # Fresh bulk-loaded tables have no statistics yet; autovacuum would soon gather them.
        with db.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    return db


def _login(client: Any) -> None:
    import re  # noqa: PLC0415

    page = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/login", data={"name": "bench", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.text


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


def bench_pages(
    database_url: str | None, sizes: tuple[int, ...] = (1_000, 5_000, 10_000), samples: int = 200
) -> None:
    from overwatch.webapp import create_app  # noqa: PLC0415

    print("\n### Run list and run page server time (Flask, in process)\n")
    print(
        "| runs x 3 subsystems | run list p50 | run list p95 | run page p50 | run page p95 | histogram JSON p95 |"
    )
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp), database_url)
        if database_url:
            _reset(settings)
        built = 0
        db = None
        for size in sizes:
            db = build_database(settings, size - built, first=100_000 + built)
            built = size
            app = create_app(settings)
            client = app.test_client()
            _login(client)
            timings: dict[str, list[float]] = {"list": [], "run": [], "json": []}
            for _ in range(samples):
                run_number = 100_000 + random.randrange(size)
                for key, url in (
                    # Newest pages, a deep page reached by run number, and the oldest page.
                    (
                        "list",
                        random.choice(
                            ["/runs", "/runs?page=2", f"/runs?before={run_number}", "/runs?after=0"]
                        ),
                    ),
                    ("run", f"/runs/{run_number}/{random.choice(SUBSYSTEMS)}"),
                    ("json", f"/api/v1/runs/{run_number}/EMC/histograms/Main/h00"),
                ):
                    start = time.perf_counter()
                    response = client.get(url, headers={"Accept-Encoding": "gzip"})
                    timings[key].append((time.perf_counter() - start) * 1000)
                    assert response.status_code == 200, (url, response.status_code)
            print(
                f"| {size:,} | {statistics.median(timings['list']):.1f} ms | {_percentile(timings['list'], 0.95):.1f} ms "
                f"| {statistics.median(timings['run']):.1f} ms | {_percentile(timings['run'], 0.95):.1f} ms "
                f"| {_percentile(timings['json'], 0.95):.2f} ms |"
            )
            app.extensions["overwatch"].db.dispose()
        if db is not None:
            if database_url:
                _reset(settings)
            db.dispose()


def _serve(config_path: str) -> None:
    """Child process: gunicorn with the app plus a static route serving the same bytes from disk."""
    from flask import send_from_directory  # noqa: PLC0415
    from gunicorn.app.base import BaseApplication  # noqa: PLC0415

    from overwatch.webapp import create_app  # noqa: PLC0415

    config = json.loads(Path(config_path).read_text())
    settings = _settings(
        Path(config["data_dir"]), config["database_url"], pre_ping=config["pre_ping"]
    )

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", [config["bind"]])
            self.cfg.set("workers", 2)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 4)
            self.cfg.set("loglevel", "warning")

        def load(self) -> Any:
            app = create_app(settings)

            @app.get("/bench-static/<path:name>")
            def static_copy(name: str) -> Any:
                return send_from_directory(config["static_dir"], name)

            return app

    Server().run()


def _client_process(args: tuple[str, dict[str, str], int, float]) -> list[float]:
    import requests  # noqa: PLC0415

    url, cookies, threads, seconds = args
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def loop() -> None:
        session = requests.Session()
        session.cookies.update(cookies)
        local = []
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            response = session.get(url, headers={"Accept-Encoding": "gzip"})
            response.raise_for_status()
            local.append((time.perf_counter() - start) * 1000)
        with lock:
            latencies.extend(local)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies


def _load(
    url: str, cookies: dict[str, str], clients: int = 32, seconds: float = 10.0
) -> tuple[float, float]:
    processes = 4
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(
            _client_process, [(url, cookies, clients // processes, seconds)] * processes
        )
    latencies = [value for part in results for value in part]
    return len(latencies) / seconds, _percentile(latencies, 0.95)


#: Alternating rounds of the static file and the endpoint in ``json``.
ROUNDS = 3


def bench_json(database_url: str | None, seconds: float = 10.0, pre_ping: bool = False) -> None:
    import requests  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp), database_url)
        if database_url:
            _reset(settings)
        db = build_database(settings, 200)
        with db.session() as session:
            stored = session.scalar(
                select(HistogramRecord.json_gz).where(HistogramRecord.name == "Main/h00")
            )
        static_dir = Path(tmp) / "static"
        static_dir.mkdir()
        # The same bytes the endpoint sends: the stored gzip body.
        (static_dir / "h00.json.gz").write_bytes(stored or b"")
        port = free_port()
        config = {
            "data_dir": tmp,
            "database_url": database_url,
            "bind": f"127.0.0.1:{port}",
            "static_dir": str(static_dir),
            "pre_ping": pre_ping,
        }
        config_path = Path(tmp) / "bench.json"
        config_path.write_text(json.dumps(config))
        server = subprocess.Popen([sys.executable, __file__, "_serve", str(config_path)])
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(f"{base}/healthz", server)
            session = requests.Session()
            page = session.get(f"{base}/login").text
            import re  # noqa: PLC0415

            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            session.post(
                f"{base}/login", data={"name": "bench", "password": PASSWORD, "csrf_token": token}
            )
            cookies = session.cookies.get_dict()
            hist_url = f"{base}/api/v1/runs/100007/EMC/histograms/Main/h00"
            assert session.get(hist_url).status_code == 200
            # Alternating rounds, best of each: a burst of other load hits both alike.
            static_runs, hist_runs = [], []
            for _ in range(ROUNDS):
                static_runs.append(
                    _load(f"{base}/bench-static/h00.json.gz", cookies, seconds=seconds / ROUNDS)
                )
                hist_runs.append(_load(hist_url, cookies, seconds=seconds / ROUNDS))
            static_rps, static_p95 = max(static_runs)
            hist_rps, hist_p95 = max(hist_runs)
        finally:
            server.terminate()
            server.wait(timeout=30)
            if database_url:
                _reset(settings)
            db.dispose()
    backend = "PostgreSQL" if database_url else "SQLite"
    backend += ", pre-ping on" if pre_ping and database_url else ""
    print(
        f"\n### Histogram JSON under gunicorn (2 workers x 4 threads, {os.cpu_count()} cores, {backend}, 32 clients, {seconds:.0f} s)\n"
    )
    print("| what | requests/s | p95 latency |")
    print("|---|---|---|")
    print(
        f"| static file, same bytes ({len(stored or b'')} B gzip) | {static_rps:.0f} | {static_p95:.1f} ms |"
    )
    print(f"| /api/v1/runs/<run>/<sys>/histograms/<name> | {hist_rps:.0f} | {hist_p95:.1f} ms |")
    print(f"\nratio: {hist_rps / static_rps:.2f} of the static file rate (target >= 0.5)")


def bench_draw(database_url: str | None, histograms: int = 50, repeats: int = 5) -> None:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415
    from werkzeug.serving import make_server  # noqa: PLC0415

    from overwatch.webapp import create_app  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp), database_url)
        if database_url:
            _reset(settings)
        db = build_database(settings, 3, hists=histograms)
        app = create_app(settings)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}"
        times = []
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                log_in(page, base, "bench", PASSWORD)
                for index in range(repeats):
                    start = time.perf_counter()
                    page.goto(f"{base}/runs/100001/EMC?n={index}")
                    page.wait_for_selector("section.histograms[data-drawn=all]", timeout=60_000)
                    times.append(time.perf_counter() - start)
                    drawn = page.locator(".hist-draw[data-drawn=yes]").count()
                    assert drawn == histograms, drawn
                browser.close()
        finally:
            server.shutdown()
            app.extensions["overwatch"].db.dispose()
            if database_url:
                _reset(settings)
            db.dispose()
    print(
        f"\n### Run page with {histograms} histograms (half TH2F colz, half TH1F) in headless chromium\n"
    )
    print(
        f"time until every histogram is drawn: first {times[0]:.2f} s (cold JSROOT), median of the next {repeats - 1}: {statistics.median(times[1:]):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["pages", "json", "draw", "all", "_serve"])
    parser.add_argument("config", nargs="?")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--pre-ping", action="store_true", help="json: with web_database_pre_ping (PostgreSQL)"
    )
    args = parser.parse_args()
    if args.what == "_serve":
        _serve(args.config)
        return
    random.seed(1)
    if args.what in ("pages", "all"):
        bench_pages(args.database_url)
    if args.what in ("json", "all"):
        bench_json(args.database_url, args.seconds, args.pre_ping)
    if args.what in ("draw", "all"):
        bench_draw(args.database_url)
    shutil.rmtree(ROOT / ".benchmarks-tmp", ignore_errors=True)


if __name__ == "__main__":
    main()
