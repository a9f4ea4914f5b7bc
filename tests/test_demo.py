"""Tests for the synthetic demo data set."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import uproot
from numpy.typing import NDArray

from overwatch.demo import FIRST_RUN
from overwatch.demo import PLANTED_PROBLEMS
from overwatch.demo import PlantedProblem
from overwatch.demo import generate_demo_data
from overwatch.demo.simulation import DEAD_SUPERMODULE
from overwatch.demo.simulation import HOT_FASTOR
from overwatch.demo.simulation import HOT_SUPERMODULE
from overwatch.receivers.filenames import ReceivedFileName
from overwatch.receivers.filenames import parse_file_name

ZURICH = ZoneInfo("Europe/Zurich")
NOW = datetime(2018, 10, 22, 8, 0, 0, tzinfo=UTC)
RUNS = 3
MINUTES = 4


@dataclass(frozen=True)
class Histogram:
    """What the tests need of one stored histogram."""

    classname: str
    entries: float
    #: Bin contents; for profiles the per-bin entry counts, which only grow.
    sums: NDArray[np.float64]
    mean: float


def _read(path: Path) -> dict[str, Histogram]:
    result = {}
    with uproot.open(path) as f:
        for key, classname in f.classnames(recursive=True, cycle=False).items():
            if classname in ("TDirectory", "TGraph"):  # the EMC events-per-minute graph
                continue
            obj = f[key]
            if classname == "TProfile":
                sums = np.asarray(obj.member("fBinEntries"))
            else:
                sums = obj.values(flow=True)
            tsumw = obj.member("fTsumw")
            result[key] = Histogram(
                classname=classname,
                entries=obj.member("fEntries"),
                sums=np.asarray(sums, dtype=np.float64),
                mean=obj.member("fTsumwx") / tsumw if tsumw else 0.0,
            )
    return result


@dataclass(frozen=True)
class DataSet:
    paths: list[Path]
    names: dict[Path, ReceivedFileName]
    #: (run number, subsystem) -> snapshots in time order.
    series: dict[tuple[int, str], list[dict[str, Histogram]]]


@pytest.fixture(scope="module")
def data_set(tmp_path_factory: pytest.TempPathFactory) -> DataSet:
    data_dir = tmp_path_factory.mktemp("demo")
    paths = generate_demo_data(data_dir, ZURICH, runs=RUNS, minutes=MINUTES, now=NOW)
    names = {path: parse_file_name(path.name, ZURICH) for path in paths}
    series: dict[tuple[int, str], list[dict[str, Histogram]]] = defaultdict(list)
    for path in sorted(paths, key=lambda p: names[p].timestamp):
        series[names[path].run_number, names[path].subsystem].append(_read(path))
    return DataSet(paths, names, dict(series))


def _problem(kind: str) -> PlantedProblem:
    [problem] = [p for p in PLANTED_PROBLEMS if p.kind == kind]
    return problem


def test_writes_one_parsable_file_per_run_subsystem_and_minute(data_set: DataSet) -> None:
    assert len(data_set.paths) == RUNS * MINUTES * 3
    assert sorted(p.name for p in data_set.paths[0].parent.iterdir()) == sorted(
        p.name for p in data_set.paths
    )
    names = data_set.names.values()
    assert {n.subsystem for n in names} == {"EMC", "HLT", "TPC"}
    assert {n.run_number for n in names} == {FIRST_RUN, FIRST_RUN + 1, FIRST_RUN + 2}
    assert {n.hlt_mode for n in names} == {"C"}
    assert all(n.processable for n in names)


def test_last_run_ends_now_and_earlier_runs_do_not_overlap(data_set: DataSet) -> None:
    by_run: dict[int, list[datetime]] = defaultdict(list)
    for name in data_set.names.values():
        by_run[name.run_number].append(name.timestamp)

    newest = max(by_run[FIRST_RUN + RUNS - 1])
    assert NOW - timedelta(seconds=30) < newest <= NOW
    for earlier, later in itertools.pairwise(sorted(by_run)):
        gap = min(by_run[later]) - max(by_run[earlier])
        assert gap >= timedelta(minutes=5)


def test_snapshots_of_a_subsystem_are_a_minute_apart(data_set: DataSet) -> None:
    times: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    for name in data_set.names.values():
        times[name.run_number, name.subsystem].append(name.timestamp)

    for stamps in times.values():
        assert np.diff(sorted(stamps)).tolist() == [timedelta(minutes=1)] * (MINUTES - 1)


def test_every_file_is_readable_with_uproot_and_has_alice_like_content(
    data_set: DataSet,
) -> None:
    for (_, subsystem), snapshots in data_set.series.items():
        for snapshot in snapshots:
            keys = set(snapshot)
            if subsystem == "EMC":
                assert 60 <= len(keys) <= 70
                assert {f"EMCTRQA_histFastORL0_SM{sm}" for sm in range(20)} <= keys
                assert {f"EMCTRQA_histFastORL0Amp_SM{sm}" for sm in range(20)} <= keys
                assert {"EMCTRQA_histEMCalMaxPatchAmpEMCGAH", "EMCTRQA_histCellAmp"} <= keys
                # What the EMC plugin needs: events to scale by, EMCal/DCal patch pairs.
                assert {"EMCTRQA_histEvents", "EMCTRQA_histFastORL0PosMap"} <= keys
                assert {
                    f"EMCTRQA_hist{calo}PatchAmp{kind}"
                    for calo in ("EMCal", "DCal")
                    for kind in ("EMCL0", "EMCGAL", "EMCGAH", "EMCJEL", "EMCJEH")
                } <= keys
            elif subsystem == "HLT":
                assert 15 <= len(keys) <= 25
                assert {"fHistClusterChargeMax", "fHistZNA_ZNC", "fHistTPCtracks"} <= keys
            else:
                assert 25 <= len(keys) <= 35
                assert all(key.startswith("TPCQA/h_tpc_") for key in keys)
                # The TH3s the TPC plugin projects.
                assert {
                    f"TPCQA/h_tpc_track_{charge}_recvertex_{v}"
                    for charge in ("pos", "neg")
                    for v in ("2_5_6", "3_5_6", "4_5_6", "0_5_7")
                } <= keys
                assert "TPCQA/h_tpc_event_recvertex_0" in keys


def test_data_set_has_profiles_2d_3d_labels_and_variable_bins(data_set: DataSet) -> None:
    classes = {
        h.classname for snapshots in data_set.series.values() for h in snapshots[-1].values()
    }
    assert {"TH1F", "TH2F", "TH1D", "TH2D", "TH3D", "TProfile"} <= classes

    hlt = next(p for p in data_set.paths if data_set.names[p].subsystem == "HLT")
    tpc = next(p for p in data_set.paths if data_set.names[p].subsystem == "TPC")
    with uproot.open(hlt) as f:
        labels = f["fHistTriggerClasses"].axis().labels()
        assert labels[0] == "CINT7-B-NOPF-CENT"
        assert len(labels) == f["fHistTriggerClasses"].axis().member("fNbins")
        assert np.ptp(np.diff(np.log(f["fHistHLTInSize_HLTOutSize"].axis(0).edges()))) < 1e-9
    with uproot.open(tpc) as f:
        edges = f["TPCQA/h_tpc_track_all_recvertex_7"].axis().edges()
        assert edges[0] == pytest.approx(0.15)
        assert np.ptp(np.diff(edges)) > 1  # really variable
        assert len(f["TPCQA/h_tpc_track_all_recvertex_7"].axis().member("fXbins")) == edges.size
        # Equal bins are stored the way ROOT stores them: without an edge array.
        assert len(f["TPCQA/h_tpc_event_recvertex_0"].axis().member("fXbins")) == 0


def test_counts_are_cumulative(data_set: DataSet) -> None:
    for snapshots in data_set.series.values():
        for before, after in itertools.pairwise(snapshots):
            assert before.keys() == after.keys()
            for key, histogram in after.items():
                assert histogram.entries >= before[key].entries, key
                assert np.all(histogram.sums >= before[key].sums), key
        first, last = snapshots[0], snapshots[-1]
        stuck = {key for key in last if last[key].entries <= first[key].entries}
        # Everything grows except what the dead supermodule keeps empty.
        assert stuck <= set(_problem("dead supermodule").histograms)


def test_statistics_match_the_bin_contents(data_set: DataSet) -> None:
    snapshot = data_set.series[FIRST_RUN, "HLT"][-1]
    tracks = snapshot["fHistTPCtracks"]
    assert tracks.entries == pytest.approx(tracks.sums.sum())
    centres = np.arange(100) * 2 + 1.0
    assert tracks.mean == pytest.approx(
        (tracks.sums[1:-1] * centres).sum() / tracks.sums[1:-1].sum()
    )


def test_hot_channel_is_planted_in_its_run_only(data_set: DataSet) -> None:
    problem = _problem("hot channel")
    key = f"EMCTRQA_histFastORL0_SM{HOT_SUPERMODULE}"
    assert key in problem.histograms

    for run in range(FIRST_RUN, FIRST_RUN + RUNS):
        core = data_set.series[run, "EMC"][-1][key].sums[1:-1, 1:-1]
        ratio = core.max() / np.median(core)
        if run == problem.run_number(RUNS):
            assert tuple(int(i) for i in np.unravel_index(core.argmax(), core.shape)) == HOT_FASTOR
            assert ratio > 10
        else:
            assert ratio < 3


def test_dead_supermodule_is_empty_in_its_run_only(data_set: DataSet) -> None:
    problem = _problem("dead supermodule")

    for run in range(FIRST_RUN, FIRST_RUN + RUNS):
        for snapshot in data_set.series[run, "EMC"]:
            for key in problem.histograms:
                if run == problem.run_number(RUNS):
                    assert snapshot[key].entries == 0
                    assert snapshot[key].sums.sum() == 0
                else:
                    assert snapshot[key].entries > 0
        neighbour = data_set.series[run, "EMC"][-1][
            f"EMCTRQA_histFastORL0_SM{DEAD_SUPERMODULE - 1}"
        ]
        assert neighbour.entries > 0


def test_tpc_mean_drifts_in_the_last_run_only(data_set: DataSet) -> None:
    problem = _problem("mean drift")
    key = problem.histograms[0]
    assert problem.run_number(RUNS) == FIRST_RUN + RUNS - 1

    for run in range(FIRST_RUN, FIRST_RUN + RUNS):
        means = [snapshot[key].mean for snapshot in data_set.series[run, "TPC"]]
        if run == problem.run_number(RUNS):
            assert np.all(np.diff(means) > 0.01)
            assert means[-1] > 0.1
        else:
            assert np.all(np.abs(means) < 0.02)


def test_hlt_histogram_leaves_its_range_in_its_run_only(data_set: DataSet) -> None:
    problem = _problem("out of range")
    [key] = problem.histograms

    for run in range(FIRST_RUN, FIRST_RUN + RUNS):
        sums = data_set.series[run, "HLT"][-1][key].sums
        overflow = sums[-1] / sums.sum()
        if run == problem.run_number(RUNS):
            assert overflow > 0.2
        else:
            assert overflow == 0


def test_the_events_histogram_counts_events_cumulatively(data_set: DataSet) -> None:
    events = [s["EMCTRQA_histEvents"].sums[1] for s in data_set.series[FIRST_RUN, "EMC"]]
    assert np.all(np.diff(events) > 3000)


def test_every_planted_problem_names_existing_histograms(data_set: DataSet) -> None:
    for problem in PLANTED_PROBLEMS:
        snapshot = data_set.series[problem.run_number(RUNS), problem.subsystem][-1]
        assert set(problem.histograms) <= snapshot.keys()
        assert problem.description


def test_problems_share_runs_when_there_are_few() -> None:
    assert {p.run_number(1, first_run=7) for p in PLANTED_PROBLEMS} == {7}
    assert [p.run_number(2) for p in PLANTED_PROBLEMS] == [
        FIRST_RUN,
        FIRST_RUN + 1,
        FIRST_RUN + 1,
        FIRST_RUN + 1,
    ]


def _contents(paths: list[Path]) -> dict[str, dict[str, NDArray[np.float64]]]:
    return {p.name: {k: h.sums for k, h in _read(p).items()} for p in paths}


def test_same_seed_gives_the_same_data_set(tmp_path: Path) -> None:
    first = generate_demo_data(tmp_path / "a", ZURICH, runs=2, minutes=2, now=NOW)
    second = generate_demo_data(tmp_path / "b", ZURICH, runs=2, minutes=2, now=NOW)
    other = generate_demo_data(tmp_path / "c", ZURICH, runs=2, minutes=2, now=NOW, seed=1)

    a, b, c = _contents(first), _contents(second), _contents(other)
    assert a.keys() == b.keys()
    for name, histograms in a.items():
        for key, sums in histograms.items():
            np.testing.assert_array_equal(sums, b[name][key])
    assert any(
        not np.array_equal(a_sums, c_sums)
        for a_hists, c_hists in zip(a.values(), c.values(), strict=True)
        for a_sums, c_sums in zip(a_hists.values(), c_hists.values(), strict=True)
    )


def test_a_subsystem_alone_gets_the_same_histograms(tmp_path: Path) -> None:
    everything = generate_demo_data(tmp_path / "all", ZURICH, runs=1, minutes=2, now=NOW)
    tpc_only = generate_demo_data(
        tmp_path / "tpc", ZURICH, runs=1, minutes=2, now=NOW, subsystems=("TPC",)
    )

    full = _contents([p for p in everything if p.name.startswith("TPC")])
    alone = _contents(tpc_only)
    assert full.keys() == alone.keys()
    for name, histograms in alone.items():
        for key, sums in histograms.items():
            np.testing.assert_array_equal(sums, full[name][key])


def test_reports_progress_after_every_file(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []

    paths = generate_demo_data(
        tmp_path,
        ZURICH,
        runs=2,
        minutes=1,
        now=NOW,
        subsystems=("HLT",),
        progress=lambda *a: calls.append(a),
    )

    assert calls == [(1, 2), (2, 2)]
    assert len(paths) == 2


def test_refuses_to_overwrite_an_existing_data_set(tmp_path: Path) -> None:
    generate_demo_data(tmp_path, ZURICH, runs=1, minutes=1, now=NOW, subsystems=("HLT",))

    with pytest.raises(FileExistsError):
        generate_demo_data(tmp_path, ZURICH, runs=1, minutes=1, now=NOW, subsystems=("HLT",))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"runs": 0}, "at least 1"),
        ({"minutes": 0}, "at least 1"),
        ({"subsystems": ("EMC", "XYZ")}, "XYZ"),
        ({"now": datetime(2018, 10, 22, 9, 0)}, "timezone-aware"),
    ],
)
def test_rejects_bad_arguments(tmp_path: Path, arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_demo_data(tmp_path, ZURICH, **arguments)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_default_data_set_is_three_runs_of_twelve_snapshots_per_subsystem(tmp_path: Path) -> None:
    # How long writing it takes is a benchmark's business, not a test's (it varies with load).
    paths = generate_demo_data(tmp_path, ZURICH)
    assert len(paths) == 3 * 12 * 3
