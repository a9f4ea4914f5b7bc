"""The structure of a ROOT file, read without uproot: header, directories, keys, streamers.

Reading a receiver file needs very little of ROOT's file format: the header, the
key list of each directory, and the streamer records that say how each class
version is laid out. This module reads exactly that from a buffer (an mmap of the
file), so a job neither imports uproot (a third of a worker's start-up) nor pays
for its general machinery on every file; :mod:`.rootio` decodes the objects.

It is a fast path, not a second implementation of everything: anything it does
not know (another compression algorithm for the streamer records, a streamer
element class or version it has no layout for, a structure that does not add up)
raises :class:`UnsupportedFileError`, and the caller reads that file with uproot as
before. Tests check that both paths read the same from every test file.

Layouts (ROOT's ``TFile::WriteHeader``, ``TKey::Streamer``, ``TDirectoryFile::Streamer``,
``TStreamerInfo::Streamer`` and the ``TStreamerElement`` classes' streamers):

- file header: ``"root"``, fVersion, fBEGIN, then fEND, fSeekFree (64-bit when
  fVersion > 1000000), fNbytesFree, nfree, fNbytesName, fUnits, fCompress,
  fSeekInfo (64-bit likewise), fNbytesInfo;
- key: fNbytes, fVersion, fObjlen, fDatime, fKeylen, fCycle, fSeekKey and
  fSeekPdir (64-bit when the key's fVersion > 1000), fClassName, fName, fTitle;
- directory record (at fBEGIN + fNbytesName for the top one, at a directory
  key's data for the others): version, fDatimeC, fDatimeM, fNbytesKeys,
  fNbytesName, fSeekDir, fSeekParent, fSeekKeys (64-bit when version > 1000);
  the key list at fSeekKeys is a key header, a count, then that many key headers.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any

from overwatch.processing.rootio import Decoder
from overwatch.processing.rootio import StreamerError
from overwatch.processing.rootio import inflate
from overwatch.processing.rootio import read_tstring
from overwatch.processing.rootio import version_header

__all__ = [
    "RootFile",
    "StreamerElement",
    "StreamerInfo",
    "TKey",
    "UnsupportedFileError",
    "canonical_type_name",
]

_LARGE_FILE_VERSION = 1_000_000
_LARGE_KEY_VERSION = 1000
_HEADER_SMALL = struct.Struct(">4siiiiiiiBiii")
_HEADER_LARGE = struct.Struct(">4siiqqiiiBiqi")
_KEY_START = struct.Struct(">ihiIhh")
_SEEKS_SMALL = struct.Struct(">ii")
_SEEKS_LARGE = struct.Struct(">qq")
_DIRECTORY_START = struct.Struct(">hIIii")
_DIRECTORY_SEEKS_SMALL = struct.Struct(">iii")
_DIRECTORY_SEEKS_LARGE = struct.Struct(">qqq")
_I32 = struct.Struct(">i")
_ELEMENT_FIELDS = struct.Struct(">iiii")
_MAX_INDEX = struct.Struct(">5i")
_TWO_I32 = struct.Struct(">ii")
# TStreamerBasicType: a fixed array of a basic type is written as kOffsetL + type.
_OFFSET_L, _OFFSET_P = 20, 40
_K_UCHAR, _K_BOOL = 11, 18

# ROOT's typedefs (Rtypes.h) as the C++ types they stand for, so member types are
# compared in one spelling whatever the writer used.
_TYPEDEFS = {
    "Char_t": "char", "UChar_t": "unsigned char", "Short_t": "short",
    "UShort_t": "unsigned short", "Int_t": "int", "UInt_t": "unsigned int", "Seek_t": "int",
    "Long_t": "long", "ULong_t": "unsigned long", "Float_t": "float", "Double_t": "double",
    "LongDouble_t": "long double", "Text_t": "char", "Bool_t": "bool",
    "Byte_t": "unsigned char", "Version_t": "short", "Option_t": "const char",
    "Ssiz_t": "int", "Real_t": "float", "Long64_t": "long long",
    "ULong64_t": "unsigned long long", "Axis_t": "double", "Stat_t": "double",
    "Font_t": "short", "Style_t": "short", "Marker_t": "short", "Width_t": "short",
    "Color_t": "short", "SCoord_t": "short", "Coord_t": "double", "Angle_t": "float",
    "Size_t": "float",
}  # fmt: skip
_TYPEDEF_PATTERN = re.compile(r"\b(" + "|".join(_TYPEDEFS) + r")\b")


class UnsupportedFileError(Exception):
    """This fast path cannot read the file's structure; read it with uproot instead."""


def canonical_type_name(name: str) -> str:
    """``"vector<Double_t>"`` -> ``"vector<double>"``: ROOT's typedefs spelled as C++ types."""
    return _TYPEDEF_PATTERN.sub(lambda match: _TYPEDEFS[match.group(1)], name)


@dataclass(frozen=True, slots=True)
class StreamerElement:
    """One member (or base class) of a class version, as its streamer record declares it."""

    kind: str  # the TStreamerElement subclass: TStreamerBase, TStreamerBasicType, ...
    name: str  # fName: the member's name, or the base class's
    type: int  # fType: ROOT's type code (kOffsetL already taken off fixed basic arrays)
    type_name: str  # fTypeName, typedefs spelled as C++ types
    array_length: int = 0  # fArrayLength: elements of a fixed array, 0 for a scalar
    count_name: str = ""  # fCountName: the member holding the length of a counted array

    @property
    def is_base(self) -> bool:
        return self.kind == "TStreamerBase"


@dataclass(frozen=True, slots=True)
class StreamerInfo:
    """The layout of one version of one class: its elements in streaming order."""

    name: str
    class_version: int
    elements: tuple[StreamerElement, ...] = field(default_factory=tuple)


@dataclass(slots=True)
class TKey:
    """A key: what an object is called, its class, and where its bytes are."""

    fName: str  # noqa: N815 - ROOT's member names, as the reader used with uproot's keys
    fClassName: str  # noqa: N815
    fCycle: int  # noqa: N815
    fKeylen: int  # noqa: N815
    seek: int  # where the key starts (fSeekKey)
    data_compressed_bytes: int
    data_uncompressed_bytes: int

    @property
    def data_start(self) -> int:
        return self.seek + self.fKeylen


def _string(buf: Any, pos: int) -> tuple[str, int]:
    text, end = read_tstring(buf, pos)
    if end > len(buf):
        raise UnsupportedFileError("a string runs past the end of the file")
    return text, end


def _read_key(buf: Any, pos: int) -> tuple[TKey, int, int]:
    """The key header at ``pos``: (key, its fSeekPdir, the position after it)."""
    nbytes, version, objlen, _, keylen, cycle = _KEY_START.unpack_from(buf, pos)
    at = pos + _KEY_START.size
    seeks = _SEEKS_LARGE if version > _LARGE_KEY_VERSION else _SEEKS_SMALL
    seek_key, seek_pdir = seeks.unpack_from(buf, at)
    at += seeks.size
    class_name, at = _string(buf, at)
    name, at = _string(buf, at)
    _, at = _string(buf, at)  # fTitle
    if keylen <= 0 or nbytes < keylen or objlen < 0 or seek_key < 0:
        raise UnsupportedFileError(f"key {name!r} at {pos} has inconsistent sizes")
    if seek_key + nbytes > len(buf):
        raise UnsupportedFileError(f"key {name!r} points past the end of the file")
    key = TKey(name, class_name, cycle, keylen, seek_key, nbytes - keylen, objlen)
    return key, seek_pdir, at


class RootFile:
    """The keys and streamer records of a ROOT file held in ``buf`` (bytes or an mmap)."""

    def __init__(self, buf: Any) -> None:
        self.buf = buf
        if len(buf) < _HEADER_SMALL.size or bytes(buf[:4]) != b"root":
            raise UnsupportedFileError("no ROOT file header")
        (version,) = _I32.unpack_from(buf, 4)
        layout = _HEADER_LARGE if version >= _LARGE_FILE_VERSION else _HEADER_SMALL
        if len(buf) < layout.size:
            raise UnsupportedFileError("the file is shorter than its header")
        fields = layout.unpack_from(buf)
        self.begin, self.end, self.name_bytes = fields[2], fields[3], fields[7]
        self.seek_info, self.info_bytes = fields[10], fields[11]
        if not 0 < self.begin <= self.end <= len(buf):
            raise UnsupportedFileError("the header's fBEGIN/fEND do not fit the file")

    # -- directories ---------------------------------------------------------

    def top_keys(self) -> list[TKey]:
        """The top directory's keys, in file order (every cycle)."""
        return self._directory_keys(self.begin + self.name_bytes)

    def directory_keys(self, key: TKey) -> list[TKey]:
        """The keys of the subdirectory ``key`` stands for."""
        if key.data_compressed_bytes != key.data_uncompressed_bytes:
            raise UnsupportedFileError(f"directory {key.fName!r} is compressed")
        return self._directory_keys(key.data_start)

    def _directory_keys(self, pos: int) -> list[TKey]:
        buf = self.buf
        version, _, _, _, _ = _DIRECTORY_START.unpack_from(buf, pos)
        at = pos + _DIRECTORY_START.size
        seeks = _DIRECTORY_SEEKS_LARGE if version > _LARGE_KEY_VERSION else _DIRECTORY_SEEKS_SMALL
        _, _, seek_keys = seeks.unpack_from(buf, at)
        if seek_keys == 0:
            return []
        if not 0 < seek_keys < len(buf):
            raise UnsupportedFileError(
                f"a directory's key list is at {seek_keys}, outside the file"
            )
        _, _, at = _read_key(buf, seek_keys)  # the key list's own key
        (count,) = _I32.unpack_from(buf, at)
        at += 4
        if count < 0 or count > len(buf):
            raise UnsupportedFileError(f"a directory claims {count} keys")
        keys = []
        for _ in range(count):
            key, _, at = _read_key(buf, at)
            keys.append(key)
        return keys

    # -- payloads and streamer records ----------------------------------------

    def payload(self, key: TKey) -> bytes:
        """The key's object bytes, decompressed (zlib only; others are unsupported)."""
        start = key.data_start
        raw = bytes(self.buf[start : start + key.data_compressed_bytes])
        data = inflate(raw, key.data_uncompressed_bytes)
        if data is None:
            raise UnsupportedFileError(
                f"{key.fName!r} is compressed with another algorithm than zlib"
            )
        return data

    def streamers(self) -> dict[str, dict[int, StreamerInfo]]:
        """Class name -> version -> layout, from the file's streamer record list."""
        if self.seek_info <= 0 or self.info_bytes <= 0:
            return {}
        key, _, _ = _read_key(self.buf, self.seek_info)
        try:
            listed = _StreamerDecoder().decode(self.payload(key), "TList", key.fKeylen)
        except (StreamerError, struct.error, IndexError, ValueError) as error:
            raise UnsupportedFileError(f"cannot read the streamer records: {error}") from error
        out: dict[str, dict[int, StreamerInfo]] = {}
        for item in listed["arr"]:
            if isinstance(item, StreamerInfo):
                out.setdefault(item.name, {})[item.class_version] = item
        return out


class _StreamerDecoder(Decoder):
    """Decodes the streamer record list: ``TStreamerInfo`` and its elements by hand.

    These classes describe all the others, so their layouts are fixed here
    (versions 2 and up of the elements, as every ROOT since 3.0 writes them).
    """

    def __init__(self) -> None:
        super().__init__({})

    def _object(
        self, buf: bytes, pos: int, class_name: str, context: Any, end: int, ref: int = -1
    ) -> tuple[Any, int]:
        if class_name == "TStreamerInfo":
            return self._info(buf, pos, context)
        if class_name.startswith("TStreamer"):
            element, pos = self._element(buf, pos, class_name)
            return element, pos
        return super()._object(buf, pos, class_name, context, end, ref)

    def _info(self, buf: bytes, pos: int, context: Any) -> tuple[StreamerInfo, int]:
        version, pos, end = version_header(buf, pos)
        if version < 2:
            raise UnsupportedFileError(f"TStreamerInfo v{version}")
        name, pos = self._named(buf, pos)
        _, class_version = _TWO_I32.unpack_from(buf, pos)  # fCheckSum, fClassVersion
        pos += _TWO_I32.size
        elements, pos = self._any(buf, pos, context)
        if end >= 0 and pos != end:
            raise UnsupportedFileError(
                f"TStreamerInfo of {name}: read to {pos}, byte count says {end}"
            )
        items = elements["arr"] if isinstance(elements, dict) else []
        if not all(isinstance(item, StreamerElement) for item in items):
            raise UnsupportedFileError(f"TStreamerInfo of {name} lists an unknown element")
        return StreamerInfo(canonical_type_name(name), class_version, tuple(items)), pos

    def _named(self, buf: bytes, pos: int) -> tuple[str, int]:
        _, pos, end = version_header(buf, pos)
        pos = self._tobject(buf, pos, {})
        name, pos = _string(buf, pos)
        _, pos = _string(buf, pos)  # fTitle
        if end >= 0 and pos != end:
            raise UnsupportedFileError(f"TNamed {name!r}: read to {pos}, byte count says {end}")
        return name, pos

    def _element(self, buf: bytes, pos: int, kind: str) -> tuple[StreamerElement, int]:
        if kind == "TStreamerSTLstring":  # a TStreamerSTL inside a version header of its own
            _, pos, end = version_header(buf, pos)
            element, pos = self._element(buf, pos, "TStreamerSTL")
            if end >= 0 and pos != end:
                raise UnsupportedFileError(
                    f"{kind} {element.name}: read to {pos}, byte count says {end}"
                )
            return replace(element, kind=kind), pos
        version, pos, end = version_header(buf, pos)
        element_version, pos, element_end = version_header(buf, pos)
        if element_version < 2 or kind not in _ELEMENT_TAILS:
            raise UnsupportedFileError(f"{kind} (element v{element_version}) has no layout here")
        name, pos = self._named(buf, pos)
        type_code, _, array_length, _ = _ELEMENT_FIELDS.unpack_from(buf, pos)
        pos += _ELEMENT_FIELDS.size + _MAX_INDEX.size
        type_name, pos = _string(buf, pos)
        type_name = canonical_type_name(type_name)
        if element_end >= 0 and pos != element_end:
            raise UnsupportedFileError(
                f"{kind} {name}: element read to {pos}, byte count says {end}"
            )
        if type_code == _K_UCHAR and type_name in ("bool", "Bool_t"):
            type_code = _K_BOOL
        count_name = ""
        tail = _ELEMENT_TAILS[kind]
        if tail == "base" and version >= 2:
            pos += 4  # fBaseVersion
        elif tail == "counted":
            pos += 4  # fCountVersion
            count_name, pos = _string(buf, pos)
            _, pos = _string(buf, pos)  # fCountClass
        elif tail == "stl":
            pos += 8  # fSTLtype, fCtype
        if kind == "TStreamerBasicType" and _OFFSET_L < type_code < _OFFSET_P:
            type_code -= _OFFSET_L
        if end >= 0 and pos != end:
            raise UnsupportedFileError(f"{kind} {name}: read to {pos}, byte count says {end}")
        return StreamerElement(kind, name, type_code, type_name, array_length, count_name), pos


# What each element class streams after its TStreamerElement part.
_ELEMENT_TAILS = {
    "TStreamerBase": "base",
    "TStreamerBasicType": "",
    "TStreamerBasicPointer": "counted",
    "TStreamerLoop": "counted",
    "TStreamerObject": "",
    "TStreamerObjectPointer": "",
    "TStreamerObjectAny": "",
    "TStreamerObjectAnyPointer": "",
    "TStreamerString": "",
    "TStreamerArtificial": "",
    "TStreamerSTL": "stl",
}
