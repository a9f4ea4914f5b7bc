"""CPU time of a server and every process it forked (gunicorn's master and workers).

Read from ``/proc`` (Linux): user + system seconds of ``root_pid`` and all its
descendants alive at the time of the call. Used by ``bench_upload`` and ``bench_scale``
to put a server's CPU seconds per request beside the wall-clock figures, which depend
far more on what else the machine is doing.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["tree_cpu_seconds"]


def tree_cpu_seconds(root_pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        tree.update(children)
        frontier.extend(children)
    return sum(times.get(pid, 0.0) for pid in tree)
