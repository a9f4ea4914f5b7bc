"""Resource limits for the processes that run jobs.

A hostile or broken file can make one job need far more memory than the
machine has (a few megabytes of compressed zeros inflate to gigabytes).  The
reader refuses oversized histograms up front (``max_histogram_bins``); this is
the backstop for everything else: with an address-space limit, an allocation
beyond it raises ``MemoryError`` in the job that made it, the worker records it
as that job's failure, and the daemon and the machine carry on.
"""

from __future__ import annotations

import resource

__all__ = ["limit_memory"]


def limit_memory(megabytes: int) -> None:
    """Cap this process's address space at ``megabytes`` MiB (0: leave it as it is).

    Called once in every process that runs jobs (``worker_memory_limit_mb``): an
    allocation beyond the cap raises ``MemoryError``, which fails the job that
    made it with a clear reason, instead of the kernel's OOM killer taking the
    daemon or the machine.  Only the soft limit is lowered, never above the hard one.
    """
    if megabytes <= 0:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = megabytes * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
