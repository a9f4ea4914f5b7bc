"""Settings: layering, validation errors naming key and source, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from overwatch.config import SETTINGS
from overwatch.config import ConfigError
from overwatch.config import Settings
from overwatch.config import load_settings


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings(environ={}, use_default_file=False)
    assert settings.data_dir == Path("data")
    assert settings.timezone == "Europe/Zurich"
    assert settings.sources["scan_interval"] == "default"
    assert settings.effective_database_url == f"sqlite:///{Path('data/overwatch.db').resolve()}"
    assert settings.effective_quarantine_dir == Path("data/quarantine")


def test_layers_file_then_environment_then_overrides(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("scan_interval: 20\ntimezone: UTC\ndata_dir: incoming\n")
    environ = {"OVERWATCH_SCAN_INTERVAL": "5", "OVERWATCH_CONFIG": "ignored-when-explicit"}
    settings = load_settings(config, environ=environ, overrides={"timezone": "Europe/Paris"})
    assert settings.scan_interval == 5.0
    assert settings.sources["scan_interval"] == "OVERWATCH_SCAN_INTERVAL"
    assert settings.timezone == "Europe/Paris"
    assert settings.sources["timezone"] == "override"
    # Relative paths in a file are relative to that file.
    assert settings.data_dir == tmp_path / "incoming"
    assert settings.sources["data_dir"] == str(config)


def test_config_file_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("job_max_attempts: 7\n")
    settings = load_settings(environ={"OVERWATCH_CONFIG": str(config)})
    assert settings.job_max_attempts == 7


@pytest.mark.parametrize(
    ("content", "key", "reason"),
    [
        ("scan_interval: -1\n", "scan_interval", "greater than 0"),
        ("timezone: Mars/Olympus\n", "timezone", "unknown time zone"),
        ("accumulation_mode: sometimes\n", "accumulation_mode", "must be one of"),
        ("job_max_attempts: 1.5\n", "job_max_attempts", "whole number"),
        ("subsystem_modes: {EMC: weekly}\n", "subsystem_modes", "must be one of"),
        ("no_such_setting: 1\n", "no_such_setting", "unknown setting"),
    ],
)
def test_bad_file_value_names_key_file_and_reason(
    tmp_path: Path, content: str, key: str, reason: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_settings(config, environ={})
    assert info.value.key == key
    assert info.value.source == str(config)
    assert reason in str(info.value)


def test_bad_environment_value_names_variable() -> None:
    with pytest.raises(
        ConfigError, match="OVERWATCH_WEB_WORKERS: setting 'web_workers': must be at least 1"
    ):
        load_settings(environ={"OVERWATCH_WEB_WORKERS": "0"}, use_default_file=False)


def test_invalid_yaml_and_non_mapping(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("scan_interval: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(broken, environ={})
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_settings(listing, environ={})


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_subsystem_modes_from_environment() -> None:
    settings = load_settings(
        environ={"OVERWATCH_SUBSYSTEM_MODES": "EMC=reset, TPC=cumulative"}, use_default_file=False
    )
    assert settings.mode_for("EMC") == "reset"
    assert settings.mode_for("HLT") == "cumulative"


def test_describe_masks_secrets() -> None:
    settings = load_settings(
        environ={
            "OVERWATCH_DATABASE_URL": "postgresql://overwatch:hunter2@db.example/overwatch",
            "OVERWATCH_SECRET_KEY": "very-secret-" * 4,
        },
        use_default_file=False,
    )
    shown = {key: (value, source) for key, value, source in settings.describe()}
    assert shown["database_url"] == (
        "postgresql://***@db.example/overwatch",
        "OVERWATCH_DATABASE_URL",
    )
    assert shown["secret_key"][0] == "********"
    assert "hunter2" not in repr(shown)


def test_every_setting_is_a_documented_field() -> None:
    fields = set(Settings.__dataclass_fields__) - {"sources", "config_file"}
    assert {s.name for s in SETTINGS} == fields
    assert all(s.help.strip() for s in SETTINGS)


def test_example_config_documents_every_setting_and_loads() -> None:
    example = Path(__file__).resolve().parent.parent / "config.yaml"
    settings = load_settings(example, environ={})
    documented = {
        line.split(":", 1)[0]
        for line in example.read_text().splitlines()
        if line and line[0].isalpha()
    }
    assert documented == {s.name for s in SETTINGS}
    assert settings.sources["scan_interval"] == str(example)


@pytest.mark.parametrize(
    ("content", "key", "reason"),
    [
        ("scan_interval: 1e309\n", "scan_interval", "finite"),
        ("scan_interval: .nan\n", "scan_interval", "finite"),
        ("job_lease_seconds: 1e300\n", "job_lease_seconds", "at most"),
        ("file_settle_seconds: .inf\n", "file_settle_seconds", "finite"),
        ("ongoing_minutes: many\n", "ongoing_minutes", "expected a number"),
        ("secret_key: short\n", "secret_key", "at least 32 characters"),
    ],
)
def test_out_of_range_numbers_and_short_keys_fail_at_load(
    tmp_path: Path, content: str, key: str, reason: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_settings(config, environ={})
    assert info.value.key == key
    assert reason in info.value.reason


def test_a_config_file_that_is_not_utf8_is_one_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "latin1.yaml"
    config.write_bytes("# café\nscan_interval: 5\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.yaml: .*not UTF-8 text \(byte 0xe9"):
        load_settings(config, environ={})


def test_a_misspelt_environment_variable_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(
            environ={"OVERWATCH_DATABSE_URL": "postgresql://db/x"}, use_default_file=False
        )
    assert info.value.source == "OVERWATCH_DATABSE_URL"
    assert "did you mean OVERWATCH_DATABASE_URL?" in str(info.value)


def test_the_config_variable_and_the_test_suites_variables_are_not_settings() -> None:
    settings = load_settings(
        environ={"OVERWATCH_TEST_ANYTHING": "1", "OVERWATCH_SCAN_INTERVAL": "3"},
        use_default_file=False,
    )
    assert settings.scan_interval == 3.0


def test_an_unwritable_data_dir_names_the_key(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings = load_settings(overrides={"data_dir": str(blocker / "data")}, environ={})
    with pytest.raises(ConfigError) as info:
        settings.check_writable()
    assert info.value.key == "data_dir"
    assert "is not writable" in info.value.reason


def test_an_unwritable_sqlite_path_names_the_database_url(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings = load_settings(
        overrides={"data_dir": str(tmp_path), "database_url": f"sqlite:///{blocker}/x.db"},
        environ={},
    )
    with pytest.raises(ConfigError) as info:
        settings.check_writable()
    assert info.value.key == "database_url"
    settings = load_settings(
        overrides={"data_dir": str(tmp_path), "database_url": "postgresql://db/x"}, environ={}
    )
    settings.check_writable()  # nothing local to check for a server database


def test_the_value_converters_live_apart_and_config_stays_the_entry_point() -> None:
    import overwatch.config  # noqa: PLC0415
    import overwatch.config_values  # noqa: PLC0415

    # Every row of the table converts with a function of overwatch.config_values ...
    assert {setting.convert.__module__ for setting in SETTINGS} == {"overwatch.config_values"}
    # ... and what overwatch.config offered before it still offers.
    assert overwatch.config.MIN_SECRET_KEY_LENGTH == overwatch.config_values.MIN_SECRET_KEY_LENGTH
    assert overwatch.config.MAX_SECONDS == overwatch.config_values.MAX_SECONDS
    settings = load_settings(environ={"OVERWATCH_WATCH_FILES": "off"}, use_default_file=False)
    assert settings.watch_files is False
