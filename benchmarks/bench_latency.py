"""From arrival to the page: seconds from a receiver file landing to its histograms served.

    python benchmarks/bench_latency.py [--files 20] [--database-url postgresql://...]

Starts the real processing daemon (``overwatch process``) and the real web app
(``overwatch web``, gunicorn) on a temporary data directory, both idle. Then, one at a
time, writes a receiver file for a new run through the atomic writer and polls the JSON
API until that run's histogram is served, and records the time. The daemon's periodic
scan is set to 60 s, so what is measured is the file-event path, with the scan interval
of the default configuration printed as the reference (what a file waited before).
Figures print as Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from datetime import datetime
from pathlib import Path

import numpy as np
import requests

from overwatch.receivers.writer import write_receiver_file

BIN = Path(sys.executable).parent
FIRST_RUN = 500000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _histograms(seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    counts = np.histogram(rng.normal(size=5000), bins=100, range=(-5, 5))
    objects: dict[str, object] = {f"hist{i}": counts for i in range(20)}
    return objects


def _wait(url: str, headers: dict[str, str], timeout: float) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            response = requests.get(url, headers=headers, timeout=5)
        except requests.ConnectionError:
            response = None
        if response is not None and response.status_code == 200:
            return time.perf_counter() - start
        time.sleep(0.02)
    raise TimeoutError(f"{url} not served within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="overwatch-latency-"))
    data = work / "data"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERWATCH_")}
    env |= {
        "OVERWATCH_DATA_DIR": str(data),
        "OVERWATCH_WEB_BIND": f"127.0.0.1:{port}",
        "OVERWATCH_SCAN_INTERVAL": "60",
        "OVERWATCH_LOG_LEVEL": "WARNING",
    }
    if args.database_url:
        env["OVERWATCH_DATABASE_URL"] = args.database_url
    overwatch = str(BIN / "overwatch")
    subprocess.run(
        [overwatch, "users", "add", "bench", "--role", "viewer", "--password-stdin"],
        input="bench-password\n",
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    token = subprocess.run(
        [overwatch, "users", "token", "bench"], env=env, check=True, capture_output=True, text=True
    ).stdout.split()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    processes = [
        subprocess.Popen([overwatch, "process"], env=env),
        subprocess.Popen([overwatch, "web", "--workers", "2"], env=env, stdout=subprocess.DEVNULL),
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{base}/healthz", {}, 60)
        time.sleep(2.0)  # let the daemon finish starting: the benchmark measures an idle one
        latencies = []
        for index in range(args.files):
            run = FIRST_RUN + index
            objects = _histograms(index)
            start = time.perf_counter()
            write_receiver_file(data, "EMC", run, "C", datetime.now(UTC), objects, tz=_tz())
            written = time.perf_counter() - start
            url = f"{base}/api/v1/runs/{run}/EMC/histograms/hist0"
            latencies.append(written + _wait(url, headers, 60))
            time.sleep(0.5)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)

    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"\n### Arrival to page ({database}, {args.files} files of 20 TH1 x 100 bins, idle daemon)\n"
    )
    print("| measure | seconds |")
    print("|---|---|")
    print(f"| median | {statistics.median(latencies):.2f} |")
    print(f"| p95 | {p95:.2f} |")
    print(f"| max | {latencies[-1]:.2f} |")
    print("| reference: default scan_interval (the wait before file events) | 10 |")


def _tz():  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    return ZoneInfo("Europe/Zurich")


if __name__ == "__main__":
    main()
