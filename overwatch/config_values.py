"""The converters of the settings table: each turns one raw value into a typed one.

A raw value comes from the package defaults, ``config.yaml`` (any YAML type) or an
``OVERWATCH_*`` environment variable (always text), so every converter takes both
forms: ``"true"`` and ``True``, ``"EMC=reset,TPC=cumulative"`` and a mapping,
structured settings as YAML text or as parsed YAML. A value that cannot be used
raises ``ValueError`` (or ``TypeError``) with the reason; :func:`overwatch.config.load_settings`
adds the key and where the value came from. Converters of sections that belong to
another part (checks, alarms, notifications, trending, deploy) import that part's
loader when called, so loading settings imports no more than it uses.

The ``_to_*`` converters (and :func:`_one_of`) are internal to the settings layer:
:data:`overwatch.config.SETTINGS` names them, under the same names, so a new row of
that table reads as before; ``overwatch.config`` stays the public entry point.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

import yaml

if TYPE_CHECKING:
    from overwatch.deploy.settings import DeployConfig
    from overwatch.monitoring.alarms.config import AlarmConfig
    from overwatch.monitoring.config import CheckConfig
    from overwatch.monitoring.notifications.config import NotificationConfig
    from overwatch.monitoring.trending.config import TrendConfig

__all__ = ["MAX_SECONDS", "MIN_SECRET_KEY_LENGTH"]

#: Longest interval or duration a setting may hold: a year is already absurd, and far
#: beyond it timers overflow (1e309 reads as infinity).
MAX_SECONDS = 366 * 24 * 3600.0
MIN_SECRET_KEY_LENGTH = 32


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true/false, got {value!r}")


def _to_finite_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"must be a finite number, got {value!r}")
    if number > MAX_SECONDS:
        raise ValueError(f"must be at most {MAX_SECONDS:.0f}, got {value!r}")
    return number


def _to_positive_float(value: Any) -> float:
    number = _to_finite_float(value)
    if not number > 0:
        raise ValueError(f"must be greater than 0, got {value!r}")
    return number


def _to_whole_number(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"expected a whole number, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"expected a whole number, got {value!r}") from None


def _to_positive_int(value: Any) -> int:
    number = _to_whole_number(value)
    if number < 1:
        raise ValueError(f"must be at least 1, got {value!r}")
    return number


def _to_non_negative_int(value: Any) -> int:
    number = _to_whole_number(value)
    if number < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    return number


def _to_gzip_level(value: Any) -> int:
    level = _to_positive_int(value)
    if level > 9:
        raise ValueError(f"must be between 1 and 9, got {value!r}")
    return level


def _to_non_negative_float(value: Any) -> float:
    number = _to_finite_float(value)
    if number < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    return number


def _to_rate_limit(value: Any) -> str:
    """A rate limit in the notation of the ``limits`` package: "10 per minute; 100 per hour"."""
    from limits import parse_many  # noqa: PLC0415 - only needed when settings are loaded

    text = _to_str(value)
    try:
        parse_many(text)
    except ValueError as exc:
        raise ValueError(f"expected e.g. '10 per minute; 100 per hour', got {text!r}") from exc
    return text


def _to_str(value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(f"expected text, got {value!r}")
    return str(value)


def _to_optional_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return _to_str(value)


def _to_secret_key(value: Any) -> str | None:
    key = _to_optional_str(value)
    if key is not None and len(key) < MIN_SECRET_KEY_LENGTH:
        raise ValueError(
            f"must be at least {MIN_SECRET_KEY_LENGTH} characters long (got {len(key)}); "
            "leave it empty to have one generated"
        )
    return key


def _to_path(value: Any) -> Path:
    if isinstance(value, Path):
        return value.expanduser()
    return Path(_to_str(value)).expanduser()


def _to_optional_path(value: Any) -> Path | None:
    return None if value is None or value == "" else _to_path(value)


def _to_timezone(value: Any) -> str:
    name = _to_str(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


def _one_of(*choices: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        text = _to_str(value)
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {text!r}")
        return text

    return convert


def _to_mode_map(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        # Environment form: "EMC=reset,TPC=cumulative".
        pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError("expected SYS=mode pairs separated by commas")
        value = {key.strip(): mode.strip() for key, mode in pairs}
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping of subsystem to mode, got {value!r}")
    check = _one_of("cumulative", "reset")
    return {str(key): check(mode) for key, mode in value.items()}


def _to_check_config(value: Any) -> CheckConfig:
    # Imported here: the check definitions belong to monitoring, and settings load
    # must not import more than it uses (monitoring.config itself is pure Python).
    from overwatch.monitoring.config import load_check_config  # noqa: PLC0415

    # Environment form: the same YAML as in the file, e.g. '{EMC: [{kind: ...}]}'.
    return load_check_config(_yaml_text(value))


def _to_alarm_config(value: Any) -> AlarmConfig:
    from overwatch.monitoring.alarms.config import load_alarm_config  # noqa: PLC0415

    # Environment form: the same YAML as in the file, e.g. '[{name: ..., kind: ...}]'.
    return load_alarm_config(_yaml_text(value))


def _to_notification_config(value: Any) -> NotificationConfig:
    # Pure Python like the checks: apprise is imported only where messages are sent.
    from overwatch.monitoring.notifications.config import load_notification_config  # noqa: PLC0415

    # Environment form: the same YAML as in the file, e.g. '{channels: {...}}'.
    return load_notification_config(_yaml_text(value))


def _to_trend_config(value: Any) -> TrendConfig:
    # Pure Python like the checks' definitions; the defaults apply to subsystems not named.
    from overwatch.monitoring.trending.config import load_trend_config  # noqa: PLC0415

    # Environment form: the same YAML as in the file, e.g. '{TPC: [defaults, {...}]}'.
    return load_trend_config(_yaml_text(value))


def _yaml_text(value: Any) -> Any:
    """A structured setting given as text (an environment variable) is parsed as YAML."""
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ValueError(f"not valid YAML: {exc}") from None
    return value


def _to_deploy_config(value: Any) -> DeployConfig:
    # Pure Python, like the checks: the section is validated whenever settings load.
    from overwatch.deploy.settings import load_deploy_config  # noqa: PLC0415

    return load_deploy_config(_yaml_text(value))


def _to_optional_bind(value: Any) -> str | None:
    text = _to_optional_str(value)
    if text is None:
        return None
    _host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT (or empty for none), got {text!r}")
    return text


def _to_name_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        # Environment form: "TPC,FMD"; an empty string is no names.
        value = [item for item in value.split(",") if item.strip()]
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected a list of subsystem names, got {value!r}")
    names = tuple(str(item).strip() for item in value)
    if any(not name for name in names):
        raise ValueError("subsystem names must not be empty")
    return names


def _to_plugin_map(value: Any) -> dict[str, str]:
    # Only the form is checked here; the daemon imports the classes when it starts
    # (settings load must stay cheap) and stops naming the key if one cannot be used.
    from overwatch.detectors.loader import parse_target  # noqa: PLC0415

    if value is None:
        return {}
    if isinstance(value, str):
        # Environment form: "MUO=site_dqm.muo:MUOPlugin,ZDC=/srv/zdc.py:ZDCPlugin".
        pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError("expected SYS=module:Class pairs separated by commas")
        value = {key.strip(): target.strip() for key, target in pairs}
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping of subsystem to 'module:Class', got {value!r}")
    plugins: dict[str, str] = {}
    for key, target in value.items():
        try:
            parse_target(str(target))
        except ValueError as exc:
            raise ValueError(f"plugins.{key}: {exc}") from None
        plugins[str(key)] = str(target).strip()
    return plugins


def _to_log_level(value: Any) -> str:
    return _one_of("DEBUG", "INFO", "WARNING", "ERROR")(_to_str(value).upper())
