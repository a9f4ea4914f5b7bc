"""One object of a ROOT file as the JSON processing stores for drawing it.

The web app's file view lets JSROOT read a received file itself, but a ``TF1``
the file saved without points would then be drawn by compiling its formula,
which the pages' Content-Security-Policy refuses. For such an object the view
asks for :func:`drawing_json`: the object read as processing reads it
(:func:`.reader.read_file`, only that key decoded, ``max_bins`` applied) and
serialised as processing stores it for the run page, functions given saved
points (:mod:`.saved_points`). The file is only read; nothing is stored.
"""

from __future__ import annotations

import os

from overwatch.processing.jsroot import to_jsroot_json
from overwatch.processing.objects import to_object_json
from overwatch.processing.reader import read_file

__all__ = ["NotDrawableError", "drawing_json"]


class NotDrawableError(LookupError):
    """The file has no object by that name that processing can convert; ``reason`` says why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def drawing_json(path: str | os.PathLike[str], name: str, *, max_bins: int | None = None) -> bytes:
    """The drawing JSON of the object ``name`` (a path as processing names it, e.g.
    ``"dir/list/hist"``) in the ROOT file at ``path``.

    Raises :class:`NotDrawableError` when there is no such object or it cannot be
    converted, and what :func:`.reader.read_file` raises for a file that cannot be read.
    """
    result = read_file(path, [name], max_bins=max_bins)
    for histogram in result.histograms:
        if histogram.name == name:
            return to_jsroot_json(histogram, drawing=True)
    for item in result.unconvertible:
        if item.name != name:
            continue
        if item.drawable is not None:
            return to_object_json(item.drawable, drawing=True)
        raise NotDrawableError(name, f"{item.class_name}: {item.reason}")
    raise NotDrawableError(name, "no such object in the file")
