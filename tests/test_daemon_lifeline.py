"""Worker processes end when the processing daemon is killed outright (``kill -9``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from overwatch.config import Settings
from overwatch.processing.lifeline import parent_alive
from overwatch.storage import Database

BIN = Path(sys.executable).parent
#: Generous: a worker notices within a second; CI machines are slow and shared.
DEADLINE_SECONDS = 60.0


def _children(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is ``pid``, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # an unreaped zombie has ended


def _wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_worker_processes_end_when_the_daemon_is_killed(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "OVERWATCH_DATA_DIR": str(settings.data_dir),
        "OVERWATCH_DATABASE_URL": settings.effective_database_url,
        "OVERWATCH_PROCESSING_WORKERS": "3",
        "OVERWATCH_LOG_LEVEL": "INFO",
    }
    log_path = tmp_path / "daemon.log"
    with log_path.open("w") as log_file:
        daemon = subprocess.Popen(
            [BIN / "overwatch", "process"], env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    workers: set[int] = set()
    try:
        # Two spawned worker processes (plus multiprocessing's resource tracker).
        assert _wait_for(lambda: len(_children(daemon.pid)) >= 3, DEADLINE_SECONDS), (
            log_path.read_text()
        )
        assert _wait_for(
            lambda: "processing daemon started" in log_path.read_text(), DEADLINE_SECONDS
        )
        workers = _children(daemon.pid)
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=30)
        assert _wait_for(lambda: not any(_alive(pid) for pid in workers), DEADLINE_SECONDS), (
            f"still running after the daemon died: {[p for p in workers if _alive(p)]}\n"
            + log_path.read_text()
        )
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(timeout=30)
        for pid in workers:  # only the processes this test started
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_parent_check_and_death_signal_request() -> None:
    assert parent_alive(os.getppid())
    assert not parent_alive(os.getpid())
    # In a child of its own: the request outlives the call and must not touch this process.
    code = (
        "import os, signal; from overwatch.processing.lifeline import exit_with_parent; "
        "print(exit_with_parent(os.getppid(), signal.SIGUSR2))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == str(sys.platform.startswith("linux"))
