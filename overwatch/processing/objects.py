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

from overwatch.histograms.drawable import DRAWABLE_CLASSES
from overwatch.histograms.drawable import DrawableObject
from overwatch.histograms.model import Histogram
from overwatch.processing.names import clean_text
from overwatch.processing.rootio import CONTAINER_CLASSES
from overwatch.processing.rootio import HISTOGRAM_CLASSES
from overwatch.processing.saved_points import with_saved_points

__all__ = ["MEMORY_BITS", "PARENT", "drawable_from_members", "json_tree", "to_object_json"]

#: In-memory TObject bits that TBufferJSON never shows (kIsOnHeap | kNotDeleted).
MEMORY_BITS = 0x01000000 | 0x02000000
#: Stands for the enclosing top-level object in a tree (``{"$ref": 0}`` in JSON).
PARENT: dict[str, Any] = {"$ref": 0}
# Members the decoder adds that are not ROOT members (the size of a TArray base).
_NOT_MEMBERS = frozenset(["fN"])
# kCanDelete, which TPad::Streamer sets on every primitive it reads.
_CAN_DELETE = 0x1
# kMustCleanup, set on a histogram attached to a directory when read (TH2Poly here).
_MUST_CLEANUP = 0x8
_PADS = frozenset(["TPad", "TCanvas"])


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
        if class_name in _PADS:
            _as_read_pad(out)
        if "fNpoints" in out and "fMaximum" in out and "fOption" not in out:
            _add_after(out, "fMaximum", "fOption", "")  # TGraph v4 (before ROOT 6.34)
        return out

    def _container(self, value: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
        items: list[Any] = []
        options: list[str | None] = []
        for item, option in zip(value["arr"], value["opt"], strict=True):
            if item is None and value["_typename"] == "TObjArray":
                continue  # an empty slot: TBufferJSON iterates over the objects only
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
        if value["_typename"] != "TObjArray":  # a TObjArray has no options
            out["opt"] = options
        return out


def _add_after(out: dict[str, Any], after: str, name: str, value: Any) -> None:
    """Insert a member an older class version lacks, with ROOT's default, where ROOT writes it."""
    items = list(out.items())
    index = [key for key, _ in items].index(after) + 1
    out.clear()
    out.update(items[:index])
    out[name] = value
    out.update(items[index:])


def _as_read_pad(pad: dict[str, Any]) -> None:
    """What ``TPad::Streamer`` changes when it reads a pad: modified, primitives deletable."""
    if "fModified" in pad:
        pad["fModified"] = True
    primitives = pad.get("fPrimitives")
    for item in primitives.get("arr", []) if isinstance(primitives, dict) else []:
        if isinstance(item, dict) and "fBits" in item:
            item["fBits"] = int(item["fBits"]) | _CAN_DELETE
        if isinstance(item, dict) and item.get("name") == "ListOfColors":
            # TCanvas::Streamer sets each saved colour (TColor::SetRGB), which titles it.
            for color in item["arr"]:
                if isinstance(color, dict) and color.get("fTitle") == "":
                    color["fTitle"] = _hex_color(color)


def _hex_color(color: dict[str, Any]) -> str:
    """``TColor::AsHexString``: components truncated to 0..255, alpha only when not opaque."""
    parts = [int(float(color.get(name, 0.0)) * 255) for name in ("fRed", "fGreen", "fBlue")]
    alpha = int(float(color.get("fAlpha", 1.0)) * 255)
    if alpha != 255:
        parts.append(alpha)
    return "#" + "".join(f"{part:02x}" for part in parts)


def _entries(members: dict[str, Any]) -> float:
    """What the run page shows as the object's size: points, or entries of its histograms."""
    class_name = members["_typename"]
    if "fNpoints" in members:
        return float(members["fNpoints"])
    if class_name == "TH2Poly":
        return float(members.get("fEntries", 0.0))
    if class_name == "TEfficiency":
        total = members.get("fTotalHistogram")
        return float(total.get("fEntries", 0.0)) if isinstance(total, dict) else 0.0
    listed = members.get("fHists") or members.get("fGraphs")  # THStack, TMultiGraph
    if isinstance(listed, dict):
        return float(sum(_entries(item) for item in listed.get("arr", []) if item))
    return float(members.get("fEntries", 0.0)) if class_name in HISTOGRAM_CLASSES else 0.0


def drawable_from_members(
    path: str, members: dict[str, Any], in_directory: bool = True
) -> DrawableObject:
    """The :class:`DrawableObject` named ``path`` from decoded members of a drawable class.

    Objects inside it that could not be decoded are left out and named in
    ``metadata["dropped_objects"]``.
    """
    class_name = members["_typename"]
    skipped: list[str] = []
    tree = json_tree(members, parent=members, skipped=skipped)
    if class_name == "TH2Poly":
        bits = int(tree["fBits"]) & ~_MUST_CLEANUP
        tree["fBits"] = bits | (_MUST_CLEANUP if in_directory else 0)
    metadata: dict[str, Any] = {"dropped_objects": skipped} if skipped else {}
    return DrawableObject(
        name=path,
        class_name=class_name,
        title=clean_text(str(members.get("fTitle", ""))),
        tree=tree,
        entries=_entries(members),
        draw_options=DRAWABLE_CLASSES.get(class_name, ""),
        metadata=metadata,
    )


def _with_histograms(value: Any, done: dict[int, Any]) -> Any:
    """``value`` with every :class:`Histogram` in it replaced by its ``TBufferJSON`` structure."""
    if isinstance(value, Histogram):
        if id(value) not in done:
            # Imported here: jsroot imports this module for histograms' functions.
            from overwatch.processing.jsroot import jsroot_dict  # noqa: PLC0415

            done[id(value)] = jsroot_dict(value)
        return done[id(value)]
    if isinstance(value, dict):
        if id(value) in done:
            return done[id(value)]
        out: dict[str, Any] = {}
        done[id(value)] = out  # before the members: objects may refer back to their owner
        out.update((key, _with_histograms(item, done)) for key, item in value.items())
        return out
    if isinstance(value, list):
        return [_with_histograms(item, done) for item in value]
    return value


def to_object_json(obj: DrawableObject, *, drawing: bool = False) -> bytes:
    """Serialise ``obj`` as ``TBufferJSON::ToJSON`` would, shared objects as ``$ref``s.

    With ``drawing``, the JSON stored for the run page: a ``TF1`` in it that ROOT
    saved without points gets them (:mod:`.saved_points`).
    """
    from overwatch.processing.jsroot import dumps  # noqa: PLC0415 - see _with_histograms

    tree = _with_histograms(obj.tree, {})
    return dumps(with_saved_points(tree) if drawing else tree, references=True)
