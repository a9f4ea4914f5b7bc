"""Read every histogram of a ROOT file into :class:`~.histogram.Histogram` objects.

:func:`read_file` walks top-level keys, nested ``TDirectory``s and ``TList``/
``THashList``/``TObjArray`` containers (path components joined with ``/``), keeps
only the highest cycle of each key, and returns the histograms together with
every object it could not convert (``TCanvas``, ``TGraph``, ``TTree``, ...), so
nothing disappears silently.  A file that cannot be opened at all raises
:class:`CorruptFileError` so the caller can quarantine it.

uproot opens the file and lists keys; payloads are decompressed and decoded by
:mod:`.rootio` because uproot's per-object models dominate the cost otherwise.
A key the fast decoder cannot handle is read through uproot's models instead.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
import zlib
from collections import OrderedDict
from collections.abc import Collection
from contextlib import closing
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import uproot

from overwatch.processing.conversion import ConversionError
from overwatch.processing.conversion import histogram_from_members
from overwatch.processing.conversion import members_from_model
from overwatch.processing.histogram import Histogram
from overwatch.processing.rootio import CONTAINER_CLASSES
from overwatch.processing.rootio import HISTOGRAM_CLASSES
from overwatch.processing.rootio import Decoder
from overwatch.processing.rootio import StreamerError
from overwatch.processing.rootio import inflate

__all__ = ["CorruptFileError", "ReadResult", "Unconvertible", "read_file"]

_DIRECTORY_CLASSES = frozenset(["TDirectory", "TDirectoryFile"])
# What a damaged file makes uproot (or our decoder) raise; anything else is a bug.
_READ_ERRORS = (
    OSError,
    ValueError,
    KeyError,
    IndexError,
    EOFError,
    struct.error,
    zlib.error,
    StreamerError,
    uproot.deserialization.DeserializationError,
)


class CorruptFileError(Exception):
    """The file cannot be opened or its directory structure cannot be read."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path = os.fspath(path)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Unconvertible:
    """An object that is in the file but is not (or cannot be) a :class:`Histogram`."""

    name: str
    class_name: str
    reason: str


@dataclass(slots=True)
class ReadResult:
    """Everything :func:`read_file` found, in file order."""

    path: str
    histograms: list[Histogram] = field(default_factory=list)
    unconvertible: list[Unconvertible] = field(default_factory=list)

    def by_name(self) -> dict[str, Histogram]:
        return {histogram.name: histogram for histogram in self.histograms}


class _Filter:
    """The optional ``names`` selection: exact paths and everything below them."""

    def __init__(self, names: Collection[str] | None) -> None:
        self._names = None if names is None else {name.strip("/") for name in names}

    def wants(self, path: str) -> bool:
        if self._names is None or path in self._names:
            return True
        return any(path.startswith(name + "/") for name in self._names)

    def may_contain(self, path: str) -> bool:
        if self.wants(path):
            return True
        assert self._names is not None
        return any(name.startswith(path + "/") for name in self._names)


# Receivers write the same streamer records into every file; parsing them with
# uproot costs ~20 ms a file, more than decoding a small file's histograms. Decoders
# (with their compiled layouts) are therefore shared by files with identical records.
_DECODERS: OrderedDict[bytes, Decoder] = OrderedDict()
_DECODER_CACHE_SIZE = 16


def _decoder_for(file: Any, data: mmap.mmap) -> Decoder:
    try:
        seek, size = int(file.file.fSeekInfo), int(file.file.fNbytesInfo)
    except (AttributeError, TypeError, ValueError):
        seek, size = 0, 0
    fingerprint = b""
    if seek > 0 and size > 18 and seek + size <= len(data):
        # Skip the key header: it holds the write time, which differs file to file.
        (keylen,) = struct.unpack_from(">h", data, seek + 14)
        fingerprint = hashlib.blake2b(data[seek + keylen : seek + size], digest_size=16).digest()
        cached = _DECODERS.get(fingerprint)
        if cached is not None:
            _DECODERS.move_to_end(fingerprint)
            return cached
    try:
        streamers = file.file.streamers
    except _READ_ERRORS:
        streamers = {}  # every key then goes through uproot's own models
    decoder = Decoder(streamers)
    if fingerprint and streamers:
        _DECODERS[fingerprint] = decoder
        if len(_DECODERS) > _DECODER_CACHE_SIZE:
            _DECODERS.popitem(last=False)
    return decoder


class _FileReader:
    def __init__(self, path: str, file: Any, data: mmap.mmap, names: _Filter) -> None:
        self.path = path
        self.data = data
        self.names = names
        self.result = ReadResult(path)
        self.decoder = _decoder_for(file, data)

    def directory(self, directory: Any, prefix: str) -> None:
        seen: set[str] = set()
        for name in directory.keys(recursive=False, cycle=False):
            if name in seen:
                continue  # an older cycle; directory.key() returns the highest
            seen.add(name)
            path = prefix + name
            key = directory.key(name)
            class_name = key.fClassName
            if class_name in _DIRECTORY_CLASSES:
                if self.names.may_contain(path):
                    self.directory(key.get(), path + "/")
            elif class_name in HISTOGRAM_CLASSES or class_name in CONTAINER_CLASSES:
                if self.names.may_contain(path):
                    self.key(key, path, class_name)
            elif self.names.wants(path):
                self.skip(path, class_name, "not a histogram")

    def skip(self, path: str, class_name: str, reason: str) -> None:
        self.result.unconvertible.append(Unconvertible(path, class_name, reason))

    def key(self, key: Any, path: str, class_name: str) -> None:
        try:
            members = self.decode(key, class_name)
        except _READ_ERRORS as fast_error:
            try:
                members = members_from_model(key.get())
            except _READ_ERRORS as error:
                self.skip(path, class_name, f"cannot decode: {fast_error}; uproot: {error}")
                return
        self.object(members, path)

    def decode(self, key: Any, class_name: str) -> dict[str, Any]:
        start = key.data_cursor.index
        raw = self.data[start : start + key.data_compressed_bytes]
        payload = inflate(raw, key.data_uncompressed_bytes)
        if payload is None:  # not zlib: let uproot decompress
            chunk, _ = key.get_uncompressed_chunk_cursor()
            payload = chunk.raw_data.tobytes()
        return self.decoder.decode(payload, class_name, key.fKeylen)

    def object(self, members: dict[str, Any], path: str, in_directory: bool = True) -> None:
        class_name = members["_typename"]
        if class_name in CONTAINER_CLASSES:
            self.container(members, path)
        elif "_error" in members:
            self.skip(path, class_name, f"cannot decode: {members['_error']}")
        elif class_name not in HISTOGRAM_CLASSES:
            self.skip(path, class_name, "not a histogram")
        elif self.names.wants(path):
            try:
                histogram = histogram_from_members(path, members, in_directory)
                self.result.histograms.append(histogram)
            except (ConversionError, KeyError, ValueError) as error:
                self.skip(path, class_name, f"inconsistent histogram: {error}")

    def container(self, members: dict[str, Any], path: str) -> None:
        for index, item in enumerate(members["arr"]):
            if item is None:
                continue  # empty TObjArray slot
            name = _item_name(item, index)
            if self.names.may_contain(f"{path}/{name}"):
                self.object(item, f"{path}/{name}", in_directory=False)


def _item_name(item: dict[str, Any], index: int) -> str:
    name = item.get("fName") or item.get("name")
    return str(name) if name else f"{item['_typename']}_{index}"


def read_file(path: str | os.PathLike[str], names: Collection[str] | None = None) -> ReadResult:
    """Read the histograms of the ROOT file at ``path``.

    ``names`` restricts reading to these paths (``"dir/list/hist"``) and whatever
    lies below them; directories and containers that cannot contain a selected
    path are not read.  Raises :class:`CorruptFileError` when the file cannot be
    opened or walked, ``FileNotFoundError`` when it does not exist.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    try:
        file = uproot.open(path, object_cache=None, array_cache=None)
    except _READ_ERRORS as error:
        raise CorruptFileError(path, f"uproot cannot open it: {error}") from error
    with (
        file,
        open(path, "rb") as handle,
        closing(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)) as data,
    ):
        reader = _FileReader(path, file, data, _Filter(names))
        try:
            reader.directory(file, "")
        except _READ_ERRORS as error:
            raise CorruptFileError(path, f"cannot read its directory: {error}") from error
    return reader.result
