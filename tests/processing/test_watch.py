"""Arrival notices from the operating system's file events (watchdog / inotify)."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from overwatch.processing.watch import Arrivals
from overwatch.processing.watch import DirectoryWatcher
from overwatch.receivers.writer import write_bytes_atomically

NAME = "EMChistos_294832_C_2018_10_22_9_53_55.root"


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Path, queue.Queue[Arrivals]]]:
    directory = tmp_path / "data"
    batches: queue.Queue[Arrivals] = queue.Queue()
    watcher = DirectoryWatcher(directory, batches.put)
    watcher.start()
    try:
        yield directory.resolve(), batches
    finally:
        watcher.stop()


def _collect(batches: queue.Queue[Arrivals], until: float = 5.0) -> Arrivals:
    """Merge batches until one holds a complete file or nothing more comes for a while."""
    merged = Arrivals()
    deadline = time.monotonic() + until
    while time.monotonic() < deadline:
        try:
            batch = batches.get(timeout=0.5)
        except queue.Empty:
            if merged:
                break
            continue
        merged.complete |= batch.complete
    return merged


def test_a_file_renamed_into_place_is_complete(
    watched: tuple[Path, queue.Queue[Arrivals]],
) -> None:
    directory, batches = watched
    write_bytes_atomically(directory / NAME, b"root bytes")
    arrivals = _collect(batches)
    assert arrivals.complete == {directory / NAME}


def test_a_file_written_in_place_is_complete_when_closed_not_before(
    watched: tuple[Path, queue.Queue[Arrivals]],
) -> None:
    directory, batches = watched
    with (directory / NAME).open("wb") as handle:
        handle.write(b"first half")
        handle.flush()
        early = _collect(batches, until=2.0)
        handle.write(b"second half")
    assert directory / NAME not in early.complete
    assert _collect(batches).complete == {directory / NAME}


def test_a_file_moved_in_from_another_directory_is_complete(
    watched: tuple[Path, queue.Queue[Arrivals]], tmp_path: Path
) -> None:
    directory, batches = watched
    outside = tmp_path / NAME
    outside.write_bytes(b"x")
    outside.rename(directory / NAME)
    assert _collect(batches).complete == {directory / NAME}


def test_a_file_renamed_from_a_hidden_temporary_name_is_complete(
    watched: tuple[Path, queue.Queue[Arrivals]],
) -> None:
    directory, batches = watched
    temporary = directory / f".{NAME}.part"
    temporary.write_bytes(b"x")
    temporary.rename(directory / NAME)
    assert _collect(batches).complete == {directory / NAME}


def test_temporary_hidden_and_nested_files_are_not_reported(
    watched: tuple[Path, queue.Queue[Arrivals]],
) -> None:
    directory, batches = watched
    (directory / ".EMChistos.tmp").write_bytes(b"x")
    (directory / "notes.txt").write_bytes(b"x")
    (directory / "Run1").mkdir()
    (directory / "Run1" / NAME).write_bytes(b"x")
    write_bytes_atomically(directory / "marker.part.root", b"x")
    assert not _collect(batches, until=1.5)


def test_a_failing_handler_does_not_stop_the_watcher(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    calls: queue.Queue[Arrivals] = queue.Queue()

    def handle(arrivals: Arrivals) -> None:
        calls.put(arrivals)
        if calls.qsize() == 1:
            raise RuntimeError("database went away")

    watcher = DirectoryWatcher(directory, handle)
    watcher.start()
    try:
        write_bytes_atomically(directory / NAME, b"one")
        assert _collect(calls).complete
        second = NAME.replace("55.root", "56.root")
        write_bytes_atomically(directory / second, b"two")
        assert directory.resolve() / second in _collect(calls).complete
    finally:
        watcher.stop()
