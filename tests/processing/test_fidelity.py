"""What ROOT's TBufferJSON keeps and the JSON used to lose: fits, drawings, label edits, buffers.

``data/fidelity.root`` (written by ``data/make_fidelity.py`` with ROOT 6.40) is
committed so these checks run without ROOT; where ROOT is importable the same
objects are also compared with ``TBufferJSON`` member by member.  The drawable
objects that are not histograms are compared with ROOT's JSON of them, kept in
``data/fidelity_objects.json.gz`` (``data/make_fidelity_json.py``), everywhere.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from overwatch.processing.jsroot import dumps
from overwatch.processing.jsroot import to_jsroot_json
from overwatch.processing.objects import json_tree
from overwatch.processing.objects import to_object_json
from overwatch.processing.reader import read_file
from overwatch.processing.rootio import Decoder
from overwatch.processing.tfile import RootFile
from tests.processing.test_jsroot import _mismatches

FIDELITY = Path(__file__).parent / "data" / "fidelity.root"
EXPECTED_OBJECTS = Path(__file__).parent / "data" / "fidelity_objects.json.gz"
DRAWABLES = ["graph", "gerr", "gasym", "mg", "eff", "stack", "poly", "func", "canv"]


def _decoded(name: str) -> dict[str, Any]:
    """A key of the fidelity file decoded by rootio, as the reader does it."""
    root = RootFile(FIDELITY.read_bytes())
    decoder = Decoder(root.streamers())
    key = next(k for k in root.top_keys() if k.fName == name)
    return decoder.decode(root.payload(key), key.fClassName, key.fKeylen)


@pytest.fixture(scope="module")
def hists() -> dict[str, Any]:
    return read_file(FIDELITY).by_name()


@pytest.fixture(scope="module")
def objects() -> dict[str, Any]:
    """The drawable objects of the fidelity file as the reader returns them."""
    return {item.name: item.drawable for item in read_file(FIDELITY).unconvertible}


@pytest.fixture(scope="module")
def expected_objects() -> dict[str, Any]:
    with gzip.open(EXPECTED_OBJECTS, "rt", encoding="utf-8") as handle:
        expected: dict[str, Any] = json.load(handle)
    return expected


def test_a_fit_its_stats_box_and_annotations_are_kept(hists: dict[str, Any]) -> None:
    parsed = json.loads(to_jsroot_json(hists["fitted"]))
    functions = parsed["fFunctions"]["arr"]
    assert [f["_typename"] for f in functions] == ["TF1", "TLine", "TPaveText"]
    fit = functions[0]
    assert fit["fName"] == "gaus"
    assert len(fit["fSave"]) == 103  # the drawn curve: 100 points and the range
    assert [p["first"] for p in fit["fFormula"]["fParams"]] == ["Constant", "Mean", "Sigma"]
    assert functions[2]["fLines"]["arr"][0]["fTitle"] == "Bad run"
    drawn = json.loads(to_jsroot_json(hists["fitted_drawn"]))["fFunctions"]["arr"]
    stats = drawn[-1]
    assert stats["_typename"] == "TPaveStats"
    assert stats["fOptFit"] == 1111
    assert stats["fParent"] == {"$ref": 0}  # the histogram itself


def test_changed_axis_labels_are_kept(hists: dict[str, Any]) -> None:
    mod_labs = json.loads(to_jsroot_json(hists["fitted"]))["fXaxis"]["fModLabs"]
    first, hidden = mod_labs["arr"]
    assert (first["fLabNum"], first["fTextAngle"], first["fTextColor"]) == (1, 45, 2)
    assert first["fLabText"] == "first"
    assert (hidden["fLabNum"], hidden["fTextSize"]) == (3, 0)


def test_a_never_flushed_buffer_is_filled_into_the_bins(hists: dict[str, Any]) -> None:
    hist = hists["buffered"]
    assert hist.entries == 7
    assert hist.values().sum() == 7
    assert hist.buffer[0] == -7  # flushed, as TH1::BufferEmpty marks it
    assert hist.stats["fTsumw"] == 7


def test_profile_option_g_errors_are_one_over_root_sum_of_weights(hists: dict[str, Any]) -> None:
    profile = hists["pg"]
    assert profile.error_mode == 3
    sumw = profile.bin_entries[1:-1]
    np.testing.assert_allclose(profile.errors(), 1 / np.sqrt(sumw))


def test_infinite_bins_are_written_as_2e308(hists: dict[str, Any]) -> None:
    data = to_jsroot_json(hists["infs"])
    assert b'"fArray":[0.0,2e308,-2e308,0.0,0.0]' in data


@pytest.mark.parametrize("name", DRAWABLES)
def test_drawable_objects_are_read_as_root_writes_their_json(
    objects: dict[str, Any], expected_objects: dict[str, Any], name: str
) -> None:
    assert objects[name] is not None, f"{name} was not read as a drawable object"
    ours = json.loads(to_object_json(objects[name]))
    assert _mismatches(ours, expected_objects[name]) == []


def test_drawable_objects_get_a_size_and_a_draw_option(objects: dict[str, Any]) -> None:
    shown = {name: (obj.entries, obj.draw_options) for name, obj in objects.items()}
    assert shown["graph"] == (3, "ALP")
    assert shown["mg"] == (6, "ALP")  # the points of both graphs
    assert shown["eff"] == (100, "AP")  # the total histogram's entries
    assert shown["stack"] == (100, "")  # the entries of its histograms
    assert shown["poly"] == (2, "colz")
    assert objects["gerr"].title == "Graph"


def test_a_canvas_is_read_with_what_its_hand_written_streamer_stores(
    objects: dict[str, Any],
) -> None:
    canvas = json.loads(to_object_json(objects["canv"]))
    assert (canvas["fCw"], canvas["fCh"], canvas["fDISPLAY"]) == (296, 272, "$DISPLAY")
    primitives = canvas["fPrimitives"]
    assert [p["_typename"] for p in primitives["arr"][:3]] == ["TFrame", "TGraph", "TPaveText"]
    assert primitives["opt"][1] == "al"  # drawn as it was drawn in ROOT
    assert "opt" not in primitives["arr"][3]  # the list of colours, a TObjArray


def test_a_th2poly_keeps_its_bins_and_cells(objects: dict[str, Any]) -> None:
    poly = json.loads(to_object_json(objects["poly"]))
    assert len(poly["fBins"]["arr"]) == 2  # both met first in the cells, so written as $refs
    first = poly["fCells"][0]["arr"][0]
    assert (first["_typename"], first["fContent"]) == ("TH2PolyBin", 1)
    assert first["fPoly"]["fX"] == [0, 0, 1, 1, 0]
    assert len(poly["fCells"]) == poly["fNCells"] == 625


# -- ROOT as the oracle --------------------------------------------------------


@pytest.fixture(scope="module")
def root() -> Any:
    return pytest.importorskip("ROOT")


@pytest.fixture(scope="module")
def root_file(root: Any) -> Any:
    handle = root.TFile.Open(str(FIDELITY))
    yield handle
    handle.Close()


def _root_json(root: Any, obj: Any) -> Any:
    return json.loads(str(root.TBufferJSON.ToJSON(obj).Data()))


@pytest.mark.parametrize("name", ["fitted", "fitted_drawn", "pg", "infs"])
def test_histograms_match_root(root: Any, root_file: Any, hists: dict[str, Any], name: str) -> None:
    ours = json.loads(to_jsroot_json(hists[name]))
    assert _mismatches(ours, _root_json(root, root_file.Get(name))) == []


def test_flushed_buffer_matches_root_after_it_empties_it(
    root: Any, root_file: Any, hists: dict[str, Any]
) -> None:
    theirs = root_file.Get("buffered")
    theirs.BufferEmpty()  # as ROOT does before drawing or reading the bins
    assert (
        _mismatches(json.loads(to_jsroot_json(hists["buffered"])), _root_json(root, theirs)) == []
    )


@pytest.mark.parametrize("option", ["", "s", "i", "g"])
def test_profile_errors_match_root_for_each_option(root: Any, tmp_path: Path, option: str) -> None:
    rng = root.TRandom3(3)
    path = str(tmp_path / "p.root")
    out = root.TFile(path, "RECREATE")
    profile = root.TProfile("p", "p", 6, 0, 1, option)
    for _ in range(40):
        profile.Fill(rng.Uniform(), float(rng.Integer(3)), rng.Uniform(0.5, 2.0))
    profile.Fill(0.99, 2.0)  # a bin with one entry: zero spread
    profile.Write()
    theirs = [profile.GetBinError(i) for i in range(1, 7)]
    out.Close()  # deletes the profile, which belongs to the file
    ours = read_file(path).by_name()["p"]
    np.testing.assert_allclose(ours.errors(), theirs, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", DRAWABLES)
def test_drawable_objects_match_root(
    root: Any, root_file: Any, objects: dict[str, Any], name: str
) -> None:
    ours = json.loads(to_object_json(objects[name]))
    assert _mismatches(ours, _root_json(root, root_file.Get(name))) == []


@pytest.mark.parametrize("name", DRAWABLES)
def test_decoded_members_alone_give_roots_json(root: Any, root_file: Any, name: str) -> None:
    members = _decoded(name)
    ours = json.loads(dumps(json_tree(members, parent=members), references=True))
    theirs = _root_json(root, root_file.Get(name))
    if name == "poly":
        ours["fBits"] |= 8  # kMustCleanup, added by the reader for a histogram in a directory
    assert _mismatches(ours, theirs) == []


def test_an_efficiency_from_scikit_hep_testdata_matches_root(root: Any) -> None:
    skhep_testdata = pytest.importorskip("skhep_testdata")
    path = skhep_testdata.data_path("uproot-issue38c.root")
    [item] = read_file(path).unconvertible
    assert item.drawable is not None
    handle = root.TFile.Open(path)
    try:
        theirs = _root_json(root, handle.Get("TEfficiencyName"))
    finally:
        handle.Close()
    assert _mismatches(json.loads(to_object_json(item.drawable)), theirs) == []


def test_root_itself_reads_infinity_as_2e308(root: Any, root_file: Any) -> None:
    assert _root_json(root, root_file.Get("infs"))["fArray"][1] == math.inf
