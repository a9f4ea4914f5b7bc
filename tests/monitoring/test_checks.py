"""The integration surface: run_checks, aggregation, plugin outcomes, worker processes."""

from __future__ import annotations

import copy
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import skhep_testdata

from overwatch.detectors.api import CheckOutcome
from overwatch.histograms.model import Histogram
from overwatch.monitoring.checks import PLUGIN_CHECK_NAME
from overwatch.monitoring.checks import CheckResult
from overwatch.monitoring.checks import from_plugin_outcome
from overwatch.monitoring.checks import histogram_quality
from overwatch.monitoring.checks import no_reference_reason
from overwatch.monitoring.checks import run_checks
from overwatch.monitoring.checks import run_quality
from overwatch.monitoring.checks import subsystem_quality
from overwatch.monitoring.config import KINDS
from overwatch.monitoring.config import CheckConfig
from overwatch.monitoring.config import load_check_config
from overwatch.processing.reader import read_file
from tests import rootfiles
from tests.monitoring.builders import model_th1

CONFIG = {
    "*": [{"kind": "entries", "histograms": "*", "error_min": 1}],
    "EMC": [
        {"kind": "mean", "histograms": "EMC/*", "warning_max": 8, "error_max": 10},
        {"kind": "pull", "histograms": ["EMC/energy", "EMC/other"]},
        {"kind": "maximum", "histograms": "TPC/*", "error_max": 1},
    ],
}


def _every_kind() -> CheckConfig:
    parameters: dict[str, dict[str, float]] = {
        "entries": {"error_min": 1},
        "mean": {"error_max": 1e9},
        "rms": {"error_max": 1e9},
        "maximum": {"error_max": 1e9},
        "integral": {"error_max": 1e9},
        "empty_fraction": {"error_max": 1},
    }
    return load_check_config(
        {"X": [{"kind": kind, "histograms": "*", **parameters.get(kind, {})} for kind in KINDS]}
    )


def test_run_checks_selects_by_subsystem_and_name_in_order() -> None:
    config = load_check_config(CONFIG)
    hist = model_th1([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5], name="EMC/energy")
    results = run_checks(hist, subsystem="EMC", config=config, references={})
    assert [r.check for r in results] == ["entries", "mean", "pull"]
    assert [r.quality for r in results] == ["good", "bad", None]
    assert results[1].reason == "mean 11.5 above the error limit 10 (warning 8)"
    assert results[2].reason == "no reference histogram of this name: nothing to compare with"
    assert histogram_quality(results) == "bad"
    # The caller says why there is no reference: none set, or none of this name.
    unset = run_checks(
        hist,
        subsystem="EMC",
        config=config,
        no_reference=no_reference_reason("EMC", None),
    )
    assert unset[2].quality is None
    assert unset[2].reason.startswith("no reference run set for EMC: nothing to compare with")
    absent = run_checks(
        hist, subsystem="EMC", config=config, no_reference=no_reference_reason("EMC", 294800)
    )
    assert absent[2].reason == "reference run 294800 has no EMC histogram of this name"
    # Other subsystems get only the checks for every subsystem.
    assert [r.check for r in run_checks(hist, subsystem="HLT", config=config)] == ["entries"]
    assert run_checks(hist, subsystem="HLT", config=CheckConfig()) == []


def test_references_may_be_one_histogram_or_several_runs() -> None:
    config = load_check_config(CONFIG)
    rng = np.random.default_rng(3)
    hist = model_th1(rng.poisson(100, 20), name="EMC/energy")
    refs = [model_th1(rng.poisson(100, 20), name="EMC/energy") for _ in range(2)]
    one = run_checks(hist, subsystem="EMC", config=config, references={"EMC/energy": refs[0]})
    several = run_checks(hist, subsystem="EMC", config=config, references={"EMC/energy": refs})
    assert one[2].quality == several[2].quality == "good"
    assert one[2].value != several[2].value
    # Good: no pull map unless the check asks for one always.
    assert one[2].extra is None


def test_aggregation_is_the_worst_quality_and_null_only_when_nothing_was_judged() -> None:
    results = [CheckResult("a", "good", ""), CheckResult("b", None, "no reference")]
    assert histogram_quality(results) == "good"
    assert histogram_quality(results, "medium") == "medium"
    assert histogram_quality([CheckResult("b", None, "")]) is None
    assert subsystem_quality(["good", None, "medium", "good"]) == "medium"
    assert subsystem_quality([None, None]) is None
    assert run_quality(["medium", "bad", None]) == "bad"
    assert run_quality([]) is None


def test_a_plugin_outcome_becomes_a_result() -> None:
    result = from_plugin_outcome(CheckOutcome("bad", "hot channels 12, 57"))
    assert result == CheckResult(PLUGIN_CHECK_NAME, "bad", "hot channels 12, 57")
    assert from_plugin_outcome(None) is None


def _real_histograms(directory: Path) -> list[Histogram]:
    sample = read_file(rootfiles.write_sample_file(directory / "sample.root")).histograms
    hepdata = read_file(skhep_testdata.data_path("uproot-hepdata-example.root")).histograms
    odd = [
        model_th1([np.nan, 1.0], name="nan"),
        model_th1([], name="nobins"),
        model_th1([1.0], name="one"),
        model_th1([0.0, 0.0], entries=3.0, name="entries-but-empty"),
        model_th1([-5.0, 2.0], entries=3.0, name="negative"),
    ]
    return sample + hepdata + odd


def test_every_kind_on_every_real_histogram_never_raises(tmp_path: Path) -> None:
    config = _every_kind()
    hists = _real_histograms(tmp_path)
    assert {h.class_name for h in hists} >= {"TH1F", "TH2F", "TH3D", "TProfile", "TProfile2D"}
    for hist in hists:
        for references in ({}, {hist.name: hist}, {hist.name: [hist, hist]}):
            original = hist.copy()
            results = run_checks(hist, subsystem="X", config=config, references=references)
            assert len(results) == len(KINDS)
            for result in results:
                assert result.quality in ("good", "medium", "bad", None), (hist.name, result)
                assert result.reason, (hist.name, result)
            np.testing.assert_array_equal(hist.contents, original.contents)


def _check_in_worker(payload: bytes) -> bytes:
    hist, config = pickle.loads(payload)
    return pickle.dumps(
        run_checks(hist, subsystem="EMC", config=config, references={hist.name: hist})
    )


@pytest.mark.slow
def test_config_and_results_cross_process_boundaries(tmp_path: Path) -> None:
    raw = copy.deepcopy(CONFIG)
    pull = next(check for check in raw["EMC"] if check["kind"] == "pull")
    pull["pull_map"] = "always"  # so that a pull map crosses too
    config = load_check_config(raw)
    hist = model_th1([1, 5, 9, 2], name="EMC/energy")
    expected = run_checks(hist, subsystem="EMC", config=config, references={hist.name: hist})
    # spawn: the child gets the config only by pickling, as any worker process would.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        results = pickle.loads(pool.submit(_check_in_worker, pickle.dumps((hist, config))).result())
    assert [(r.check, r.quality, r.reason, r.value) for r in results] == [
        (r.check, r.quality, r.reason, r.value) for r in expected
    ]
    assert results[2].extra is not None
    np.testing.assert_array_equal(results[2].extra.contents, expected[2].extra.contents)  # type: ignore[union-attr]


def test_a_derived_histogram_without_entries_is_judged_not_called_empty() -> None:
    config = load_check_config({"EMC": [{"kind": "maximum", "histograms": "*", "error_max": 1}]})
    ratio = model_th1([0.5, 2.0, 0.7], name="EMC/ratio", entries=0)
    (result,) = run_checks(ratio, subsystem="EMC", config=config)
    assert (result.quality, result.reason) == ("bad", "maximum 2 above the error limit 1")
    empty = model_th1([0.0, 0.0, 0.0], name="EMC/ratio", entries=0)
    (result,) = run_checks(empty, subsystem="EMC", config=config)
    assert (result.quality, result.reason) == (
        None,
        "empty histogram (0 entries): nothing to judge yet",
    )
