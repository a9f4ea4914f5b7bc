"""Saved points for TF1s ROOT wrote without them: the safe formula evaluator and the drawing JSON.

The stored (drawing) JSON may differ from ``TBufferJSON`` in one way only: an
empty ``fSave`` of a ``TF1`` whose formula is evaluated here gets the points
``TF1::Save`` would write.  Checked against fixed values everywhere and against
ROOT's own ``TF1::Save`` where the ROOT wheel is installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from overwatch.processing.formula import UnsupportedFormulaError
from overwatch.processing.formula import evaluate
from overwatch.processing.jsroot import to_jsroot_json
from overwatch.processing.objects import to_object_json
from overwatch.processing.reader import read_file
from overwatch.processing.saved_points import saved_points
from overwatch.processing.saved_points import with_saved_points

FIDELITY = Path(__file__).parent / "data" / "fidelity.root"
X = np.array([0.0, 0.5, 2.0])


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("[a]*x*x+[b]", 3 * X * X - 1),
        ("([a]+[b]*x+[a]*TMath::Sq(x))", 3 - X + 3 * X**2),
        ("exp([a]+[b]*x)", np.exp(3 - X)),
        ("-x^2/2e-1+.5", -(X**2) / 0.2 + 0.5),
        ("2^-1*x", 0.5 * X),
        ("sqrt(2*pi)*pow(x,3)-TMath::Abs(-[b])", np.sqrt(2 * np.pi) * X**3 - 1),
        (
            "sin(x)+cos(x)+tan(x)+log(x+1)+log10(x+1)",
            np.sin(X) + np.cos(X) + np.tan(X) + np.log(X + 1) + np.log10(X + 1),
        ),
        ("[a]", np.full(3, 3.0)),
    ],
)
def test_formulas_as_root_expands_them_are_evaluated(formula: str, expected: Any) -> None:
    assert np.allclose(evaluate(formula, {"a": 3.0, "b": -1.0}, X), expected, rtol=1e-14)


@pytest.mark.parametrize(
    "formula",
    [
        "[Constant]*TMath::Landau(x,[MPV],[Sigma],false)",  # not evaluated here
        "x[0]*y",  # other variables
        "__import__('os').system('true')",
        "[](double*x,double*p){return p[0]*x[0];}",  # a C++ lambda
        "x>1?1:0",
        "exp(x,1)",  # wrong argument count
        "[missing]*x",
        "(x+1",
        "x+1)",
        "x" + "+x" * 2000,  # longer than any real formula
    ],
)
def test_anything_else_is_refused(formula: str) -> None:
    with pytest.raises(UnsupportedFormulaError):
        evaluate(formula, {"a": 1.0}, X)


@pytest.fixture(scope="module")
def objects() -> dict[str, Any]:
    return {item.name: item.drawable for item in read_file(FIDELITY).unconvertible}


def test_a_formula_function_gets_the_points_tf1_save_writes(objects: dict[str, Any]) -> None:
    func = objects["func"].tree  # [0]*x*x+[1] with 1, 2 on [0, 2], fNpx 100, fSave empty
    assert len(func["fSave"]) == 0
    points = saved_points(func)
    assert points is not None
    x = np.linspace(0.0, 2.0, 101)
    assert len(points) == 103
    assert np.allclose(points[:101], x * x + 2, rtol=1e-15)
    assert points[101:] == [0.0, 2.0]


def test_only_the_drawing_json_carries_them_and_the_input_is_not_changed(
    objects: dict[str, Any],
) -> None:
    func = objects["func"]
    exact = json.loads(to_object_json(func))
    drawing = json.loads(to_object_json(func, drawing=True))
    assert exact["fSave"] == []
    assert len(drawing["fSave"]) == 103
    assert {key: value for key, value in drawing.items() if key != "fSave"} == {
        key: value for key, value in exact.items() if key != "fSave"
    }
    assert len(func.tree["fSave"]) == 0  # the object itself keeps ROOT's members


def test_a_fit_keeps_the_points_root_saved_and_its_json_is_unchanged() -> None:
    fitted = read_file(FIDELITY).by_name()["fitted"]
    assert to_jsroot_json(fitted, drawing=True) == to_jsroot_json(fitted)
    [fit] = [
        f
        for f in json.loads(to_jsroot_json(fitted))["fFunctions"]["arr"]
        if f["_typename"] == "TF1"
    ]
    assert len(fit["fSave"]) == 103


def test_functions_not_evaluated_here_are_left_without_points(objects: dict[str, Any]) -> None:
    func = objects["func"].tree
    landau = {
        **func,
        "fFormula": {**func["fFormula"], "fFormula": "[p0]*TMath::Landau(x,[p1],1,false)"},
    }
    compiled = {**func, "fType": 1}  # a C++ function: its formula text is not what it computes
    overflowing = {**func, "fFormula": {**func["fFormula"], "fFormula": "exp(1000*x)"}}
    for tree in (landau, compiled, overflowing):
        assert saved_points(tree) is None
        assert with_saved_points(tree) is tree


def test_shared_functions_stay_shared() -> None:
    func = read_file(FIDELITY).unconvertible
    tree = next(item.drawable.tree for item in func if item.name == "func")
    holder = {"_typename": "TList", "arr": [tree, tree], "opt": ["", ""]}
    filled = with_saved_points(holder)
    assert filled["arr"][0] is filled["arr"][1]
    assert len(filled["arr"][0]["fSave"]) == 103


# -- ROOT as the oracle --------------------------------------------------------


@pytest.mark.parametrize(
    ("formula", "parameters", "span"),
    [
        ("[0]*x*x+[1]", [1.0, 2.0], (0.0, 2.0)),
        ("gaus", [3.0, 0.5, 0.7], (-3.0, 3.0)),
        ("gausn", [10.0, 1.0, 2.0], (-2.0, 4.0)),
        ("expo", [1.0, -0.5], (0.0, 5.0)),
        ("pol3", [1.0, 2.0, -1.0, 0.5], (-1.0, 2.0)),
        ("gaus(0)+pol1(3)", [5.0, 1.0, 0.3, 0.5, 0.1], (0.0, 2.0)),
        ("sin(x)/x*[0]+TMath::Power(x,2)", [2.0], (0.1, 7.0)),
    ],
)
def test_points_match_roots_tf1_save(
    formula: str, parameters: list[float], span: tuple[float, float]
) -> None:
    root = pytest.importorskip("ROOT")
    function = root.TF1("oracle", formula, *span)
    function.SetNpx(64)
    for index, value in enumerate(parameters):
        function.SetParameter(index, value)
    written = json.loads(str(root.TBufferJSON.ToJSON(function).Data()))
    function.Save(span[0], span[1], 0, 0, 0, 0)
    theirs = json.loads(str(root.TBufferJSON.ToJSON(function).Data()))["fSave"]
    ours = saved_points(written)
    assert ours is not None
    assert len(ours) == len(theirs) == 64 + 3
    assert np.allclose(ours, theirs, rtol=1e-13, atol=0)
