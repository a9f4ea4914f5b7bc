"""The trending setting: built-in defaults, the `defaults` word, and errors naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from overwatch.config import ConfigError
from overwatch.config import load_settings
from overwatch.monitoring.trending import load_trend_config
from overwatch.monitoring.trending import trend_limits
from overwatch.monitoring.trending.config import DEFAULT_TRENDS
from overwatch.monitoring.trending.config import TrendConfigError

EXTRA = {"name": "pt_mean", "kind": "mean", "histogram": "TPCQA/h_tpc_track_all_recvertex_7"}


def test_defaults_cover_emc_hlt_and_tpc_and_every_kind_but_check() -> None:
    config = load_trend_config(None)
    assert set(config.subsystems) == {"EMC", "HLT", "TPC"}
    kinds = {spec.kind for specs in config.subsystems.values() for spec in specs}
    assert kinds == {"mean", "rms", "entries", "plugin"}
    assert [s.name for s in config.for_subsystem("TPC")][:2] == ["dca_r", "dca_r_rms"]
    assert config.find("HLT", "spd_clusters").axis == 1  # type: ignore[union-attr]


def test_a_subsystem_named_gets_its_list_with_defaults_standing_for_the_built_in_ones() -> None:
    config = load_trend_config({"TPC": ["defaults", EXTRA], "EMC": [], "MUO": [EXTRA]})
    assert [s.name for s in config.for_subsystem("TPC")][-1] == "pt_mean"
    assert len(config.for_subsystem("TPC")) == len(DEFAULT_TRENDS["TPC"]) + 1
    assert config.for_subsystem("EMC") == ()
    assert [s.name for s in config.for_subsystem("MUO")] == ["pt_mean"]
    assert len(config.for_subsystem("HLT")) == len(DEFAULT_TRENDS["HLT"])  # untouched


@pytest.mark.parametrize(
    ("raw", "path", "reason"),
    [
        ([], "trending", "expected a mapping of subsystem to trends"),
        ({"TPC": "dca"}, "trending.TPC", "expected a list of trends"),
        ({"TPC": [{**EXTRA, "kind": "median"}]}, "trending.TPC[0].kind", "must be one of"),
        ({"TPC": [{**EXTRA, "name": "p t"}]}, "trending.TPC[0].name", "no spaces"),
        ({"TPC": [{**EXTRA, "bins": 3}]}, "trending.TPC[0].bins", "unknown parameter"),
        ({"TPC": [{**EXTRA, "axis": "w"}]}, "trending.TPC[0].axis", "must be x, y or z"),
        ({"TPC": [{**EXTRA, "histogram": ""}]}, "trending.TPC[0].histogram", "expected text"),
        ({"TPC": [{**EXTRA, "kind": "check"}]}, "trending.TPC[0].check", "expected text"),
        ({"TPC": [{**EXTRA, "kind": "plugin"}]}, "trending.TPC[0].function", "expected text"),
        ({"TPC": [{**EXTRA, "warning_max": "1"}]}, "trending.TPC[0].warning_max", "number"),
        (
            {"TPC": [{**EXTRA, "warning_min": 2, "warning_max": 1}]},
            "trending.TPC[0].warning_min",
            "is above warning_max",
        ),
        (
            {"TPC": [{**EXTRA, "warning_max": 3, "critical_max": 2}]},
            "trending.TPC[0].warning_max",
            "is above critical_max",
        ),
        ({"TPC": ["defaults", {**EXTRA, "name": "dca_r"}]}, "trending.TPC[1].name",
         "already used by defaults.TPC[0]"),
        ({"1PC": []}, "trending.1PC", "expected a subsystem name"),
    ],
)  # fmt: skip
def test_a_bad_definition_names_its_key(raw: Any, path: str, reason: str) -> None:
    with pytest.raises(TrendConfigError) as caught:
        load_trend_config(raw)
    assert caught.value.path == path
    assert reason in caught.value.reason


def test_settings_refuse_a_bad_trend_at_start_naming_the_key(tmp_path: Any) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("trending:\n  TPC:\n    - {name: x, kind: mean}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})
    assert caught.value.key == "trending"
    assert "trending.TPC[0].histogram: expected text" in str(caught.value)


def test_limits_come_from_the_definition() -> None:
    settings = load_settings(
        overrides={"trending": {"TPC": [{**EXTRA, "critical_min": 0.1}]}},
        use_default_file=False,
        environ={},
    )
    assert trend_limits(settings, "TPC", "pt_mean") == [
        {"low": 0.1, "high": None, "severity": "critical", "source": "trending.TPC[0] (trend definition)"}
    ]  # fmt: skip
    assert trend_limits(settings, "TPC", "dca_r") == []  # TPC's defaults are not used here
    assert trend_limits(settings, "XYZ", "pt_mean") == []


def test_limits_of_alarm_range_rules_on_the_trend_follow_the_definitions_own() -> None:
    rules = [
        {"name": "pt low", "kind": "value_range", "subsystem": "TPC", "target": "pt_mean",
         "min": 0.5, "severity": "warning"},
        {"name": "pt both", "kind": "all", "subsystem": "*", "severity": "critical",
         "rules": [{"kind": "mean_range", "target": "pt_mean", "last": 3, "max": 9.0},
                   {"kind": "change", "target": "pt_mean", "max_absolute": 2.0}]},
        {"name": "other trend", "kind": "value_range", "subsystem": "TPC", "target": "dca_r",
         "max": 1.0},
        {"name": "other subsystem", "kind": "value_range", "subsystem": "EMC",
         "target": "pt_mean", "max": 1.0},
    ]  # fmt: skip
    settings = load_settings(
        overrides={"trending": {"TPC": [{**EXTRA, "critical_min": 0.1}]}, "alarms": rules},
        use_default_file=False,
        environ={},
    )
    assert trend_limits(settings, "TPC", "pt_mean") == [
        {"low": 0.1, "high": None, "severity": "critical", "source": "trending.TPC[0] (trend definition)"},
        {"low": 0.5, "high": None, "severity": "warning", "source": "pt low"},
        {"low": None, "high": 9.0, "severity": "critical", "source": "pt both"},
    ]  # fmt: skip
