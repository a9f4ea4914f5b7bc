"""The ``deploy:`` section of ``config.yaml``: what ``overwatch deploy render`` needs beyond the
settings every process reads.

:func:`load_deploy_config` turns the raw mapping into a :class:`DeployConfig` and is
the converter of the ``deploy`` row of :data:`overwatch.config.SETTINGS`, so a
mistake stops any command at start with the key that is wrong
(``deploy.receivers[1].kind: must be one of dqm, zmq``). Pure Python: loading
settings must stay cheap, and nothing here reads a file or the environment.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from typing import Any

__all__ = ["DeployConfig", "DeployConfigError", "ReceiverUnit", "load_deploy_config"]

#: nginx's time notation for ``expires``: a number with an optional unit.
_NGINX_TIME = re.compile(r"^[0-9]+(ms|s|m|h|d|w|M|y)?$")
#: Names that become parts of unit and file names.
_UNIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: A host name or address as nginx's ``server_name`` and ``allow`` take it (no spaces, no quotes).
_WORD = re.compile(r"^[^\s;'\"{}#]+$")


class DeployConfigError(ValueError):
    """A value in the ``deploy:`` section that cannot be used; the message starts with its key."""


@dataclass(frozen=True)
class ReceiverUnit:
    """One receiver service: the DQM REST receiver or a ZMQ receiver."""

    name: str
    kind: str  # "dqm" or "zmq"
    bind: str = "127.0.0.1:8851"  # dqm
    workers: int = 2  # dqm
    connect: str = ""  # zmq
    mode: str = "sub"  # zmq
    interval: float = 10.0  # zmq, req mode


@dataclass(frozen=True)
class DeployConfig:
    """Where and how the services run on the target machine (or in containers)."""

    install_dir: str = "/opt/overwatch"
    venv: str = ""  # empty: <install_dir>/.venv
    config_path: str = "/etc/overwatch/config.yaml"
    environment_file: str = "/etc/overwatch/overwatch.env"
    user: str = "overwatch"
    group: str = "overwatch"
    server_name: str = "localhost"
    http_port: int = 80
    https_port: int = 443
    tls_certificate: str = ""
    tls_certificate_key: str = ""
    processing_daemons: int = 1
    receivers: tuple[ReceiverUnit, ...] = ()
    metrics_allow: tuple[str, ...] = ("127.0.0.1", "::1")
    static_max_age: str = "7d"
    jsroot_max_age: str = "30d"
    image: str = "overwatch:latest"
    postgres_image: str = "postgres:16"
    compose_web_port: int = 8850
    extra_environment: dict[str, str] = field(default_factory=dict)

    @property
    def tls(self) -> bool:
        return bool(self.tls_certificate)

    @property
    def venv_dir(self) -> str:
        return self.venv or f"{self.install_dir.rstrip('/')}/.venv"

    def __str__(self) -> str:
        # What `overwatch config show` prints for the setting.
        receivers = ", ".join(f"{unit.kind} {unit.name}" for unit in self.receivers) or "none"
        scheme = f"https :{self.https_port}" if self.tls else f"http :{self.http_port}"
        return (
            f"{self.install_dir}, {self.server_name} ({scheme}), "
            f"{self.processing_daemons} processing daemon(s), receivers: {receivers}"
        )


def _text(key: str, value: Any, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise DeployConfigError(f"{key}: expected text, got {value!r}")
    text = str(value)
    if pattern is not None and not pattern.match(text):
        raise DeployConfigError(f"{key}: {text!r} is not allowed here")
    return text


def _absolute(key: str, value: Any) -> str:
    text = _text(key, value)
    if text and not text.startswith("/"):
        raise DeployConfigError(f"{key}: must be an absolute path, got {text!r}")
    if any(char in text for char in " \n;'\""):
        raise DeployConfigError(f"{key}: no spaces, quotes or ';' in paths, got {text!r}")
    return text


def _port(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise DeployConfigError(f"{key}: expected a port number 1-65535, got {value!r}")
    return value


def _count(key: str, value: Any, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise DeployConfigError(f"{key}: expected a whole number from 1 to {most}, got {value!r}")
    return value


def _bind(key: str, value: Any) -> str:
    text = _text(key, value)
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise DeployConfigError(f"{key}: expected HOST:PORT, got {text!r}")
    return text


def _receiver(key: str, value: Any) -> ReceiverUnit:
    if not isinstance(value, Mapping):
        raise DeployConfigError(f"{key}: expected a mapping with kind and name, got {value!r}")
    known = {item.name for item in fields(ReceiverUnit)}
    for name in value:
        if name not in known:
            raise DeployConfigError(
                f"{key}.{name}: unknown key (known: {', '.join(sorted(known))})"
            )
    kind = _text(f"{key}.kind", value.get("kind", ""))
    if kind not in {"dqm", "zmq"}:
        raise DeployConfigError(f"{key}.kind: must be one of dqm, zmq, got {kind!r}")
    name = _text(f"{key}.name", value.get("name", kind), _UNIT_NAME)
    if kind == "dqm":
        return ReceiverUnit(
            name,
            kind,
            bind=_bind(f"{key}.bind", value.get("bind", ReceiverUnit.bind)),
            workers=_count(f"{key}.workers", value.get("workers", ReceiverUnit.workers), 64),
        )
    connect = _text(f"{key}.connect", value.get("connect", ""), _WORD)
    if "://" not in connect:
        raise DeployConfigError(f"{key}.connect: expected a ZMQ endpoint like tcp://host:port")
    mode = _text(f"{key}.mode", value.get("mode", "sub"))
    if mode not in {"sub", "req"}:
        raise DeployConfigError(f"{key}.mode: must be one of sub, req, got {mode!r}")
    interval = value.get("interval", ReceiverUnit.interval)
    if isinstance(interval, bool) or not isinstance(interval, int | float) or not interval >= 0.05:
        raise DeployConfigError(f"{key}.interval: expected seconds >= 0.05, got {interval!r}")
    return ReceiverUnit(name, kind, connect=connect, mode=mode, interval=float(interval))


def _receivers(key: str, value: Any) -> tuple[ReceiverUnit, ...]:
    if not isinstance(value, list):
        raise DeployConfigError(f"{key}: expected a list of receivers, got {value!r}")
    units = tuple(_receiver(f"{key}[{index}]", item) for index, item in enumerate(value))
    names = [unit.name for unit in units]
    for unit in units:
        if names.count(unit.name) > 1:
            raise DeployConfigError(f"{key}: two receivers are named {unit.name!r}")
    return units


def _words(key: str, value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(_text(key, item, _WORD) for item in items)


def _environment(key: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise DeployConfigError(f"{key}: expected a mapping of variable to value")
    return {
        _text(key, variable, _VARIABLE): _text(f"{key}.{variable}", item, _ENV_VALUE)
        for variable, item in value.items()
    }


_VARIABLE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_ENV_VALUE = re.compile(r"^[^\n\"\\]*$")

#: How each key of the section is checked.
_CONVERTERS: dict[str, Callable[[str, Any], Any]] = {
    "install_dir": _absolute,
    "venv": _absolute,
    "config_path": _absolute,
    "environment_file": _absolute,
    "tls_certificate": lambda key, value: _absolute(key, value or ""),
    "tls_certificate_key": lambda key, value: _absolute(key, value or ""),
    "user": lambda key, value: _text(key, value, _UNIT_NAME),
    "group": lambda key, value: _text(key, value, _UNIT_NAME),
    "server_name": lambda key, value: " ".join(_words(key, value)),
    "http_port": _port,
    "https_port": _port,
    "compose_web_port": _port,
    "processing_daemons": lambda key, value: _count(key, value, 32),
    "receivers": _receivers,
    "metrics_allow": _words,
    "static_max_age": lambda key, value: _text(key, value, _NGINX_TIME),
    "jsroot_max_age": lambda key, value: _text(key, value, _NGINX_TIME),
    "image": lambda key, value: _text(key, value, _WORD),
    "postgres_image": lambda key, value: _text(key, value, _WORD),
    "extra_environment": _environment,
}


def load_deploy_config(value: Any) -> DeployConfig:
    """Check the ``deploy:`` mapping (``None`` means all defaults); raise naming the key."""
    if value is None or value == "":
        return DeployConfig()
    if not isinstance(value, Mapping):
        raise DeployConfigError(f"deploy: expected a mapping, got {value!r}")
    known = {item.name for item in fields(DeployConfig)}
    converted: dict[str, Any] = {}
    for key, item in value.items():
        if key not in known:
            raise DeployConfigError(
                f"deploy.{key}: unknown key (known: {', '.join(sorted(known))})"
            )
        converted[str(key)] = _CONVERTERS[str(key)](f"deploy.{key}", item)
    config = DeployConfig(**converted)
    if bool(config.tls_certificate) != bool(config.tls_certificate_key):
        raise DeployConfigError(
            "deploy.tls_certificate_key: give both tls_certificate and tls_certificate_key, or neither"
        )
    return config
