"""The notifications setting: validated at start naming the key, URLs kept secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from overwatch.cli import cli
from overwatch.config import ConfigError
from overwatch.config import load_settings

SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"


def load(raw: object, environ: dict[str, str] | None = None) -> object:
    return load_settings(
        environ=environ or {}, overrides={"notifications": raw}, use_default_file=False
    ).notifications


def test_channels_with_routing_and_defaults() -> None:
    config = load(
        {
            "channels": {
                "emc": {"url": SLACK, "subsystems": ["EMC"], "min_severity": "critical"},
                "all": {"url": "json://127.0.0.1/hook"},
            },
            "cooldown_minutes": 10,
        }
    )
    emc, every = config.channels  # type: ignore[attr-defined]
    assert emc.wants("EMC", "critical")
    assert not emc.wants("EMC", "warning")
    assert not emc.wants("TPC", "critical")
    assert every.wants("TPC", "warning")
    assert config.cooldown_minutes == 10  # type: ignore[attr-defined]
    assert config.retry_delay(1) == 30
    assert config.retry_delay(3) == 120
    assert config.retry_delay(20) == 1800  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"channels": {"a": {"url": "not a url"}}}, "notifications.channels.a.url"),
        ({"channels": {"a": {}}}, "notifications.channels.a.url"),
        (
            {"channels": {"a": {"url": SLACK, "url_env": "X"}}},
            "notifications.channels.a.url",
        ),
        (
            {"channels": {"a": {"url": SLACK, "min_severity": "bad"}}},
            "notifications.channels.a.min_severity",
        ),
        (
            {"channels": {"a": {"url": SLACK, "subsystem": ["EMC"]}}},
            "notifications.channels.a.subsystem",
        ),
        ({"channels": {"a b": {"url": SLACK}}}, "notifications.channels.a b"),
        ({"cooldown_minutes": -1}, "notifications.cooldown_minutes"),
        ({"digest_threshold": 1}, "notifications.digest_threshold"),
        ({"timeout": 5}, "notifications.timeout"),
        ({"channels": {"a": {"url_env": "MISSING_URL"}}}, "notifications.channels.a.url_env"),
        (
            {"channels": {"a": {"url_env": "OVERWATCH_MAIL"}}},
            "notifications.channels.a.url_env",
        ),
        (
            {"channels": {"a": {"url_file": "/nonexistent/url"}}},
            "notifications.channels.a.url_file",
        ),
    ],
)
def test_a_bad_value_fails_at_load_naming_its_key(raw: object, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(raw)
    assert caught.value.key == "notifications"
    assert str(caught.value).split("setting 'notifications': ", 1)[1].startswith(key + ":")


def test_a_secret_url_from_the_environment_or_a_file(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "slack.url").write_text(SLACK + "\n")
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        "notifications:\n"
        "  channels:\n"
        "    mail: {url_env: SHIFT_MAIL_URL}\n"
        "    slack: {url_file: secrets/slack.url}\n"
    )
    settings = load_settings(
        config_file, environ={"SHIFT_MAIL_URL": "mailtos://u:secretpw@smtp.example.org"}
    )
    mail, slack = settings.notifications.channels
    assert mail.url == "mailtos://u:secretpw@smtp.example.org"
    assert slack.url == SLACK
    shown = {key: value for key, value, _ in settings.describe()}["notifications"]
    assert "secretpw" not in shown
    assert "TIiajk" not in shown
    assert "mailtos://***" in shown
    assert "slack://***" in shown
    assert "secretpw" not in repr(settings)


def test_config_show_masks_the_urls(tmp_path: Path) -> None:
    config_file = tmp_path / "config.yaml"
    config_file.write_text(f"notifications:\n  channels:\n    slack: {{url: '{SLACK}'}}\n")
    result = CliRunner().invoke(cli, ["--config", str(config_file), "config", "show"], env={})
    assert result.exit_code == 0, result.output
    assert "slack=slack://***" in result.output
    assert "TIiajk" not in result.output
