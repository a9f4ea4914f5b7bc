"""The demo's processes side by side, and one stop for all of them.

``overwatch demo`` serves what it processed with processes of its own: the web app
(``overwatch web``: gunicorn and its workers), the processing daemon (``overwatch
process``) and, for a live run, the snapshot writer. Production runs the first two as
separate services; the demo starts them with :func:`run_side_by_side` and waits.

Promise: Ctrl-C in the terminal (SIGINT to the whole process group), SIGTERM or SIGHUP
to the demo stops every one of them within seconds and leaves none behind. How:

* Every part is a new process with a fresh interpreter, none forked from the demo:
  the demo has run threads, database connections and a processing pass, and a forked
  copy of that state could wait on a lock nobody will release, or close a database
  connection that is not its own.
* The demo's signal handler only notes the request: it takes no lock and throws no
  exception into whatever it interrupted. The waiting loop then sends every child
  SIGTERM at once and waits for them all: gunicorn lets its workers answer their
  requests, the daemon finishes its current job (one transaction: all of it or
  nothing), the writer stops between two snapshots (each written atomically).
* A child still running :data:`STOP_SECONDS` later is killed, and the demo says so.
* A child that ends on its own (the web app could not bind its port, say) stops the
  others, and the demo exits with status 1.
* The children are told the demo's pid (``--parent-pid``), so that a demo killed
  outright (``kill -9``) takes them along too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import TypeAlias

import click

__all__ = ["STOP_SECONDS", "STOP_SIGNALS", "Child", "run_side_by_side"]

#: How long the children get to stop before they are killed: gunicorn's own
#: graceful timeout for a request in progress.
STOP_SECONDS = 30.0
#: The signals that stop the demo: Ctrl-C, ``kill``, and the terminal closing.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: How often the demo looks whether a child ended or a stop was asked for.
POLL_SECONDS = 0.2

#: What starts a child: ``subprocess.Popen`` or a started ``multiprocessing`` process.
Process: TypeAlias = subprocess.Popen[bytes] | BaseProcess


class Child:
    """One process of the demo, started by ``subprocess`` or ``multiprocessing``."""

    def __init__(self, name: str, process: Process) -> None:
        self.name = name
        self.process = process

    @property
    def pid(self) -> int:
        return int(self.process.pid or 0)

    def exitcode(self) -> int | None:
        """The exit status once it ended (negative: the signal that ended it), else None."""
        if isinstance(self.process, subprocess.Popen):
            return self.process.poll()
        return self.process.exitcode

    def send(self, signum: int) -> None:
        """Send ``signum`` unless it has ended (reaped): until then its pid is its own."""
        if self.exitcode() is None:
            os.kill(self.pid, signum)

    def wait(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` seconds (None: for ever); whether it has ended."""
        if isinstance(self.process, subprocess.Popen):
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        self.process.join(timeout)
        return self.process.exitcode is not None


class _StopRequest:
    """A signal handler that only notes the first stop signal: it may interrupt anything."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum


def run_side_by_side(
    starts: Sequence[tuple[str, Callable[[], Process]]], *, stop_seconds: float = STOP_SECONDS
) -> int:
    """Start each ``(name, start)`` child, wait for a stop signal or for a child to end,
    then stop them all; 0 if they all ran until asked to stop and then stopped, else 1.

    Call from the main thread (it sets the handlers of :data:`STOP_SIGNALS`, and puts
    the previous ones back before returning).
    """
    request = _StopRequest()
    previous = {signum: signal.signal(signum, request) for signum in STOP_SIGNALS}
    children: list[Child] = []
    ended: list[Child] = []
    try:
        for name, start in starts:
            if request.signum is not None:
                break
            children.append(Child(name, start()))
        while request.signum is None and not ended:
            time.sleep(POLL_SECONDS)
            ended = [child for child in children if child.exitcode() is not None]
        if request.signum is not None:
            # Ctrl-C reaches the children too, and some are quicker than this loop:
            # looked at after their exit, the request shows they ended because of it.
            ended = []
        for child in ended:
            click.echo(
                f"the {child.name} stopped on its own (exit status {child.exitcode()}); "
                "stopping the rest",
                err=True,
            )
    finally:
        stopped = _stop_all(children, stop_seconds)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0 if stopped and not ended else 1


def _stop_all(children: Sequence[Child], stop_seconds: float) -> bool:
    """SIGTERM to every child at once, SIGKILL to those still running ``stop_seconds``
    later; whether they all stopped by themselves."""
    for child in children:
        child.send(signal.SIGTERM)
    deadline = time.monotonic() + stop_seconds
    stubborn = [
        child for child in children if not child.wait(max(deadline - time.monotonic(), 0.0))
    ]
    for child in stubborn:
        click.echo(
            f"the {child.name} (pid {child.pid}) did not stop within {stop_seconds:g} s: killed",
            err=True,
        )
        child.send(signal.SIGKILL)
        child.wait(None)
    return not stubborn
