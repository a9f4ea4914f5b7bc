"""A real Dask cluster for tests and benchmarks: ``dask scheduler`` and ``dask worker``
processes on localhost, without nannies so that a killed worker stays dead."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.servers import free_port

__all__ = ["DaskCluster"]

REPO = Path(__file__).resolve().parents[1]


class DaskCluster:
    """A scheduler and ``workers`` single-threaded workers (``w1``, ``w2``, ...)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {**os.environ, "PYTHONPATH": str(REPO)}

    def _spawn(self, name: str, args: list[str]) -> None:
        with (self.workdir / f"{name}.log").open("wb") as log:
            self.processes[name] = subprocess.Popen(
                args, cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def start(self, workers: int) -> None:
        port = self.address.rsplit(":", 1)[1]
        scheduler = shutil.which("dask", path=str(Path(sys.executable).parent))
        assert scheduler is not None, "the dask command is missing"
        self._spawn(
            "scheduler",
            [scheduler, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
        )
        for index in range(1, workers + 1):
            self._spawn(
                f"w{index}",
                [
                    scheduler,
                    "worker",
                    self.address,
                    "--name",
                    f"w{index}",
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--local-directory",
                    str(self.workdir),
                ],
            )
        from distributed import Client  # noqa: PLC0415

        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(self.address, timeout=5) as client:
                    client.wait_for_workers(workers, timeout=max(deadline - time.monotonic(), 1))
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def kill(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
