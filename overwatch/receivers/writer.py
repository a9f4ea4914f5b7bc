"""Atomic writing of receiver files, shared by every receiver and the demo.

A scanner polls the data directory while receivers write into it, so a file must
appear under its final name only once it is complete and on disk. Every writer
here therefore writes to a hidden temporary name in the *same* directory
(``.<name>.<random>.tmp``, which :func:`~overwatch.receivers.filenames.is_candidate`
rejects), flushes and fsyncs it, publishes it with one atomic rename or link,
and fsyncs the directory so the new entry survives a crash. On any error the
temporary file is removed and the exception propagates.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import time
from collections.abc import Iterator
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from overwatch.receivers.filenames import build_file_name

__all__ = [
    "CHUNK_SIZE",
    "ByteStream",
    "remove_stale_temporaries",
    "write_bytes_atomically",
    "write_receiver_file",
    "write_root_file",
]

#: Bytes copied per read when streaming an upload to disk.
CHUNK_SIZE = 1024 * 1024


class ByteStream(Protocol):
    """Anything with a ``read(size)`` returning bytes: open files, upload streams."""

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` bytes, ``b""`` at the end."""
        ...


# Filesystems on which hard links are unavailable answer os.link with one of these;
# there the no-overwrite publish falls back to check-then-rename.
_NO_HARD_LINKS = frozenset(
    {errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}
)


def write_root_file(path: Path, objects: Mapping[str, object], *, overwrite: bool = False) -> Path:
    """Write ``objects`` to the ROOT file ``path`` atomically and return ``path``.

    Keys may contain ``/`` to place an object in nested TDirectories
    (``"TPCQA/h_tpc_event_recvertex_0"``). Values are anything uproot can write:
    ``hist.Hist``, numpy histogram tuples, objects from
    ``uproot.writing.identify.to_TH1x`` and friends, strings.

    Raises :class:`FileExistsError` if ``path`` exists and ``overwrite`` is false;
    the parent directory must exist.
    """
    # Imported here: the scanner and the upload endpoint use this module without writing ROOT.
    import uproot  # noqa: PLC0415

    path = Path(path)
    _refuse_existing(path, overwrite=overwrite)
    with _temporary_sibling(path) as temporary:
        # uproot opens (and closes) the file itself, so the fsync happens after it
        # has finished; opening by path keeps uproot on its fast local-file sink.
        with uproot.recreate(temporary) as out:
            for key, value in objects.items():
                out[key] = value
        with temporary.open("rb+") as handle:
            os.fsync(handle.fileno())
        _publish(temporary, path, overwrite=overwrite)
    return path


def write_bytes_atomically(
    path: Path, data: bytes | ByteStream, *, overwrite: bool = False
) -> Path:
    """Write raw bytes (or a binary stream, copied in chunks) to ``path`` atomically.

    Used to store uploaded ROOT files exactly as received. Returns ``path``; raises
    :class:`FileExistsError` if it exists and ``overwrite`` is false.
    """
    path = Path(path)
    _refuse_existing(path, overwrite=overwrite)
    with _temporary_sibling(path) as temporary:
        with temporary.open("wb") as handle:
            if isinstance(data, bytes | bytearray | memoryview):
                handle.write(data)
            else:
                # Uploads can be large; never hold a whole one in memory twice.
                while chunk := data.read(CHUNK_SIZE):
                    handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        _publish(temporary, path, overwrite=overwrite)
    return path


def write_receiver_file(
    data_dir: Path,
    subsystem: str,
    run_number: int,
    hlt_mode: str,
    timestamp: datetime,
    objects: Mapping[str, object],
    tz: ZoneInfo,
    *,
    overwrite: bool = False,
) -> Path:
    """Write one receiver snapshot into ``data_dir`` under its conventional name.

    The file lands directly in ``data_dir`` (created if missing): moving it into
    its ``Run<N>/<SYS>/`` folder is the scanner's job. ``timestamp`` must be
    timezone-aware; it is written into the name as local time in ``tz``.
    """
    name = build_file_name(subsystem, run_number, hlt_mode, timestamp, tz)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    return write_root_file(data_dir / name, objects, overwrite=overwrite)


def _refuse_existing(path: Path, *, overwrite: bool) -> None:
    # Checked before writing so a duplicate costs nothing; _publish checks again
    # atomically because another writer may win the race in between.
    if not overwrite and path.exists():
        raise FileExistsError(errno.EEXIST, "refusing to overwrite an existing file", str(path))


#: The writer's temporary names: ``.<final name>.<12 hex digits>.tmp``.
_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")


def remove_stale_temporaries(directory: Path, older_than_seconds: float) -> list[str]:
    """Delete this writer's temporary files in ``directory`` untouched for longer than
    ``older_than_seconds``: what a writer killed mid-write (SIGKILL, power loss) left.

    Only names of this writer's exact form are touched; returns the names removed.
    """
    removed: list[str] = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if not _TEMPORARY.match(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime > older_than_seconds:
                os.unlink(entry.path)
                removed.append(entry.name)
        except FileNotFoundError:
            continue  # its writer finished, or another scanner was quicker
    return removed


@contextlib.contextmanager
def _temporary_sibling(path: Path) -> Iterator[Path]:
    """Reserve a hidden temporary name next to ``path``; remove it unless published."""
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            # O_EXCL reserves the name; mode 0o666 lets the umask decide the final
            # permissions, as for any file the receiver creates directly.
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        break
    try:
        yield temporary
    finally:
        # After a successful publish the name is gone already (renamed or unlinked).
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _publish(temporary: Path, path: Path, *, overwrite: bool) -> None:
    """Give the finished ``temporary`` its final name in one atomic step."""
    if overwrite:
        os.replace(temporary, path)
    else:
        try:
            # link() fails if the name exists, so two writers cannot both win.
            os.link(temporary, path)
        except FileExistsError:
            raise FileExistsError(
                errno.EEXIST, "refusing to overwrite an existing file", str(path)
            ) from None
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            _refuse_existing(path, overwrite=False)
            os.replace(temporary, path)
        else:
            temporary.unlink()
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the new directory entry durable (a no-op where directories cannot be opened)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except (PermissionError, IsADirectoryError):
        # Windows cannot open directories; the rename itself is still atomic there.
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some network and FUSE filesystems reject fsync on directories.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    finally:
        os.close(fd)
