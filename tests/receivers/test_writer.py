"""Tests for the atomic receiver-file writer."""

from __future__ import annotations

import io
import os
from datetime import UTC
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import hist
import numpy as np
import pytest
import uproot

from overwatch.receivers.filenames import is_candidate
from overwatch.receivers.filenames import parse_file_name
from overwatch.receivers.writer import CHUNK_SIZE
from overwatch.receivers.writer import write_bytes_atomically
from overwatch.receivers.writer import write_receiver_file
from overwatch.receivers.writer import write_root_file

ZURICH = ZoneInfo("Europe/Zurich")


def _filled_hist() -> hist.Hist[hist.storage.Double]:
    h = hist.Hist.new.Reg(10, 0, 10, name="x", label="amplitude").Double()
    h.fill(np.arange(10) + 0.5, weight=np.arange(10))
    return h


def _entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


class _Unwritable:
    """An object uproot cannot convert, to make a write fail after others were written."""


class _FailingStream:
    """A readable stream that breaks after a few chunks, like a dropped upload."""

    def __init__(self, good_chunks: int) -> None:
        self.remaining = good_chunks

    def read(self, size: int = -1, /) -> bytes:
        if self.remaining == 0:
            raise ConnectionResetError("client went away")
        self.remaining -= 1
        return b"x" * CHUNK_SIZE


def test_nested_directories_are_readable_back_with_uproot(tmp_path: Path) -> None:
    target = tmp_path / "out.root"
    counts = np.array([1.0, 2.0, 3.0])
    edges = np.array([0.0, 1.0, 2.0, 3.0])

    result = write_root_file(
        target,
        {
            "top": _filled_hist(),
            "TPCQA/h_tpc_event_recvertex_0": (counts, edges),
            "a/b/c/deep": (counts, edges),
        },
    )

    assert result == target
    with uproot.open(target) as f:
        assert f["top"].values().sum() == pytest.approx(45.0)
        assert f["top"].axis().member("fTitle") == "amplitude"
        np.testing.assert_array_equal(f["TPCQA/h_tpc_event_recvertex_0"].values(), counts)
        np.testing.assert_array_equal(f["a/b/c/deep"].axis().edges(), edges)
        classes = f.classnames(cycle=False)
        assert classes["TPCQA"] == "TDirectory"
        assert classes["a/b"] == "TDirectory"


def test_leaves_no_temporary_file_after_success(tmp_path: Path) -> None:
    write_root_file(tmp_path / "out.root", {"h": _filled_hist()})
    write_bytes_atomically(tmp_path / "raw.root", b"payload")

    assert _entries(tmp_path) == ["out.root", "raw.root"]


def test_failed_root_write_leaves_neither_final_nor_temporary_file(tmp_path: Path) -> None:
    # The first object is written before the second one fails: a non-atomic writer
    # would leave a half-written out.root behind.
    with pytest.raises(TypeError):
        write_root_file(tmp_path / "out.root", {"good": _filled_hist(), "bad": _Unwritable()})

    assert _entries(tmp_path) == []


def test_failed_stream_write_leaves_neither_final_nor_temporary_file(tmp_path: Path) -> None:
    with pytest.raises(ConnectionResetError, match="went away"):
        write_bytes_atomically(tmp_path / "upload.root", _FailingStream(good_chunks=3))

    assert _entries(tmp_path) == []


def test_failed_overwrite_keeps_the_previous_file_intact(tmp_path: Path) -> None:
    target = tmp_path / "out.root"
    write_root_file(target, {"h": _filled_hist()})
    before = target.read_bytes()

    with pytest.raises(TypeError):
        write_root_file(target, {"bad": _Unwritable()}, overwrite=True)

    assert target.read_bytes() == before
    assert _entries(tmp_path) == ["out.root"]


def test_partial_file_is_never_visible_under_a_candidate_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Look at the directory when the data is synced, i.e. when all bytes are
    # written but not yet published: only a hidden temporary name may exist then.
    seen: list[list[str]] = []
    real_fsync = os.fsync

    def looking_fsync(fd: int) -> None:
        seen.append(_entries(tmp_path))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", looking_fsync)
    write_root_file(tmp_path / "out.root", {"h": _filled_hist()})

    [temporary] = seen[0]
    assert temporary.startswith(".out.root.")
    assert temporary.endswith(".tmp")
    assert not is_candidate(temporary)
    assert seen[-1] == ["out.root"]


def test_fsyncs_the_file_and_then_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[tuple[bool, bool]] = []  # (is a directory, final name exists yet)
    real_fsync = os.fsync
    target = tmp_path / "out.root"

    def recording_fsync(fd: int) -> None:
        synced.append((os.path.isdir(f"/proc/self/fd/{fd}"), target.exists()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    write_root_file(target, {"h": _filled_hist()})

    # The data reaches the disk before the name exists; the directory after.
    assert synced == [(False, False), (True, True)]


def test_directory_fsync_rejected_by_the_filesystem_is_tolerated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync

    def picky_fsync(fd: int) -> None:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            raise OSError(22, "Invalid argument")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", picky_fsync)

    assert write_bytes_atomically(tmp_path / "raw.root", b"data").read_bytes() == b"data"


def test_refuses_to_overwrite_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.root"
    target.write_bytes(b"original")

    with pytest.raises(FileExistsError, match="refusing to overwrite") as info:
        write_root_file(target, {"h": _filled_hist()})
    assert info.value.filename == str(target)
    with pytest.raises(FileExistsError):
        write_bytes_atomically(target, b"new")

    assert target.read_bytes() == b"original"
    assert _entries(tmp_path) == ["out.root"]


def test_refuses_when_another_writer_publishes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The early existence check passes, then a competing receiver wins the race.
    target = tmp_path / "out.root"
    real_fsync = os.fsync

    def racing_fsync(fd: int) -> None:
        real_fsync(fd)
        if not target.exists():
            target.write_bytes(b"winner")

    monkeypatch.setattr(os, "fsync", racing_fsync)
    with pytest.raises(FileExistsError):
        write_bytes_atomically(target, b"loser")

    assert target.read_bytes() == b"winner"
    assert _entries(tmp_path) == ["out.root"]


def test_overwrite_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "out.root"
    target.write_bytes(b"original")

    write_root_file(target, {"h": _filled_hist()}, overwrite=True)

    with uproot.open(target) as f:
        assert f.keys() == ["h;1"]


def test_streams_large_uploads_in_chunks(tmp_path: Path) -> None:
    payload = os.urandom(CHUNK_SIZE * 2 + 123)

    written = write_bytes_atomically(tmp_path / "upload.root", io.BytesIO(payload))

    assert written.read_bytes() == payload


def test_stored_upload_is_a_readable_root_file(tmp_path: Path) -> None:
    original = write_root_file(tmp_path / "sender.root", {"dir/h": _filled_hist()})
    received = tmp_path / "received"
    received.mkdir()

    with original.open("rb") as stream:
        stored = write_bytes_atomically(
            received / "EMChistos_1_DQM_2018_10_22_09_53_55.root", stream
        )

    with uproot.open(stored) as f:
        assert f["dir/h"].values().sum() == pytest.approx(45.0)


def test_receiver_file_gets_the_conventional_name_in_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"  # created on demand
    when = datetime(2018, 10, 22, 7, 53, 55, tzinfo=UTC)

    path = write_receiver_file(data_dir, "EMC", 294832, "C", when, {"h": _filled_hist()}, ZURICH)

    assert path == data_dir / "EMChistos_294832_C_2018_10_22_9_53_55.root"
    parsed = parse_file_name(path.name, ZURICH)
    assert (parsed.subsystem, parsed.run_number, parsed.hlt_mode) == ("EMC", 294832, "C")
    assert parsed.timestamp == when
    with pytest.raises(FileExistsError):
        write_receiver_file(data_dir, "EMC", 294832, "C", when, {}, ZURICH)
    write_receiver_file(data_dir, "EMC", 294832, "C", when, {}, ZURICH, overwrite=True)
    with uproot.open(path) as f:
        assert f.keys() == []


def test_published_file_respects_the_umask(tmp_path: Path) -> None:
    # The temporary file is created like any other file, so the processing user
    # can read what a receiver user wrote.
    old = os.umask(0o022)
    try:
        path = write_bytes_atomically(tmp_path / "raw.root", b"x")
    finally:
        os.umask(old)

    assert path.stat().st_mode & 0o777 == 0o644


def test_missing_parent_directory_is_an_error_not_created(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_root_file(tmp_path / "nowhere" / "out.root", {"h": _filled_hist()})

    assert _entries(tmp_path) == []


def test_stale_temporaries_of_killed_writers_are_removed_and_nothing_else(
    tmp_path: Path,
) -> None:
    import os  # noqa: PLC0415
    import time  # noqa: PLC0415

    from overwatch.receivers.writer import remove_stale_temporaries  # noqa: PLC0415

    old = time.time() - 7200
    stale = tmp_path / ".EMChistos_1_C_2026_1_1_0_0_0.root.0123456789ab.tmp"
    fresh = tmp_path / ".EMChistos_1_C_2026_1_1_0_0_1.root.ba9876543210.tmp"
    other = tmp_path / ".notes.tmp"
    final = tmp_path / "EMChistos_1_C_2026_1_1_0_0_2.root"
    for path in (stale, fresh, other, final):
        path.write_bytes(b"x")
    for path in (stale, other, final):
        os.utime(path, (old, old))
    assert remove_stale_temporaries(tmp_path, 3600) == [stale.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (fresh, other, final)
    )
