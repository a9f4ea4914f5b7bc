"""Helper processes end when the process that started them dies.

A daemon killed with ``kill -9`` gets no chance to stop its worker processes;
left alone they would go on claiming jobs with nobody to supervise them. On
Linux a child asks the kernel for a signal when its parent dies
(``prctl(PR_SET_PDEATHSIG)``); everywhere, worker loops also check that their
parent is still the one that started them (:func:`parent_alive`), since an
orphan is adopted by another process and its parent id changes.

The kernel sends the signal when the parent *thread* that started the child
ends, so children are started from a thread that lives as long as they should.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys

__all__ = ["exit_with_parent", "parent_alive"]

log = logging.getLogger(__name__)

#: From <linux/prctl.h>.
PR_SET_PDEATHSIG = 1


def _ask_kernel(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0:
            return True
        error = ctypes.get_errno()
        log.warning("prctl(PR_SET_PDEATHSIG) failed: %s", os.strerror(error))
    except (OSError, AttributeError) as exc:
        log.warning("prctl is unavailable (%s); relying on the parent check", exc)
    return False


def exit_with_parent(parent_pid: int, signum: int = signal.SIGTERM) -> bool:
    """Have ``signum`` sent to this process when ``parent_pid`` dies; whether the kernel will.

    Call first thing in the child. If the parent died before the request took
    effect, the signal is sent at once.
    """
    registered = _ask_kernel(signum)
    if not parent_alive(parent_pid):
        os.kill(os.getpid(), signum)
    return registered


def parent_alive(parent_pid: int) -> bool:
    """Whether this process's parent is still ``parent_pid`` (an orphan gets another)."""
    return os.getppid() == parent_pid
