"""Decode streamed ROOT histograms and their containers straight from object bytes.

uproot's generic object models cost about half a millisecond per histogram (most of
it Python-level model machinery for ``TAxis`` and ``TString``), and a receiver file
holds thousands of histograms.  This module interprets the bytes itself, driven by
the file's own ``TStreamerInfo`` records, so every class version a file declares is
handled without a hand-written layout per ROOT release.  :mod:`.tfile` lists the
keys and parses the streamer records (uproot does, for a file it cannot).

The result of decoding is a plain ``dict`` of ROOT member names (bases flattened into
one dict, as in ``TBufferJSON``), with ``"_typename"`` set.  Nested ``TAxis`` are
dicts, ``TArray`` members are native-endian numpy arrays, containers
(``TList``/``THashList``/``TObjArray``) are ``{"_typename", "name", "arr", "opt"}``,
objects of classes this module does not decode are ``{"_typename", "_skipped"}``
(skipped using their byte count), histograms whose layout could not be decoded
inside a container are ``{"_typename", "_error"}`` and histograms refused for their
size (:func:`check_size`, before their arrays are read) ``{"_typename", "_refused"}``.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

_inflater_module: ModuleType
try:  # ISA-L inflates the same zlib streams about twice as fast
    from isal import isal_zlib

    _inflater_module = isal_zlib
except ImportError:  # pragma: no cover - isal has wheels for the usual platforms
    _inflater_module = zlib
_INFLATE_ERRORS: tuple[type[Exception], ...] = (
    zlib.error,
    getattr(_inflater_module, "error", zlib.error),
)

__all__ = [
    "CONTAINER_CLASSES",
    "HISTOGRAM_CLASSES",
    "Decoder",
    "HistogramTooLargeError",
    "MissingStreamerError",
    "StreamerError",
    "check_size",
    "dimension",
    "inflate",
    "read_tstring",
    "version_header",
]

HISTOGRAM_CLASSES = frozenset(
    [f"TH{dim}{kind}" for dim in "123" for kind in "CSILFD"]
    + ["TProfile", "TProfile2D", "TProfile3D"]
)
CONTAINER_CLASSES = frozenset(["TList", "THashList", "TObjArray"])
# Classes decoded member-wise from the streamer records (everything a histogram holds).
_STREAMED = HISTOGRAM_CLASSES | {"TAxis"}

_BYTECOUNT_MASK = 0x40000000
_NEW_CLASS_TAG = 0xFFFFFFFF
_CLASS_MASK = 0x80000000
_MAP_OFFSET = 2
_IS_REFERENCED = 1 << 4

_U8 = struct.Struct(">B")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_TOBJECT = struct.Struct(">II")

# TStreamerElement.fType codes for basic types -> struct format characters.
_BASIC = {
    1: "b", 2: "h", 3: "i", 4: "q", 5: "f", 6: "i", 8: "d", 11: "B",
    12: "H", 13: "I", 14: "Q", 15: "I", 16: "q", 17: "Q", 18: "?",
}  # fmt: skip
_FLOAT = 5
_OFFSET_P = 40  # pointer-to-basic-array elements are kOffsetP + basic code
_K_OBJECT = 61
_K_ANY = 62
_K_OBJECT_DIRECT = 63  # kObjectp: a `//->` pointer, streamed in place without a class tag
_K_OBJECT_ANY = 64  # kObjectP: a pointer read with ReadObjectAny (class tag, may be null)
_K_TSTRING = 65

_TARRAYS = {
    "TArrayC": np.dtype(">i1"),
    "TArrayS": np.dtype(">i2"),
    "TArrayI": np.dtype(">i4"),
    "TArrayL": np.dtype(">i8"),
    "TArrayL64": np.dtype(">i8"),
    "TArrayF": np.dtype(">f4"),
    "TArrayD": np.dtype(">f8"),
}
# Bases without members; some writers omit their streamer record.
_EMPTY_BASES = frozenset(["TAtt3D"])
# Bases whose hand-written streamer reads and writes nothing, not even a version.
_SILENT_BASES = frozenset(["TQObject"])

_OP_BASIC, _OP_STRING, _OP_BASE, _OP_TOBJECT, _OP_ARRAY_BASE = range(5)
_OP_ARRAY, _OP_OBJECT, _OP_POINTER, _OP_BASIC_POINTER, _OP_DIRECT = range(5, 10)
_OP_FIXED, _OP_EMBEDDED, _OP_STL, _OP_LOOP = range(10, 14)
_K_ANY_P = 69  # a pointer to a non-TObject class, read with ReadObjectAny
_K_STL = 500
_K_STREAM_LOOP = 501  # `TList* fCells; //[fNCells]`: a counted array of objects (TH2Poly)
_MEMBERWISE = 0x4000
# C++ spellings of basic types inside STL template arguments.
_STL_BASIC = {
    "double": "d", "Double_t": "d", "float": "f", "Float_t": "f", "int": "i", "Int_t": "i",
    "unsigned int": "I", "UInt_t": "I", "short": "h", "Short_t": "h", "unsigned short": "H",
    "char": "b", "Char_t": "b", "unsigned char": "B", "UChar_t": "B", "bool": "?",
    "Bool_t": "?", "long": "q", "Long64_t": "q", "Long_t": "q", "ULong64_t": "Q",
    "unsigned long": "Q",
}  # fmt: skip

Step = tuple[Any, ...]

# TCanvas::Streamer after the TPad and fDISPLAY: sizes, then fCatt, then flags.
_CANVAS_SIZES = struct.Struct(">i?ffffiiIIII")
_CANVAS_SIZE_NAMES = (
    "fDoubleBuffer", "fRetained", "fXsizeUser", "fYsizeUser", "fXsizeReal", "fYsizeReal",
    "fWindowTopX", "fWindowTopY", "fWindowWidth", "fWindowHeight", "fCw", "fCh",
)  # fmt: skip
_CANVAS_FLAGS = struct.Struct(">??h??")
_CANVAS_FLAG_NAMES = (
    "kMoveOpaque",
    "kResizeOpaque",
    "fHighLightColor",
    "fBatch",
    "kShowEventStatus",
)

# float32 members (marker size, label offsets, colour components, ...) are written by
# TBufferJSON with 7 significant digits; caching the rounded value saves a format per member.
_F32_SHORTEST: dict[float, float] = {}


def _f32(value: float) -> float:
    shortest = _F32_SHORTEST.get(value)
    if shortest is None:
        shortest = float(f"{value:.7g}")
        if len(_F32_SHORTEST) < 4096:
            _F32_SHORTEST[value] = shortest
    return shortest


class StreamerError(Exception):
    """The bytes do not follow a layout this decoder understands."""


class MissingStreamerError(StreamerError):
    """The file lacks the ``TStreamerInfo`` of a class version it uses.

    ROOT always writes them; uproot does not for histograms inside containers.
    Unlike other errors inside a container, this one aborts the whole key so the
    caller can read it with uproot's built-in models.
    """


class HistogramTooLargeError(Exception):
    """A histogram has more bins than the reader was allowed to decode.

    Not a :class:`StreamerError`: the caller must not retry with uproot, which
    would decode the arrays this refusal exists to avoid.  ``name`` is the
    histogram's ``fName`` (read before its axes), to name it inside a container.
    """

    def __init__(self, reason: str, name: str) -> None:
        super().__init__(reason)
        self.name = name


def dimension(class_name: str) -> int:
    """How many binned axes a histogram class has (``TProfile2D`` -> 2)."""
    if class_name.startswith("TProfile"):
        return {"TProfile": 1, "TProfile2D": 2, "TProfile3D": 3}[class_name]
    return int(class_name[2])


def check_size(members: Mapping[str, Any], max_cells: int) -> None:
    """Refuse a histogram whose axes (``fNbins``, read before any array) exceed ``max_cells``.

    Cells count under- and overflow bins, as ROOT's ``fNcells`` does.  The
    stored ``fNcells`` is not trusted: the axes decide the arrays' sizes.
    """
    cells = 1
    for name in ("fXaxis", "fYaxis", "fZaxis")[: dimension(members["_typename"])]:
        cells *= max(int(members[name]["fNbins"]), 0) + 2
    if cells > max_cells:
        raise HistogramTooLargeError(
            f"refused: {cells:,} bins (with under/overflow), more than "
            f"max_histogram_bins = {max_cells:,}",
            str(members.get("fName", "")),
        )


def inflate(raw: bytes, objlen: int) -> bytes | None:
    """Decompress a key's payload; None when it uses an algorithm other than zlib.

    ROOT splits payloads into blocks with a 9-byte header (algorithm, method,
    3-byte compressed and uncompressed sizes).  zlib ("ZL") is ROOT's default and
    is handled here directly because it halves the per-key cost compared with
    uproot's generic chunk machinery; the caller falls back to uproot otherwise.
    """
    if len(raw) == objlen:
        return raw
    parts: list[bytes] = []
    pos = 0
    total = 0
    while pos < len(raw):
        if raw[pos : pos + 2] != b"ZL":
            return None
        size = raw[pos + 3] | (raw[pos + 4] << 8) | (raw[pos + 5] << 16)
        expected = raw[pos + 6] | (raw[pos + 7] << 8) | (raw[pos + 8] << 16)
        # Never inflate past what the headers declare: a crafted block could expand
        # without bound, and ``objlen`` is what the caller has agreed to hold.
        inflater = _inflater_module.decompressobj()
        try:
            part = inflater.decompress(
                raw[pos + 9 : pos + 9 + size], min(expected, objlen - total) + 1
            )
        except _INFLATE_ERRORS as error:
            raise StreamerError(f"a compressed block is damaged: {error}") from error
        total += len(part)
        if len(part) != expected or total > objlen:
            raise StreamerError(f"a compressed block inflates beyond its declared {expected} bytes")
        parts.append(part)
        pos += 9 + size
    out = parts[0] if len(parts) == 1 else b"".join(parts)
    if len(out) != objlen:
        raise StreamerError(f"decompressed {len(out)} bytes, key says {objlen}")
    return out


def read_tstring(buf: bytes, pos: int) -> tuple[str, int]:
    size = buf[pos]
    pos += 1
    if size == 255:
        (size,) = _I32.unpack_from(buf, pos)
        pos += 4
    # As uproot does: bytes that are not UTF-8 survive as surrogates, which
    # names.clean_text later shows as \xNN instead of losing them.
    return buf[pos : pos + size].decode("utf-8", "surrogateescape"), pos + size


def version_header(buf: bytes, pos: int) -> tuple[int, int, int]:
    """Read a version header: (version, position after it, end or -1 if no byte count)."""
    (word,) = _U32.unpack_from(buf, pos)
    if word & _BYTECOUNT_MASK:
        (version,) = _I16.unpack_from(buf, pos + 4)
        return version, pos + 6, pos + 4 + (word & ~_BYTECOUNT_MASK)
    (version,) = _I16.unpack_from(buf, pos)
    return version, pos + 2, -1


def _array(buf: bytes, pos: int, dtype: np.dtype[Any]) -> tuple[np.ndarray[Any, Any], int]:
    (count,) = _I32.unpack_from(buf, pos)
    pos += 4
    end = pos + count * dtype.itemsize
    if count < 0 or end > len(buf):
        raise StreamerError(f"array of {count} elements overruns the buffer")
    return np.frombuffer(buf, dtype, count, pos).astype(dtype.newbyteorder("=")), end


def _template(type_name: str) -> tuple[str, list[str]]:
    """``"map<TString,int,Cmp>"`` -> ``("map", ["TString", "int", "Cmp"])`` (top-level args)."""
    name = type_name.strip().removeprefix("std::")
    if "<" not in name:
        return name, []
    kind, inner = name.split("<", 1)
    inner = inner.rstrip().removesuffix(">").strip()
    args: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(inner):
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
        elif char == "," and depth == 0:
            args.append(inner[start:index].strip())
            start = index + 1
    args.append(inner[start:].strip())
    return kind.strip(), [arg.removeprefix("std::") for arg in args]


class _Context:
    """Per-buffer state of ReadObjectAny: class and object references by offset."""

    __slots__ = ("keylen", "max_cells", "refs")

    def __init__(self, keylen: int, max_cells: int | None) -> None:
        self.keylen = keylen
        self.max_cells = max_cells
        self.refs: dict[int, Any] = {}


class Decoder:
    """Decodes objects of one file, with layouts compiled from its streamer records.

    ``streamers`` maps class name -> version -> a layout with ``elements``, each
    with the attributes of :class:`.tfile.StreamerElement` (``name``, ``type``,
    ``type_name``, ``array_length``, ``count_name``, ``is_base``).
    """

    def __init__(self, streamers: Mapping[str, Mapping[int, Any]]) -> None:
        self._streamers = streamers
        self._layouts: dict[tuple[str, int], tuple[Step, ...]] = {}
        self._objects: dict[bytes, dict[str, Any]] = {}

    def decode(
        self, buf: bytes, class_name: str, keylen: int, max_cells: int | None = None
    ) -> dict[str, Any]:
        """Decode the object a key points to (``buf`` is its uncompressed payload).

        A histogram with more than ``max_cells`` cells raises
        :class:`HistogramTooLargeError` as soon as its axes are read (inside a
        container it becomes ``{"_typename", "_refused"}`` instead).
        """
        context = _Context(keylen, max_cells)
        # ROOT maps the key's own object at the start of its buffer, for self references.
        obj, end = self._object(buf, 0, class_name, context, -1, keylen + _MAP_OFFSET)
        if end != len(buf):
            raise StreamerError(f"{class_name}: decoded {end} of {len(buf)} bytes")
        return obj

    # -- objects ---------------------------------------------------------------

    def _object(
        self, buf: bytes, pos: int, class_name: str, context: _Context, end: int, ref: int = -1
    ) -> tuple[dict[str, Any], int]:
        """Decode one object; ``ref`` registers it for later references before its members.

        Registering first matters for objects that point back at their owner (a
        fit's stats box holds its histogram in ``fParent``).
        """
        if class_name in _STREAMED or (
            class_name not in CONTAINER_CLASSES
            and class_name != "TObjString"
            and class_name in self._streamers
        ):
            out: dict[str, Any] = {"_typename": class_name}
            if ref >= 0:
                context.refs[ref] = out
                if pos == 0:
                    # Files whose buffers map by count (older ROOT) refer to the key's
                    # object as 1, which is no offset: offsets start after the key header.
                    context.refs.setdefault(1, out)
            return out, self._members(buf, pos, class_name, out, context)
        if class_name in CONTAINER_CLASSES:
            return self._container(buf, pos, class_name, context)
        if class_name == "TCanvas" and "TPad" in self._streamers:
            out = {"_typename": class_name}
            if ref >= 0:
                context.refs[ref] = out
            return out, self._canvas(buf, pos, out, context)
        if class_name == "TObjString":
            out = {"_typename": class_name}
            _, pos, obj_end = version_header(buf, pos)
            pos = self._tobject(buf, pos, out)
            out["fString"], pos = read_tstring(buf, pos)
            return out, obj_end if obj_end >= 0 else pos
        if end < 0:
            raise StreamerError(f"cannot skip {class_name}: no byte count")
        return {"_typename": class_name, "_skipped": True}, end

    def _any(self, buf: bytes, pos: int, context: _Context) -> tuple[Any, int]:
        """TBufferFile::ReadObjectAny: a class tag (new or referenced) then the object."""
        begin = pos
        (word,) = _U32.unpack_from(buf, pos)
        pos += 4
        end = -1
        if word & _BYTECOUNT_MASK and word != _NEW_CLASS_TAG:
            end = begin + 4 + (word & ~_BYTECOUNT_MASK)
            tag_pos = pos
            (tag,) = _U32.unpack_from(buf, pos)
            pos += 4
        else:
            tag, tag_pos = word, -1
        if not tag & _CLASS_MASK:
            if tag == 0:
                return None, pos
            if tag not in context.refs:
                raise StreamerError(f"reference to unknown object at offset {tag}")
            return context.refs[tag], pos
        if tag == _NEW_CLASS_TAG:
            nul = buf.index(b"\0", pos)
            class_name = buf[pos:nul].decode("ascii", "replace")
            pos = nul + 1
            ref = tag_pos + context.keylen + _MAP_OFFSET if tag_pos >= 0 else len(context.refs) + 1
            context.refs[ref] = class_name
        else:
            known = context.refs.get(tag & ~_CLASS_MASK)
            if not isinstance(known, str):
                raise StreamerError(f"reference to unknown class at offset {tag & ~_CLASS_MASK}")
            class_name = known
        ref = begin + context.keylen + _MAP_OFFSET
        obj, pos = self._listed_object(buf, pos, class_name, context, end, ref)
        if end >= 0:
            context.refs[ref] = obj
            if pos != end:
                raise StreamerError(f"{class_name}: read to {pos}, byte count says {end}")
        return obj, pos

    def _listed_object(
        self, buf: bytes, pos: int, class_name: str, context: _Context, end: int, ref: int
    ) -> tuple[dict[str, Any], int]:
        """An object behind a class tag; one bad or refused object in a list is marked.

        Marked, not raised: it must not lose its siblings.  Without a byte count
        there is no way past it, so the error is raised then.  An object that is
        not a histogram and cannot be decoded (a layout this module does not
        know, a custom streamer) is skipped with the reason.
        """
        try:
            return self._object(buf, pos, class_name, context, end, ref)
        except HistogramTooLargeError as error:
            if end < 0:
                raise
            return {"_typename": class_name, "fName": error.name, "_refused": str(error)}, end
        except (StreamerError, struct.error, IndexError, ValueError) as error:
            if end < 0:
                raise
            if class_name not in HISTOGRAM_CLASSES:
                return {"_typename": class_name, "_skipped": True, "_reason": str(error)}, end
            if isinstance(error, MissingStreamerError):
                raise
            return {"_typename": class_name, "_error": str(error)}, end

    def _container(
        self, buf: bytes, pos: int, class_name: str, context: _Context
    ) -> tuple[dict[str, Any], int]:
        version, pos, end = version_header(buf, pos)
        out: dict[str, Any] = {"_typename": class_name, "name": "", "arr": [], "opt": []}
        if version > (3 if class_name != "TObjArray" else 2):
            pos = self._tobject(buf, pos, {})
        if version > 1:
            out["name"], pos = read_tstring(buf, pos)
        (count,) = _I32.unpack_from(buf, pos)
        pos += 4
        if class_name == "TObjArray":
            pos += 4  # fLowerBound
        for _ in range(count):
            obj, pos = self._any(buf, pos, context)
            option = ""
            if class_name != "TObjArray" and version > 3:
                size = buf[pos]
                pos += 1
                if version > 4 and size == 255:
                    (size,) = _I32.unpack_from(buf, pos)
                    pos += 4
                option = buf[pos : pos + size].decode("utf-8", "surrogateescape")
                pos += size
            out["arr"].append(obj)
            out["opt"].append(option)
        if end >= 0 and pos != end:
            raise StreamerError(f"{class_name}: read to {pos}, byte count says {end}")
        return out, pos

    @staticmethod
    def _tobject(buf: bytes, pos: int, out: dict[str, Any]) -> int:
        _, pos, _ = version_header(buf, pos)
        out["fUniqueID"], out["fBits"] = _TOBJECT.unpack_from(buf, pos)
        pos += 8
        if out["fBits"] & _IS_REFERENCED:
            pos += 2  # process id of a referenced object
        return pos

    # -- member-wise streaming -------------------------------------------------

    def _members(  # noqa: PLR0912, PLR0915 - one flat dispatch loop is the fast path
        self, buf: bytes, pos: int, class_name: str, out: dict[str, Any], context: _Context
    ) -> int:
        if class_name in _SILENT_BASES:
            return pos
        version, pos, end = version_header(buf, pos)
        if class_name in _EMPTY_BASES and end >= 0:
            return end
        layout = self._layouts.get((class_name, version))
        if layout is None:
            layout = self._layouts[(class_name, version)] = self._compile(class_name, version)
        for step in layout:
            op = step[0]
            if op == _OP_BASIC:
                values = step[2].unpack_from(buf, pos)
                pos += step[2].size
                if step[3]:
                    values = list(values)
                    for index in step[3]:
                        values[index] = _f32(values[index])
                out.update(zip(step[1], values, strict=True))
            elif op == _OP_STRING:
                out[step[1]], pos = read_tstring(buf, pos)
            elif op == _OP_OBJECT:
                out[step[1]], pos = self._axis(buf, pos, step[2], context)
                # The last axis precedes every array: refuse before allocating them.
                if step[1] == "fZaxis" and context.max_cells is not None:
                    check_size(out, context.max_cells)
            elif op == _OP_ARRAY:
                out[step[1]], pos = _array(buf, pos, step[2])
            elif op == _OP_BASE:
                pos = self._members(buf, pos, step[1], out, context)
            elif op == _OP_TOBJECT:
                pos = self._tobject(buf, pos, out)
            elif op == _OP_ARRAY_BASE:
                out["fArray"], pos = _array(buf, pos, step[1])
                out["fN"] = len(out["fArray"])
            elif op == _OP_POINTER:
                out[step[1]], pos = self._any(buf, pos, context)
            elif op == _OP_DIRECT:
                out[step[1]], pos = self._object(buf, pos, step[2], context, -1)
            elif op == _OP_FIXED:
                out[step[1]] = list(step[2].unpack_from(buf, pos))
                pos += step[2].size
            elif op == _OP_EMBEDDED:
                out[step[1]], pos = self._object(buf, pos, step[2], context, -1)
            elif op == _OP_STL:
                out[step[1]], pos = self._stl(buf, pos, step[2], context)
            elif op == _OP_LOOP:
                out[step[1]], pos = self._loop(buf, pos, step[2], int(out.get(step[3], 0)), context)
            else:  # _OP_BASIC_POINTER: a flag byte, then out[count] values if set
                pos += 1
                count = int(out.get(step[3], 0))
                dtype = step[2]
                if buf[pos - 1] and count > 0:
                    data = np.frombuffer(buf, dtype, count, pos)
                    out[step[1]] = data.astype(dtype.newbyteorder("="))
                    pos += count * dtype.itemsize
                else:
                    out[step[1]] = np.zeros(0, dtype.newbyteorder("="))
        if end >= 0 and pos != end:
            raise StreamerError(f"{class_name} v{version}: read to {pos}, byte count says {end}")
        return pos

    def _axis(
        self, buf: bytes, pos: int, class_name: str, context: _Context
    ) -> tuple[dict[str, Any], int]:
        """Decode an embedded object (the TAxis members), memoised by its bytes.

        Most histograms of a file share their axes byte for byte, and the axes are
        three quarters of a histogram's members, so decoding each distinct axis
        once roughly halves the cost of a file.  The shared dicts (and their
        arrays, made read-only) must not be modified by callers.
        """
        (word,) = _U32.unpack_from(buf, pos)
        if not word & _BYTECOUNT_MASK:
            sub: dict[str, Any] = {"_typename": class_name}
            return sub, self._members(buf, pos, class_name, sub, context)
        end = pos + 4 + (word & ~_BYTECOUNT_MASK)
        raw = buf[pos:end]
        cached = self._objects.get(raw)
        if cached is None:
            cached = {"_typename": class_name}
            known = len(context.refs)
            self._members(buf, pos, class_name, cached, context)
            for value in cached.values():
                if isinstance(value, np.ndarray):
                    value.flags.writeable = False
            # Axes with labels hold nested lists; they are rare, keep them out. Nor is
            # an object whose bytes introduce a class or object that later bytes may
            # refer to by offset (an axis's fModLabs defines TAxisModLab...): served
            # from the cache, its bytes would not be read and those references fail.
            if (
                cached.get("fLabels") is None
                and len(context.refs) == known
                and len(self._objects) < 4096
            ):
                self._objects[raw] = cached
        return cached, end

    def _loop(
        self, buf: bytes, pos: int, class_name: str, count: int, context: _Context
    ) -> tuple[list[Any], int]:
        """A counted array of objects (``kStreamLoop``): a version header, then the objects."""
        _, pos, end = version_header(buf, pos)
        if count < 0 or count > len(buf):
            raise StreamerError(f"array of {count} {class_name}")
        items: list[Any] = []
        for _ in range(count):
            item, pos = self._object(buf, pos, class_name, context, -1)
            items.append(item)
        if end >= 0 and pos != end:
            raise StreamerError(f"{class_name}[]: read to {pos}, byte count says {end}")
        return items, pos

    def _canvas(self, buf: bytes, pos: int, out: dict[str, Any], context: _Context) -> int:
        """``TCanvas::Streamer``, hand-written in ROOT: a ``TPad``, then members in a fixed order.

        ROOT writes no streamer record for it; the members and their order are
        those ``TBufferJSON`` shows (``TCanvas`` versions 3 and later).
        """
        version, pos, end = version_header(buf, pos)
        if version < 3:
            raise StreamerError(f"TCanvas v{version} is older than this decoder reads")
        pos = self._members(buf, pos, "TPad", out, context)
        out["fDISPLAY"], pos = read_tstring(buf, pos)
        values = _CANVAS_SIZES.unpack_from(buf, pos)
        pos += _CANVAS_SIZES.size
        out.update(zip(_CANVAS_SIZE_NAMES, values, strict=True))
        for name in ("fXsizeUser", "fYsizeUser", "fXsizeReal", "fYsizeReal"):
            out[name] = _f32(out[name])
        out["fCatt"], pos = self._object(buf, pos, "TAttCanvas", context, -1)
        flags = _CANVAS_FLAGS.unpack_from(buf, pos)
        pos += _CANVAS_FLAGS.size
        out.update(zip(_CANVAS_FLAG_NAMES, flags, strict=True))
        if version > 3:
            (out["kAutoExec"],) = struct.unpack_from(">?", buf, pos)
            pos += 1
        (out["kMenuBar"],) = struct.unpack_from(">?", buf, pos)
        pos += 1
        if end >= 0 and pos != end:
            raise StreamerError(f"TCanvas v{version}: read to {pos}, byte count says {end}")
        return pos

    def _stl(self, buf: bytes, pos: int, type_name: str, context: _Context) -> tuple[Any, int]:
        """An STL collection member as ``TBufferJSON`` shows it (a list; pairs as objects)."""
        version, pos, end = version_header(buf, pos)
        if version & _MEMBERWISE:
            (value_version,) = _I16.unpack_from(buf, pos)
            pos += 2 if value_version > 0 else 6  # a checksum follows an unversioned class
        (count,) = _I32.unpack_from(buf, pos)
        pos += 4
        if count < 0 or count > len(buf):
            raise StreamerError(f"{type_name} of {count} elements")
        kind, args = _template(type_name)
        if kind == "map" or (len(args) == 1 and args[0].startswith("pair<")):
            pair_args = args if kind == "map" else _template(args[0])[1]
            label = "pair<" + ",".join(pair_args) + ">"
            # TBufferJSON tags a map's elements "$pair", other pairs as objects of their class.
            tag = "$pair" if kind == "map" else "_typename"
            if version & _MEMBERWISE:
                firsts, pos = self._values(buf, pos, pair_args[0], count, context)
                seconds, pos = self._values(buf, pos, pair_args[1], count, context)
                value: Any = [
                    {tag: label, "first": a, "second": b}
                    for a, b in zip(firsts, seconds, strict=True)
                ]
            else:
                value = []
                for _ in range(count):
                    first, pos = self._values(buf, pos, pair_args[0], 1, context)
                    second, pos = self._values(buf, pos, pair_args[1], 1, context)
                    value.append({tag: label, "first": first[0], "second": second[0]})
        elif kind in ("vector", "list", "deque", "set") and len(args) == 1:
            value, pos = self._values(buf, pos, args[0], count, context)
        else:
            raise StreamerError(f"unsupported collection {type_name}")
        if end >= 0 and pos != end:
            raise StreamerError(f"{type_name}: read to {pos}, byte count says {end}")
        return value, pos

    def _values(
        self, buf: bytes, pos: int, type_name: str, count: int, context: _Context
    ) -> tuple[list[Any], int]:
        code = _STL_BASIC.get(type_name)
        if code is not None:
            packer = struct.Struct(f">{count}{code}")
            values = list(packer.unpack_from(buf, pos))
            return values, pos + packer.size
        out: list[Any] = []
        if type_name in ("string", "std::string", "TString"):
            for _ in range(count):
                text, pos = read_tstring(buf, pos)
                out.append(text)
        elif type_name.endswith("*"):
            for _ in range(count):
                obj, pos = self._any(buf, pos, context)
                out.append(obj)
        else:
            raise StreamerError(f"unsupported collection element {type_name}")
        return out, pos

    def _compile(self, class_name: str, version: int) -> tuple[Step, ...]:
        info = self._streamers.get(class_name, {}).get(version)
        if info is None:
            raise MissingStreamerError(f"no streamer record for {class_name} v{version}")
        steps: list[Step] = []
        names: list[str] = []
        formats: list[str] = []
        floats: list[int] = []

        def flush() -> None:
            if names:
                packer = struct.Struct(">" + "".join(formats))
                steps.append((_OP_BASIC, tuple(names), packer, tuple(floats)))
                names.clear()
                formats.clear()
                floats.clear()

        for element in info.elements:
            name = element.name
            kind = element.type
            if element.is_base:
                flush()
                if name == "TObject":
                    steps.append((_OP_TOBJECT,))
                elif name in _TARRAYS:
                    steps.append((_OP_ARRAY_BASE, _TARRAYS[name]))
                else:
                    steps.append((_OP_BASE, name))
            elif kind in _BASIC and element.array_length > 0:
                flush()
                length = element.array_length
                steps.append((_OP_FIXED, name, struct.Struct(f">{length}{_BASIC[kind]}")))
            elif kind in _BASIC and element.array_length == 0:
                if kind == _FLOAT:
                    floats.append(len(names))
                names.append(name)
                formats.append(_BASIC[kind])
            else:
                flush()
                steps.append(self._complex_step(f"{class_name} v{version}", element))
        flush()
        return tuple(steps)

    @staticmethod
    def _complex_step(where: str, element: Any) -> Step:  # noqa: PLR0911 - one case per kind
        name = element.name
        kind = element.type
        type_name = element.type_name
        if kind == _K_TSTRING:
            return (_OP_STRING, name)
        if kind == _K_ANY and type_name in _TARRAYS:
            return (_OP_ARRAY, name, _TARRAYS[type_name])
        if kind == _K_OBJECT and type_name in _STREAMED:
            return (_OP_OBJECT, name, type_name)
        if kind in (_K_OBJECT_ANY, _K_ANY_P):
            return (_OP_POINTER, name)
        if kind == _K_STL:
            return (_OP_STL, name, type_name)
        if kind == _K_STREAM_LOOP and not type_name.endswith("**"):
            return (_OP_LOOP, name, type_name.rstrip("*"), element.count_name)
        if kind in (_K_OBJECT, _K_ANY, _K_OBJECT_DIRECT) and not type_name.endswith("*"):
            return (_OP_EMBEDDED, name, type_name)
        if kind == _K_OBJECT_DIRECT and type_name.rstrip("*") in CONTAINER_CLASSES:
            return (_OP_DIRECT, name, type_name.rstrip("*"))
        if _OFFSET_P < kind < _OFFSET_P + 20 and kind - _OFFSET_P in _BASIC:
            dtype = np.dtype(">" + _BASIC[kind - _OFFSET_P])
            return (_OP_BASIC_POINTER, name, dtype, element.count_name)
        raise StreamerError(f"unsupported member {name} ({type_name}, type {kind}) in {where}")
