"""The ZMQ receiver and replay record heartbeats like the DQM endpoint does."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from overwatch.cli import cli
from overwatch.config import Settings
from overwatch.receivers.heartbeats import Heartbeat
from overwatch.receivers.snapshot import StoredSnapshot
from overwatch.receivers.zmqreceiver import Outcome
from overwatch.storage import Database
from overwatch.storage.receivers import list_receivers
from tests.receivers.zmqsupport import write_archive


def _receivers(db: Database) -> dict[str, object]:
    with db.session() as session:
        return {view.name: view for view in list_receivers(session)}


def test_zmq_outcomes_count_stored_duplicate_and_refused(db: Database, tmp_path: Path) -> None:
    heartbeat = Heartbeat(db, "zmq tcp://hlt:60323", "zmq")
    stored = StoredSnapshot(tmp_path / "EMChistos_1_C_2026_1_1_0_0_0.root", 1000, False)
    heartbeat.zmq_file(Outcome(result="stored", stored=stored))
    heartbeat.zmq_file(Outcome(result="duplicate", stored=stored))
    heartbeat.refused("run number 0 out of range")
    view = _receivers(db)["zmq tcp://hlt:60323"]
    assert (view.kind, view.accepted, view.refused, view.bytes) == ("zmq", 1, 1, 2000)  # type: ignore[attr-defined]
    assert view.last_file == stored.path.name  # type: ignore[attr-defined]
    assert view.last_refusal_reason == "run number 0 out of range"  # type: ignore[attr-defined]


def test_a_replay_into_the_data_dir_is_a_receiver_on_the_status_page(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    archive = write_archive(tmp_path / "archive", 294832, minutes=2)
    env = {
        "OVERWATCH_DATA_DIR": str(settings.data_dir),
        "OVERWATCH_DATABASE_URL": settings.effective_database_url,
    }
    result = CliRunner().invoke(
        cli, ["replay", str(tmp_path / "archive"), "--speed", "inf"], env=env
    )
    assert result.exit_code == 0, result.output
    view = _receivers(db)["replay archive"]
    assert view.kind == "replay"  # type: ignore[attr-defined]
    assert view.accepted == len(archive)  # type: ignore[attr-defined]
