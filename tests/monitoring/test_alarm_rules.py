"""Alarm rules on plain data: every kind on its edge cases (no history, NaN, a run gap),
AND/OR, and configuration errors naming the key."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from overwatch.monitoring.alarms import AlarmConfigError
from overwatch.monitoring.alarms import CheckQuality
from overwatch.monitoring.alarms import TrendPoint
from overwatch.monitoring.alarms import Verdict
from overwatch.monitoring.alarms import check_hits
from overwatch.monitoring.alarms import combine
from overwatch.monitoring.alarms import evaluate_trend
from overwatch.monitoring.alarms import load_alarm_config
from overwatch.monitoring.alarms import next_streaks
from overwatch.monitoring.alarms import silence_verdict

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _rule(**fields: Any) -> Any:
    raw = {"name": "r", "subsystem": "TPC", "target": "t", **fields}
    return load_alarm_config([raw]).rules[0]


def _points(*values: float, runs: list[int] | None = None) -> list[TrendPoint]:
    runs = runs or list(range(100, 100 + len(values)))
    return [
        TrendPoint(run, T0 + timedelta(minutes=i), v)
        for i, (run, v) in enumerate(zip(runs, values, strict=True))
    ]


NAN = float("nan")
CASES = [
    # (rule fields, values, expected fired)
    ({"kind": "value_range", "min": 0, "max": 1}, [], None),
    ({"kind": "value_range", "min": 0, "max": 1}, [0.5, 2.0], True),
    ({"kind": "value_range", "min": 0, "max": 1}, [2.0, 0.5], False),
    ({"kind": "value_range", "min": 0, "max": 1}, [2.0, NAN], True),  # NaN is no news
    ({"kind": "mean_range", "max": 1, "last": 3}, [5.0, 5.0], None),
    ({"kind": "mean_range", "max": 1, "last": 3}, [0.0, 0.0, 0.0, 4.0], True),
    ({"kind": "mean_range", "max": 1, "last": 3}, [9.0, 0.0, 0.0, 2.0], False),
    ({"kind": "mean_range", "max": 1, "last": 2}, [0.0, NAN, NAN], None),
    ({"kind": "change", "max_absolute": 1}, [5.0], None),
    ({"kind": "change", "max_absolute": 1}, [5.0, 6.5], True),
    ({"kind": "change", "max_absolute": 1}, [5.0, 5.5], False),
    ({"kind": "change", "max_relative": 0.1}, [10.0, NAN, 12.0], True),
    ({"kind": "change", "max_relative": 0.1}, [0.0, 0.0], False),
    ({"kind": "change", "max_relative": 0.1}, [0.0, 1.0], True),
    ({"kind": "fraction_in_range", "max": 1, "last": 4, "fraction": 0.75}, [0, 0, 0], None),
    ({"kind": "fraction_in_range", "max": 1, "last": 4, "fraction": 0.75}, [0, 0, 0, 5], False),
    ({"kind": "fraction_in_range", "max": 1, "last": 4, "fraction": 0.75}, [0, 0, 5, 5], True),
]


@pytest.mark.parametrize(("fields", "values", "fired"), CASES)
def test_trend_rules_on_their_edge_cases(
    fields: dict[str, Any], values: list[float], fired: bool | None
) -> None:
    verdict = evaluate_trend(_rule(**fields), _points(*values))
    assert verdict.fired is fired, verdict.message


def test_a_gap_in_runs_compares_with_the_previous_stored_run() -> None:
    verdict = evaluate_trend(
        _rule(kind="change", max_absolute=1), _points(1.0, 5.0, runs=[100, 107])
    )
    assert verdict.fired is True
    assert verdict.run_number == 107
    assert "run 100" in verdict.message


def test_runs_series_takes_the_last_value_of_each_run_and_snapshots_every_value() -> None:
    points = _points(0.0, 9.0, 0.5, runs=[100, 101, 101])
    assert evaluate_trend(_rule(kind="change", max_absolute=1), points).fired is False
    snapshots = _rule(kind="change", max_absolute=1, series="snapshots")
    assert evaluate_trend(snapshots, points).fired is True


def test_check_rule_counts_results_in_a_row_per_histogram() -> None:
    rule = _rule(kind="check_quality", target="EMC*", quality="medium", consecutive=2)
    results = [
        CheckQuality("EMC_a", "plugin", "medium"),
        CheckQuality("EMC_b", "plugin", "good"),
        CheckQuality("TPC_c", "plugin", "bad"),
    ]
    hits = check_hits(rule, results)
    assert hits == {"EMC_a": True, "EMC_b": False}
    streaks = next_streaks({"EMC_a": 1, "EMC_b": 3}, hits)
    assert streaks == {"EMC_a": 2}
    assert check_hits(rule, []) == {}
    bad_only = _rule(kind="check_quality", target="*")
    assert check_hits(bad_only, [CheckQuality("x", "mean", "medium")]) == {"x": False}


def test_receiver_silence() -> None:
    rule = _rule(kind="receiver_silence", target="dqm*", minutes=10)
    assert silence_verdict(rule, "dqm", T0, T0 + timedelta(minutes=11)).fired is True
    assert silence_verdict(rule, "dqm", T0, T0 + timedelta(minutes=9)).fired is False


@pytest.mark.parametrize(
    ("kind", "parts", "fired"),
    [
        ("all", [True, True], True),
        ("all", [True, False], False),
        ("all", [True, None], None),
        ("all", [None, False], False),
        ("any", [False, True], True),
        ("any", [False, False], False),
        ("any", [None, False], None),
        ("any", [None, True], True),
    ],
)
def test_and_or(kind: str, parts: list[bool | None], fired: bool | None) -> None:
    rule = _rule(
        kind=kind,
        rules=[
            {"kind": "value_range", "target": "a", "max": 1},
            {"kind": "change", "target": "b", "max_absolute": 1},
        ],
    )
    verdict = combine(rule, [Verdict(p, f"part {i}", 100 + i) for i, p in enumerate(parts)])
    assert verdict.fired is fired


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"kind": "mean_range", "max": "ten"}, "alarms[0].max"),
        ({"kind": "value_range"}, "alarms[0]"),
        ({"kind": "value_range", "min": 2, "max": 1}, "alarms[0].min"),
        ({"kind": "nope"}, "alarms[0].kind"),
        ({"kind": "value_range", "max": 1, "severity": "loud"}, "alarms[0].severity"),
        ({"kind": "value_range", "max": 1, "extra": 1}, "alarms[0].extra"),
        ({"kind": "check_quality", "consecutive": 0}, "alarms[0].consecutive"),
        ({"kind": "receiver_silence"}, "alarms[0].minutes"),
        (
            {"kind": "any", "rules": [{"kind": "value_range", "target": "a", "max": 1}]},
            "alarms[0].rules",
        ),
        (
            {"kind": "all", "rules": [{"kind": "receiver_silence", "target": "a"}, {}]},
            "alarms[0].rules[0].kind",
        ),
    ],
)
def test_bad_rules_name_their_key(raw: dict[str, Any], path: str) -> None:
    with pytest.raises(AlarmConfigError) as caught:
        load_alarm_config([{"name": "r", "subsystem": "TPC", "target": "t", **raw}])
    assert caught.value.path == path


def test_duplicate_names_and_the_default() -> None:
    one = {"name": "r", "kind": "value_range", "subsystem": "TPC", "target": "t", "max": 1}
    with pytest.raises(AlarmConfigError, match="already used"):
        load_alarm_config([one, one])
    assert [r.name for r in load_alarm_config(None).rules] == ["bad histogram"]
    assert not load_alarm_config([])
