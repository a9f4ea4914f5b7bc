"""``overwatch demo`` as a newcomer runs it: web app and processing daemon side by side.

A time slice requested while the demo is being served must finish on its own, and
Ctrl-C must stop the web server and the daemon together.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.servers import free_port
from tests.servers import wait_until_healthy

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


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


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


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
        if _group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        log.close()


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

    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=60) == 0 or process.returncode in {-signal.SIGINT, 130}
    deadline = time.monotonic() + 30
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _group_alive(process.pid), "a demo process outlived Ctrl-C"
    log = (Path(env["OVERWATCH_DATA_DIR"]).parent / "demo.log").read_text(errors="replace")
    # Gunicorn's forked workers unwind through the demo's frames: none may run its
    # clean-up (a traceback here). A worker can still hang until the master's SIGKILL
    # 30 s later, now and then; that is a known, open problem (see the session notes).
    assert "Traceback" not in log, log[-3000:]


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
