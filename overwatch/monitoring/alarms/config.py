"""Alarm rule definitions: parse and validate the ``alarms`` setting.

The ``alarms`` setting is a list of rules. Every rule has a ``name`` (unique; alarms
are stored under it), a ``kind``, the ``subsystem`` it watches (``"*"`` for every
subsystem), a ``target`` (a trend name, a glob of histogram names or of receiver
names) and a ``severity`` (``warning`` or ``critical``). The kinds:

- on trend values: ``value_range`` (the newest value between ``min`` and ``max``),
  ``mean_range`` (the mean of the ``last`` N values in range), ``change`` (the
  newest value differs from the previous one by at most ``max_absolute`` and/or
  ``max_relative``), ``fraction_in_range`` (at least ``fraction`` of the ``last`` N
  values in range); ``series: runs`` (default, the last value of each run) or
  ``snapshots`` (every processing);
- ``check_quality``: a check (``check``, a glob of check names, default ``*``) of a
  histogram matching ``target`` said ``bad`` (``quality: bad``, the default) or
  ``medium`` or worse (``quality: medium``) for ``consecutive`` results in a row;
- ``receiver_silence``: a receiver whose name matches ``target`` was not heard from
  for ``minutes``; receivers belong to no subsystem, so its alarms carry the rule's
  (``"*"``: an alarm of all subsystems, shown under each and sent to every channel);
- ``all`` / ``any``: fires when all / any of its inline ``rules`` (trend or check
  kinds, each with its own ``target``) would fire.

:func:`load_alarm_config` turns the raw YAML into a frozen :class:`AlarmConfig` or
raises :class:`AlarmConfigError` whose message starts with the key path of the first
bad value, e.g. ``alarms[2].max: expected a number, got 'ten'``. Like the check
configuration this is plain frozen data, importing no other part of Overwatch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from overwatch.monitoring.errors import SettingPathError

__all__ = [
    "ALL_SUBSYSTEMS",
    "COMBINED_KINDS",
    "DEFAULT_RULES",
    "KINDS",
    "TREND_KINDS",
    "AlarmConfig",
    "AlarmConfigError",
    "AlarmRule",
    "load_alarm_config",
]

ALL_SUBSYSTEMS = "*"
TREND_KINDS = ("value_range", "mean_range", "change", "fraction_in_range")
COMBINED_KINDS = ("all", "any")
KINDS = (*TREND_KINDS, "check_quality", "receiver_silence", *COMBINED_KINDS)
SEVERITIES = ("warning", "critical")
#: ``alarms.rule`` and ``alarms.target`` hold 128 and 256 characters.
MAX_NAME_LENGTH = 128
MAX_TARGET_LENGTH = 256

_COMMON = frozenset({"name", "kind", "subsystem", "target", "severity"})
_SUB_COMMON = frozenset({"kind", "target"})
_KIND_KEYS: dict[str, frozenset[str]] = {
    "value_range": frozenset({"min", "max", "series"}),
    "mean_range": frozenset({"min", "max", "last", "series"}),
    "change": frozenset({"max_absolute", "max_relative", "series"}),
    "fraction_in_range": frozenset({"min", "max", "last", "fraction", "series"}),
    "check_quality": frozenset({"quality", "consecutive", "check"}),
    "receiver_silence": frozenset({"minutes"}),
    "all": frozenset({"rules"}),
    "any": frozenset({"rules"}),
}

#: Used when the ``alarms`` setting is not given: every histogram a check calls bad.
DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "name": "bad histogram",
        "kind": "check_quality",
        "subsystem": "*",
        "target": "*",
        "quality": "bad",
        "consecutive": 1,
        "severity": "critical",
    }
]


class AlarmConfigError(SettingPathError):
    """A bad rule; ``path`` is the key path (``alarms[2].max``)."""


@dataclass(frozen=True, slots=True)
class AlarmRule:
    """One validated rule; only the fields of its ``kind`` are meaningful."""

    name: str
    kind: str
    subsystem: str
    target: str
    severity: str = "warning"
    #: The key path it was defined at (``alarms[2]``), for messages.
    source: str = ""
    #: Trend kinds: the allowed range (``None``: open on that side).
    low: float | None = None
    high: float | None = None
    #: mean_range, fraction_in_range: how many of the newest values.
    last: int = 1
    #: fraction_in_range: the least fraction of them that must be in range.
    fraction: float = 1.0
    max_absolute: float | None = None
    max_relative: float | None = None
    #: Trend kinds: "runs" (the last value of each run) or "snapshots" (every value).
    series: str = "runs"
    #: check_quality: "bad", or "medium" (medium or bad); results in a row; check glob.
    quality: str = "bad"
    consecutive: int = 1
    check: str = "*"
    #: receiver_silence: minutes without news.
    minutes: float = 0.0
    #: all / any: the inline rules combined.
    rules: tuple[AlarmRule, ...] = ()

    @property
    def is_trend(self) -> bool:
        return self.kind in TREND_KINDS

    def applies_to(self, subsystem: str) -> bool:
        return self.subsystem in (ALL_SUBSYSTEMS, subsystem)

    def in_range(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


@dataclass(frozen=True, slots=True)
class AlarmConfig:
    """All rules, in configuration order."""

    rules: tuple[AlarmRule, ...] = field(default_factory=tuple)

    def for_subsystem(self, subsystem: str) -> tuple[AlarmRule, ...]:
        """The rules evaluated after a job of ``subsystem`` (all but receiver silences)."""
        return tuple(
            r for r in self.rules if r.kind != "receiver_silence" and r.applies_to(subsystem)
        )

    def silence_rules(self) -> tuple[AlarmRule, ...]:
        return tuple(r for r in self.rules if r.kind == "receiver_silence")

    def __bool__(self) -> bool:
        return bool(self.rules)

    def __str__(self) -> str:
        # What `overwatch config show` prints for the setting.
        return ", ".join(f"{r.name} ({r.kind})" for r in self.rules) or "none"


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AlarmConfigError(path, f"expected a number, got {value!r}")
    if not math.isfinite(value):
        raise AlarmConfigError(path, f"expected a finite number, got {value!r}")
    return float(value)


def _optional(raw: Mapping[str, Any], key: str, path: str) -> float | None:
    return None if raw.get(key) is None else _number(raw[key], f"{path}.{key}")


def _count(raw: Mapping[str, Any], key: str, path: str, default: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AlarmConfigError(
            f"{path}.{key}", f"expected a whole number of at least 1, got {value!r}"
        )
    return value


def _text(raw: Mapping[str, Any], key: str, path: str, limit: int) -> str:
    value = raw.get(key)
    if value is None:
        raise AlarmConfigError(f"{path}.{key}", "missing")
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise AlarmConfigError(
            f"{path}.{key}", f"expected text of 1 to {limit} characters, got {value!r}"
        )
    return value


def _choice(raw: Mapping[str, Any], key: str, path: str, choices: Sequence[str]) -> str:
    value = raw.get(key, choices[0])
    if value not in choices:
        raise AlarmConfigError(
            f"{path}.{key}", f"must be one of {', '.join(choices)}, got {value!r}"
        )
    return str(value)


def _range(raw: Mapping[str, Any], path: str) -> dict[str, Any]:
    low, high = _optional(raw, "min", path), _optional(raw, "max", path)
    if low is None and high is None:
        raise AlarmConfigError(path, "give min, max or both")
    if low is not None and high is not None and low > high:
        raise AlarmConfigError(f"{path}.min", f"{low:g} is above max {high:g}")
    return {"low": low, "high": high}


def _trend_fields(kind: str, raw: Mapping[str, Any], path: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"series": _choice(raw, "series", path, ("runs", "snapshots"))}
    if kind == "change":
        fields["max_absolute"] = _optional(raw, "max_absolute", path)
        fields["max_relative"] = _optional(raw, "max_relative", path)
        if fields["max_absolute"] is None and fields["max_relative"] is None:
            raise AlarmConfigError(path, "give max_absolute, max_relative or both")
        for key in ("max_absolute", "max_relative"):
            if fields[key] is not None and fields[key] < 0:
                raise AlarmConfigError(
                    f"{path}.{key}", f"must not be negative, got {fields[key]:g}"
                )
        return fields
    fields.update(_range(raw, path))
    if kind in ("mean_range", "fraction_in_range"):
        fields["last"] = _count(raw, "last", path, 5)
    if kind == "fraction_in_range":
        fraction = _number(raw.get("fraction", 1.0), f"{path}.fraction")
        if not 0 < fraction <= 1:
            raise AlarmConfigError(
                f"{path}.fraction", f"must be above 0 and at most 1, got {fraction:g}"
            )
        fields["fraction"] = fraction
    return fields


def _kind_fields(kind: str, raw: Mapping[str, Any], path: str) -> dict[str, Any]:
    if kind in TREND_KINDS:
        return _trend_fields(kind, raw, path)
    if kind == "check_quality":
        check = raw.get("check", "*")
        if not isinstance(check, str) or not check:
            raise AlarmConfigError(
                f"{path}.check", f"expected a glob of check names, got {check!r}"
            )
        return {
            "quality": _choice(raw, "quality", path, ("bad", "medium")),
            "consecutive": _count(raw, "consecutive", path, 1),
            "check": check,
        }
    if kind == "receiver_silence":
        minutes = _number(raw.get("minutes"), f"{path}.minutes") if "minutes" in raw else None
        if minutes is None or minutes <= 0:
            raise AlarmConfigError(
                f"{path}.minutes", f"expected minutes above 0, got {raw.get('minutes')!r}"
            )
        return {"minutes": minutes}
    items = raw.get("rules")
    if not isinstance(items, list) or len(items) < 2:
        raise AlarmConfigError(
            f"{path}.rules", f"expected a list of at least two rules, got {items!r}"
        )
    return {
        "rules": tuple(_sub_rule(item, raw, f"{path}.rules[{i}]") for i, item in enumerate(items))
    }


def _sub_rule(raw: Any, parent: Mapping[str, Any], path: str) -> AlarmRule:
    if not isinstance(raw, Mapping):
        raise AlarmConfigError(path, f"expected a mapping with kind and target, got {raw!r}")
    kind = raw.get("kind")
    allowed = (*TREND_KINDS, "check_quality")
    if kind not in allowed:
        raise AlarmConfigError(f"{path}.kind", f"must be one of {', '.join(allowed)}, got {kind!r}")
    _refuse_unknown(raw, _SUB_COMMON | _KIND_KEYS[kind], kind, path)
    return AlarmRule(
        name=path,
        kind=kind,
        subsystem=str(parent.get("subsystem", ALL_SUBSYSTEMS)),
        target=_text(raw, "target", path, MAX_TARGET_LENGTH),
        source=path,
        **_kind_fields(kind, raw, path),
    )


def _refuse_unknown(raw: Mapping[str, Any], known: frozenset[str], kind: str, path: str) -> None:
    unknown = sorted(str(key) for key in set(raw) - known)
    if unknown:
        raise AlarmConfigError(
            f"{path}.{unknown[0]}",
            f"unknown parameter for kind {kind} (known: {', '.join(sorted(known))})",
        )


def _rule(raw: Any, path: str) -> AlarmRule:
    if not isinstance(raw, Mapping):
        raise AlarmConfigError(
            path, f"expected a mapping with name, kind, subsystem and target, got {raw!r}"
        )
    kind = raw.get("kind")
    if kind not in KINDS:
        raise AlarmConfigError(f"{path}.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    _refuse_unknown(raw, _COMMON | _KIND_KEYS[kind], kind, path)
    subsystem = _text(raw, "subsystem", path, 32)
    if not (subsystem == ALL_SUBSYSTEMS or subsystem.isidentifier()):
        raise AlarmConfigError(
            f"{path}.subsystem", f'expected a subsystem name (e.g. EMC) or "*", got {subsystem!r}'
        )
    fields = _kind_fields(kind, raw, path)
    if kind in COMBINED_KINDS:
        joiner = " and " if kind == "all" else " or "
        target = raw.get("target") or joiner.join(r.target for r in fields["rules"])
        target = target[:MAX_TARGET_LENGTH]
    else:
        target = _text(raw, "target", path, MAX_TARGET_LENGTH)
    return AlarmRule(
        name=_text(raw, "name", path, MAX_NAME_LENGTH),
        kind=kind,
        subsystem=subsystem,
        target=target,
        severity=_choice(raw, "severity", path, SEVERITIES),
        source=path,
        **fields,
    )


def load_alarm_config(raw: Any, path: str = "alarms") -> AlarmConfig:
    """Validate the raw ``alarms`` list (as YAML loads it) into an :class:`AlarmConfig`.

    ``None`` means the default rules (:data:`DEFAULT_RULES`); an empty list no rules.
    Raises :class:`AlarmConfigError` naming the key path of the first bad value.
    """
    if raw is None:
        raw = DEFAULT_RULES
    if not isinstance(raw, list):
        raise AlarmConfigError(path, f"expected a list of rules, got {raw!r}")
    rules = tuple(_rule(item, f"{path}[{i}]") for i, item in enumerate(raw))
    seen: dict[str, str] = {}
    for rule in rules:
        if rule.name in seen:
            raise AlarmConfigError(
                f"{rule.source}.name",
                f"rule name {rule.name!r} is already used by {seen[rule.name]}",
            )
        seen[rule.name] = rule.source
    return AlarmConfig(rules)
