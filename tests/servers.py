"""Servers that tests run as child processes: a free port, waiting for them, stopping them.

- :func:`free_port`: a local TCP port nobody listens on (yet);
- :func:`wait_until_healthy`: returns once a URL answers 200, fails at once when the
  process serving it exits, and after ``timeout`` seconds, with the end of its log;
- :func:`stop`: SIGTERM, and SIGKILL when the process outlives 30 s;
- :class:`WebServer`: a real ``overwatch web`` (gunicorn), started as an operator
  starts it, on the test's data directory and database (the DQM receiver's
  counterpart is :class:`tests.receivers.dqmserver.DqmServer`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import requests

from overwatch.config import Settings

__all__ = ["WebServer", "free_port", "stop", "wait_until_healthy"]

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return log.read_text(errors="replace")[-3000:]


def wait_until_healthy(
    url: str, process: subprocess.Popen[bytes], log: Path | None = None, timeout: float = 60
) -> None:
    """Return once ``url`` answers 200; raise RuntimeError when ``process`` exits first or
    ``timeout`` seconds pass, with the end of ``log``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: its server exited with {process.returncode}: {_tail(log)}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s: {_tail(log)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful stop), then SIGKILL if the process outlives 30 s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class WebServer:
    """``overwatch web --workers N`` on a free local port, logging to ``workdir``.

    ``overrides`` are further settings, given as ``OVERWATCH_<NAME>`` in its
    environment (``metrics_dir="/tmp/m"`` becomes ``OVERWATCH_METRICS_DIR``); no other
    ``OVERWATCH_*`` variable of the test's own environment reaches it. Use it as a
    context manager, or :meth:`start` and :meth:`stop`.
    """

    def __init__(self, settings: Settings, workdir: Path, workers: int = 2, **overrides: str):
        self.settings = settings
        self.workers = workers
        self.overrides = overrides
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"web-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WebServer:
        command = [
            sys.executable,
            "-m",
            "overwatch",
            "--data-dir",
            str(self.settings.data_dir),
            "--database-url",
            self.settings.effective_database_url,
            "web",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
        ]
        # The test runner's own metrics directory is not the server's.
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("OVERWATCH_") and name != "PROMETHEUS_MULTIPROC_DIR"
        }
        env = {
            **inherited,
            "PYTHONPATH": str(ROOT),
            "OVERWATCH_SECRET_KEY": self.settings.secret_key or "",
            **{f"OVERWATCH_{name.upper()}": value for name, value in self.overrides.items()},
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_healthy(f"{self.url}/healthz", self.process, self.log)
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
