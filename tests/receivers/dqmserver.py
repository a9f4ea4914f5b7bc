"""A real ``overwatch receive dqm`` (gunicorn) in a child process, and ROOT payloads to send it.

The receiver runs exactly as an operator starts it: the ``overwatch`` command with
a config file naming the test's data directory and database. ``kill()`` sends
SIGKILL to the whole process group (master and workers), ``start()`` brings it
back on the same port.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import requests
import yaml

from overwatch.config import Settings
from tests import rootfiles
from tests.servers import free_port
from tests.servers import wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]


class DqmServer:
    def __init__(self, settings: Settings, tmp: Path, workers: int = 2, **overrides: Any) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = tmp / "receiver.yaml"
        values = {
            "data_dir": str(settings.data_dir),
            "database_url": settings.effective_database_url,
            "timezone": settings.timezone,
            "log_level": "WARNING",
            **overrides,
        }
        self.config.write_text(yaml.safe_dump(values), encoding="utf-8")
        self.workers = workers
        self.log = tmp / "receiver.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> DqmServer:
        command = [
            sys.executable,
            "-c",
            "from overwatch.cli import main; main()",
            "--config",
            str(self.config),
            "receive",
            "dqm",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env = {k: v for k, v in env.items() if not k.startswith("OVERWATCH_")}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_until_healthy(f"{self.url}/healthz", self.process, self.log)
        return self

    def alive(self) -> bool:
        response = requests.get(f"{self.url}/healthz", timeout=5)
        return bool(response.status_code == 200 and response.json()["status"] == "ok")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def root_bytes(objects: dict[str, Any], tmp: Path, name: str = "payload.root") -> bytes:
    path = rootfiles.write_file(tmp / name, objects)
    data = path.read_bytes()
    path.unlink()
    return data


def histogram_file(tmp: Path, seed: int = 0, bins: int = 10, name: str = "test") -> bytes:
    """A file with one TH1F ``name`` (what the ALICE receiver test sends)."""
    values = np.random.default_rng(seed).poisson(50, bins)
    return root_bytes({name: rootfiles.th1(name, values)}, tmp, f"h{seed}.root")


def megabyte_file(tmp: Path, seed: int) -> bytes:
    """A distinct ~1 MB file: a TH1D of random values (they do not compress)."""
    values = np.random.default_rng(seed).random(130_000)
    return root_bytes({"big": rootfiles.th1("big", values, kind="D")}, tmp, f"mb{seed}.root")


def multipart(data: bytes) -> dict[str, Any]:
    return {"file": ("file", io.BytesIO(data))}


def agent_headers(
    token: str, run: int = 123456, stamp: int = 140844, agent: str = "EMC"
) -> dict[str, str]:
    return {
        "runNumber": str(run),
        "timeStamp": str(stamp),
        "amoreAgent": agent,
        "dataStatus": "1",
        "token": token,
    }
