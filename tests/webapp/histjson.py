"""Minimal JSROOT JSON for TH1F/TH2F (the members ROOT's TBufferJSON writes for a new histogram).

The web tests insert results directly, independent of the processing pipeline, so
they need real JSROOT-readable payloads of their own.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Sequence
from typing import Any

__all__ = ["gz_payload", "th1", "th2"]

_AXIS_ATTRIBUTES = {
    "fNdivisions": 510,
    "fAxisColor": 1,
    "fLabelColor": 1,
    "fLabelFont": 42,
    "fLabelOffset": 0.005,
    "fLabelSize": 0.035,
    "fTickLength": 0.03,
    "fTitleOffset": 1,
    "fTitleSize": 0.035,
    "fTitleColor": 1,
    "fTitleFont": 42,
}


def _axis(nbins: int, low: float, high: float, title: str = "") -> dict[str, Any]:
    return {
        "_typename": "TAxis",
        "fUniqueID": 0,
        "fBits": 0,
        "fName": "",
        "fTitle": title,
        **_AXIS_ATTRIBUTES,
        "fNbins": nbins,
        "fXmin": low,
        "fXmax": high,
        "fXbins": [],
        "fFirst": 0,
        "fLast": 0,
        "fBits2": 0,
        "fTimeDisplay": False,
        "fTimeFormat": "",
        "fLabels": None,
        "fModLabs": None,
    }


def _base(
    typename: str, name: str, title: str, cells: list[float], entries: float
) -> dict[str, Any]:
    return {
        "_typename": typename,
        "fUniqueID": 0,
        "fBits": 8,
        "fName": name,
        "fTitle": title,
        "fLineColor": 602,
        "fLineStyle": 1,
        "fLineWidth": 1,
        "fFillColor": 0,
        "fFillStyle": 1001,
        "fMarkerColor": 1,
        "fMarkerStyle": 1,
        "fMarkerSize": 1,
        "fNcells": len(cells),
        "fBarOffset": 0,
        "fBarWidth": 1000,
        "fEntries": entries,
        "fTsumw": entries,
        "fTsumw2": entries,
        "fTsumwx": 0,
        "fTsumwx2": 0,
        "fMaximum": -1111,
        "fMinimum": -1111,
        "fNormFactor": 0,
        "fContour": [],
        "fSumw2": [],
        "fOption": "",
        "fFunctions": {"_typename": "TList", "name": "TList", "arr": [], "opt": []},
        "fBufferSize": 0,
        "fBuffer": [],
        "fBinStatErrOpt": 0,
        "fStatOverflows": 2,
        "fArray": cells,
    }


def th1(
    name: str, values: Sequence[float], title: str = "", low: float = 0.0, high: float = 1.0
) -> bytes:
    cells = [0.0, *map(float, values), 0.0]
    data = _base("TH1F", name.rsplit("/", 1)[-1], title or name, cells, float(sum(values)))
    data["fXaxis"] = _axis(len(values), low, high, "x")
    data["fYaxis"] = _axis(1, 0, 1, "counts")
    data["fZaxis"] = _axis(1, 0, 1)
    return json.dumps(data).encode()


def th2(name: str, values: Sequence[Sequence[float]], title: str = "") -> bytes:
    nx, ny = len(values), len(values[0])
    cells = [0.0] * ((nx + 2) * (ny + 2))
    for ix in range(nx):
        for iy in range(ny):
            cells[(iy + 1) * (nx + 2) + ix + 1] = float(values[ix][iy])
    data = _base(
        "TH2F", name.rsplit("/", 1)[-1], title or name, cells, float(sum(map(sum, values)))
    )
    data.update(fScalefactor=1, fTsumwy=0, fTsumwy2=0, fTsumwxy=0)
    data["fXaxis"] = _axis(nx, 0, nx, "column")
    data["fYaxis"] = _axis(ny, 0, ny, "row")
    data["fZaxis"] = _axis(1, 0, 1)
    return json.dumps(data).encode()


def gz_payload(raw: bytes) -> tuple[bytes, int, str]:
    """(gzip bytes, raw size, etag) as processing stores them."""
    return gzip.compress(raw, mtime=0), len(raw), hashlib.blake2b(raw, digest_size=20).hexdigest()
