"""A ``TGraph`` for the demo's receiver files, written with uproot's own ``TGraph`` model.

uproot writes graphs it read but has no helper to make one; :func:`to_tgraph`
builds the model from its bases (``TNamed``, ``TAttLine``, ``TAttFill``,
``TAttMarker``) as uproot's histogram helpers do, so the file gets ROOT's
streamer records for it and any ROOT (or Overwatch) reads it back.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import uproot
from numpy.typing import ArrayLike

__all__ = ["to_tgraph"]


def to_tgraph(
    title: str,
    x: ArrayLike,
    y: ArrayLike,
    *,
    line_color: int = 1,
    marker_color: int = 1,
    marker_style: int = 20,
    marker_size: float = 0.8,
) -> Any:
    """A writable ``TGraph`` of the points ``(x, y)`` (the key name becomes its name)."""
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if xs.shape != ys.shape or xs.ndim != 1:
        raise ValueError(f"x and y must be 1D and of equal length, not {xs.shape} and {ys.shape}")
    tobject = uproot.models.TObject.Model_TObject.empty()
    tobject._members["@fUniqueID"] = 0
    tobject._members["@fBits"] = 0
    tnamed = uproot.models.TNamed.Model_TNamed.empty()
    tnamed._deeply_writable = True
    tnamed._bases.append(tobject)
    tnamed._members["fName"] = ""
    tnamed._members["fTitle"] = title
    line = uproot.models.TAtt.Model_TAttLine_v2.empty()
    line._deeply_writable = True
    line._members.update({"fLineColor": line_color, "fLineStyle": 1, "fLineWidth": 1})
    fill = uproot.models.TAtt.Model_TAttFill_v2.empty()
    fill._deeply_writable = True
    fill._members.update({"fFillColor": 0, "fFillStyle": 1000})
    marker = uproot.models.TAtt.Model_TAttMarker_v2.empty()
    marker._deeply_writable = True
    marker._members.update(
        {"fMarkerColor": marker_color, "fMarkerStyle": marker_style, "fMarkerSize": marker_size}
    )
    graph = uproot.models.TGraph.Model_TGraph_v4.empty()
    graph._deeply_writable = True
    graph._bases.extend([tnamed, line, fill, marker])
    graph._members.update(
        {"fNpoints": len(xs), "fX": xs, "fY": ys, "fMinimum": -1111.0, "fMaximum": -1111.0}
    )
    return graph
