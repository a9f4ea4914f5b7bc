"""A gunicorn worker told to quit leaves at once, whatever its main thread was doing.

gunicorn's gthread worker takes its thread pool's lock in the quit handler, so it waits
for ever when the signal lands while its main thread holds that lock: handing a
connection to the pool, or inside the handler of a first quit signal (Ctrl-C reaches
a worker directly and through its master). The scenario runs in a child process, so a
worker that hangs fails the test instead of stalling the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from overwatch.gunicorn_worker import ThreadWorker

ROOT = Path(__file__).resolve().parents[1]
#: Generous for a child that starts Python and imports gunicorn; a deadlock never ends.
TIMEOUT = 60

QUIT_WITH_THE_POOL_LOCK_HELD = """
import os
import signal

from gunicorn.config import Config
from gunicorn.glogging import Logger

from overwatch.gunicorn_worker import ThreadWorker

cfg = Config()
worker = ThreadWorker(1, os.getppid(), [], None, 30, cfg, Logger(cfg))
worker.tpool = worker.get_thread_pool()
# The main thread holds the pool's lock, as in submit() or in a first quit handler
# (CPython's ThreadPoolExecutor keeps it as _shutdown_lock).
with worker.tpool._shutdown_lock:
    print("quitting", flush=True)
    worker.handle_quit(signal.SIGQUIT, None)
print("the handler returned", flush=True)
"""


def _worker(cfg: Config) -> ThreadWorker:
    return ThreadWorker(1, os.getpid(), [], None, 30, cfg, Logger(cfg))


def test_a_quit_while_the_main_thread_holds_the_pool_lock_exits_the_worker() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-c", QUIT_WITH_THE_POOL_LOCK_HELD],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["quitting"], done.stdout


def test_a_second_quit_inside_the_first_ones_handler_is_ignored() -> None:
    cfg = Config()
    worker = _worker(cfg)
    worker.tpool = worker.get_thread_pool()
    interrupted: list[int] = []

    def worker_int(quitting: ThreadWorker) -> None:
        interrupted.append(quitting.pid)
        # The master's SIGQUIT arriving while Ctrl-C's SIGINT is being handled.
        quitting.handle_quit(3, None)

    cfg.set("worker_int", worker_int)
    try:
        with pytest.raises(SystemExit) as leaving:
            worker.handle_quit(2, None)
    finally:
        worker.tpool.shutdown()
        worker.tmp.close()
    assert leaving.value.code == 0
    assert interrupted == [worker.pid]
    assert not worker.alive
