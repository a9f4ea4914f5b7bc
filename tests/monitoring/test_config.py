"""Check definitions: validation names the key path; the settings load, layer and document them."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from overwatch.config import ConfigError
from overwatch.config import load_settings
from overwatch.monitoring.config import PARAMETERS
from overwatch.monitoring.config import CheckConfig
from overwatch.monitoring.config import CheckConfigError
from overwatch.monitoring.config import load_check_config

ROOT = Path(__file__).resolve().parents[2]


def _one(**fields: Any) -> dict[str, Any]:
    return {"EMC": [{"histograms": "*", **fields}]}


@pytest.mark.parametrize(
    ("raw", "path", "reason"),
    [
        ("EMC", "checks", "expected a mapping of subsystem"),
        ({"EMC": {"kind": "mean"}}, "checks.EMC", "expected a list of checks"),
        ({"not a name": []}, "checks.not a name", "expected a subsystem name"),
        ({"EMC": ["mean"]}, "checks.EMC[0]", "expected a mapping"),
        (_one(kind="average"), "checks.EMC[0].kind", "must be one of entries, mean"),
        ({"EMC": [{"kind": "mean", "error_max": 1}]}, "checks.EMC[0].histograms", "missing"),
        (_one(kind="mean", histograms=[]), "checks.EMC[0].histograms", "expected a glob"),
        (_one(kind="mean", histograms=["*", 3]), "checks.EMC[0].histograms[1]", "expected a glob"),
        (_one(kind="mean"), "checks.EMC[0]", "give at least one of warning_min"),
        (
            _one(kind="mean", error_max="ten"),
            "checks.EMC[0].error_max",
            "expected a number, got 'ten'",
        ),
        (_one(kind="mean", error_max=True), "checks.EMC[0].error_max", "expected a number"),
        (_one(kind="mean", error_max=float("nan")), "checks.EMC[0].error_max", "finite"),
        (
            _one(kind="mean", warning_max=12, error_max=10),
            "checks.EMC[0].warning_max",
            "above error_max 10",
        ),
        (
            _one(kind="mean", warning_min=-1, error_min=0),
            "checks.EMC[0].warning_min",
            "below error_min 0",
        ),
        (
            _one(kind="rms", error_min=5, error_max=1),
            "checks.EMC[0].error_min",
            "above its maximum",
        ),
        (_one(kind="mean", error_max=1, axis="w"), "checks.EMC[0].axis", "must be x, y or z"),
        (
            _one(kind="maximum", error_max=1, axis="x"),
            "checks.EMC[0].axis",
            "unknown parameter for kind maximum",
        ),
        (_one(kind="mean", error_max=1, warning=2), "checks.EMC[0].warning", "unknown parameter"),
        (
            _one(kind="mean", error_max=1, min_entries=-3),
            "checks.EMC[0].min_entries",
            "must not be negative",
        ),
        (_one(kind="mean", error_max=1, name=""), "checks.EMC[0].name", "expected text"),
        (_one(kind="mean", error_max=1, name="x" * 129), "checks.EMC[0].name", "1 to 128"),
        (_one(kind="chi2", warning=6, error=5), "checks.EMC[0].warning", "6 is above error 5"),
        (_one(kind="chi2", normalize="yes"), "checks.EMC[0].normalize", "expected true or false"),
        (
            _one(kind="kolmogorov", warning=0.001, error=0.01),
            "checks.EMC[0].warning",
            "below error",
        ),
        (
            _one(kind="kolmogorov", statistic="d"),
            "checks.EMC[0].statistic",
            "probability or distance",
        ),
        (_one(kind="max_deviation", error=-1), "checks.EMC[0].error", "must not be negative"),
        (_one(kind="pull", pull_warning=6), "checks.EMC[0].pull_warning", "above pull_error 5"),
        (_one(kind="pull", chi2_error="x"), "checks.EMC[0].chi2_error", "expected a number"),
        (_one(kind="pull", pull_map="never"), "checks.EMC[0].pull_map", "problems or always"),
        (
            _one(kind="pull", normalize=False),
            "checks.EMC[0].normalize",
            "unknown parameter for kind pull",
        ),
    ],
)
def test_validation_errors_name_the_key_path(raw: Any, path: str, reason: str) -> None:
    with pytest.raises(CheckConfigError) as info:
        load_check_config(raw)
    assert info.value.path == path
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{path}: ")


def test_the_third_check_of_a_list_is_named_by_index() -> None:
    raw = {
        "EMC": [
            {"kind": "entries", "histograms": "*", "error_min": 1},
            {"kind": "mean", "name": "mean-a", "histograms": "a*", "error_max": 1},
            {"kind": "mean", "histograms": "b*", "max_mean": 10},
        ]
    }
    with pytest.raises(CheckConfigError, match=r"^checks\.EMC\[2\]\.max_mean: unknown parameter"):
        load_check_config(raw)


def test_check_names_are_unique_per_subsystem_including_the_shared_ones() -> None:
    raw = {
        "*": [{"kind": "mean", "histograms": "*", "error_max": 1}],
        "EMC": [{"kind": "mean", "histograms": "x*", "error_max": 2}],
    }
    with pytest.raises(CheckConfigError) as info:
        load_check_config(raw)
    assert info.value.path == "checks.EMC[0].name"
    assert "already used by checks.*[0]" in info.value.reason
    raw["EMC"][0]["name"] = "x-mean"
    assert [s.name for s in load_check_config(raw).for_subsystem("EMC")] == ["mean", "x-mean"]


def test_defaults_of_each_kind() -> None:
    config = load_check_config(
        {
            "HLT": [
                {"kind": "entries", "histograms": "*", "error_min": 10},
                {"kind": "chi2", "histograms": "*"},
                {"kind": "kolmogorov", "name": "ks-p", "histograms": "*"},
                {"kind": "kolmogorov", "name": "ks-d", "histograms": "*", "statistic": "distance"},
                {"kind": "pull", "histograms": "*"},
                {"kind": "mean", "histograms": "*", "error_max": 1, "axis": "y"},
            ]
        }
    )
    entries, chi2, ks_p, ks_d, pull, mean = config.for_subsystem("HLT")
    # An entries check judges emptiness itself; the others need an entry to judge.
    assert entries.min_entries == 0
    assert mean.min_entries == 1
    assert mean.axis == 1
    assert (chi2.warning, chi2.error, chi2.normalize) == (2.0, 5.0, True)
    assert (ks_p.warning, ks_p.error) == (0.01, 1e-4)
    assert (ks_d.warning, ks_d.error) == (0.1, 0.2)
    assert (pull.pull_warning, pull.pull_error, pull.chi2_warning, pull.chi2_error) == (3, 5, 2, 4)
    assert chi2.source == "checks.HLT[1]"


def test_globs_select_by_full_name_and_exclude() -> None:
    config = load_check_config(
        {
            "*": [{"kind": "entries", "histograms": "*", "exclude": "*_pulls", "error_min": 1}],
            "EMC": [
                {"kind": "mean", "histograms": ["*FastORL0_SM[0-9]", "EMC/h?"], "error_max": 1},
            ],
        }
    )

    def names(subsystem: str, name: str) -> list[str]:
        return [s.name for s in config.matching(subsystem, name)]

    assert names("EMC", "EMCTRQA_histFastORL0_SM7") == ["entries", "mean"]
    assert names("EMC", "EMCTRQA_histFastORL0_SM17") == ["entries"]
    assert names("EMC", "EMC/hA") == ["entries", "mean"]
    assert names("EMC", "emc/hA") == ["entries"]  # case matters
    assert names("EMC", "EMC/hA_pulls") == []
    assert names("TPC", "EMC/hA") == ["entries"]


def test_a_glob_cannot_backtrack_catastrophically() -> None:
    # A regular expression like (a*)*b takes exponential time on "aaaa...c"; globs do not.
    config = load_check_config(
        {"EMC": [{"kind": "mean", "histograms": "*a*a*a*a*a*a*a*b", "error_max": 1}]}
    )
    assert config.matching("EMC", "a" * 5000 + "c") == ()


def test_empty_config_and_config_pickles() -> None:
    assert not load_check_config(None)
    assert not load_check_config({"EMC": None})
    config = load_check_config(_one(kind="pull"))
    assert config
    assert pickle.loads(pickle.dumps(config)) == config
    assert str(config) == "EMC: 1 check"


def _example_block() -> str:
    text = (ROOT / "config.yaml").read_text()
    lines = text.split("# checks:\n", 1)[1].split("\nchecks: {}", 1)[0].splitlines()
    return "checks:\n" + "\n".join(re.sub(r"^# ?", "", line) for line in lines)


def test_the_commented_example_in_config_yaml_is_valid() -> None:
    raw = yaml.safe_load(_example_block())["checks"]
    config = load_check_config(raw)
    assert {s.kind for specs in config.subsystems.values() for s in specs} >= {
        "entries", "mean", "empty_fraction", "pull", "kolmogorov", "chi2",
    }  # fmt: skip


def test_settings_validate_checks_and_name_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("checks:\n  EMC:\n    - {kind: mean, histograms: '*', error_max: ten}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config, environ={})
    assert info.value.key == "checks"
    assert info.value.source == str(config)
    assert "checks.EMC[0].error_max: expected a number, got 'ten'" in str(info.value)


def test_settings_hold_the_checks_from_file_environment_or_checks_file(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("checks:\n  EMC:\n    - {kind: mean, histograms: '*', error_max: 10}\n")
    settings = load_settings(config, environ={})
    assert isinstance(settings.checks, CheckConfig)
    assert [s.error_max for s in settings.checks.for_subsystem("EMC")] == [10.0]
    assert ("checks", "EMC: 1 check", str(config)) in settings.describe()

    env = {"OVERWATCH_CHECKS": "{TPC: [{kind: chi2, histograms: 'TPCQA/*'}]}"}
    from_env = load_settings(config, environ=env)
    assert list(from_env.checks.subsystems) == ["TPC"]

    # A checks file, relative to the config file.
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "checks.yaml").write_text(
        "HLT:\n  - {kind: entries, histograms: '*', error_min: 5}\n"
    )
    config.write_text("checks_file: rules/checks.yaml\n")
    settings = load_settings(config, environ={})
    assert settings.checks_file == tmp_path / "rules" / "checks.yaml"
    assert [s.kind for s in settings.checks.for_subsystem("HLT")] == ["entries"]
    assert load_settings(use_default_file=False, environ={}).checks == CheckConfig()


def test_checks_file_errors_name_file_and_key(tmp_path: Path) -> None:
    rules = tmp_path / "checks.yaml"
    rules.write_text("HLT:\n  - {kind: entries, histograms: '*'}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(overrides={"checks_file": str(rules)}, use_default_file=False, environ={})
    assert info.value.key == "checks_file"
    assert info.value.source == str(rules)
    assert "checks.HLT[0]: give at least one of warning_min" in str(info.value)

    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(
            overrides={"checks_file": str(tmp_path / "missing.yaml")},
            use_default_file=False,
            environ={},
        )
    rules.write_text("HLT: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(overrides={"checks_file": str(rules)}, use_default_file=False, environ={})


def test_checks_in_two_places_are_refused(tmp_path: Path) -> None:
    rules = tmp_path / "checks.yaml"
    rules.write_text("HLT:\n  - {kind: entries, histograms: '*', error_min: 5}\n")
    config = tmp_path / "config.yaml"
    config.write_text(
        "checks_file: checks.yaml\nchecks:\n  EMC:\n    - {kind: entries, histograms: '*', error_min: 1}\n"
    )
    with pytest.raises(ConfigError, match="give them in one place only"):
        load_settings(config, environ={})


def test_docs_describe_every_kind_and_parameter_and_their_example_is_valid() -> None:
    docs = (ROOT / "docs" / "checks.md").read_text()
    for name in sorted(set(PARAMETERS).union(*PARAMETERS.values())):
        assert f"`{name}`" in docs, f"docs/checks.md does not describe {name}"
    example = docs.split("## A complete example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    config = load_check_config(yaml.safe_load(example)["checks"])
    assert [s.name for s in config.for_subsystem("TPC")][-2:] == ["dca-chi2", "dca-deviation"]
