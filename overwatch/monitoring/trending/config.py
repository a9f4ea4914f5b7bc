"""Trend definitions: parse and validate the ``trending`` setting, with the built-in defaults.

A trend is one number per processing of a subsystem, taken from one stored
histogram: its ``mean`` or ``rms`` (along ``axis`` x, y or z), its ``maximum``
bin content, its ``entries``, the figure a configured ``check`` judged on it, or
what a ``plugin`` function of the subsystem's detector plugin returns for it.
Each may carry warning and critical limits, drawn as bands on the trending page.

The ``trending`` setting maps a subsystem to a list of definitions. A subsystem
not named keeps its built-in trends (:data:`DEFAULT_TRENDS`, after the original
ALICE Overwatch's EMC, HLT and TPC trending objects); a subsystem named gets
exactly its list, in which the word ``defaults`` stands for its built-in trends
(so ``EMC: [defaults, {...}]`` adds one, ``EMC: []`` turns EMC's off).
:func:`load_trend_config` raises :class:`TrendConfigError` whose message starts
with the key path of the first bad value (``trending.TPC[1].kind: ...``).

Like the checks, this is plain frozen data that pickles and imports neither
numpy nor any other part of Overwatch, so the settings loader calls it cheaply.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from overwatch.monitoring.errors import SettingPathError

__all__ = [
    "DEFAULTS_WORD",
    "DEFAULT_TRENDS",
    "KINDS",
    "LIMIT_KEYS",
    "STATISTIC_KINDS",
    "TrendConfig",
    "TrendConfigError",
    "TrendSpec",
    "load_trend_config",
]

#: Kinds computed from the histogram itself.
STATISTIC_KINDS = ("mean", "rms", "maximum", "entries")
KINDS = (*STATISTIC_KINDS, "check", "plugin")
LIMIT_KEYS = ("warning_min", "warning_max", "critical_min", "critical_max")
#: The list item that stands for a subsystem's built-in trends.
DEFAULTS_WORD = "defaults"
#: Trend names appear in URLs and CSV file names: keep them plain.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
#: Longest stored histogram name (``histograms.name``).
MAX_HISTOGRAM_LENGTH = 512

_COMMON_KEYS = frozenset({"name", "kind", "histogram", "title", *LIMIT_KEYS})
_KIND_KEYS: dict[str, frozenset[str]] = {
    "mean": frozenset({"axis"}),
    "rms": frozenset({"axis"}),
    "maximum": frozenset(),
    "entries": frozenset(),
    "check": frozenset({"check"}),
    "plugin": frozenset({"function"}),
}


def _mean(name: str, histogram: str, title: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "mean", "histogram": histogram, "title": title, **extra}


def _trend(kind: str, name: str, histogram: str, title: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, "histogram": histogram, "title": title, **extra}


_EMC = "EMCTRQA_hist"
_TPC = "TPCQA/h_tpc_"
#: The built-in trends, in the form of the setting (docs/monitoring.md lists them).
DEFAULT_TRENDS: dict[str, list[dict[str, Any]]] = {
    "EMC": [
        _mean(
            "emcal_max_patch_gah",
            f"{_EMC}EMCalMaxPatchAmpEMCGAH",
            "EMCal max GA high patch amplitude, mean",
        ),
        _mean(
            "dcal_max_patch_gah",
            f"{_EMC}DCalMaxPatchAmpEMCGAH",
            "DCal max GA high patch amplitude, mean",
        ),
        _mean(
            "emcal_max_patch_jeh",
            f"{_EMC}EMCalMaxPatchAmpEMCJEH",
            "EMCal max JE high patch amplitude, mean",
        ),
        _mean(
            "dcal_max_patch_jeh",
            f"{_EMC}DCalMaxPatchAmpEMCJEH",
            "DCal max JE high patch amplitude, mean",
        ),
        _mean("emcal_patch_l0", f"{_EMC}EMCalPatchAmpEMCL0", "EMCal L0 patch amplitude, mean"),
        _mean("dcal_patch_l0", f"{_EMC}DCalPatchAmpEMCL0", "DCal L0 patch amplitude, mean"),
        _trend(
            "plugin",
            "fastor_l0_amp",
            f"{_EMC}FastORL0Amp",
            "FastOR L0 amplitude, mean over channels",
            function="channel_mean",
        ),
        _trend("entries", "events", f"{_EMC}Events", "Events"),
    ],
    "HLT": [
        _mean("tpc_tracks", "fHistTPCtracks", "TPC tracks per event, mean"),
        _trend("rms", "tpc_tracks_rms", "fHistTPCtracks", "TPC tracks per event, RMS"),
        _mean("spd_clusters", "fHistSPDclusters_SPDrawSize", "SPD clusters, mean", axis="y"),
        _mean("sdd_clusters", "fHistSDDclusters_SDDrawSize", "SDD clusters, mean", axis="y"),
        _mean("ssd_clusters", "fHistSSDclusters_SSDrawSize", "SSD clusters, mean", axis="y"),
        _mean("cluster_charge_max", "fHistClusterChargeMax", "TPC cluster Q_max, mean"),
        _mean("cluster_charge_tot", "fHistClusterChargeTot", "TPC cluster Q_tot, mean"),
        _trend("entries", "events", "fHistTPCtracks", "Events"),
    ],
    "TPC": [
        _mean(
            "dca_r",
            f"{_TPC}track_all_recvertex_3",
            "DCA_r (cm), mean",
            warning_min=-0.1,
            warning_max=0.1,
            critical_min=-0.2,
            critical_max=0.2,
        ),
        _trend("rms", "dca_r_rms", f"{_TPC}track_all_recvertex_3", "DCA_r (cm), RMS"),
        _mean(
            "dca_z",
            f"{_TPC}track_all_recvertex_4",
            "DCA_z (cm), mean",
            warning_min=-0.1,
            warning_max=0.1,
            critical_min=-0.2,
            critical_max=0.2,
        ),
        _trend("rms", "dca_z_rms", f"{_TPC}track_all_recvertex_4", "DCA_z (cm), RMS"),
        _trend("entries", "tracks", f"{_TPC}track_all_recvertex_0", "Tracks"),
        _mean("clusters_per_track", f"{_TPC}track_all_recvertex_0", "TPC clusters per track, mean"),
        _mean("multiplicity", f"{_TPC}event_recvertex_3", "Event multiplicity, mean"),
        _mean("vertex_z", f"{_TPC}event_recvertex_2", "Vertex z (cm), mean"),
    ],
}


class TrendConfigError(SettingPathError):
    """A bad trend definition; ``path`` is the key path (``trending.TPC[1].kind``)."""


@dataclass(frozen=True, slots=True)
class TrendSpec:
    """One validated trend definition; limits that are ``None`` are not set."""

    name: str
    kind: str
    histogram: str
    title: str = ""
    #: mean/rms: 0, 1, 2 for the x, y, z axis.
    axis: int = 0
    #: kind check: the name of the check whose figure is trended.
    check: str = ""
    #: kind plugin: the name handed to the plugin's ``trend`` hook.
    function: str = ""
    warning_min: float | None = None
    warning_max: float | None = None
    critical_min: float | None = None
    critical_max: float | None = None
    #: The key path it was defined at, for messages (``trending.TPC[1]``, ``defaults.TPC[0]``).
    source: str = ""

    @property
    def label(self) -> str:
        """What a page shows: the title, else the name."""
        return self.title or self.name


@dataclass(frozen=True, slots=True)
class TrendConfig:
    """All trend definitions, by subsystem."""

    subsystems: Mapping[str, tuple[TrendSpec, ...]] = field(default_factory=dict)

    def for_subsystem(self, subsystem: str) -> tuple[TrendSpec, ...]:
        return self.subsystems.get(subsystem, ())

    def find(self, subsystem: str, name: str) -> TrendSpec | None:
        return next((spec for spec in self.for_subsystem(subsystem) if spec.name == name), None)

    def __bool__(self) -> bool:
        return any(self.subsystems.values())

    def __str__(self) -> str:
        # What `overwatch config show` prints for the setting.
        parts = [f"{key}: {len(specs)}" for key, specs in self.subsystems.items() if specs]
        return ", ".join(parts) or "none"


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TrendConfigError(path, f"expected a number, got {value!r}")
    if not math.isfinite(value):
        raise TrendConfigError(path, f"expected a finite number, got {value!r}")
    return float(value)


def _text(raw: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str:
    value = raw.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise TrendConfigError(f"{path}.{key}", f"expected text, got {value!r}")
    return value


def _limits(raw: Mapping[str, Any], path: str) -> dict[str, Any]:
    limits = {
        key: (None if raw.get(key) is None else _number(raw[key], f"{path}.{key}"))
        for key in LIMIT_KEYS
    }
    for severity in ("warning", "critical"):
        low, high = limits[f"{severity}_min"], limits[f"{severity}_max"]
        if low is not None and high is not None and low > high:
            raise TrendConfigError(
                f"{path}.{severity}_min", f"{low:g} is above {severity}_max {high:g}"
            )
    # The warning band lies inside the critical one, or "warning" could be worse than "critical".
    warning_max, critical_max = limits["warning_max"], limits["critical_max"]
    if warning_max is not None and critical_max is not None and warning_max > critical_max:
        raise TrendConfigError(f"{path}.warning_max", f"{warning_max:g} is above critical_max")
    warning_min, critical_min = limits["warning_min"], limits["critical_min"]
    if warning_min is not None and critical_min is not None and warning_min < critical_min:
        raise TrendConfigError(f"{path}.warning_min", f"{warning_min:g} is below critical_min")
    return limits


def _spec(raw: Any, path: str) -> TrendSpec:
    if not isinstance(raw, Mapping):
        raise TrendConfigError(
            path,
            f"expected a mapping with name, kind and histogram (or {DEFAULTS_WORD!r}), got {raw!r}",
        )
    kind = raw.get("kind")
    if kind not in KINDS:
        raise TrendConfigError(f"{path}.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    allowed = _COMMON_KEYS | _KIND_KEYS[kind]
    unknown = sorted(str(key) for key in set(raw) - allowed)
    if unknown:
        raise TrendConfigError(
            f"{path}.{unknown[0]}",
            f"unknown parameter for kind {kind} (known: {', '.join(sorted(allowed))})",
        )
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise TrendConfigError(
            f"{path}.name",
            f"expected 1 to 128 letters, digits, '_', '.' or '-' (no spaces), got {name!r}",
        )
    histogram = _text(raw, "histogram", path)
    if len(histogram) > MAX_HISTOGRAM_LENGTH:
        raise TrendConfigError(f"{path}.histogram", "longer than a stored histogram name")
    extra: dict[str, Any] = {}
    if "axis" in raw:
        if raw["axis"] not in ("x", "y", "z"):
            raise TrendConfigError(f"{path}.axis", f"must be x, y or z, got {raw['axis']!r}")
        extra["axis"] = "xyz".index(raw["axis"])
    if kind == "check":
        extra["check"] = _text(raw, "check", path)
    if kind == "plugin":
        extra["function"] = _text(raw, "function", path)
    return TrendSpec(
        name=name,
        kind=kind,
        histogram=histogram,
        title=_text(raw, "title", path, required=False),
        source=path,
        **extra,
        **_limits(raw, path),
    )


def _specs(items: Any, path: str, defaults: Sequence[TrendSpec]) -> tuple[TrendSpec, ...]:
    if items is None:
        items = []
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise TrendConfigError(path, f"expected a list of trends, got {items!r}")
    specs: list[TrendSpec] = []
    for index, item in enumerate(items):
        if item == DEFAULTS_WORD:
            specs.extend(defaults)
        else:
            specs.append(_spec(item, f"{path}[{index}]"))
    seen: dict[str, TrendSpec] = {}
    for spec in specs:
        # Values are stored and addressed by name: two trends of one name would mix.
        if spec.name in seen:
            raise TrendConfigError(
                f"{spec.source}.name",
                f"trend name {spec.name!r} is already used by {seen[spec.name].source}",
            )
        seen[spec.name] = spec
    return tuple(specs)


def _defaults() -> dict[str, tuple[TrendSpec, ...]]:
    return {key: _specs(items, f"defaults.{key}", ()) for key, items in DEFAULT_TRENDS.items()}


def load_trend_config(raw: Any, path: str = "trending") -> TrendConfig:
    """Validate the raw ``trending`` mapping (as YAML loads it) over the built-in defaults.

    ``None`` or an empty mapping means the defaults only.
    """
    subsystems = dict(_defaults())
    if raw is None:
        return TrendConfig(subsystems)
    if not isinstance(raw, Mapping):
        raise TrendConfigError(path, f"expected a mapping of subsystem to trends, got {raw!r}")
    for key, items in raw.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise TrendConfigError(f"{path}.{key}", "expected a subsystem name (e.g. EMC)")
        subsystems[key] = _specs(items, f"{path}.{key}", subsystems.get(key, ()))
    return TrendConfig(subsystems)
