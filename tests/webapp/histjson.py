"""Small TH1F/TH2F payloads for the web tests, built with the real histogram model.

The web tests insert results directly, without running the processing pipeline,
but the JSON they store is what processing would store: the project's own
``to_jsroot_json`` over a :class:`~overwatch.histograms.model.Histogram`, and
its own ``encode_json`` for the stored gzip form.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from overwatch.histograms.model import Axis
from overwatch.histograms.model import Histogram
from overwatch.processing.jsroot import to_jsroot_json
from overwatch.processing.pipeline import encode_json

__all__ = ["gz_payload", "th1", "th2"]


def _stats(entries: float) -> dict[str, float]:
    return {"fTsumw": entries, "fTsumw2": entries}


def th1(
    name: str, values: Sequence[float], title: str = "", low: float = 0.0, high: float = 1.0
) -> bytes:
    contents = np.zeros(len(values) + 2, dtype=np.float32)
    contents[1:-1] = values
    entries = float(sum(values))
    hist = Histogram(
        name,
        "TH1F",
        title or name,
        (Axis.regular(len(values), low, high, title="x"),),
        contents,
        entries=entries,
        stats=_stats(entries),
        spare_axes=(Axis.regular(1, 0.0, 1.0, name="yaxis", title="counts"),),
    )
    return to_jsroot_json(hist)


def th2(name: str, values: Sequence[Sequence[float]], title: str = "") -> bytes:
    nx, ny = len(values), len(values[0])
    contents = np.zeros((nx + 2, ny + 2), dtype=np.float32)
    contents[1:-1, 1:-1] = values
    entries = float(sum(map(sum, values)))
    hist = Histogram(
        name,
        "TH2F",
        title or name,
        (
            Axis.regular(nx, 0.0, float(nx), title="column"),
            Axis.regular(ny, 0.0, float(ny), name="yaxis", title="row"),
        ),
        contents,
        entries=entries,
        stats=_stats(entries),
    )
    return to_jsroot_json(hist)


def gz_payload(raw: bytes) -> tuple[bytes, int, str]:
    """(gzip bytes, raw size, etag) as processing stores them."""
    return encode_json(raw, 1)
