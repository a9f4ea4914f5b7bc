"""The gunicorn worker class of the web app and the DQM receiver: gthread, minus a deadlock.

Promise: a worker told to quit (SIGQUIT from its master, or SIGINT, as a terminal's
Ctrl-C sends it to the whole process group) exits at once, whatever its main thread
was doing when the signal came.

Why a class of our own: gunicorn's ``gthread`` worker shuts its thread pool down
inside the SIGQUIT/SIGINT handler (``ThreadPoolExecutor.shutdown``), which takes the
pool's lock. That lock is not reentrant, and the handler runs on the main thread,
between any two bytecodes of whatever it interrupted. So the worker waits forever
on a lock it holds itself when the signal lands

* while the main thread hands a new connection to the pool (``submit`` holds the
  lock), or
* inside the handler of the first of two quit signals: Ctrl-C reaches a worker
  directly *and* through its master, which sends SIGQUIT on SIGINT, at nearly the
  same moment.

Such a worker sits until the master's SIGKILL after ``graceful_timeout`` (30 s,
"Worker was sent SIGKILL! Perhaps out of memory?"). Here the handler takes no lock
and acts once: it marks the worker stopping, calls the ``worker_int`` hook and
leaves by ``SystemExit``, as gunicorn's base worker does. The pool needs no
shutdown call: at interpreter exit ``concurrent.futures`` wakes and joins its
threads, so a request in progress still gets its answer.

Use it as ``worker_class`` (the class itself, or
``"overwatch.gunicorn_worker.ThreadWorker"`` in a ``gunicorn.conf.py``).
"""

from __future__ import annotations

import sys
from types import FrameType

from gunicorn.workers.gthread import ThreadWorker as GunicornThreadWorker

__all__ = ["ThreadWorker"]


class ThreadWorker(GunicornThreadWorker):  # type: ignore[misc]
    """gunicorn's gthread worker whose quit handler takes no lock and runs once."""

    quitting = False

    def handle_quit(self, sig: int, frame: FrameType | None) -> None:
        if self.quitting:
            # A second quit signal, perhaps inside the first one's handler: that one
            # is already on its way out.
            return
        self.quitting = True
        self.alive = False
        self.cfg.worker_int(self)
        sys.exit(0)
