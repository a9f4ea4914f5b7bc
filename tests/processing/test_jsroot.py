"""to_jsroot_json: the exact TBufferJSON structure, checked against ROOT itself when present."""

from __future__ import annotations

import gzip
import json
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skhep_testdata

from overwatch.histograms.model import Axis
from overwatch.histograms.model import Histogram
from overwatch.processing.jsroot import to_jsroot_json
from overwatch.processing.pipeline import gzip_bytes
from overwatch.processing.reader import read_file
from tests import rootfiles

DBL_MAX = float(np.finfo(np.float64).max)
REAL_FILES = [
    "uproot-hepdata-example.root",
    "uproot-histograms.root",
    "uproot-issue-227a.root",
    "uproot-issue-227b.root",
    "uproot-issue327.root",
    "uproot-issue213.root",
    "uproot-from-geant4.root",
    "uproot-issue64.root",
]


def _strict_loads(data: bytes) -> Any:
    def reject(token: str) -> None:
        raise AssertionError(f"non-strict JSON token {token}")

    return json.loads(data, parse_constant=reject)


def _mismatches(ours: Any, root: Any, path: str = "") -> list[str]:
    """Differences between two parsed JSON trees; numbers equal to float32 precision."""
    if isinstance(ours, dict) and isinstance(root, dict):
        if list(ours) != list(root):
            return [f"{path}: keys {list(ours)} != {list(root)}"]
        return [m for key in ours for m in _mismatches(ours[key], root[key], f"{path}.{key}")]
    if isinstance(ours, list) and isinstance(root, list):
        if len(ours) != len(root):
            return [f"{path}: {len(ours)} elements != {len(root)}"]
        pairs = enumerate(zip(ours, root, strict=True))
        return [m for i, (a, b) in pairs for m in _mismatches(a, b, f"{path}[{i}]")]
    if isinstance(ours, bool) or isinstance(root, bool) or ours is None or root is None:
        same = ours is root or (ours == root and type(ours) is type(root))
        return [] if same else [f"{path}: {ours!r} != {root!r}"]
    if isinstance(ours, int | float) and isinstance(root, int | float):
        if ours == root or math.isclose(ours, root, rel_tol=2e-7, abs_tol=1e-300):
            return []
        return [f"{path}: {ours!r} != {root!r}"]
    return [] if ours == root else [f"{path}: {ours!r} != {root!r}"]


def _simple() -> Histogram:
    axis = Axis.regular(3, 0.0, 3.0, name="xaxis", title="x")
    return Histogram(
        "dir/h", "TH1D", "a title", (axis,), np.array([0.0, 1.0, 2.0, 3.0, 0.0]),
        entries=6.0, stats={"fTsumw": 6.0, "fTsumw2": 6.0, "fTsumwx": 13.0, "fTsumwx2": 31.5},
    )  # fmt: skip


def test_structure_of_a_th1_in_root_order() -> None:
    parsed = _strict_loads(to_jsroot_json(_simple()))
    assert list(parsed) == [
        "_typename", "fUniqueID", "fBits", "fName", "fTitle", "fLineColor", "fLineStyle",
        "fLineWidth", "fFillColor", "fFillStyle", "fMarkerColor", "fMarkerStyle",
        "fMarkerSize", "fNcells", "fXaxis", "fYaxis", "fZaxis", "fBarOffset", "fBarWidth",
        "fEntries", "fTsumw", "fTsumw2", "fTsumwx", "fTsumwx2", "fMaximum", "fMinimum",
        "fNormFactor", "fContour", "fSumw2", "fOption", "fFunctions", "fBufferSize",
        "fBuffer", "fBinStatErrOpt", "fStatOverflows", "fArray",
    ]  # fmt: skip
    assert parsed["_typename"] == "TH1D"
    assert parsed["fName"] == "h"
    assert parsed["fNcells"] == 5
    assert parsed["fArray"] == [0.0, 1.0, 2.0, 3.0, 0.0]
    assert parsed["fSumw2"] == []
    assert parsed["fFunctions"] == {"_typename": "TList", "name": "TList", "arr": [], "opt": []}
    xaxis = parsed["fXaxis"]
    assert xaxis["_typename"] == "TAxis"
    assert (xaxis["fNbins"], xaxis["fXmin"], xaxis["fXmax"], xaxis["fXbins"]) == (3, 0.0, 3.0, [])
    assert xaxis["fTitle"] == "x"
    assert xaxis["fLabels"] is None
    assert parsed["fYaxis"]["fName"] == "yaxis"
    assert parsed["fYaxis"]["fNbins"] == 1


def test_variable_axis_and_labels_are_written() -> None:
    hist = _simple()
    hist.axes = (Axis.from_edges([0.0, 1.0, 2.0, 5.0], labels={1: "a", 3: "c"}),)
    xaxis = _strict_loads(to_jsroot_json(hist))["fXaxis"]
    assert xaxis["fXbins"] == [0.0, 1.0, 2.0, 5.0]
    assert xaxis["fLabels"] == {
        "_typename": "THashList",
        "name": "THashList",
        "arr": [
            {"_typename": "TObjString", "fUniqueID": 1, "fBits": 0, "fString": "a"},
            {"_typename": "TObjString", "fUniqueID": 3, "fBits": 0, "fString": "c"},
        ],
        "opt": [None, None],
    }


def test_infinities_are_written_as_root_writes_them() -> None:
    hist = _simple()
    hist.contents = np.array([np.nan, np.inf, -np.inf, 1.0, 0.0])
    hist.sumw2 = np.array([np.inf, 0, 0, 0, np.nan])
    hist.entries = float("nan")
    hist.stats["fTsumwx"] = float("-inf")
    data = to_jsroot_json(hist)
    for token in (b"NaN", b"Infinity", b"nan", b"inf", b"1.7976931348623157e"):
        assert token not in data
    # ROOT's TBufferJSON: NaN is null, infinity the out-of-range number 2e308.
    assert b'"fArray":[null,2e308,-2e308,1.0,0.0]' in data
    assert b'"fSumw2":[2e308,0.0,0.0,0.0,null]' in data
    assert b'"fTsumwx":-2e308' in data
    parsed = _strict_loads(data)
    assert parsed["fArray"] == [None, math.inf, -math.inf, 1.0, 0.0]
    assert parsed["fEntries"] is None


def test_the_largest_double_in_a_string_is_left_alone() -> None:
    hist = _simple()
    hist.title = "[1.7976931348623157e308]"
    hist.contents = np.array([0.0, math.inf, 0.0, 0.0, 0.0])
    parsed = _strict_loads(to_jsroot_json(hist))
    assert parsed["fTitle"] == "[1.7976931348623157e308]"
    assert parsed["fArray"][1] == math.inf


def test_float32_contents_round_trip_to_float32() -> None:
    hist = _simple()
    values = np.array([0.1, 1 / 3, 123456789.0, 3.4e38, 1e-7], dtype=np.float32)
    hist.class_name = "TH1F"
    hist.contents = values
    parsed = _strict_loads(to_jsroot_json(hist))
    np.testing.assert_array_equal(np.array(parsed["fArray"], dtype=np.float32), values)


def test_profile_and_2d_members_follow_the_array(tmp_path: Path) -> None:
    hists = read_file(rootfiles.write_sample_file(tmp_path / "s.root")).by_name()
    profile = _strict_loads(to_jsroot_json(hists["TPC/profile"]))
    assert list(profile)[-8:] == [
        "fArray", "fBinEntries", "fErrorMode", "fYmin", "fYmax", "fTsumwy", "fTsumwy2", "fBinSumw2",
    ]  # fmt: skip
    assert profile["fBinEntries"] == [0, 1, 2, 0]
    assert profile["fTsumwy2"] == 24.0
    hmap = _strict_loads(to_jsroot_json(hists["EMC/deeper/map"]))
    assert list(hmap)[-6:] == [
        "fStatOverflows", "fScalefactor", "fTsumwy", "fTsumwy2", "fTsumwxy", "fArray",
    ]  # fmt: skip
    assert hmap["fArray"][:8] == [0, 0, 0, 0, 0, 0, 0, 0]
    assert hmap["fArray"][6 + 1] == 0.0  # x=1, y=1: grid[0, 0]
    assert hmap["fArray"][6 * 2 + 1] == 1.0  # x=1, y=2: grid[0, 1]


# -- ROOT as the oracle --------------------------------------------------------


def _root_objects(root: Any, path: str) -> dict[str, Any]:
    """name -> object for every histogram path our reader reports, using ROOT's API."""
    handle = root.TFile.Open(path)
    assert handle, path
    return handle


def _root_get(handle: Any, name: str) -> Any:
    parts = name.split("/")
    obj = handle
    for part in parts:
        obj = obj.Get(part) if obj.InheritsFrom("TDirectory") else obj.FindObject(part)
        assert obj, name
    return obj


def _compare_file(root: Any, path: str, ignore_functions: set[str] = frozenset()) -> int:
    handle = _root_objects(root, path)
    result = read_file(path)
    assert result.histograms
    for hist in result.histograms:
        ours = _strict_loads(to_jsroot_json(hist))
        theirs = json.loads(str(root.TBufferJSON.ToJSON(_root_get(handle, hist.name)).Data()))
        if hist.name in ignore_functions:
            theirs["fFunctions"] = ours["fFunctions"]
        assert _mismatches(ours, theirs) == [], f"{path}: {hist.name}"
    handle.Close()
    return len(result.histograms)


@pytest.fixture(scope="module")
def root() -> Any:
    return pytest.importorskip("ROOT")


@pytest.mark.parametrize("filename", REAL_FILES)
def test_matches_root_on_real_files(root: Any, filename: str) -> None:
    _compare_file(root, skhep_testdata.data_path(filename))


def test_matches_root_on_uproot_written_files(root: Any, tmp_path: Path) -> None:
    assert _compare_file(root, str(rootfiles.write_sample_file(tmp_path / "s.root"))) == 12


def test_matches_root_on_root_written_files(root: Any, tmp_path: Path) -> None:
    path = rootfiles.write_with_root(root, tmp_path / "root.root")
    assert _compare_file(root, str(path)) >= 20


@pytest.mark.parametrize("level", [1, 3, 6, 9])
def test_stored_json_is_one_gzip_member_at_every_level(level: int) -> None:
    data = b'{"_typename":"TH1F","fArray":[' + b",".join(b"%d" % i for i in range(5000)) + b"]}"
    gz = gzip_bytes(data, level)
    assert gz[:2] == b"\x1f\x8b"
    assert gzip.decompress(gz) == data
    assert zlib.decompress(gz, wbits=31) == data
    assert len(gz) < len(data) / 2
