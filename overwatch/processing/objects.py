"""``TBufferJSON`` structures for decoded objects other than histograms.

:mod:`.rootio` decodes any class the file has a streamer record for into a dict
of ROOT member names.  :func:`json_tree` turns such a dict into the structure
ROOT's ``TBufferJSON`` writes for it: containers as ``{"_typename", "name",
"arr", "opt"}``, histograms inside (a stack's ``fHists``, an efficiency's
``fPassedHistogram``) through :func:`.jsroot.jsroot_dict`, in-memory-only
``TObject`` bits removed.  Objects shared within one tree stay shared (the same
dict); :func:`.jsroot.dumps` writes the second and later occurrences as
``{"$ref": n}`` as ROOT does.  Objects the decoder had to skip are left out of
their list and named in ``skipped``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from overwatch.processing.rootio import CONTAINER_CLASSES
from overwatch.processing.rootio import HISTOGRAM_CLASSES

__all__ = ["MEMORY_BITS", "PARENT", "json_tree"]

#: In-memory TObject bits that TBufferJSON never shows (kIsOnHeap | kNotDeleted).
MEMORY_BITS = 0x01000000 | 0x02000000
#: Stands for the enclosing top-level object in a tree (``{"$ref": 0}`` in JSON).
PARENT: dict[str, Any] = {"$ref": 0}
# Members the decoder adds that are not ROOT members (the size of a TArray base).
_NOT_MEMBERS = frozenset(["fN"])


def json_tree(members: Any, *, parent: Any = None, skipped: list[str] | None = None) -> Any:
    """The ``TBufferJSON`` structure of decoded ``members``.

    ``parent`` is the decoded dict of the object that will be the top of the
    JSON (references to it become :data:`PARENT`); ``skipped`` collects the class
    names of objects left out because they could not be decoded.
    """
    converter = _Converter(parent, skipped if skipped is not None else [])
    if isinstance(members, dict) and members is parent:
        return converter.top(members)
    return converter.tree(members)


class _Converter:
    def __init__(self, parent: Any, skipped: list[str]) -> None:
        self.parent = parent
        self.skipped = skipped
        self.done: dict[int, Any] = {}

    def top(self, value: dict[str, Any]) -> Any:
        return self._object(value)

    def tree(self, value: Any) -> Any:
        if isinstance(value, dict):
            if value is self.parent:
                return PARENT
            known = self.done.get(id(value))
            if known is not None:
                return known
            return self._object(value)
        if isinstance(value, list):
            return [self.tree(item) for item in value]
        if isinstance(value, np.ndarray) and value.dtype.kind == "b":
            return value.tolist()
        return value

    def _object(self, value: dict[str, Any]) -> Any:
        class_name = value.get("_typename")
        if class_name in HISTOGRAM_CLASSES and "fXaxis" in value:
            # Imported here: jsroot imports this module for histograms' functions.
            from overwatch.processing.conversion import histogram_from_members  # noqa: PLC0415
            from overwatch.processing.jsroot import jsroot_dict  # noqa: PLC0415

            histogram = jsroot_dict(histogram_from_members("", value, in_directory=False))
            self.done[id(value)] = histogram
            return histogram
        out: dict[str, Any] = {}
        self.done[id(value)] = out
        if class_name in CONTAINER_CLASSES:
            return self._container(value, out)
        for name, member in value.items():
            if name in _NOT_MEMBERS or (name.startswith("_") and name != "_typename"):
                continue
            out[name] = int(member) & ~MEMORY_BITS if name == "fBits" else self.tree(member)
        return out

    def _container(self, value: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
        items: list[Any] = []
        options: list[str | None] = []
        for item, option in zip(value["arr"], value["opt"], strict=True):
            if isinstance(item, dict) and (
                item.get("_skipped") or "_error" in item or "_refused" in item
            ):
                self.skipped.append(
                    f"{item.get('_typename')}: {item.get('_reason') or item.get('_error') or item.get('_refused') or 'not decoded'}"
                )
                continue
            items.append(self.tree(item))
            options.append(option or None)
        out["_typename"] = value["_typename"]
        out["name"] = value.get("name") or value["_typename"]
        out["arr"] = items
        out["opt"] = options
        return out
