"""Declarative check definitions: parse and validate the ``checks`` setting.

The ``checks`` setting (inline in ``config.yaml`` or in the file ``checks_file``
names) maps a subsystem (or ``"*"`` for every subsystem) to a list of check
definitions; :func:`load_check_config` turns that raw YAML into a frozen
:class:`CheckConfig` or raises :class:`CheckConfigError` whose message starts with
the key path of the first bad value, e.g. ``checks.EMC[2].error_max: expected a
number, got 'ten'``. docs/checks.md lists every kind and parameter.

Histogram names are selected with shell-style globs (:func:`fnmatch.fnmatchcase`,
``*`` also crosses ``/``) rather than regular expressions: a glob cannot backtrack
catastrophically, so a pattern typed during a shift cannot stall processing.

Everything here is plain frozen data (strings, numbers, tuples): a
:class:`CheckConfig` pickles, so processing may hand it to worker subprocesses.
This module imports neither numpy nor any other part of Overwatch, so the
settings loader can call it cheaply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from overwatch.monitoring.errors import SettingPathError

__all__ = [
    "ALL_SUBSYSTEMS",
    "KINDS",
    "PARAMETERS",
    "PULL_MAP_CHOICES",
    "RANGE_KINDS",
    "REFERENCE_KINDS",
    "CheckConfig",
    "CheckConfigError",
    "CheckSpec",
    "load_check_config",
    "read_check_file",
]

#: Subsystem key whose checks apply to every subsystem (before the subsystem's own).
ALL_SUBSYSTEMS = "*"
#: Kinds that compare one statistic of the histogram with fixed limits.
RANGE_KINDS = ("entries", "mean", "rms", "maximum", "integral", "empty_fraction")
#: Kinds that compare the histogram with its reference.
REFERENCE_KINDS = ("chi2", "kolmogorov", "max_deviation", "pull")
KINDS = RANGE_KINDS + REFERENCE_KINDS
#: When a pull test stores its pull map: on a medium or bad verdict, or always.
PULL_MAP_CHOICES = ("problems", "always")
#: Longest check name: the ``check_results.name`` column holds 128 characters.
MAX_NAME_LENGTH = 128

_COMMON_KEYS = frozenset({"kind", "name", "histograms", "exclude", "min_entries"})
_RANGE_KEYS = frozenset({"warning_min", "warning_max", "error_min", "error_max"})
_KIND_KEYS: dict[str, frozenset[str]] = {
    "entries": _RANGE_KEYS,
    "mean": _RANGE_KEYS | {"axis"},
    "rms": _RANGE_KEYS | {"axis"},
    "maximum": _RANGE_KEYS,
    "integral": _RANGE_KEYS,
    "empty_fraction": _RANGE_KEYS,
    "chi2": frozenset({"warning", "error", "normalize"}),
    "kolmogorov": frozenset({"warning", "error", "statistic"}),
    "max_deviation": frozenset({"warning", "error", "normalize"}),
    "pull": frozenset({"pull_warning", "pull_error", "chi2_warning", "chi2_error", "pull_map"}),
}
#: Every parameter a check of each kind accepts (docs/checks.md describes each).
PARAMETERS: dict[str, frozenset[str]] = {
    kind: _COMMON_KEYS | keys for kind, keys in _KIND_KEYS.items()
}
# Defaults of the reference comparisons' thresholds (warning, error); see docs/checks.md.
_REFERENCE_DEFAULTS: dict[str, tuple[float, float]] = {
    "chi2": (2.0, 5.0),
    "kolmogorov_probability": (0.01, 1e-4),
    "kolmogorov_distance": (0.1, 0.2),
    "max_deviation": (4.0, 6.0),
    "pull": (3.0, 5.0),
    "pull_chi2": (2.0, 4.0),
}


class CheckConfigError(SettingPathError):
    """A bad check definition; ``path`` is the key path (``checks.EMC[2].mean``)."""


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One validated check definition.

    Only the fields of its ``kind`` are meaningful; the others keep their
    defaults. Limits that are ``None`` are not applied.
    """

    name: str
    kind: str
    histograms: tuple[str, ...]
    #: The key path it was defined at, for messages (``checks.EMC[2]``).
    source: str = ""
    exclude: tuple[str, ...] = ()
    #: Fewer entries (``fEntries``) than this: the check says ``null`` instead of judging.
    min_entries: float = 1.0
    warning_min: float | None = None
    warning_max: float | None = None
    error_min: float | None = None
    error_max: float | None = None
    #: mean/rms: 0, 1, 2 for the x, y, z axis.
    axis: int = 0
    #: chi2, kolmogorov, max_deviation: the thresholds of the compared value.
    warning: float | None = None
    error: float | None = None
    #: chi2, max_deviation: scale the reference to the histogram's integral first.
    normalize: bool = True
    #: kolmogorov: judge the "probability" (low is bad) or the "distance" (high is bad).
    statistic: str = "probability"
    #: pull: thresholds on the bin-count-corrected largest pull and on the pulls' χ²/bin.
    pull_warning: float = _REFERENCE_DEFAULTS["pull"][0]
    pull_error: float = _REFERENCE_DEFAULTS["pull"][1]
    chi2_warning: float = _REFERENCE_DEFAULTS["pull_chi2"][0]
    chi2_error: float = _REFERENCE_DEFAULTS["pull_chi2"][1]
    #: pull: store the pull map when the check says medium or bad ("problems") or "always".
    pull_map: str = "problems"

    @property
    def needs_reference(self) -> bool:
        return self.kind in REFERENCE_KINDS

    def matches(self, histogram_name: str) -> bool:
        """True when a ``histograms`` glob matches the full name and no ``exclude`` glob does."""
        return any(fnmatchcase(histogram_name, p) for p in self.histograms) and not any(
            fnmatchcase(histogram_name, p) for p in self.exclude
        )


@dataclass(frozen=True, slots=True)
class CheckConfig:
    """All declarative checks, by subsystem (``"*"``: every subsystem)."""

    subsystems: Mapping[str, tuple[CheckSpec, ...]] = field(default_factory=dict)

    def for_subsystem(self, subsystem: str) -> tuple[CheckSpec, ...]:
        """The checks of ``"*"`` followed by the subsystem's own."""
        return self.subsystems.get(ALL_SUBSYSTEMS, ()) + (
            self.subsystems.get(subsystem, ()) if subsystem != ALL_SUBSYSTEMS else ()
        )

    def matching(self, subsystem: str, histogram_name: str) -> tuple[CheckSpec, ...]:
        """The checks that apply to one histogram, in configuration order."""
        return tuple(s for s in self.for_subsystem(subsystem) if s.matches(histogram_name))

    def __bool__(self) -> bool:
        return any(self.subsystems.values())

    def __str__(self) -> str:
        # What `overwatch config show` prints for the setting.
        parts = [
            f"{key}: {len(specs)} check{'' if len(specs) == 1 else 's'}"
            for key, specs in self.subsystems.items()
        ]
        return ", ".join(parts) or "none"


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CheckConfigError(path, f"expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise CheckConfigError(path, f"expected a finite number, got {value!r}")
    return number


def _optional_number(raw: Mapping[str, Any], key: str, path: str) -> float | None:
    value = raw.get(key)
    return None if value is None else _number(value, f"{path}.{key}")


def _positive(raw: Mapping[str, Any], key: str, path: str, default: float) -> float:
    number = _optional_number(raw, key, path)
    if number is None:
        return default
    if number <= 0:
        raise CheckConfigError(f"{path}.{key}", f"must be greater than 0, got {number:g}")
    return number


def _globs(value: Any, path: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise CheckConfigError(path, f"expected a glob or a list of globs, got {value!r}")
    for index, item in enumerate(items):
        if not isinstance(item, str) or not item:
            raise CheckConfigError(f"{path}[{index}]", f"expected a glob, got {item!r}")
    return tuple(items)


def _ordered(low: float | None, high: float | None, path: str, what: str) -> None:
    if low is not None and high is not None and low > high:
        raise CheckConfigError(path, f"{what} minimum {low:g} is above its maximum {high:g}")


def _range_fields(raw: Mapping[str, Any], path: str) -> dict[str, Any]:
    limits = {key: _optional_number(raw, key, path) for key in sorted(_RANGE_KEYS)}
    if all(value is None for value in limits.values()):
        raise CheckConfigError(
            path, "give at least one of warning_min, warning_max, error_min, error_max"
        )
    _ordered(limits["warning_min"], limits["warning_max"], f"{path}.warning_min", "warning")
    _ordered(limits["error_min"], limits["error_max"], f"{path}.error_min", "error")
    # The warning band must lie inside the error band, or "medium" could be worse than "bad".
    warning_max, error_max = limits["warning_max"], limits["error_max"]
    if warning_max is not None and error_max is not None and warning_max > error_max:
        raise CheckConfigError(
            f"{path}.warning_max", f"{warning_max:g} is above error_max {error_max:g}"
        )
    warning_min, error_min = limits["warning_min"], limits["error_min"]
    if warning_min is not None and error_min is not None and warning_min < error_min:
        raise CheckConfigError(
            f"{path}.warning_min", f"{warning_min:g} is below error_min {error_min:g}"
        )
    return limits


def _thresholds(
    raw: Mapping[str, Any], path: str, keys: tuple[str, str], default: tuple[float, float], *,
    lower_is_worse: bool = False,
) -> tuple[float, float]:  # fmt: skip
    warning = _optional_number(raw, keys[0], path)
    error = _optional_number(raw, keys[1], path)
    warning = default[0] if warning is None else warning
    error = default[1] if error is None else error
    for key, number in zip(keys, (warning, error), strict=True):
        if number < 0:
            raise CheckConfigError(f"{path}.{key}", f"must not be negative, got {number:g}")
    if (warning < error) if lower_is_worse else (warning > error):
        relation = "below" if lower_is_worse else "above"
        raise CheckConfigError(
            f"{path}.{keys[0]}", f"{warning:g} is {relation} {keys[1]} {error:g}"
        )
    return warning, error


def _kind_fields(kind: str, raw: Mapping[str, Any], path: str) -> dict[str, Any]:
    if kind in RANGE_KINDS:
        fields = _range_fields(raw, path)
        if "axis" in raw:
            axis = raw["axis"]
            if axis not in ("x", "y", "z"):
                raise CheckConfigError(f"{path}.axis", f"must be x, y or z, got {axis!r}")
            fields["axis"] = "xyz".index(axis)
        return fields
    fields = {}
    if "normalize" in raw:
        if not isinstance(raw["normalize"], bool):
            raise CheckConfigError(
                f"{path}.normalize", f"expected true or false, got {raw['normalize']!r}"
            )
        fields["normalize"] = raw["normalize"]
    if kind == "pull":
        fields["pull_warning"], fields["pull_error"] = _thresholds(
            raw, path, ("pull_warning", "pull_error"), _REFERENCE_DEFAULTS["pull"]
        )
        fields["chi2_warning"], fields["chi2_error"] = _thresholds(
            raw, path, ("chi2_warning", "chi2_error"), _REFERENCE_DEFAULTS["pull_chi2"]
        )
        pull_map = raw.get("pull_map", "problems")
        if pull_map not in PULL_MAP_CHOICES:
            raise CheckConfigError(
                f"{path}.pull_map", f"must be problems or always, got {pull_map!r}"
            )
        fields["pull_map"] = pull_map
        return fields
    lower_is_worse = False
    defaults_key = kind
    if kind == "kolmogorov":
        statistic = raw.get("statistic", "probability")
        if statistic not in ("probability", "distance"):
            raise CheckConfigError(
                f"{path}.statistic", f"must be probability or distance, got {statistic!r}"
            )
        fields["statistic"] = statistic
        lower_is_worse = statistic == "probability"
        defaults_key = f"kolmogorov_{statistic}"
    fields["warning"], fields["error"] = _thresholds(
        raw, path, ("warning", "error"), _REFERENCE_DEFAULTS[defaults_key],
        lower_is_worse=lower_is_worse,
    )  # fmt: skip
    return fields


def _spec(raw: Any, path: str) -> CheckSpec:
    if not isinstance(raw, Mapping):
        raise CheckConfigError(path, f"expected a mapping with kind and histograms, got {raw!r}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise CheckConfigError(f"{path}.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    unknown = sorted(str(key) for key in set(raw) - _COMMON_KEYS - _KIND_KEYS[kind])
    if unknown:
        allowed = ", ".join(sorted(_COMMON_KEYS | _KIND_KEYS[kind]))
        raise CheckConfigError(
            f"{path}.{unknown[0]}", f"unknown parameter for kind {kind} (known: {allowed})"
        )
    if "histograms" not in raw:
        raise CheckConfigError(f"{path}.histograms", "missing: a glob of histogram names")
    name = raw.get("name", kind)
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise CheckConfigError(
            f"{path}.name", f"expected text of 1 to {MAX_NAME_LENGTH} characters, got {name!r}"
        )
    # An entries check judges the number of entries itself, so nothing is "too few" for it.
    min_entries = _optional_number(raw, "min_entries", path)
    if min_entries is not None and min_entries < 0:
        raise CheckConfigError(f"{path}.min_entries", f"must not be negative, got {min_entries:g}")
    if min_entries is None:
        min_entries = 0.0 if kind == "entries" else 1.0
    return CheckSpec(
        name=name,
        kind=kind,
        histograms=_globs(raw["histograms"], f"{path}.histograms"),
        exclude=_globs(raw["exclude"], f"{path}.exclude") if "exclude" in raw else (),
        source=path,
        min_entries=min_entries,
        **_kind_fields(kind, raw, path),
    )


def load_check_config(raw: Any, path: str = "checks") -> CheckConfig:
    """Validate the raw ``checks`` mapping (as YAML loads it) into a :class:`CheckConfig`.

    ``None`` or an empty mapping means no checks. Raises :class:`CheckConfigError`
    naming the key path (rooted at ``path``) of the first bad value.
    """
    if raw is None:
        return CheckConfig()
    if not isinstance(raw, Mapping):
        raise CheckConfigError(path, f"expected a mapping of subsystem to checks, got {raw!r}")
    subsystems: dict[str, tuple[CheckSpec, ...]] = {}
    for key, items in raw.items():
        if not isinstance(key, str) or not (key == ALL_SUBSYSTEMS or key.isidentifier()):
            raise CheckConfigError(
                f"{path}.{key}", 'expected a subsystem name (e.g. EMC) or "*" for every subsystem'
            )
        checks = [] if items is None else items
        if not isinstance(checks, Sequence) or isinstance(checks, str):
            raise CheckConfigError(f"{path}.{key}", f"expected a list of checks, got {checks!r}")
        subsystems[key] = tuple(_spec(item, f"{path}.{key}[{i}]") for i, item in enumerate(checks))
    config = CheckConfig(subsystems)
    _refuse_duplicate_names(config, path)
    return config


def _refuse_duplicate_names(config: CheckConfig, path: str) -> None:
    # Results are stored and trended by check name: two checks of one name on one
    # histogram would overwrite each other, so names must be unique per subsystem.
    for subsystem in config.subsystems:
        seen: dict[str, CheckSpec] = {}
        for spec in config.for_subsystem(subsystem):
            if spec.name in seen:
                raise CheckConfigError(
                    f"{spec.source}.name",
                    f"check name {spec.name!r} is already used by {seen[spec.name].source}; "
                    "give one of them a distinct name",
                )
            seen[spec.name] = spec


def read_check_file(path: Path) -> CheckConfig:
    """Read and validate a checks file (a YAML mapping of subsystem to checks).

    Raises :class:`CheckConfigError` for bad content (key paths start at
    ``checks``) and :class:`OSError` when the file cannot be read.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CheckConfigError("checks", f"{path} is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise CheckConfigError("checks", f"{path} is not valid YAML: {exc}") from None
    return load_check_config(raw)
