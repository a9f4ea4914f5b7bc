"""Symbolic links in the data directory, and moving a received file into place.

A link at the top of the data directory is followed only when it leads to a
regular file inside the data directory (a receiver or a sync tool that stages
files in a sub-folder and links them in). Such a link is filed like any file,
as a link that still leads to the same file from its new folder; the file it
leads to stays where it is. Any other link (leading out of the data directory,
dangling, looping, to a directory, or to a file that is itself waiting to be
taken in) is reported with the reason from :func:`link_problem`, and intake sets
it aside once like any bad file.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from overwatch.receivers.filenames import is_candidate

__all__ = ["link_problem", "move_into_place"]


def _target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError as exc:
        return f"<unreadable: {exc.strerror}>"


def link_problem(data_dir: Path, path: Path) -> str | None:
    """Why the symbolic link ``path`` is not followed, or None when it is."""
    target = _target(path)
    try:
        resolved = path.resolve(strict=True)
    except FileNotFoundError:
        return f"symbolic link to {target}, which does not exist"
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop, before Python 3.13
        return f"symbolic link to {target} cannot be followed: {exc}"
    root = data_dir.resolve()
    if not resolved.is_relative_to(root):
        return f"symbolic link to {resolved}, outside the data directory {root}: not followed"
    if not resolved.is_file():
        return f"symbolic link to {resolved}, which is not a regular file"
    if resolved.parent == root and is_candidate(resolved.name):
        return f"symbolic link to {resolved.name}, which is itself taken in from the data directory"
    return None


def move_into_place(path: Path, target: Path) -> None:
    """Move a file (or a followed link) to ``target`` atomically.

    A link is re-created relative to its new folder, so it leads to the same file
    (a relative link moved as it is would lead elsewhere), then the old one removed.
    """
    if not path.is_symlink():
        os.replace(path, target)
        return
    resolved = path.resolve(strict=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.link")
    temporary.symlink_to(os.path.relpath(resolved, target.parent))
    try:
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    path.unlink()
