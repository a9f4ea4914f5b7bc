"""``overwatch demo`` as a newcomer runs it: web app and processing daemon side by side.

A time slice requested while the demo is being served must finish on its own, and
Ctrl-C must stop the web server (two workers), the daemon and the live writer together
within seconds: no gunicorn worker may wait for its master's SIGKILL (30 s later), no
process of the demo may survive. SIGTERM to the demo alone stops it as cleanly, and
a demo killed outright takes its processes along.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import requests

from tests.servers import free_port
from tests.servers import wait_until_healthy

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
#: How soon after a stop signal every process of the demo must have ended: well under
#: gunicorn's 30 s graceful timeout, after which its master kills a worker that did not
#: quit. Time for the daemon to finish a job on a busy machine; a clean stop takes 1-5 s.
STOP_SECONDS = 15.0


def _demo_token(env: dict[str, str]) -> dict[str, str]:
    """Headers with a new API token of the demo user."""
    token = subprocess.run(
        [str(BIN / "overwatch"), "users", "token", "demo", "--label", "test"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]
    return {"Authorization": f"Bearer {token}"}


def _group(pgid: int) -> list[str]:
    """The live (not zombie) processes of process group ``pgid``, from /proc: "pid command"."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after its ")".
        state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state != "Z":
            found.append(f"{entry.name} {command.strip()}")
    return found


def _wait_until_gone(pgid: int, seconds: float) -> list[str]:
    """Wait up to ``seconds`` for process group ``pgid`` to end; what is left of it."""
    deadline = time.monotonic() + seconds
    while (left := _group(pgid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], subprocess.Popen[bytes]]]:
    port = free_port()
    env = {
        **os.environ,
        "OVERWATCH_DATA_DIR": str(tmp_path / "data"),
        "OVERWATCH_WEB_BIND": f"127.0.0.1:{port}",
        # Two web workers: Ctrl-C reaches each, and only the demo itself may stop the rest.
        "OVERWATCH_WEB_WORKERS": "2",
        "OVERWATCH_PROCESSING_WORKERS": "1",
        "OVERWATCH_SCAN_INTERVAL": "1",
        "OVERWATCH_LOG_LEVEL": "WARNING",
    }
    env.pop("OVERWATCH_DATABASE_URL", None)
    log_path = tmp_path / "demo.log"
    log = log_path.open("wb")
    # A session of its own, so the test can send Ctrl-C to the whole group as a terminal would.
    process = subprocess.Popen(
        [str(BIN / "overwatch"), "demo", "--runs", "1", "--minutes", "3"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}/healthz", process, log_path, timeout=120)
        yield f"http://127.0.0.1:{port}", env, process
    finally:
        if _group(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        log.close()


def _stop(process: subprocess.Popen[bytes], env: dict[str, str], send: Callable[[], None]) -> float:
    """``send`` a stop signal, check the demo and all its processes end within
    :data:`STOP_SECONDS` without a forced kill or a traceback; the seconds it took."""
    started = time.monotonic()
    send()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"the demo still ran {STOP_SECONDS} s after the stop signal: {_group(process.pid)}"
        )
    left = _wait_until_gone(process.pid, max(STOP_SECONDS - (time.monotonic() - started), 1.0))
    took = time.monotonic() - started
    log = (Path(env["OVERWATCH_DATA_DIR"]).parent / "demo.log").read_text(errors="replace")
    assert not left, f"processes outlived the demo: {left}"
    # gunicorn's master says so when it had to kill a worker that did not quit.
    assert "SIGKILL" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    # The demo's own word for a child it had to kill, or one that ended before the stop.
    assert "did not stop" not in log, log[-3000:]
    assert "on its own" not in log, log[-3000:]
    # The database is whole, and no job was left half done.
    database = Path(env["OVERWATCH_DATA_DIR"]) / "overwatch.db"
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        running = connection.execute("SELECT id FROM jobs WHERE state = 'running'").fetchall()
    assert not running, f"jobs left running: {running}"
    print(f"the demo and all its processes ended {took:.1f} s after the stop signal")
    return took


def test_a_time_slice_requested_in_the_demo_finishes_and_ctrl_c_stops_everything(
    demo: tuple[str, dict[str, str], subprocess.Popen[bytes]],
) -> None:
    base, env, process = demo
    auth = _demo_token(env)
    run = requests.get(f"{base}/api/v1/runs", headers=auth, timeout=10).json()["runs"][0]
    queued = requests.post(
        f"{base}/api/v1/runs/{run['run_number']}/EMC/time-slices",
        json={"min_minutes": 0, "max_minutes": 2, "options": {}},
        headers=auth,
        timeout=10,
    )
    assert queued.status_code == 202, queued.text
    job_url = f"{base}{queued.json()['job_url']}"

    deadline = time.monotonic() + 90
    state = "queued"
    while time.monotonic() < deadline:
        job = requests.get(job_url, headers=auth, timeout=10).json()
        state = job["state"]
        if state not in {"queued", "running"}:
            break
        time.sleep(0.5)
    assert state == "done", job

    # Ctrl-C as a terminal sends it, to every process of the group, while pages are
    # being requested (a quit signal that lands while a worker takes a connection).
    stop_traffic = threading.Event()

    def browse() -> None:
        while not stop_traffic.is_set():
            try:
                requests.get(f"{base}/healthz", timeout=5)
            except requests.RequestException:
                time.sleep(0.05)

    browser = threading.Thread(target=browse, daemon=True)
    browser.start()
    try:
        _stop(process, env, lambda: os.killpg(process.pid, signal.SIGINT))
    finally:
        stop_traffic.set()
        browser.join(10)
    assert process.returncode == 0


def test_sigterm_to_the_demo_alone_stops_all_its_processes(
    demo: tuple[str, dict[str, str], subprocess.Popen[bytes]],
) -> None:
    _base, env, process = demo
    _stop(process, env, lambda: process.send_signal(signal.SIGTERM))
    assert process.returncode == 0


def test_a_demo_killed_outright_takes_its_processes_along(
    demo: tuple[str, dict[str, str], subprocess.Popen[bytes]],
) -> None:
    _base, env, process = demo
    _stop(process, env, lambda: process.send_signal(signal.SIGKILL))
    assert process.returncode == -signal.SIGKILL


def test_the_newest_run_stays_live_with_a_receiver_heartbeat(
    demo: tuple[str, dict[str, str], subprocess.Popen[bytes]],
) -> None:
    base, env, _process = demo
    auth = _demo_token(env)
    run = requests.get(f"{base}/api/v1/runs", headers=auth, timeout=10).json()["runs"][0]
    url = f"{base}/api/v1/runs/{run['run_number']}"

    def emc_files() -> int:
        subsystems = requests.get(url, headers=auth, timeout=10).json()["subsystems"]
        return int(next(s["file_count"] for s in subsystems if s["name"] == "EMC"))

    before = emc_files()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and emc_files() < before + 2:
        time.sleep(1)
    assert emc_files() >= before + 2, "the live run got no new snapshots"
    status = requests.get(f"{base}/api/v1/status", headers=auth, timeout=10).json()
    live = [r for r in status["receivers"] if r["name"] == "demo live"]
    assert live
    assert live[0]["alive"]
    assert live[0]["accepted"] >= 2


def test_trends_grow_with_the_live_run_by_time_and_keep_one_point_per_run(
    demo: tuple[str, dict[str, str], subprocess.Popen[bytes]],
) -> None:
    base, env, _process = demo
    auth = _demo_token(env)
    url = f"{base}/api/v1/trends/TPC/dca_r"

    def points(x: str) -> list[dict[str, object]]:
        body = requests.get(url, params={"x": x}, headers=auth, timeout=10).json()
        return list(body["points"])

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(points("time")) < 2:
        time.sleep(1)
    by_time, by_run = points("time"), points("run")
    assert len(by_time) >= 2, "the live run added no trend point"
    assert len({p["run_number"] for p in by_time}) == 1
    assert len(by_run) == 1
    listed = requests.get(f"{base}/api/v1/trends/TPC", headers=auth, timeout=10).json()
    dca = next(t for t in listed["trends"] if t["name"] == "dca_r")
    assert {limit["severity"] for limit in dca["limits"]} == {"warning", "critical"}
    page = requests.get(f"{base}/trends/TPC", headers=auth, timeout=10)
    assert page.status_code == 200
