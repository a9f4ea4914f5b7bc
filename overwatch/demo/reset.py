"""Replace an earlier demo in the same data directory instead of adding to it.

``overwatch demo`` run twice on one ``./data`` must look the same both times: the
same run numbers, as many runs, the newest one ending now. Each demo records the
runs it wrote in :data:`MARKER` (a hidden file, which scanners never pick up); the
next demo forgets exactly those runs first (database rows, their ``Run<N>/``
folders, and snapshot files of theirs not scanned yet) and writes them afresh.
Runs the demo did not write are never touched, and new demo runs are numbered
after them if they would collide.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select

from overwatch.config import Settings
from overwatch.receivers.filenames import FileNameError
from overwatch.receivers.filenames import is_candidate
from overwatch.receivers.filenames import parse_file_name
from overwatch.storage import Database
from overwatch.storage.models import Run
from overwatch.storage.records import delete_runs

__all__ = [
    "MARKER",
    "forget_previous_demo",
    "next_demo_run",
    "previous_demo_runs",
    "remember_demo_runs",
]

#: Hidden file in the data directory listing the run numbers the last demo wrote.
MARKER = ".overwatch-demo.json"


def previous_demo_runs(data_dir: Path) -> list[int]:
    """The runs the last demo in ``data_dir`` wrote (none if there was none, or the
    marker is unreadable: then nothing is replaced)."""
    try:
        recorded = json.loads((data_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    runs = recorded.get("runs") if isinstance(recorded, dict) else None
    if not isinstance(runs, list):
        return []
    return sorted({run for run in runs if isinstance(run, int) and not isinstance(run, bool)})


def remember_demo_runs(data_dir: Path, runs: Iterable[int]) -> None:
    """Record the runs a demo wrote, for the next demo to replace."""
    body = json.dumps({"runs": sorted(set(runs))})
    temporary = data_dir / f"{MARKER}.tmp"
    temporary.write_text(body, encoding="utf-8")
    temporary.replace(data_dir / MARKER)


def forget_previous_demo(settings: Settings, db: Database) -> list[int]:
    """Remove the runs the last demo wrote from the database and the data directory;
    returns their numbers."""
    runs = previous_demo_runs(settings.data_dir)
    if not runs:
        return []
    with db.session() as session:
        delete_runs(session, runs)
    wanted = set(runs)
    for run in runs:
        folder = settings.data_dir / f"Run{run}"
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder)
    # Snapshots the live demo wrote after the last scan still wait at the top level.
    for path in settings.data_dir.iterdir():
        if not path.is_file() or not is_candidate(path.name):
            continue
        try:
            parsed = parse_file_name(path.name, settings.tz)
        except FileNameError:
            continue
        if parsed.run_number in wanted:
            path.unlink()
    (settings.data_dir / MARKER).unlink(missing_ok=True)
    return runs


def next_demo_run(db: Database, first_run: int) -> int:
    """Where demo runs start: ``first_run``, or after the newest run when that is later
    (so a demo never mixes into runs it did not write)."""
    with db.session() as session:
        newest = session.scalar(select(func.max(Run.run_number)))
    return max(first_run, (newest or 0) + 1)
