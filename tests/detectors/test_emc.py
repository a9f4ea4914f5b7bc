"""The EMC plugin on hand-made ROOT files: events scaling, hot channels, outliers, groups."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from overwatch.detectors import OptionError
from overwatch.detectors import ProcessingContext
from overwatch.detectors import get_plugin
from overwatch.detectors.emc import EMCPlugin
from overwatch.detectors.emc_geometry import ADC_TO_GEV
from overwatch.detectors.emc_geometry import detector_tru_lines
from overwatch.detectors.emc_geometry import supermodule_shape
from overwatch.processing.reader import read_file
from tests import rootfiles
from tests.detectors.helpers import context
from tests.detectors.helpers import process

EVENTS = 2000.0
CHANNELS = 100


def _channels(hot: dict[int, float] | None = None, level: float = 5.0) -> np.ndarray[Any, Any]:
    """Hits per channel: ``level`` everywhere (0.25 % of the events), ``hot`` on top."""
    values = np.full(CHANNELS, level)
    for channel, hits in (hot or {}).items():
        values[channel] = hits
    return values


def _lines(row: Any) -> list[list[float]]:
    """The TRU grid as stored: TLine objects in the histogram's fFunctions."""
    functions = json.loads(gzip.decompress(row.json_gz))["fFunctions"]
    assert all(f["_typename"] == "TLine" for f in functions["arr"])
    return [[f["fX1"], f["fY1"], f["fX2"], f["fY2"]] for f in functions["arr"]]


def _emc_file(tmp_path: Path, extra: dict[str, Any] | None = None, events: float = EVENTS) -> Path:
    objects: dict[str, Any] = {
        "EMCTRQA_histEvents": rootfiles.th1("EMCTRQA_histEvents", [events]),
        "EMCTRQA_histFastORL0": rootfiles.th1(
            "EMCTRQA_histFastORL0", _channels({37: 60.0}), title="FastOR L0 hits", kind="D"
        ),
    }
    objects.update(extra or {})
    return rootfiles.write_file(tmp_path / "emc.root", objects)


def _payload(row: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(gzip.decompress(row.json_gz))
    return parsed


def test_the_emc_plugin_serves_emc_by_default() -> None:
    assert isinstance(get_plugin("EMC"), EMCPlugin)


def test_a_hot_channel_is_reported_with_exactly_its_id(tmp_path: Path) -> None:
    result, rows = process(EMCPlugin(), _emc_file(tmp_path), "EMC")

    row = rows["EMCTRQA_histFastORL0"]
    assert row.info["hot_channels"] == [37]
    assert row.info["hot_channel_threshold"] == 1e-2
    assert row.quality == "bad"
    assert "ID 37" in row.info["check"]
    assert result.quality == "bad"


def test_channels_below_the_threshold_are_not_hot(tmp_path: Path) -> None:
    # 19 hits in 2000 events is 0.0095 per event, just below the default 1e-2.
    path = _emc_file(
        tmp_path,
        {"EMCTRQA_histFastORL1": rootfiles.th1("EMCTRQA_histFastORL1", _channels({3: 19.0}))},
    )
    _, rows = process(EMCPlugin(), path, "EMC")

    assert rows["EMCTRQA_histFastORL1"].info["hot_channels"] == []
    assert rows["EMCTRQA_histFastORL1"].quality == "good"


@pytest.mark.parametrize(
    ("name", "level", "hot", "expected"),
    [
        # Defaults as in the original: LargeAmp 1e-7 (any hit), Amp 1e4 per event.
        ("EMCTRQA_histFastORL0LargeAmp", 0.0, {12: 1.0}, [12]),
        ("EMCTRQA_histFastORL0Amp", 1e6, {50: 2.5e7}, [50]),
        ("EMCTRQA_histFastORL0Amp", 1e6, {50: 1.9e7}, []),
    ],
)
def test_default_thresholds_depend_on_the_histogram(
    tmp_path: Path, name: str, level: float, hot: dict[int, float], expected: list[int]
) -> None:
    path = _emc_file(tmp_path, {name: rootfiles.th1(name, _channels(hot, level))})

    _, rows = process(EMCPlugin(), path, "EMC")

    assert rows[name].info["hot_channels"] == expected


def test_the_threshold_option_overrides_the_defaults_in_the_original_unit(tmp_path: Path) -> None:
    # 5 in the form means 0.005 per event: 19 hits in 2000 events (0.0095) is now hot, 5 is not.
    path = _emc_file(
        tmp_path,
        {"EMCTRQA_histFastORL1": rootfiles.th1("EMCTRQA_histFastORL1", _channels({3: 19.0}))},
    )
    _, rows = process(EMCPlugin(), path, "EMC", hot_channel_threshold="5")

    assert rows["EMCTRQA_histFastORL1"].info["hot_channel_threshold"] == 0.005
    assert rows["EMCTRQA_histFastORL1"].info["hot_channels"] == [3]
    assert rows["EMCTRQA_histFastORL0"].info["hot_channels"] == [37]


def test_scaling_by_the_number_of_events_is_exact(tmp_path: Path) -> None:
    path = _emc_file(tmp_path)
    [original] = [h for h in read_file(path).histograms if h.name == "EMCTRQA_histFastORL0"]

    _, rows = process(EMCPlugin(), path, "EMC")

    payload = _payload(rows["EMCTRQA_histFastORL0"])
    contents = np.asarray(payload["fArray"])
    # As TH1::Scale(1 / events): each content times the factor.
    np.testing.assert_array_equal(contents[1:-1], original.values() * (1.0 / EVENTS))
    # Sumw2 before scaling: the errors are sqrt(N) / events.
    np.testing.assert_allclose(np.asarray(payload["fSumw2"])[1:-1], original.values() / EVENTS**2)
    assert payload["fEntries"] == original.entries
    assert payload["fYaxis"]["fTitle"] == "entries / events"
    assert f"Scaled by 1/{EVENTS:g} events" in rows["EMCTRQA_histFastORL0"].info["info"]
    # The events histogram itself is left alone.
    assert np.asarray(_payload(rows["EMCTRQA_histEvents"])["fArray"])[1] == EVENTS


def test_without_scaling_the_hot_channel_search_still_uses_rates(tmp_path: Path) -> None:
    _, rows = process(EMCPlugin(), _emc_file(tmp_path), "EMC", scale_hists=False)

    row = rows["EMCTRQA_histFastORL0"]
    assert np.asarray(_payload(row)["fArray"])[38] == 60.0
    assert row.info["hot_channels"] == [37]


def test_the_events_histogram_is_found_by_name_in_any_case(tmp_path: Path) -> None:
    path = rootfiles.write_file(
        tmp_path / "emc.root",
        {
            "QA/hNEvents": rootfiles.th1("hNEvents", [500.0, 7.0]),
            "EMCTRQA_histFastORL0": rootfiles.th1("EMCTRQA_histFastORL0", _channels({5: 6.0})),
        },
    )
    _, rows = process(EMCPlugin(), path, "EMC")

    # 6 hits in 500 events is 0.012 per event, above 1e-2.
    assert rows["EMCTRQA_histFastORL0"].info["hot_channels"] == [5]


def test_without_an_events_histogram_nothing_is_scaled_or_searched(tmp_path: Path) -> None:
    path = rootfiles.write_file(
        tmp_path / "emc.root",
        {"EMCTRQA_histFastORL0": rootfiles.th1("EMCTRQA_histFastORL0", _channels({37: 60.0}))},
    )
    _, rows = process(EMCPlugin(), path, "EMC")

    row = rows["EMCTRQA_histFastORL0"]
    assert "hot_channels" not in row.info
    assert any("number of events is unknown" in line for line in row.info["info"])
    assert np.asarray(_payload(row)["fArray"])[38] == 60.0


def _sm_map(values: np.ndarray[Any, Any], name: str) -> Any:
    columns, rows = values.shape
    return rootfiles.th2(
        name,
        values,
        xaxis=rootfiles.axis("xaxis", columns, 0, columns),
        yaxis=rootfiles.axis("yaxis", rows, 0, rows),
    )


def test_outliers_in_a_supermodule_map_are_flagged_with_column_and_row(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    hits = rng.poisson(200.0, supermodule_shape(4)).astype(np.float64)
    hits[13, 7] = 2000.0
    hits[2, 3] = 0.0  # a dead FastOR among live ones
    path = _emc_file(tmp_path, {"EMCTRQA_histFastORL0_SM4": _sm_map(hits, "SM4")})

    _, rows = process(EMCPlugin(), path, "EMC")

    row = rows["EMCTRQA_histFastORL0_SM4"]
    assert row.info["outliers"] == [[2, 3], [13, 7]]
    assert row.quality == "medium"
    assert "(13, 7)" in row.info["check"]
    assert row.draw_options == "colz"
    assert row.info["display"]["name"] == "FastORL0_SM4"
    assert row.info["display"]["grid"] == {"row": 2, "column": 0, "calorimeter": "EMCal"}
    assert _lines(row) == [[8, 0, 8, 12], [16, 0, 16, 12]]
    assert "lines" not in row.info["display"]


def test_an_empty_supermodule_map_in_a_run_with_events_is_bad(tmp_path: Path) -> None:
    empty = np.zeros(supermodule_shape(15))
    path = _emc_file(tmp_path, {"EMCTRQA_histFastORL0_SM15": _sm_map(empty, "SM15")})

    _, rows = process(EMCPlugin(), path, "EMC")

    row = rows["EMCTRQA_histFastORL0_SM15"]
    assert row.quality == "bad"
    assert "SM15" in row.info["check"]
    assert "dead" in row.info["check"]
    assert _lines(row) == [[8, 0, 8, 12]]  # a 2/3 DCal supermodule


def test_a_sparse_map_is_too_thin_to_judge(tmp_path: Path) -> None:
    hits = np.zeros(supermodule_shape(0))
    hits[0, 0] = 50.0  # 50 hits over 288 FastORs
    path = _emc_file(tmp_path, {"EMCTRQA_histFastORL0_SM0": _sm_map(hits, "SM0")})

    _, rows = process(EMCPlugin(), path, "EMC")

    assert rows["EMCTRQA_histFastORL0_SM0"].quality is None
    assert "outliers" not in rows["EMCTRQA_histFastORL0_SM0"].info


def test_the_whole_detector_map_gets_the_tru_grid(tmp_path: Path) -> None:
    path = _emc_file(
        tmp_path, {"EMCTRQA_histFastORL0PosMap": _sm_map(np.ones((48, 104)), "PosMap")}
    )
    _, rows = process(EMCPlugin(), path, "EMC")

    lines = _lines(rows["EMCTRQA_histFastORL0PosMap"])
    assert lines == [list(line) for line in detector_tru_lines()]
    assert [8.0, 0.0, 8.0, 60.0] in lines
    assert [0.0, 100.0, 48.0, 100.0] in lines
    # No TRU line crosses the PHOS hole (columns 16-32, rows 64-100).
    assert not any(16 < x1 < 32 and 64 <= y1 < 100 for x1, y1, _, _ in lines)


def test_patch_spectra_become_an_emcal_dcal_pair_in_gev(tmp_path: Path) -> None:
    emcal = np.arange(1.0, 101.0)
    dcal = np.arange(1.0, 101.0) / 2
    path = _emc_file(
        tmp_path,
        {
            "EMCTRQA_histEMCalPatchAmpEMCGAH": rootfiles.th1(
                "EMCTRQA_histEMCalPatchAmpEMCGAH", emcal, edges=list(np.linspace(0, 500, 101))
            ),
            "EMCTRQA_histDCalPatchAmpEMCGAH": rootfiles.th1(
                "EMCTRQA_histDCalPatchAmpEMCGAH", dcal, edges=list(np.linspace(0, 500, 101))
            ),
        },
    )
    _, rows = process(EMCPlugin(), path, "EMC")

    red = rows["EMCTRQA_histPatchAmpEMCGAH_EMCal_GeV"]
    blue = rows["EMCTRQA_histPatchAmpEMCGAH_DCal_GeV"]
    red_json, blue_json = _payload(red), _payload(blue)
    assert red_json["fXaxis"]["fXmax"] == pytest.approx(500 * ADC_TO_GEV)
    assert red_json["fXaxis"]["fTitle"] == "Energy (GeV)"
    assert (red_json["fLineColor"], blue_json["fLineColor"]) == (633, 601)
    np.testing.assert_allclose(np.asarray(red_json["fArray"])[1:-1], emcal / EVENTS, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(blue_json["fArray"])[1:-1], dcal / EVENTS, rtol=1e-6)
    assert red.info["display"]["overlay"] == [blue.name]
    assert red.group == blue.group == rows["EMCTRQA_histEMCalPatchAmpEMCGAH"].group
    assert red.group == "Gamma trigger high"


def test_groups_follow_the_original_order_with_supermodules_in_physical_order() -> None:
    names = [f"EMCTRQA_histFastORL0_SM{sm}" for sm in (11, 2, 19, 0, 10, 1)] + [
        "EMCTRQA_histFastORL0Amp_SM3",
        "EMCTRQA_histFEEvsTRU_SM0",
        "EMCTRQA_histClusterEnergy",
        "EMCTRQA_histEMCalPatchAmpEMCJEL",
        "EMCTRQA_histFastORL0",
        "EMCTRQA_histEvents",
        "AliEmcalQA/hOther",
    ]
    plugin = EMCPlugin()
    specs = plugin.groups(names, context(plugin, "EMC"))

    first = {n: next(s.name for s in specs if s.matches(n)) for n in names}
    assert first["EMCTRQA_histFastORL0_SM11"] == "FastOR L0 (hits with ADC > 0)"
    assert first["EMCTRQA_histFastORL0Amp_SM3"] == "FastOR L0 Amp (hits weighted with ADC value)"
    assert first["EMCTRQA_histFEEvsTRU_SM0"] == "FEE vs TRU"
    assert first["EMCTRQA_histClusterEnergy"] == "Clusters"
    assert first["EMCTRQA_histEMCalPatchAmpEMCJEL"] == "Jet trigger low"
    assert first["EMCTRQA_histFastORL0"] == "FastOR"
    assert first["EMCTRQA_histEvents"] == "Other EMC"
    assert first["AliEmcalQA/hOther"] == "Non EMC"
    titles = [s.name for s in specs]
    assert titles.index("FEE vs TRU") < titles.index("FastOR L1 Large Amp (hits above 400 ADC)")
    assert titles.index("Clusters") < titles.index("Background") < titles.index("Non EMC")
    [fastor] = [s for s in specs if s.name == "FastOR L0 (hits with ADC > 0)"]
    assert (fastor.layout, fastor.columns) == ("grid", 2)
    assert fastor.order == tuple(f"EMCTRQA_histFastORL0_SM{sm}" for sm in (0, 1, 2, 10, 11, 19))
    assert [fastor.position(n) for n in fastor.order] == list(range(6))


def test_with_another_subsystems_files_there_is_no_catch_all_group() -> None:
    plugin = EMCPlugin()
    ctx = ProcessingContext(1, "EMC", "run", plugin.validate_options({}), source_subsystem="HLT")

    assert "Non EMC" not in [s.name for s in plugin.groups(["x"], ctx)]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"hot_channel_threshold": "-1"}, "at least 0"),
        ({"hot_channel_threshold": "hot"}, "expected a number"),
        ({"outlier_sigma": "0.5"}, "at least 1"),
        ({"scale_hists": "maybe"}, "true or false"),
        ({"threshold": 1}, "unknown processing option"),
    ],
)
def test_options_are_validated(options: dict[str, Any], message: str) -> None:
    with pytest.raises(OptionError, match=message):
        EMCPlugin().validate_options(options)


def test_option_defaults_are_the_originals() -> None:
    assert EMCPlugin().validate_options({}) == {
        "scale_hists": True,
        "hot_channel_threshold": 0.0,
        "outlier_sigma": 5.0,
    }
