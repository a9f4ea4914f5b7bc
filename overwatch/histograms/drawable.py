"""Objects JSROOT draws that are not histograms: graphs, stacks, efficiencies, canvases.

A :class:`DrawableObject` is kept as ROOT's ``TBufferJSON`` writes it (``tree``,
a dict of ROOT member names, numpy arrays allowed) and is stored and drawn on
the run page like a histogram.  It has no bins to check, scale, merge or
subtract: in reset mode the newest file's object is the run's, in a time slice
the newest in the range, and checks do not run on it.

:data:`DRAWABLE_CLASSES` lists the classes read from files as such objects, with
the JSROOT draw option each gets by default.  A ``Histogram`` anywhere inside
``tree`` (a stack's members, built by a plugin with :func:`stack`) is written
as its own JSON when the object is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from overwatch.histograms.model import Histogram

__all__ = ["DRAWABLE_CLASSES", "DrawableObject", "stack"]

#: Classes stored as drawable objects, with their default JSROOT draw option:
#: graphs with axes, points and lines; stacks stacked; canvases as they were saved.
DRAWABLE_CLASSES: dict[str, str] = {
    "TGraph": "ALP",
    "TGraphErrors": "ALP",
    "TGraphAsymmErrors": "ALP",
    "TMultiGraph": "ALP",
    "TEfficiency": "AP",
    "THStack": "",
    "TH2Poly": "colz",
    "TF1": "",
    "TCanvas": "",
}


@dataclass(slots=True)
class DrawableObject:
    """A drawable ROOT object other than a histogram, as ``TBufferJSON`` writes it.

    ``name`` is the path in the file as for a histogram; ``entries`` what the
    run page shows as its size (points of a graph, entries of a stack's
    histograms, 0 where nothing fits); ``draw_options`` and ``metadata`` as for
    :class:`~overwatch.histograms.model.Histogram`.
    """

    name: str
    class_name: str
    title: str
    tree: dict[str, Any]
    entries: float = 0.0
    draw_options: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


def stack(name: str, title: str, histograms: Sequence[Histogram]) -> DrawableObject:
    """A ``THStack`` of ``histograms`` (drawn on one pad, stacked unless drawn "nostack").

    The members keep their own style (colours, markers); the stack's ``fName``
    is the last component of ``name``.
    """
    tree: dict[str, Any] = {
        "_typename": "THStack",
        "fUniqueID": 0,
        "fBits": 0,
        "fName": name.rsplit("/", 1)[-1],
        "fTitle": title,
        "fHists": {
            "_typename": "TList",
            "name": "TList",
            "arr": list(histograms),
            "opt": [None] * len(histograms),
        },
        "fHistogram": None,
        "fMaximum": -1111.0,
        "fMinimum": -1111.0,
    }
    entries = float(sum(hist.entries for hist in histograms))
    return DrawableObject(name, "THStack", title, tree, entries, DRAWABLE_CLASSES["THStack"])
