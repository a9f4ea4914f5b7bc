"""The ``notifications`` setting: channels, routing, cool-down, digest and retries.

:func:`load_notification_config` turns the raw YAML mapping into a frozen
:class:`NotificationConfig` or raises :class:`NotificationConfigError` whose message
starts with the key path of the first bad value, e.g.
``notifications.channels.shift-mail.min_severity: must be warning or critical``.

A channel's address is one apprise URL (``mailto://``, ``slack://``, ``mmost://``,
``json://``, ...). URLs carry secrets (passwords, webhook tokens), so a channel may
give it in three ways: ``url`` inline, ``url_env`` (the name of an environment
variable holding it) or ``url_file`` (a file holding it, relative to the config
file). :func:`resolve_channel_urls` reads the variables and files when the settings
are loaded, so a missing one fails at start naming its key; ``str()`` of the config
(what ``overwatch config show`` prints) and ``repr()`` of a channel never show a
URL beyond its scheme.

Only the form of a URL is checked here (this module imports nothing heavy, so
settings load stays cheap); the delivery checks that apprise knows the scheme
before the first message (:func:`overwatch.monitoring.notifications.delivery.check_channels`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
from typing import Any

from overwatch.monitoring.alarms.config import ALL_SUBSYSTEMS
from overwatch.monitoring.errors import SettingPathError

__all__ = [
    "SEVERITIES",
    "ChannelSpec",
    "NotificationConfig",
    "NotificationConfigError",
    "load_notification_config",
    "mask_url",
    "resolve_channel_urls",
    "severity_rank",
]

#: Alarm severities, least severe first.
SEVERITIES = ("warning", "critical")
_ROOT = "notifications"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TOP_KEYS = frozenset(
    {
        "channels",
        "interval_seconds",
        "timeout_seconds",
        "cooldown_minutes",
        "digest_threshold",
        "max_attempts",
        "retry_seconds",
        "retry_max_seconds",
        "max_age_hours",
        "base_url",
    }
)
_CHANNEL_KEYS = frozenset({"url", "url_env", "url_file", "subsystems", "min_severity"})


class NotificationConfigError(SettingPathError):
    """A bad ``notifications`` value; ``path`` is its key path."""


def severity_rank(severity: str) -> int:
    """0 for warning, 1 for critical; an unknown severity counts as a warning."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def mask_url(url: str) -> str:
    """Only the scheme of an apprise URL: everything after it may be a secret."""
    match = _SCHEME.match(url)
    return f"{match.group(0)}***" if match else "***"


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One channel: where to send (an apprise URL) and which alarms."""

    name: str
    #: The apprise URL; empty until :func:`resolve_channel_urls` read ``url_env``/``url_file``.
    url: str = field(repr=False)
    #: Subsystems routed here; empty means every subsystem.
    subsystems: tuple[str, ...] = ()
    min_severity: str = "warning"
    #: Where the URL comes from, for messages: "inline", "$VAR" or a file path.
    url_source: str = "inline"
    url_env: str | None = None
    url_file: Path | None = None

    def wants(self, subsystem: str, severity: str) -> bool:
        """True when an alarm of this subsystem and severity is routed to this channel.

        An alarm of every subsystem (``"*"``, e.g. a receiver silence of a rule for all
        subsystems) concerns each one, so every channel wants it."""
        if self.subsystems and subsystem not in (*self.subsystems, ALL_SUBSYSTEMS):
            return False
        return severity_rank(severity) >= severity_rank(self.min_severity)

    def describe(self) -> str:
        """One line without secrets: name, masked URL, routing."""
        routing = ",".join(self.subsystems) if self.subsystems else "all subsystems"
        shown = mask_url(self.url) if self.url else "(unresolved)"
        return f"{self.name}={shown} [{self.url_source}] ({routing}, >= {self.min_severity})"


@dataclass(frozen=True, slots=True)
class NotificationConfig:
    """The validated ``notifications`` setting; falsy when no channel is configured."""

    channels: tuple[ChannelSpec, ...] = ()
    #: How often the processing daemon's delivery pass runs.
    interval_seconds: float = 15.0
    #: Longest one delivery may take before it counts as failed (timed out).
    timeout_seconds: float = 30.0
    #: An alarm notified on a channel is not sent there again while it persists for
    #: this long (unless its severity rises); then a reminder goes out.
    cooldown_minutes: float = 60.0
    #: This many alarms or more due on one channel in one pass go out as one digest.
    digest_threshold: int = 3
    #: Attempts of one delivery before it is given up as failed.
    max_attempts: int = 5
    #: Wait before the first retry; doubled after every failed attempt, up to the maximum.
    retry_seconds: float = 30.0
    retry_max_seconds: float = 1800.0
    #: Alarms not seen for longer are not notified (a new daemon on an old database).
    max_age_hours: float = 24.0
    #: The web app's public address, for links in messages; empty: no links.
    base_url: str | None = None

    def __bool__(self) -> bool:
        return bool(self.channels)

    def __str__(self) -> str:
        # What `overwatch config show` prints: never a URL beyond its scheme.
        return "; ".join(channel.describe() for channel in self.channels) or "none"

    def channel(self, name: str) -> ChannelSpec | None:
        return next((channel for channel in self.channels if channel.name == name), None)

    def retry_delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (exponential backoff)."""
        return min(self.retry_seconds * 2.0 ** max(attempts - 1, 0), self.retry_max_seconds)


def _number(raw: Mapping[str, Any], key: str, default: float, *, whole: bool = False) -> float:
    value = raw.get(key)
    path = f"{_ROOT}.{key}"
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NotificationConfigError(path, f"expected a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise NotificationConfigError(path, f"must be a finite number above 0, got {value!r}")
    if whole and not float(value).is_integer():
        raise NotificationConfigError(path, f"expected a whole number, got {value!r}")
    return float(value)


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise NotificationConfigError(path, f"expected text, got {value!r}")
    return value.strip()


def _url(value: Any, path: str) -> str:
    url = _text(value, path)
    if not _SCHEME.match(url):
        # Never echo the value: it may be a secret with a typo.
        raise NotificationConfigError(
            path, "expected an apprise URL such as mailto://..., slack://..., json://..."
        )
    return url


def _channel(name: Any, raw: Any) -> ChannelSpec:
    path = f"{_ROOT}.channels.{name}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise NotificationConfigError(
            path, "a channel name is 1 to 64 letters, digits, '.', '_' or '-'"
        )
    if not isinstance(raw, Mapping):
        raise NotificationConfigError(path, "expected a mapping with url (or url_env, url_file)")
    unknown = sorted(str(key) for key in set(raw) - _CHANNEL_KEYS)
    if unknown:
        raise NotificationConfigError(
            f"{path}.{unknown[0]}", f"unknown key (known: {', '.join(sorted(_CHANNEL_KEYS))})"
        )
    given = [key for key in ("url", "url_env", "url_file") if raw.get(key) not in (None, "")]
    if len(given) != 1:
        raise NotificationConfigError(
            f"{path}.url", "give exactly one of url, url_env (a variable) or url_file (a file)"
        )
    severity = raw.get("min_severity", "warning")
    if severity not in SEVERITIES:
        raise NotificationConfigError(
            f"{path}.min_severity", f"must be warning or critical, got {severity!r}"
        )
    subsystems = raw.get("subsystems") or []
    if isinstance(subsystems, str):
        subsystems = [subsystems]
    if not isinstance(subsystems, Sequence) or not all(
        isinstance(item, str) and item.strip() for item in subsystems
    ):
        raise NotificationConfigError(
            f"{path}.subsystems", f"expected a list of subsystem names, got {subsystems!r}"
        )
    subsystems = [item.strip() for item in subsystems]
    spec = ChannelSpec(
        name=name,
        url="",
        subsystems=() if ALL_SUBSYSTEMS in subsystems else tuple(subsystems),
        min_severity=severity,
    )
    if given[0] == "url":
        return replace(spec, url=_url(raw["url"], f"{path}.url"))
    if given[0] == "url_env":
        variable = _text(raw["url_env"], f"{path}.url_env")
        if variable.upper().startswith("OVERWATCH_"):
            # Unknown OVERWATCH_* variables are refused as misspelt settings.
            raise NotificationConfigError(
                f"{path}.url_env", f"{variable}: the OVERWATCH_ prefix is kept for settings"
            )
        return replace(spec, url_env=variable, url_source=f"${variable}")
    location = Path(_text(raw["url_file"], f"{path}.url_file")).expanduser()
    return replace(spec, url_file=location, url_source=str(location))


def load_notification_config(raw: Any) -> NotificationConfig:
    """Validate the raw ``notifications`` mapping (as YAML loads it).

    ``None`` or an empty mapping means no notifications. URLs given by ``url_env`` or
    ``url_file`` stay empty until :func:`resolve_channel_urls`.
    """
    if raw is None or raw == {}:
        return NotificationConfig()
    if not isinstance(raw, Mapping):
        raise NotificationConfigError(_ROOT, f"expected a mapping, got {raw!r}")
    unknown = sorted(str(key) for key in set(raw) - _TOP_KEYS)
    if unknown:
        raise NotificationConfigError(
            f"{_ROOT}.{unknown[0]}", f"unknown key (known: {', '.join(sorted(_TOP_KEYS))})"
        )
    channels_raw = raw.get("channels") or {}
    if not isinstance(channels_raw, Mapping):
        raise NotificationConfigError(
            f"{_ROOT}.channels",
            f"expected a mapping of channel name to channel, got {channels_raw!r}",
        )
    defaults = NotificationConfig()
    digest = _number(raw, "digest_threshold", defaults.digest_threshold, whole=True)
    if digest < 2:
        raise NotificationConfigError(f"{_ROOT}.digest_threshold", "must be at least 2")
    retry = _number(raw, "retry_seconds", defaults.retry_seconds)
    retry_max = _number(raw, "retry_max_seconds", max(defaults.retry_max_seconds, retry))
    if retry_max < retry:
        raise NotificationConfigError(
            f"{_ROOT}.retry_max_seconds", f"{retry_max:g} is below retry_seconds {retry:g}"
        )
    base_url = raw.get("base_url")
    if base_url not in (None, ""):
        base_url = _text(base_url, f"{_ROOT}.base_url").rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise NotificationConfigError(f"{_ROOT}.base_url", "expected an http(s):// address")
    return NotificationConfig(
        channels=tuple(_channel(name, spec) for name, spec in channels_raw.items()),
        interval_seconds=_number(raw, "interval_seconds", defaults.interval_seconds),
        timeout_seconds=_number(raw, "timeout_seconds", defaults.timeout_seconds),
        cooldown_minutes=_number(raw, "cooldown_minutes", defaults.cooldown_minutes),
        digest_threshold=int(digest),
        max_attempts=int(_number(raw, "max_attempts", defaults.max_attempts, whole=True)),
        retry_seconds=retry,
        retry_max_seconds=retry_max,
        max_age_hours=_number(raw, "max_age_hours", defaults.max_age_hours),
        base_url=base_url or None,
    )


def resolve_channel_urls(
    config: NotificationConfig, environ: Mapping[str, str], base_dir: Path | None
) -> NotificationConfig:
    """Read the URLs given by ``url_env`` and ``url_file`` (relative to ``base_dir``).

    Raises :class:`NotificationConfigError` naming the key of a variable that is not
    set or a file that cannot be read or holds no URL.
    """
    channels = []
    for given in config.channels:
        channel = given
        path = f"{_ROOT}.channels.{channel.name}"
        if channel.url_env is not None:
            value = environ.get(channel.url_env, "")
            if not value.strip():
                raise NotificationConfigError(
                    f"{path}.url_env", f"environment variable {channel.url_env} is not set"
                )
            channel = replace(channel, url=_url(value, f"{path}.url_env"))
        elif channel.url_file is not None:
            location = channel.url_file
            if base_dir is not None and not location.is_absolute():
                location = base_dir / location
            try:
                value = location.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                raise NotificationConfigError(
                    f"{path}.url_file", f"cannot read {location}: {reason}"
                ) from None
            channel = replace(
                channel, url=_url(value, f"{path}.url_file"), url_source=str(location)
            )
        channels.append(channel)
    return replace(config, channels=tuple(channels))
