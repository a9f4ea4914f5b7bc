"""Layered, validated settings.

One table, :data:`SETTINGS`, drives validation, ``overwatch config show`` and the
documentation. Values flow one way: package defaults < ``config.yaml`` (the
current directory, ``--config FILE`` or ``OVERWATCH_CONFIG``) < ``OVERWATCH_*``
environment variables < explicit overrides (tests, command-line flags). Nothing
here runs at import time; call :func:`load_settings`.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from overwatch.config_values import MAX_SECONDS
from overwatch.config_values import MIN_SECRET_KEY_LENGTH
from overwatch.config_values import _one_of
from overwatch.config_values import _to_alarm_config
from overwatch.config_values import _to_bool
from overwatch.config_values import _to_check_config
from overwatch.config_values import _to_deploy_config
from overwatch.config_values import _to_gzip_level
from overwatch.config_values import _to_log_level
from overwatch.config_values import _to_mode_map
from overwatch.config_values import _to_name_list
from overwatch.config_values import _to_non_negative_float
from overwatch.config_values import _to_non_negative_int
from overwatch.config_values import _to_notification_config
from overwatch.config_values import _to_optional_bind
from overwatch.config_values import _to_optional_path
from overwatch.config_values import _to_optional_str
from overwatch.config_values import _to_path
from overwatch.config_values import _to_plugin_map
from overwatch.config_values import _to_positive_float
from overwatch.config_values import _to_positive_int
from overwatch.config_values import _to_rate_limit
from overwatch.config_values import _to_secret_key
from overwatch.config_values import _to_str
from overwatch.config_values import _to_timezone
from overwatch.config_values import _to_trend_config

if TYPE_CHECKING:
    from overwatch.deploy.settings import DeployConfig
    from overwatch.monitoring.alarms.config import AlarmConfig
    from overwatch.monitoring.config import CheckConfig
    from overwatch.monitoring.notifications.config import NotificationConfig
    from overwatch.monitoring.trending.config import TrendConfig

__all__ = [
    "ENV_PREFIX",
    "MAX_SECONDS",
    "MIN_SECRET_KEY_LENGTH",
    "SETTINGS",
    "ConfigError",
    "Setting",
    "Settings",
    "check_writable_directory",
    "find_config_file",
    "load_settings",
]

ENV_PREFIX = "OVERWATCH_"
DEFAULT_CONFIG_NAME = "config.yaml"
#: ``OVERWATCH_*`` variables that are not settings: the config file's location, and the
#: ``OVERWATCH_TEST_*`` family that only the test suite reads.
_ENV_NOT_SETTINGS = frozenset({ENV_PREFIX + "CONFIG"})
_ENV_RESERVED_PREFIX = ENV_PREFIX + "TEST_"


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the key, where it came from and why."""

    def __init__(self, key: str, source: str, reason: str) -> None:
        super().__init__(f"{source}: setting {key!r}: {reason}")
        self.key = key
        self.source = source
        self.reason = reason


@dataclass(frozen=True)
class Setting:
    """One row of the settings table."""

    name: str
    convert: Callable[[Any], Any]
    default: Any
    help: str
    secret: bool = False

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir", _to_path, Path("data"), "Directory receivers write into; holds Run<N>/ folders."
    ),
    Setting(
        "database_url",
        _to_optional_str,
        None,
        "SQLAlchemy URL; empty means SQLite at <data_dir>/overwatch.db. "
        "PostgreSQL: postgresql+psycopg://user@host/db",
        secret=True,
    ),
    Setting(
        "timezone",
        _to_timezone,
        "Europe/Zurich",
        "Time zone of the local times in receiver file names.",
    ),
    Setting(
        "accumulation_mode",
        _one_of("cumulative", "reset"),
        "cumulative",
        "cumulative: each file holds everything since start of run; reset: files are summed.",
    ),
    Setting(
        "subsystem_modes",
        _to_mode_map,
        {},
        "Per-subsystem accumulation mode overrides, e.g. {EMC: reset}.",
    ),
    Setting(
        "borrowing_subsystems",
        _to_name_list,
        ("TPC",),
        "Subsystems whose plugin processes another subsystem's files (its source_subsystem, "
        "e.g. TPC from HLT) for runs without files of their own; [] turns borrowing off.",
    ),
    Setting(
        "scan_interval",
        _to_positive_float,
        10.0,
        "Seconds between scans of the data directory by the daemon.",
    ),
    Setting(
        "watch_files",
        _to_bool,
        True,
        "React to new files at once through the operating system's file events (inotify); "
        "the periodic scan stays as the safety net. Turn off where events are unreliable.",
    ),
    Setting(
        "file_settle_seconds",
        _to_non_negative_float,
        2.0,
        "A file modified less than this many seconds ago is treated as still being written.",
    ),
    Setting(
        "quarantine_dir",
        _to_optional_path,
        None,
        "Where bad files go; empty means <data_dir>/quarantine.",
    ),
    Setting(
        "job_max_attempts",
        _to_positive_int,
        3,
        "How often a failing job is tried before it is marked failed.",
    ),
    Setting(
        "job_lease_seconds",
        _to_positive_float,
        300.0,
        "A running job whose heartbeat is older is reclaimed.",
    ),
    Setting(
        "request_queue_quota",
        _to_positive_int,
        20,
        "Time slices and reprocessings one user may have waiting in the queue; more are refused.",
    ),
    Setting(
        "request_results_keep_days",
        _to_positive_float,
        30.0,
        "Days a time slice or reprocessing result is kept (the daemon prunes older ones daily).",
    ),
    Setting(
        "keep_received_files",
        _to_non_negative_int,
        0,
        "Receiver files kept per run and subsystem in cumulative mode (the newest ones; "
        "`overwatch prune` and the daemon's daily job delete older processed files); "
        "0 keeps all. Reset-mode subsystems always keep every file.",
    ),
    Setting(
        "archive_after_days",
        _to_non_negative_float,
        0.0,
        "Runs whose last file is older than this many days move to archive_dir "
        "(daily, or `overwatch prune`); 0 never archives.",
    ),
    Setting(
        "archive_dir",
        _to_optional_path,
        None,
        "Where archived runs go (Run<N>/<SYS>/ kept); empty means <data_dir>/archive.",
    ),
    Setting(
        "processing_workers",
        _to_positive_int,
        2,
        "Processes used to read and convert histograms in parallel.",
    ),
    Setting(
        "json_compression_level",
        _to_gzip_level,
        1,
        "gzip level (1-9) for stored histogram JSON; 1 is fastest.",
    ),
    Setting(
        "max_histogram_bins",
        _to_non_negative_int,
        4_000_000,
        "Histograms with more bins (under/overflow included) are refused with the reason "
        "stored, before their arrays are read; 0 means no limit.",
    ),
    Setting(
        "worker_memory_limit_mb",
        _to_non_negative_int,
        4096,
        "Address-space limit of a processing worker process in MiB: a job that needs more "
        "fails with MemoryError instead of exhausting the machine; 0 means no limit.",
    ),
    Setting(
        "plugins",
        _to_plugin_map,
        None,
        "Site detector plugins: subsystem -> 'package.module:Class' or '/path/file.py:Class' "
        "(docs/detectors.md); loaded when processing starts, reloaded when edited.",
    ),
    Setting(
        "plugin_reload_seconds",
        _to_non_negative_float,
        2.0,
        "How often the processing daemon looks for edited plugin modules and check "
        "settings to reload (also on SIGHUP); 0 turns the polling off.",
    ),
    Setting(
        "checks",
        _to_check_config,
        None,
        "Declarative checks per subsystem and histogram-name glob (docs/checks.md); "
        "validated at start.",
    ),
    Setting(
        "checks_file",
        _to_optional_path,
        None,
        "A YAML file holding the checks instead of the checks setting; relative to the config file.",
    ),
    Setting(
        "alarms",
        _to_alarm_config,
        None,
        "Alarm rules on trends, check results and receiver silence (docs/monitoring.md); "
        "empty means one rule: every histogram a check calls bad; [] means none.",
    ),
    Setting(
        "notifications",
        _to_notification_config,
        None,
        "Alarm notification channels (apprise URLs: e-mail, Slack, Mattermost, JSON POST) "
        "with routing by subsystem and severity, cool-down, digest and retries "
        "(docs/monitoring.md#notifications); URLs are masked here.",
    ),
    Setting(
        "trending",
        _to_trend_config,
        None,
        "Trends per subsystem: mean, rms, maximum, entries, a check's figure or a plugin "
        "function of one histogram, with optional limits (docs/monitoring.md); subsystems "
        "not named keep the built-in EMC, HLT and TPC trends.",
    ),
    Setting("log_level", _to_log_level, "INFO", "Logging level: DEBUG, INFO, WARNING or ERROR."),
    Setting(
        "log_format",
        _one_of("text", "json"),
        "text",
        "text: one readable line per event; json: one JSON object per line (for log shippers), "
        "with run, subsystem, duration and outcome on every job's line.",
    ),
    Setting(
        "sentry_dsn",
        _to_optional_str,
        None,
        "Sentry DSN: errors of the web app and the processing daemon are reported there "
        "(needs the sentry-sdk package); empty: Sentry is never imported.",
        secret=True,
    ),
    Setting(
        "metrics_enabled",
        _to_bool,
        True,
        "Serve Prometheus metrics at /metrics on the web app (restrict it to the scraper in nginx).",
    ),
    Setting(
        "metrics_token",
        _to_optional_str,
        None,
        "When set, /metrics answers only 'Authorization: Bearer <metrics_token>' (Prometheus: "
        "authorization.credentials); receiver names may carry host names.",
        secret=True,
    ),
    Setting(
        "metrics_dir",
        _to_optional_path,
        None,
        "Directory where web workers keep their Prometheus counts (multiprocess mode), emptied "
        "when the server starts; empty means a fresh temporary directory per start.",
    ),
    Setting(
        "metrics_bind",
        _to_optional_bind,
        None,
        "HOST:PORT where the processing daemon serves its own Prometheus metrics "
        "(job durations and outcomes); empty: none.",
    ),
    Setting("web_bind", _to_str, "127.0.0.1:8850", "Address the web app listens on."),
    Setting("web_workers", _to_positive_int, 2, "gunicorn worker processes for the web app."),
    Setting(
        "secret_key",
        _to_secret_key,
        None,
        "Flask secret key; generated and kept in <data_dir> when empty.",
        secret=True,
    ),
    Setting(
        "ongoing_minutes",
        _to_positive_float,
        5.0,
        "A run with a file younger than this is shown as ongoing.",
    ),
    Setting(
        "live_refresh_seconds",
        _to_positive_float,
        30.0,
        "How often run pages of ongoing runs refresh histograms.",
    ),
    Setting(
        "dqm_upload_tokens",
        _to_optional_str,
        None,
        "Comma-separated tokens any DQM agent may send (header 'token' or 'Authorization: Bearer'), "
        "for simple sites; per-agent tokens come from 'overwatch agents add'.",
        secret=True,
    ),
    Setting(
        "zmq_max_bytes",
        _to_positive_int,
        200 * 1024 * 1024,
        "Largest ROOT file the ZMQ receiver accepts in one message, in bytes.",
    ),
    Setting(
        "upload_max_bytes",
        _to_positive_int,
        200 * 1024 * 1024,
        "Largest DQM upload body in bytes; a larger one is refused with 413 before it is read.",
    ),
    Setting(
        "upload_max_inflated_bytes",
        _to_positive_int,
        1024 * 1024 * 1024,
        "Most bytes the objects of one uploaded ROOT file may inflate to (decompression bombs are refused).",
    ),
    Setting(
        "upload_timeout_seconds",
        _to_positive_float,
        120.0,
        "An upload body not received within this many seconds (or stalling this long) is refused with 408.",
    ),
    Setting(
        "receiver_silence_minutes",
        _to_positive_float,
        5.0,
        "A receiver silent for longer is marked dead on the status page and logged at WARNING.",
    ),
    Setting(
        "web_secure_cookies",
        _to_bool,
        False,
        "Mark session cookies Secure (sent over https only); turn on when users reach the app by https.",
    ),
    Setting(
        "web_database_pre_ping",
        _to_bool,
        False,
        "Test each PostgreSQL connection of the web app with a round trip before every request. "
        "Off, a connection the server dropped (restart, pg_terminate_backend) fails one request "
        "with 503 and the pool reconnects; idle connections are renewed after 30 minutes.",
    ),
    Setting(
        "web_behind_proxy",
        _to_bool,
        False,
        "Trust one reverse proxy's X-Forwarded-For/-Proto/-Host headers (nginx in front of gunicorn).",
    ),
    Setting(
        "login_limit_per_address",
        _to_rate_limit,
        "10 per minute; 100 per hour",
        "Login attempts (right or wrong, any user name) allowed from one client address.",
    ),
    Setting(
        "login_failures_per_account_and_address",
        _to_rate_limit,
        "5 per 15 minutes",
        "Failed logins for one user name from one client address before that address must wait.",
    ),
    Setting(
        "login_failures_per_account",
        _to_rate_limit,
        "100 per hour",
        "Failed logins for one user name from all addresses before the name is refused everywhere.",
    ),
    Setting(
        "login_concurrent_checks",
        _to_positive_int,
        2,
        "Password checks (argon2) one web worker runs at once; more logins get 429 at once.",
    ),
    Setting(
        "ratelimit_storage_url",
        _to_str,
        "memory://",
        "Where login limits are counted: memory:// (per worker) or redis://host:6379 (shared).",
    ),
    Setting(
        "api_token_expiry_days",
        _to_non_negative_int,
        0,
        "Days a new API token is valid unless --expires-days says otherwise; 0: no expiry.",
    ),
    Setting(
        "jsroot_dir",
        _to_optional_path,
        None,
        "Directory of the installed npm package jsroot; empty means node_modules/jsroot next to the package.",
    ),
    Setting(
        "deploy",
        _to_deploy_config,
        None,
        "How 'overwatch deploy render' lays out the services: install paths, user, nginx "
        "server name and TLS, processing daemons, receivers (docs/operations.md); validated at start.",
    ),
)

_BY_NAME = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The effective settings, typed; ``sources`` says where each value came from."""

    data_dir: Path
    database_url: str | None
    timezone: str
    accumulation_mode: str
    subsystem_modes: dict[str, str]
    borrowing_subsystems: tuple[str, ...]
    scan_interval: float
    watch_files: bool
    file_settle_seconds: float
    quarantine_dir: Path | None
    job_max_attempts: int
    job_lease_seconds: float
    request_queue_quota: int
    request_results_keep_days: float
    keep_received_files: int
    archive_after_days: float
    archive_dir: Path | None
    processing_workers: int
    json_compression_level: int
    max_histogram_bins: int
    worker_memory_limit_mb: int
    plugins: dict[str, str]
    plugin_reload_seconds: float
    checks: CheckConfig
    checks_file: Path | None
    alarms: AlarmConfig
    notifications: NotificationConfig
    trending: TrendConfig
    log_level: str
    log_format: str
    sentry_dsn: str | None
    metrics_enabled: bool
    metrics_token: str | None
    metrics_dir: Path | None
    metrics_bind: str | None
    web_bind: str
    web_workers: int
    secret_key: str | None
    ongoing_minutes: float
    live_refresh_seconds: float
    dqm_upload_tokens: str | None
    zmq_max_bytes: int
    upload_max_bytes: int
    upload_max_inflated_bytes: int
    upload_timeout_seconds: float
    receiver_silence_minutes: float
    web_secure_cookies: bool
    web_database_pre_ping: bool
    web_behind_proxy: bool
    login_limit_per_address: str
    login_failures_per_account_and_address: str
    login_failures_per_account: str
    login_concurrent_checks: int
    ratelimit_storage_url: str
    api_token_expiry_days: int
    jsroot_dir: Path | None
    deploy: DeployConfig
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    #: The config file read, if any (the daemon reads it again to reload checks and plugins).
    config_file: Path | None = field(default=None, compare=False)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'overwatch.db').resolve()}"

    @property
    def sqlite_path(self) -> Path | None:
        """The database file when the database is SQLite on disk, else None."""
        url = self.effective_database_url
        prefix = "sqlite:///"
        if not url.startswith(prefix) and not url.startswith("sqlite+pysqlite:///"):
            return None
        path = url.split(":///", 1)[1].split("?", 1)[0]
        return None if path in {"", ":memory:"} else Path(path)

    def check_writable(self, *, data_dir: bool = True) -> None:
        """Fail with :class:`ConfigError` unless the places this process writes to are writable."""
        if data_dir:
            check_writable_directory(
                self.data_dir, "data_dir", self.sources.get("data_dir", "default")
            )
        sqlite = self.sqlite_path
        if sqlite is not None:
            key = "database_url" if self.database_url else "data_dir"
            check_writable_directory(sqlite.parent, key, self.sources.get(key, "default"))

    @property
    def effective_quarantine_dir(self) -> Path:
        return self.quarantine_dir or self.data_dir / "quarantine"

    @property
    def effective_archive_dir(self) -> Path:
        return self.archive_dir or self.data_dir / "archive"

    def received_file_path(self, path: str, state: str) -> Path:
        """Where a received file lies: ``path`` (relative, as stored) under the data dir, or
        under the archive dir once its run is archived. A file caught half-way by a crash
        during archiving is found in either place."""
        first, second = self.data_dir, self.effective_archive_dir
        if state == "archived":
            first, second = second, first
        located = first / path
        if not located.exists() and (second / path).exists():
            return second / path
        return located

    def mode_for(self, subsystem: str) -> str:
        """The accumulation mode of one subsystem."""
        return self.subsystem_modes.get(subsystem, self.accumulation_mode)

    def describe(self) -> list[tuple[str, str, str]]:
        """(key, shown value, source) for every setting, secrets masked."""
        rows = []
        for setting in SETTINGS:
            value = getattr(self, setting.name)
            shown = _mask(value) if setting.secret and value else _show(value)
            rows.append((setting.name, shown, self.sources.get(setting.name, "default")))
        return rows


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "{}"
    return str(value)


def _mask(value: Any) -> str:
    text = str(value)
    if "://" in text and "@" in text:
        # Keep the scheme and host of a URL readable; hide the credentials.
        scheme, rest = text.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return "********"


def find_config_file(
    explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]
) -> Path | None:
    """The config file to read: ``--config``, else ``OVERWATCH_CONFIG``, else ./config.yaml if present."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError("config", "--config", f"file {path} does not exist")
        return path
    from_env = environ.get(ENV_PREFIX + "CONFIG")
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise ConfigError("config", ENV_PREFIX + "CONFIG", f"file {path} does not exist")
        return path
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.is_file() else None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "(file)",
            str(path),
            f"not UTF-8 text (byte {exc.object[exc.start]:#x} at offset {exc.start})",
        ) from None
    except OSError as exc:
        raise ConfigError("(file)", str(path), f"cannot be read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError("(file)", str(path), f"not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("(file)", str(path), "the top level must be a mapping of settings")
    return data


def _refuse_unknown_variables(env: Mapping[str, str]) -> None:
    """A misspelt ``OVERWATCH_*`` variable must not silently leave its default in place."""
    known = {setting.env_var for setting in SETTINGS} | _ENV_NOT_SETTINGS
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in known:
            continue
        if name.startswith(_ENV_RESERVED_PREFIX):
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ConfigError(
            name[len(ENV_PREFIX) :].lower(), name, f"unknown environment variable{hint}"
        )


def check_writable_directory(directory: Path, key: str, source: str) -> None:
    """Create ``directory`` if needed and prove a file can be written there, or raise
    :class:`ConfigError` naming the setting: failing at start beats a traceback later."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".overwatch-write-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(key, source, f"directory {directory} is not writable: {reason}") from None


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    use_default_file: bool = True,
) -> Settings:
    """Build the effective settings from all layers; raise :class:`ConfigError` on a bad value."""
    env = os.environ if environ is None else environ
    raw: dict[str, tuple[Any, str]] = {s.name: (s.default, "default") for s in SETTINGS}

    path = find_config_file(config_file, env) if (config_file or use_default_file) else None
    if path is not None:
        for key, value in _read_yaml(path).items():
            if key not in _BY_NAME:
                raise ConfigError(
                    str(key), str(path), f"unknown setting (known: {', '.join(sorted(_BY_NAME))})"
                )
            raw[key] = (value, str(path))
        # Relative paths in a config file are relative to the file, not to the caller.
        for key in ("data_dir", "quarantine_dir", "checks_file", "metrics_dir"):
            value, source = raw[key]
            if source == str(path) and value and not Path(str(value)).expanduser().is_absolute():
                raw[key] = (str(path.parent / str(value)), source)
        raw["plugins"] = _plugin_paths_from(raw["plugins"], path)

    _refuse_unknown_variables(env)
    for setting in SETTINGS:
        if setting.env_var in env:
            raw[setting.name] = (env[setting.env_var], setting.env_var)

    for key, value in (overrides or {}).items():
        if key not in _BY_NAME:
            raise ConfigError(key, "override", "unknown setting")
        raw[key] = (value, "override")

    values: dict[str, Any] = {}
    for setting in SETTINGS:
        value, source = raw[setting.name]
        try:
            values[setting.name] = setting.convert(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(setting.name, source, str(exc)) from exc
    sources = {name: source for name, (_, source) in raw.items()}
    _read_referenced_files(values, sources, env, path)
    return Settings(**values, sources=sources, config_file=path)


def _plugin_paths_from(entry: tuple[Any, str], path: Path) -> tuple[Any, str]:
    """Plugin files named in a config file are relative to it, like the other paths."""
    value, source = entry
    if source != str(path) or not isinstance(value, Mapping):
        return entry
    resolved = {}
    for key, target in value.items():
        text = str(target)
        location, sep, attribute = text.rpartition(":")
        is_file = location.endswith(".py") or "/" in location
        if sep and is_file and not Path(location).expanduser().is_absolute():
            text = f"{path.parent / location}:{attribute}"
        resolved[key] = text
    return resolved, source


def _read_checks_file(values: Mapping[str, Any], sources: Mapping[str, str]) -> CheckConfig:
    from overwatch.monitoring.config import CheckConfigError  # noqa: PLC0415
    from overwatch.monitoring.config import read_check_file  # noqa: PLC0415

    path: Path = values["checks_file"]
    if values["checks"]:
        raise ConfigError(
            "checks_file",
            sources["checks_file"],
            f"checks are also set in {sources['checks']}: give them in one place only",
        )
    try:
        return read_check_file(path)
    except CheckConfigError as exc:
        raise ConfigError("checks_file", str(path), str(exc)) from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(
            "checks_file", sources["checks_file"], f"cannot read {path}: {reason}"
        ) from None


def _read_referenced_files(
    values: dict[str, Any], sources: Mapping[str, str], env: Mapping[str, str], path: Path | None
) -> None:
    """Settings that name further files or variables: the checks file, channel URLs."""
    if values["checks_file"] is not None:
        values["checks"] = _read_checks_file(values, sources)
    if values["notifications"]:
        values["notifications"] = _resolve_notification_urls(values, sources, env, path)


def _resolve_notification_urls(
    values: Mapping[str, Any], sources: Mapping[str, str], env: Mapping[str, str], path: Path | None
) -> NotificationConfig:
    """Read the channel URLs kept in environment variables or files (secrets)."""
    from overwatch.monitoring.notifications.config import NotificationConfigError  # noqa: PLC0415
    from overwatch.monitoring.notifications.config import resolve_channel_urls  # noqa: PLC0415

    source = sources["notifications"]
    base_dir = path.parent if path is not None and source == str(path) else None
    try:
        return resolve_channel_urls(values["notifications"], env, base_dir)
    except NotificationConfigError as exc:
        raise ConfigError("notifications", source, str(exc)) from exc
