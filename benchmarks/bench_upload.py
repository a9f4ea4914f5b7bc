"""DQM upload throughput: the real receiver next to a bare endpoint, same gunicorn, same run.

Both servers run under gunicorn with the receiver's settings (2 workers x 4
threads). The bare endpoint only writes the request body to disk through the
same atomic writer; the receiver also authenticates, validates the ROOT file,
de-duplicates and counts. 16 clients upload distinct ~1 MB ROOT files. The ratio
receiver / bare is the cost of validation (aim >= 0.5).

On a shared machine the load changes from second to second, so the two servers
are measured in alternating rounds (each round a new run number, so no upload is
a duplicate) and the medians are compared. The CPU time both server process trees
spent per upload (from /proc, Linux) is printed too: it depends much less on what
else the machine is doing than the wall-clock rates.

    PYTHONPATH=. python benchmarks/bench_upload.py [--uploads 200] [--clients 16] [--rounds 3] \
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

Without ``--database-url`` the receiver uses a fresh SQLite file; with a PostgreSQL
URL it works in a private schema that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from flask import Flask
from flask import request

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.cputime import tree_cpu_seconds
from overwatch.config import load_settings
from overwatch.receivers.writer import write_bytes_atomically
from overwatch.storage import Database
from overwatch.storage.agents import create_agent
from tests.databases import private_database
from tests.receivers.dqmserver import DqmServer
from tests.receivers.dqmserver import agent_headers
from tests.receivers.dqmserver import megabyte_file
from tests.receivers.dqmserver import multipart


def bare_app(directory: Path) -> Flask:
    app = Flask(__name__)

    @app.post("/rest/api/files")
    def store() -> dict[str, str]:
        name = f"bare_{secrets.token_hex(8)}.root"
        write_bytes_atomically(directory / name, request.files["file"].stream)
        return {"filename": name}

    return app


def serve_bare(directory: Path, port: int) -> object:
    """The bare endpoint under gunicorn (same worker model) in a child process."""
    import multiprocessing  # noqa: PLC0415

    from gunicorn.app.base import BaseApplication  # noqa: PLC0415

    class _Bare(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": [f"127.0.0.1:{port}"],
                "workers": 2,
                "worker_class": "gthread",
                "threads": 4,
                "loglevel": "warning",
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return bare_app(directory)

    process = multiprocessing.Process(target=lambda: _Bare().run(), daemon=True)
    process.start()
    for _ in range(300):
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    return process


def measure(url: str, payloads: list[bytes], headers: list[dict[str, str]], clients: int) -> float:
    def send(index: int) -> None:
        response = requests.post(
            url, files=multipart(payloads[index]), headers=headers[index], timeout=120
        )
        if response.status_code != 200:
            raise RuntimeError(response.text)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, range(len(payloads))))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a SQLite file)")
    args = parser.parse_args()
    from tests.servers import free_port  # noqa: PLC0415

    load = " ".join(f"{value:.1f}" for value in os.getloadavg())

    with (
        tempfile.TemporaryDirectory() as tmp,
        private_database(args.database_url, Path(tmp), "bench") as database_url,
    ):
        root = Path(tmp)
        (root / "data").mkdir()
        (root / "bare").mkdir()
        settings = load_settings(
            environ={},
            overrides={"data_dir": str(root / "data"), "database_url": database_url},
            use_default_file=False,
        )
        db = Database(settings.effective_database_url)
        db.ensure_schema()
        with db.session() as session:
            token = create_agent(session, "EMC")
        payloads = [megabyte_file(root, seed) for seed in range(args.uploads)]
        megabytes = sum(len(p) for p in payloads) / 1e6

        receiver = DqmServer(settings, root).start()
        assert receiver.process is not None
        port = free_port()
        bare = serve_bare(root / "bare", port)
        bare_url = f"http://127.0.0.1:{port}/rest/api/files"
        seconds: dict[str, list[float]] = {"bare endpoint": [], "DQM receiver": []}
        cpu: dict[str, float] = {"bare endpoint": 0.0, "DQM receiver": 0.0}
        servers = {
            "bare endpoint": (bare_url, bare.pid),  # type: ignore[attr-defined]
            "DQM receiver": (f"{receiver.url}/rest/api/files", receiver.process.pid),
        }
        try:
            warm = [agent_headers(token, run=1, stamp=1_600_000_000 + i) for i in range(8)]
            for url, _pid in servers.values():
                measure(url, payloads[:8], warm, 4)
            for round_number in range(args.rounds):
                # A new run number each round: the same content is then no duplicate.
                headers = [
                    agent_headers(token, run=1000 + round_number, stamp=1_600_000_000 + i)
                    for i in range(args.uploads)
                ]
                for label, (url, pid) in servers.items():
                    before = tree_cpu_seconds(pid)
                    seconds[label].append(measure(url, payloads, headers, args.clients))
                    cpu[label] += tree_cpu_seconds(pid) - before
        finally:
            receiver.stop()
            bare.terminate()  # type: ignore[attr-defined]
        db.dispose()
    uploads = args.uploads * args.rounds
    for label, times in seconds.items():
        median = statistics.median(times)
        print(
            f"{label:<14} {args.uploads / median:7.1f} uploads/s  {megabytes / median:7.1f} MB/s  "
            f"{cpu[label] / uploads * 1000:5.1f} ms CPU/upload "
            f"(median of {args.rounds} rounds: "
            + ", ".join(f"{args.uploads / t:.1f}" for t in times)
            + f"; {args.uploads} x {megabytes / args.uploads:.2f} MB, {args.clients} clients)"
        )
    bare_median = statistics.median(seconds["bare endpoint"])
    receiver_median = statistics.median(seconds["DQM receiver"])
    print(f"ratio receiver / bare: {bare_median / receiver_median:.2f} (uploads/s, medians)")
    print(f"CPU ratio bare / receiver: {cpu['bare endpoint'] / cpu['DQM receiver']:.2f}")
    print(f"database: {'PostgreSQL' if args.database_url else 'SQLite'}; load before: {load}")


if __name__ == "__main__":
    main()
