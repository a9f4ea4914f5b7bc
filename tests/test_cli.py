"""The command line: process --once, the daemon, db, config show, demo, aliases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select

from overwatch.cli import COMMANDS
from overwatch.cli import cli
from overwatch.config import Settings
from overwatch.demo import FIRST_RUN
from overwatch.demo import PLANTED_PROBLEMS
from overwatch.storage import Database
from overwatch.storage.database import SCHEMA_HEAD
from overwatch.storage.models import DaemonHeartbeat
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Job
from overwatch.storage.models import ReceivedFile
from overwatch.storage.models import Run
from overwatch.storage.references import list_references

BIN = Path(sys.executable).parent


def _env(settings: Settings) -> dict[str, str]:
    return {
        "OVERWATCH_DATA_DIR": str(settings.data_dir),
        "OVERWATCH_DATABASE_URL": settings.effective_database_url,
        "OVERWATCH_FILE_SETTLE_SECONDS": "0",
        "OVERWATCH_PROCESSING_WORKERS": "1",
        "OVERWATCH_LOG_LEVEL": "WARNING",
    }


def _count(db: Database, model: type) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_demo_without_serving_fills_the_database(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        cli, ["demo", "--runs", "2", "--minutes", "3", "--no-serve"], env=_env(settings)
    )
    assert result.exit_code == 0, result.output
    assert "wrote 18 receiver file(s)" in result.output
    assert "6 job(s) done, 0 failed" in result.output
    with db.session() as session:
        assert session.scalars(select(Run.run_number).order_by(Run.run_number)).all() == [
            294832,
            294833,
        ]
        assert session.scalar(select(func.count()).select_from(ReceivedFile)) == 18
        names = set(session.scalars(select(HistogramRecord.name)))
    for problem in PLANTED_PROBLEMS:
        assert set(problem.histograms) <= names
    # Each subsystem's first clean run is its reference (EMC has a planted problem in both).
    with db.session() as session:
        references = [(v.subsystem, v.run_number) for v in list_references(session)]
    assert references == [("HLT", 294832), ("TPC", 294832)]
    assert "HLT: run 294832 is the reference for every run" in result.output


def test_process_once_reports_and_exits_zero(settings: Settings, db: Database) -> None:
    runner = CliRunner()
    assert (
        runner.invoke(
            cli, ["demo", "--runs", "1", "--minutes", "2", "--no-serve"], env=_env(settings)
        ).exit_code
        == 0
    )
    (settings.data_dir / "junk.root").write_bytes(b"junk")
    result = runner.invoke(cli, ["process", "--once"], env=_env(settings))
    assert result.exit_code == 0, result.output
    assert "scan: 0 new file(s), 1 quarantined" in result.output
    assert "quarantined junk.root: 'junk.root' does not match" in result.output
    assert "processed: 0 job(s) done, 0 failed, 0 histogram(s)" in result.output


def test_config_show_names_sources_and_masks_secrets(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("scan_interval: 42\n")
    result = CliRunner().invoke(
        cli,
        ["--config", str(config), "config", "show"],
        env={"OVERWATCH_SECRET_KEY": "s3cr3t" * 6, "OVERWATCH_CONFIG": ""},
    )
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert "42.0" in lines["scan_interval"]
    assert f"[{config}]" in lines["scan_interval"]
    assert "[OVERWATCH_SECRET_KEY]" in lines["secret_key"]
    assert "s3cr3t" not in result.output


def test_bad_config_fails_at_start_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("scan_interval: soon\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "process", "--once"])
    assert result.exit_code == 1
    assert f"bad configuration: {config}: setting 'scan_interval'" in result.output


def test_db_upgrade_current_and_rebuild(settings: Settings, db: Database) -> None:
    runner = CliRunner()
    env = _env(settings)
    assert (
        f"current: {SCHEMA_HEAD}  head: {SCHEMA_HEAD}"
        in runner.invoke(cli, ["db", "current"], env=env).output
    )
    assert runner.invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    assert (
        runner.invoke(
            cli, ["demo", "--runs", "1", "--minutes", "2", "--no-serve"], env=env
        ).exit_code
        == 0
    )
    before = _count(db, HistogramRecord)
    result = runner.invoke(cli, ["db", "rebuild", "--yes"], env=env)
    assert result.exit_code == 0, result.output
    assert "rebuild: 6 file(s) registered, 3 job(s) queued" in result.output
    assert _count(db, HistogramRecord) == before
    assert _count(db, ReceivedFile) == 6


def test_db_register_files_adds_only_what_an_older_dump_lacks(
    settings: Settings, db: Database
) -> None:
    runner = CliRunner()
    env = _env(settings)
    result = runner.invoke(cli, ["demo", "--runs", "2", "--minutes", "2", "--no-serve"], env=env)
    assert result.exit_code == 0, result.output
    # A dump taken before the second run: the database lacks it, the data directory has it.
    with db.session() as session:
        session.execute(delete(Run).where(Run.run_number == FIRST_RUN + 1))
    assert _count(db, ReceivedFile) == 6
    result = runner.invoke(cli, ["db", "register-files"], env=env)
    assert result.exit_code == 0, result.output
    assert "register-files: 6 file(s) registered, 3 job(s) queued" in result.output
    assert _count(db, ReceivedFile) == 12
    again = runner.invoke(cli, ["db", "register-files"], env=env)
    assert "register-files: 0 file(s) registered" in again.output
    with db.session() as session:
        queued = session.scalars(select(Job.run_number).where(Job.state == "queued")).all()
    assert queued == [FIRST_RUN + 1] * 3


def test_deploy_without_a_subcommand_lists_render_and_check() -> None:
    result = CliRunner().invoke(cli, ["deploy"])
    assert result.exit_code in {0, 2}
    assert "render" in result.output
    assert "check" in result.output


def test_classic_alias_keeps_group_options_in_front(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"data_dir: {settings.data_dir}\nfile_settle_seconds: 0\nprocessing_workers: 1\n"
    )
    env = {**os.environ, "OVERWATCH_DATABASE_URL": settings.effective_database_url}
    done = subprocess.run(
        [BIN / "overwatchProcessing", "--config", str(config), "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "scan: 0 new file(s)" in done.stdout


@pytest.mark.slow
def test_daemon_processes_new_files_and_stops_on_sigterm(settings: Settings, db: Database) -> None:
    env = {
        **os.environ,
        **_env(settings),
        "OVERWATCH_SCAN_INTERVAL": "0.5",
        "OVERWATCH_LOG_LEVEL": "INFO",
    }
    daemon = subprocess.Popen(
        [BIN / "overwatch", "process"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        from overwatch.demo import generate_demo_data  # noqa: PLC0415

        generate_demo_data(settings.data_dir, settings.tz, runs=1, minutes=2, subsystems=("HLT",))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with db.session() as session:
                done = session.scalar(
                    select(func.count()).select_from(Job).where(Job.state == "done")
                )
            if done:
                break
            time.sleep(0.3)
        # HLT's job, TPC's from the same files (borrowing_subsystems), and file events
        # may hand the two snapshots over one at a time.
        assert done >= 1
        with db.session() as session:
            heartbeat = session.scalars(select(DaemonHeartbeat)).one()
            assert heartbeat.name.startswith("processing@")
    finally:
        daemon.send_signal(signal.SIGTERM)
        output, _ = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, output
    assert "signal SIGTERM received: stopping after the current job" in output
    assert "processing daemon stopped" in output


def _demo_state(db: Database) -> tuple[list[int], int, datetime]:
    """Run numbers, received files and the newest file's time in the database."""
    with db.session() as session:
        runs = list(session.scalars(select(Run.run_number).order_by(Run.run_number)))
        files = int(session.scalar(select(func.count()).select_from(ReceivedFile)) or 0)
        newest = session.scalar(select(func.max(Run.last_file_time)))
    assert newest is not None
    return runs, files, newest


def test_second_demo_replaces_the_first_and_looks_the_same(
    settings: Settings, db: Database
) -> None:
    runner = CliRunner()
    args = ["demo", "--runs", "3", "--minutes", "2", "--no-serve"]
    first = runner.invoke(cli, args, env=_env(settings))
    assert first.exit_code == 0, first.output
    runs, files, newest = _demo_state(db)
    assert runs == [294832, 294833, 294834]
    # A snapshot the live demo wrote after the last scan, still waiting at the top level.
    late = settings.data_dir / "TPChistos_294834_C_2030_1_1_0_0_0.root"
    late.write_bytes(b"not scanned yet")
    time.sleep(1.1)  # file names have whole seconds: the second demo's times are later
    second = runner.invoke(cli, args, env=_env(settings))
    assert second.exit_code == 0, second.output
    assert "replacing the earlier demo runs 294832-294834" in second.output
    assert "writing demo runs 294832-294834" in second.output
    again, files_again, newest_again = _demo_state(db)
    assert (again, files_again) == (runs, files)
    assert newest_again > newest
    assert not late.exists()
    on_disk = sorted(path.name for path in settings.data_dir.glob("Run*"))
    assert on_disk == ["Run294832", "Run294833", "Run294834"]
    assert sum(1 for _ in settings.data_dir.glob("Run*/*/*.root")) == files
    assert _count(db, Job) == 9  # one processing job per subsystem and run, none left over


def test_second_demo_leaves_runs_it_did_not_write(settings: Settings, db: Database) -> None:
    from overwatch.demo import generate_demo_data  # noqa: PLC0415

    runner = CliRunner()
    args = ["demo", "--runs", "1", "--minutes", "2", "--no-serve"]
    assert runner.invoke(cli, args, env=_env(settings)).exit_code == 0
    # A real run arrives after the demo, with a number above the demo's.
    generate_demo_data(
        settings.data_dir, settings.tz, runs=1, minutes=2, subsystems=("HLT",), first_run=300000
    )
    assert runner.invoke(cli, ["process", "--once"], env=_env(settings)).exit_code == 0
    second = runner.invoke(cli, args, env=_env(settings))
    assert second.exit_code == 0, second.output
    # The demo's own run is gone; the real one stays and the demo numbers after it.
    assert "writing demo runs 300001-300001" in second.output
    runs, _, _ = _demo_state(db)
    assert runs == [300000, 300001]
    assert sorted(path.name for path in settings.data_dir.glob("Run*")) == [
        "Run300000",
        "Run300001",
    ]


def _run_clean(
    command: list[str], cwd: Path, environment: dict[str, str], *, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with no OVERWATCH_* variable of this shell, only ``environment``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERWATCH_")}
    return subprocess.run(
        command,
        env=env | environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


@pytest.mark.parametrize(
    ("arguments", "environment", "expected"),
    [
        (["--data-dir", "{blocker}/data", "process", "--once"], {}, "setting 'data_dir'"),
        (
            ["--database-url", "sqlite:///{blocker}/x.db", "process", "--once"],
            {},
            "setting 'database_url'",
        ),
        (["config", "show"], {"OVERWATCH_DATABSE_URL": "x"}, "did you mean OVERWATCH_DATABASE_URL"),
        (["process", "--once"], {"OVERWATCH_SCAN_INTERVAL": "1e309"}, "must be a finite number"),
    ],
)
def test_bad_configuration_is_one_line_naming_the_key_not_a_traceback(
    tmp_path: Path, arguments: list[str], environment: dict[str, str], expected: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    completed = _run_clean(
        [str(BIN / "overwatch"), *(a.format(blocker=blocker) for a in arguments)],
        tmp_path,
        {"OVERWATCH_DATA_DIR": str(tmp_path / "data"), **environment},
    )
    assert completed.returncode != 0
    assert "Traceback" not in completed.stderr
    assert expected in completed.stderr
    assert "bad configuration" in completed.stderr


def test_web_refuses_a_secret_key_file_that_is_too_short(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret_key").write_text("short\n")
    completed = _run_clean(
        [str(BIN / "overwatch"), "web", "--bind", "127.0.0.1:1"],
        tmp_path,
        {"OVERWATCH_DATA_DIR": str(data)},
    )
    assert completed.returncode != 0
    assert "Traceback" not in completed.stderr
    assert "setting 'secret_key'" in completed.stderr
    assert "delete it to have a new key generated" in completed.stderr


HEAVY = (
    "uproot",
    "numpy",
    "flask",
    "sqlalchemy",
    "alembic",
    "gunicorn",
    "jinja2",
    "prometheus_client",
    "sentry_sdk",
)


def _modules_loaded_by(arguments: list[str], tmp_path: Path) -> set[str]:
    code = (
        "import sys\n"
        "from overwatch.cli import cli\n"
        "try:\n"
        f"    cli.main(args={arguments!r}, prog_name='overwatch')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
    )
    completed = _run_clean(
        [sys.executable, "-c", code],
        tmp_path,
        {"OVERWATCH_DATA_DIR": str(tmp_path / "data")},
        check=True,
    )
    line = next(x for x in completed.stdout.splitlines() if x.startswith("MODULES "))
    return {name.split(".")[0] for name in line.split()[1:]} | set(line.split()[1:])


def test_help_imports_none_of_the_heavy_libraries(tmp_path: Path) -> None:
    loaded = _modules_loaded_by(["--help"], tmp_path)
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


#: Commands whose ``--help`` still loads heavy code: the web app's package imports Flask,
#: and ``users`` takes its role names from the storage layer.
_HELP_NOT_YET_LIGHT = {"web", "users"}


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - _HELP_NOT_YET_LIGHT))
def test_a_commands_help_imports_none_of_the_heavy_libraries(command: str, tmp_path: Path) -> None:
    loaded = _modules_loaded_by([command, "--help"], tmp_path)
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_idle_processing_on_a_migrated_database_loads_no_web_or_migration_code(
    tmp_path: Path,
) -> None:
    _modules_loaded_by(["process", "--once"], tmp_path)  # the first run migrates
    loaded = _modules_loaded_by(["process", "--once"], tmp_path)
    assert "alembic" not in loaded
    assert "flask" not in loaded
    assert "overwatch.webapp" not in loaded
    # Nothing to read and nothing to schedule: no ROOT I/O, job pipeline or scheduler.
    assert "uproot" not in loaded
    assert "overwatch.processing.worker" not in loaded
    assert "apscheduler" not in loaded


def test_the_help_summaries_are_the_commands_own() -> None:
    for name, lazy in COMMANDS.items():
        assert lazy.load().get_short_help_str(limit=200) == lazy.summary, name


def test_processing_says_nothing_about_migrations_unless_it_runs_one(tmp_path: Path) -> None:
    environment = {"OVERWATCH_DATA_DIR": str(tmp_path / "data"), "OVERWATCH_LOG_LEVEL": "INFO"}
    outputs = [
        _run_clean([str(BIN / "overwatch"), "process", "--once"], tmp_path, environment, check=True)
        for _ in range(2)
    ]
    first, second = (output.stdout + output.stderr for output in outputs)
    # The first run migrates and says so in one line of ours; Alembic itself says nothing.
    migration = [x for x in first.splitlines() if "migrat" in x.lower()]
    assert len(migration) == 1, migration
    assert migration[0].endswith(f"database schema migrated: empty -> {SCHEMA_HEAD}")
    assert "alembic" not in first
    assert "alembic" not in second
    assert "migrat" not in second.lower()


def test_demo_on_a_fresh_database_prints_one_line_about_the_migration(tmp_path: Path) -> None:
    environment = {"OVERWATCH_DATA_DIR": str(tmp_path / "data"), "OVERWATCH_LOG_LEVEL": "INFO"}
    arguments = ["demo", "--runs", "1", "--minutes", "2", "--no-serve"]
    completed = _run_clean([str(BIN / "overwatch"), *arguments], tmp_path, environment, check=True)
    output = completed.stdout + completed.stderr
    assert "alembic" not in output
    assert "setup plugin" not in output
    migration = [x for x in output.splitlines() if "migrat" in x.lower()]
    assert len(migration) == 1, migration
    assert migration[0].endswith(f"database schema migrated: empty -> {SCHEMA_HEAD}")
