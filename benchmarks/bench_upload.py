"""DQM upload throughput: the real receiver next to a bare endpoint, same gunicorn, same run.

Both servers run under gunicorn with the receiver's settings (2 workers x 4
threads). The bare endpoint only writes the request body to disk through the
same atomic writer; the receiver also authenticates, validates the ROOT file,
de-duplicates and counts. 16 clients upload distinct ~1 MB ROOT files. The ratio
receiver / bare is the cost of validation (aim >= 0.5).

    PYTHONPATH=. python benchmarks/bench_upload.py [--uploads 200] [--clients 16] \
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

Without ``--database-url`` the receiver uses a fresh SQLite file; with a PostgreSQL
URL it works in a private schema that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests
from flask import Flask
from flask import request
from sqlalchemy import create_engine
from sqlalchemy import make_url
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from overwatch.config import load_settings
from overwatch.receivers.writer import write_bytes_atomically
from overwatch.storage import Database
from overwatch.storage.agents import create_agent
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


@contextmanager
def private_database(url: str | None, root: Path) -> Iterator[str]:
    """A fresh SQLite file, or a private schema on the PostgreSQL server at ``url``."""
    if url is None:
        yield f"sqlite:///{root / 'overwatch.db'}"
        return
    base = make_url(url).set(drivername="postgresql+psycopg")
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a SQLite file)")
    args = parser.parse_args()
    from tests.receivers.dqmserver import free_port  # noqa: PLC0415

    with (
        tempfile.TemporaryDirectory() as tmp,
        private_database(args.database_url, Path(tmp)) as database_url,
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
        headers = [agent_headers(token, stamp=1_600_000_000 + i) for i in range(args.uploads)]
        megabytes = sum(len(p) for p in payloads) / 1e6

        receiver = DqmServer(settings, root).start()
        port = free_port()
        bare = serve_bare(root / "bare", port)
        try:
            # Warm both up, then measure the bare endpoint and the receiver in turn.
            measure(f"http://127.0.0.1:{port}/rest/api/files", payloads[:8], headers[:8], 4)
            bare_seconds = measure(
                f"http://127.0.0.1:{port}/rest/api/files", payloads, headers, args.clients
            )
            receiver_seconds = measure(
                f"{receiver.url}/rest/api/files", payloads, headers, args.clients
            )
        finally:
            receiver.stop()
            bare.terminate()  # type: ignore[attr-defined]
        db.dispose()
    for label, seconds in (("bare endpoint", bare_seconds), ("DQM receiver", receiver_seconds)):
        print(
            f"{label:<14} {args.uploads / seconds:7.1f} uploads/s  {megabytes / seconds:7.1f} MB/s "
            f"({args.uploads} x {megabytes / args.uploads:.2f} MB, {args.clients} clients)"
        )
    print(f"ratio receiver / bare: {bare_seconds / receiver_seconds:.2f}")
    print(f"database: {'PostgreSQL' if args.database_url else 'SQLite'}")


if __name__ == "__main__":
    main()
