"""Replay: time order, pace, renumbering, HLT modes, stopping, and a replayed run processed."""

from __future__ import annotations

import os
import shutil
import threading
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from overwatch.cli import cli
from overwatch.config import Settings
from overwatch.processing.daemon import process_pending
from overwatch.processing.scan import scan
from overwatch.receivers.filenames import parse_file_name
from overwatch.receivers.replay import DataDirSink
from overwatch.receivers.replay import ReplayedFile
from overwatch.receivers.replay import ReplayError
from overwatch.receivers.replay import collect_files
from overwatch.receivers.replay import replay
from overwatch.storage import Database
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from tests.receivers.zmqsupport import START
from tests.receivers.zmqsupport import ZURICH
from tests.receivers.zmqsupport import root_files
from tests.receivers.zmqsupport import write_archive

RUN = 294832


class RecordingClock:
    """A clock whose waits pass at once and are recorded, so pace is checked without timing."""

    def __init__(self, now: datetime) -> None:
        self.elapsed = 0.0
        self.waits: list[float] = []
        self.start = now

    def monotonic(self) -> float:
        return self.elapsed

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        self.waits.append(seconds)
        self.elapsed += seconds
        return stop.is_set()


def _replay_into(
    data_dir: Path, source: Path, **options: object
) -> tuple[list[ReplayedFile], RecordingClock]:
    events: list[ReplayedFile] = []
    clock = RecordingClock(datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC))
    replay(
        source,
        sink=DataDirSink(data_dir, ZURICH),
        tz=ZURICH,
        on_file=events.append,
        clock=clock,
        **options,  # type: ignore[arg-type]
    )
    return events, clock


def test_files_are_collected_in_time_order_across_subsystem_folders(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "archive", RUN, ("TPC", "EMC", "HLT"), minutes=2)
    run_dir = tmp_path / "archive" / f"Run{RUN}"
    (run_dir / "EMC" / ".EMChistos_1_C_2018_10_22_9_0_0.root.abc.tmp").write_bytes(b"partial")
    (run_dir / "EMC" / "notes.root").write_bytes(b"x")
    files, skipped = collect_files(run_dir, ZURICH)
    assert [f.path for f in files] == archive  # written in time order
    times = [f.name.timestamp for f in files]
    assert times == sorted(times)
    assert [(p.name, "does not match" in reason) for p, reason in skipped] == [("notes.root", True)]


def test_replay_keeps_the_original_pace_divided_by_speed(data_dir: Path, tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "archive", RUN, ("EMC", "TPC"), minutes=3)
    events, clock = _replay_into(data_dir, tmp_path / "archive" / f"Run{RUN}", speed=10.0)
    assert [e.source for e in events] == archive
    # Files at 0, 7 s, 60, 67, 120, 127 s after the first: waits are the gaps over 10.
    assert clock.waits == pytest.approx([0.7, 5.3, 0.7, 5.3, 0.7])
    assert root_files(data_dir) == sorted(p.name for p in archive)
    assert [e.delivery for e in events] == ["stored"] * len(archive)


def test_as_run_renames_the_files_and_leaves_their_bytes_alone(
    data_dir: Path, tmp_path: Path
) -> None:
    archive = write_archive(tmp_path / "archive", RUN, minutes=2)
    events, _ = _replay_into(data_dir, tmp_path / "archive", speed=float("inf"), as_run=7)
    for source, event in zip(archive, events, strict=True):
        assert event.file_name == source.name.replace(f"_{RUN}_", "_7_")
        parsed = parse_file_name(event.file_name, ZURICH)
        assert parsed.run_number == 7
        assert parsed.timestamp == parse_file_name(source.name, ZURICH).timestamp
        assert (data_dir / event.file_name).read_bytes() == source.read_bytes()


def test_as_run_refuses_a_source_of_several_runs(data_dir: Path, tmp_path: Path) -> None:
    write_archive(tmp_path / "archive", RUN, minutes=1)
    write_archive(tmp_path / "archive", RUN + 1, minutes=1, start=START + timedelta(hours=1))
    with pytest.raises(
        ReplayError, match=rf"files of one run; these hold runs \[{RUN}, {RUN + 1}\]"
    ):
        _replay_into(data_dir, tmp_path / "archive", as_run=5)
    assert root_files(data_dir) == []


def test_replay_mode_e_files_become_c_unless_a_mode_is_forced(
    data_dir: Path, tmp_path: Path
) -> None:
    write_archive(tmp_path / "e", RUN, ("EMC",), minutes=1, hlt_mode="E")
    write_archive(tmp_path / "b", RUN + 1, ("EMC",), minutes=1, hlt_mode="B")
    events, _ = _replay_into(data_dir, tmp_path / "e", speed=float("inf"))
    assert [e.header.hlt_mode for e in events] == ["C"]
    events, _ = _replay_into(data_dir, tmp_path / "b", speed=float("inf"))
    assert [e.header.hlt_mode for e in events] == ["B"]
    events, _ = _replay_into(data_dir / "u", tmp_path / "b", speed=float("inf"), hlt_mode="U")
    assert [e.header.hlt_mode for e in events] == ["U"]


def test_now_times_stamp_files_with_the_replay_time_and_keep_names_unique(
    data_dir: Path, tmp_path: Path
) -> None:
    write_archive(tmp_path / "archive", RUN, ("EMC", "TPC"), minutes=3)
    events, clock = _replay_into(
        data_dir, tmp_path / "archive", speed=1000.0, now_times=True, as_run=9
    )
    start = clock.start
    emc = [e.header.time for e in events if e.header.subsystem == "EMC"]
    # 60 s apart originally, 0.06 s at speed 1000: one second apart so names stay distinct.
    assert emc == [start, start + timedelta(seconds=1), start + timedelta(seconds=2)]
    assert len(set(root_files(data_dir))) == 6


def test_setting_the_stop_event_stops_between_files(data_dir: Path, tmp_path: Path) -> None:
    write_archive(tmp_path / "archive", RUN, minutes=3)
    stop = threading.Event()

    def stop_after_two(event: ReplayedFile) -> None:
        if event.index == 2:
            stop.set()

    summary = replay(
        tmp_path / "archive",
        sink=DataDirSink(data_dir, ZURICH),
        tz=ZURICH,
        speed=float("inf"),
        on_file=stop_after_two,
        stop_event=stop,
    )
    assert (summary.delivered, summary.total, summary.stopped) == (2, 6, True)
    assert len(root_files(data_dir)) == 2


def test_replaying_twice_stores_each_file_once(data_dir: Path, tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "archive", RUN, minutes=1)
    _replay_into(data_dir, tmp_path / "archive", speed=float("inf"))
    events, _ = _replay_into(data_dir, tmp_path / "archive", speed=float("inf"))
    assert [e.delivery for e in events] == ["duplicate"] * len(archive)
    assert root_files(data_dir) == sorted(p.name for p in archive)


def test_a_replayed_run_is_scanned_and_processed(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    archive = write_archive(tmp_path / "archive", RUN, ("EMC", "TPC"), minutes=3)
    # The archive is a processed data dir's Run<N>/ folder; replayed as a new run.
    _replay_into(
        settings.data_dir, tmp_path / "archive" / f"Run{RUN}", speed=float("inf"), as_run=1234
    )
    report = scan(settings, db)
    assert len(report.registered) == len(archive)
    assert process_pending(settings, db).failed == 0
    with db.session() as session:
        run = session.scalars(select(Run).where(Run.run_number == 1234)).one()
        subsystems = {s.name: s for s in session.scalars(select(SubsystemRun)).all()}
        assert sorted(subsystems) == ["EMC", "TPC"]
        assert all(s.run_id == run.id and s.file_count == 3 for s in subsystems.values())
        names = session.scalars(
            select(HistogramRecord.name).where(
                HistogramRecord.result_id == subsystems["TPC"].current_result_id
            )
        ).all()
    assert sorted(names) == ["TPCQA/hist_a", "TPCQA/hist_b"]


def test_replay_command_writes_into_the_data_dir_with_a_line_per_file(
    data_dir: Path, tmp_path: Path
) -> None:
    archive = write_archive(tmp_path / "archive", RUN, minutes=2)
    loose = tmp_path / "loose"
    loose.mkdir()
    for path in archive:
        shutil.copy(path, loose / path.name)
    env = {**os.environ, "OVERWATCH_DATA_DIR": str(data_dir)}
    result = CliRunner().invoke(
        cli, ["replay", str(loose), "--speed", "inf", "--as-run", "42"], env=env
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"[1/4] {archive[0].name} -> EMChistos_42_C_")
    assert lines[-1] == "replay done: 4 of 4 file(s) delivered, 0 duplicate(s), 0 refused"
    # Besides the four files, the data dir now holds the database with the replay's heartbeat.
    assert len([name for name in root_files(data_dir) if name.endswith(".root")]) == 4
    refused = CliRunner().invoke(
        cli, ["replay", str(tmp_path / "archive"), "--speed", "0"], env=env
    )
    assert refused.exit_code == 2
