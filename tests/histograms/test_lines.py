"""Lines a plugin draws over a histogram are the TLine objects ROOT itself writes."""

from __future__ import annotations

import json
from pathlib import Path

from overwatch.processing.jsroot import to_jsroot_json
from overwatch.processing.reader import read_file

FIDELITY = Path(__file__).parents[1] / "processing" / "data" / "fidelity.root"


def test_an_added_line_is_written_exactly_as_root_writes_a_tline_in_ffunctions() -> None:
    # fidelity.root's "fitted" holds TLine(0, 0, 1, 10) with SetLineColor(2), added by ROOT
    # to the list of functions (tests/processing/data/make_fidelity.py).
    from_root = read_file(FIDELITY).by_name()["fitted"]
    root_line = json.loads(to_jsroot_json(from_root))["fFunctions"]["arr"][1]
    assert root_line["_typename"] == "TLine"

    hist = read_file(FIDELITY).by_name()["fitted"]
    hist.functions = None
    hist.add_line(0, 0, 1, 10, color=2)
    functions = json.loads(to_jsroot_json(hist))["fFunctions"]

    assert functions == {"_typename": "TList", "name": "TList", "arr": [root_line], "opt": [None]}
    # Same members in the same order, same JSON types (0.0, not 0).
    assert json.dumps(functions["arr"][0]) == json.dumps(root_line)


def test_lines_are_added_after_the_functions_read_from_the_file() -> None:
    hist = read_file(FIDELITY).by_name()["fitted"]
    before = json.loads(to_jsroot_json(hist))["fFunctions"]
    hist.add_line(-1, 0, -1, 5)
    functions = json.loads(to_jsroot_json(hist))["fFunctions"]
    assert functions["arr"][:-1] == before["arr"]
    assert functions["arr"][0]["_typename"] == "TF1"  # the fit stays first
    assert functions["arr"][-1]["fX1"] == -1.0
    assert functions["opt"] == [*before["opt"], None]
