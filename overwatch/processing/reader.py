"""Read every histogram of a ROOT file into :class:`~.histogram.Histogram` objects.

:func:`read_file` walks top-level keys, nested ``TDirectory``s and ``TList``/
``THashList``/``TObjArray`` containers (path components joined with ``/``), keeps
only the highest cycle of each key, and returns the histograms together with
every object it could not convert (a ``TTree``, a histogram refused for its size,
...), so nothing disappears silently.  Objects JSROOT draws that are not
histograms (``TGraph``, ``THStack``, ``TCanvas``, ... see
:data:`~overwatch.histograms.drawable.DRAWABLE_CLASSES`) are listed there too,
as "not a histogram", with their ``TBufferJSON`` structure in ``drawable``.  A file that cannot be
opened at all raises :class:`CorruptFileError` so the caller can quarantine it.

Key names are taken as they are: ``/``, ``;``, NUL or bytes that are not UTF-8 are
legal in ROOT.  Keys are therefore taken from the key lists as listed, never
looked up by name (uproot splits names on ``/`` and ``;``), and each component
of a path is escaped with :func:`.names.escape_component`, so every object has
one distinct, printable path.  Repeated names inside a container get a ``;N`` suffix.

Two paths read a file. The fast one lists keys and streamer records with
:mod:`.tfile` and decodes payloads with :mod:`.rootio`; it does not import uproot,
whose start-up is a third of a worker's and whose per-object models would dominate
the cost. A file it cannot read whole (another compression than zlib, a key the
decoder cannot handle, a damaged structure) is read again from the start by the
second path: uproot opens it and lists its keys, :mod:`.rootio` still decodes what
it can and uproot's models the rest, and uproot's errors say what is wrong.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
import zlib
from collections import OrderedDict
from collections.abc import Collection
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import closing
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import BinaryIO

from overwatch.histograms.drawable import DRAWABLE_CLASSES
from overwatch.histograms.drawable import DrawableObject
from overwatch.histograms.model import Histogram
from overwatch.processing.conversion import ConversionError
from overwatch.processing.conversion import histogram_from_members
from overwatch.processing.conversion import members_from_model
from overwatch.processing.names import clean_text
from overwatch.processing.names import escape_component
from overwatch.processing.objects import drawable_from_members
from overwatch.processing.rootio import CONTAINER_CLASSES
from overwatch.processing.rootio import HISTOGRAM_CLASSES
from overwatch.processing.rootio import Decoder
from overwatch.processing.rootio import HistogramTooLargeError
from overwatch.processing.rootio import StreamerError
from overwatch.processing.rootio import check_size
from overwatch.processing.rootio import inflate
from overwatch.processing.tfile import RootFile
from overwatch.processing.tfile import StreamerElement
from overwatch.processing.tfile import StreamerInfo
from overwatch.processing.tfile import TKey
from overwatch.processing.tfile import UnsupportedFileError
from overwatch.processing.tfile import canonical_type_name

__all__ = [
    "BYTES_PER_CELL",
    "MAX_DIRECTORY_DEPTH",
    "NOT_A_HISTOGRAM",
    "CorruptFileError",
    "ReadResult",
    "Unconvertible",
    "read_file",
    "top_level_names",
]

_DIRECTORY_CLASSES = frozenset(["TDirectory", "TDirectoryFile"])
#: Uncompressed bytes a histogram may need per cell (a TProfile's four float64
#: arrays); with ``max_bins`` it bounds a key's payload before it is inflated.
BYTES_PER_CELL = 32
# Room for names, titles, labels and fit functions on top of the arrays.
_PAYLOAD_SLACK = 16 << 20
# A container key holds many histograms; it may be this many times larger.
_CONTAINER_FACTOR = 8
#: Directories nested deeper than this are not entered (and reported).
MAX_DIRECTORY_DEPTH = 100
# What a damaged file makes uproot (or our decoder) raise; anything else is a bug.
_READ_ERRORS = (
    OSError,
    ValueError,
    KeyError,
    IndexError,
    EOFError,
    RecursionError,  # containers nested absurdly deep
    struct.error,
    zlib.error,
    StreamerError,
)


def _uproot_errors() -> tuple[type[BaseException], ...]:
    """:data:`_READ_ERRORS` and what uproot raises for a damaged file (imports uproot)."""
    import uproot  # noqa: PLC0415 - only files the fast path cannot read need it

    return (*_READ_ERRORS, uproot.deserialization.DeserializationError)


class _UseUprootError(Exception):
    """The fast path met something only uproot reads: start the file again with uproot."""


class CorruptFileError(Exception):
    """The file cannot be opened or its directory structure cannot be read."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path = os.fspath(path)
        self.reason = reason


NOT_A_HISTOGRAM = "not a histogram"


@dataclass(frozen=True, slots=True)
class Unconvertible:
    """An object that is in the file but is not (or cannot be) a :class:`Histogram`.

    ``drawable`` holds an object of a class JSROOT draws (a graph, a stack...),
    which is stored and drawn like a histogram but not checked, merged or subtracted.
    """

    name: str
    class_name: str
    reason: str
    drawable: DrawableObject | None = None


@dataclass(slots=True)
class ReadResult:
    """Everything :func:`read_file` found, in file order."""

    path: str
    histograms: list[Histogram] = field(default_factory=list)
    unconvertible: list[Unconvertible] = field(default_factory=list)

    def by_name(self) -> dict[str, Histogram]:
        return {histogram.name: histogram for histogram in self.histograms}

    @property
    def errors(self) -> list[Unconvertible]:
        """Objects that should have been histograms but could not be read."""
        return [item for item in self.unconvertible if item.reason != NOT_A_HISTOGRAM]


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


def _fingerprint(data: Any, seek: int, size: int) -> bytes:
    """A digest of the streamer record list at ``seek`` (``b""`` when there is none)."""
    if seek <= 0 or size <= 18 or seek + size > len(data):
        return b""
    # Skip the key header: it holds the write time, which differs file to file.
    (keylen,) = struct.unpack_from(">h", data, seek + 14)
    return hashlib.blake2b(data[seek + keylen : seek + size], digest_size=16).digest()


def _cached_decoder(fingerprint: bytes) -> Decoder | None:
    cached = _DECODERS.get(fingerprint) if fingerprint else None
    if cached is not None:
        _DECODERS.move_to_end(fingerprint)
    return cached


def _remember_decoder(fingerprint: bytes, decoder: Decoder) -> None:
    if fingerprint:
        _DECODERS[fingerprint] = decoder
        if len(_DECODERS) > _DECODER_CACHE_SIZE:
            _DECODERS.popitem(last=False)


def _fast_decoder(root: RootFile) -> Decoder:
    fingerprint = _fingerprint(root.buf, root.seek_info, root.info_bytes)
    decoder = _cached_decoder(fingerprint)
    if decoder is None:
        streamers = root.streamers()
        decoder = Decoder(streamers)
        if streamers:
            _remember_decoder(fingerprint, decoder)
    return decoder


def _uproot_decoder(file: Any, data: mmap.mmap) -> Decoder:
    try:
        seek, size = int(file.file.fSeekInfo), int(file.file.fNbytesInfo)
    except (AttributeError, TypeError, ValueError):
        seek, size = 0, 0
    fingerprint = _fingerprint(data, seek, size)
    decoder = _cached_decoder(fingerprint)
    if decoder is not None:
        return decoder
    try:
        streamers = _streamers_from_uproot(file.file.streamers)
    except _uproot_errors():
        streamers = {}  # every key then goes through uproot's own models
    decoder = Decoder(streamers)
    if streamers:
        _remember_decoder(fingerprint, decoder)
    return decoder


def _streamers_from_uproot(streamers: Any) -> dict[str, dict[int, StreamerInfo]]:
    """uproot's parsed streamer records in the form :mod:`.tfile` gives them."""
    import uproot.streamers  # noqa: PLC0415

    out: dict[str, dict[int, StreamerInfo]] = {}
    for name, versions in streamers.items():
        for version, info in versions.items():
            elements = tuple(
                StreamerElement(
                    "TStreamerBase"
                    if isinstance(element, uproot.streamers.Model_TStreamerBase)
                    else type(element).__name__.removeprefix("Model_"),
                    element.member("fName"),
                    element.member("fType"),
                    canonical_type_name(element.member("fTypeName")),
                    element.member("fArrayLength"),
                    element.member("fCountName") if element.has_member("fCountName") else "",
                )
                for element in info.elements
            )
            out.setdefault(name, {})[version] = StreamerInfo(name, version, elements)
    return out


def _highest_cycles(keys: Iterable[Any]) -> list[Any]:
    """The highest cycle of each name among ``keys``, in file order."""
    best: dict[str, Any] = {}
    for key in keys:
        current = best.get(key.fName)
        # ROOT compares cycles by absolute value (negative cycles are legal).
        if current is None or abs(key.fCycle) > abs(current.fCycle):
            best[key.fName] = key
    return list(best.values())


class _FastSource:
    """Keys and payloads through :mod:`.tfile` (no uproot); a directory is its key list."""

    errors: tuple[type[BaseException], ...] = _READ_ERRORS

    def __init__(self, root: RootFile) -> None:
        self.root = root
        self.decoder = _fast_decoder(root)

    def top(self) -> list[TKey]:
        return self.root.top_keys()

    def keys(self, directory: list[TKey]) -> list[TKey]:
        return _highest_cycles(directory)

    def subdirectory(self, key: TKey) -> list[TKey]:
        return self.root.directory_keys(key)

    def payload(self, key: TKey) -> bytes:
        try:
            return self.root.payload(key)
        except UnsupportedFileError as error:
            raise _UseUprootError(str(error)) from error

    def model_members(self, key: TKey) -> dict[str, Any]:
        raise _UseUprootError(f"{key.fName!r} needs uproot's models")


class _UprootSource:
    """Keys and payloads through an open uproot file (a file the fast path cannot read).

    uproot's lookups by name (``directory.key(name)``, ``directory[name]``) split
    the name on ``/`` and ``;``, which ROOT allows inside a key name; the key
    list uproot read (``ReadOnlyDirectory._keys``, which ``keys()`` and
    ``classnames()`` iterate too) holds the key objects themselves.
    """

    def __init__(self, file: Any, data: mmap.mmap) -> None:
        self.file = file
        self.data = data
        self.errors = _uproot_errors()
        self.decoder = _uproot_decoder(file, data)

    def top(self) -> Any:
        return self.file

    def keys(self, directory: Any) -> list[Any]:
        return _highest_cycles(directory._keys)  # private, see the docstring

    def subdirectory(self, key: Any) -> Any:
        return key.get()

    def payload(self, key: Any) -> bytes:
        start = key.data_cursor.index
        raw = self.data[start : start + key.data_compressed_bytes]
        payload = inflate(raw, key.data_uncompressed_bytes)
        if payload is None:  # not zlib: let uproot decompress
            chunk, _ = key.get_uncompressed_chunk_cursor()
            payload = chunk.raw_data.tobytes()
        return payload

    def model_members(self, key: Any) -> dict[str, Any]:
        members: dict[str, Any] = members_from_model(key.get())
        return members


class _FileReader:
    def __init__(
        self, path: str, source: _FastSource | _UprootSource, names: _Filter, max_bins: int | None
    ) -> None:
        self.path = path
        self.source = source
        self.errors = source.errors
        self.names = names
        self.max_bins = max_bins
        self.result = ReadResult(path)
        self.decoder = source.decoder
        self.taken: set[str] = set()

    def directory(self, directory: Any, prefix: str, depth: int = 0) -> None:
        for key in self.source.keys(directory):
            path = prefix + escape_component(key.fName)
            class_name = clean_text(key.fClassName)
            if class_name in _DIRECTORY_CLASSES:
                if depth >= MAX_DIRECTORY_DEPTH:
                    reason = f"not read: nested deeper than {MAX_DIRECTORY_DEPTH} directories"
                    self.skip(path, class_name, reason)
                elif self.names.may_contain(path):
                    self.directory(self.source.subdirectory(key), path + "/", depth + 1)
            elif (
                class_name in HISTOGRAM_CLASSES
                or class_name in CONTAINER_CLASSES
                or class_name in DRAWABLE_CLASSES
            ):
                if self.names.may_contain(path):
                    self.key(key, path, class_name)
            elif self.names.wants(path):
                self.skip(path, class_name, NOT_A_HISTOGRAM)

    def unique(self, path: str) -> str:
        """``path``, or ``path;2``, ``path;3``... when a container repeats a name."""
        candidate, counter = path, 1
        while candidate in self.taken:
            counter += 1
            candidate = f"{path};{counter}"
        self.taken.add(candidate)
        return candidate

    def skip(self, path: str, class_name: str, reason: str) -> None:
        item = Unconvertible(self.unique(path), class_name, clean_text(reason))
        self.result.unconvertible.append(item)

    def too_large(self, key: Any, class_name: str) -> str | None:
        """Why a key's payload is refused before inflating it, or None."""
        if self.max_bins is None:
            return None
        limit = self.max_bins * BYTES_PER_CELL + _PAYLOAD_SLACK
        if class_name in CONTAINER_CLASSES:
            limit *= _CONTAINER_FACTOR
        size = int(key.data_uncompressed_bytes)
        if size <= limit:
            return None
        return (
            f"refused: {size:,} bytes uncompressed, more than max_histogram_bins = "
            f"{self.max_bins:,} allows"
        )

    def key(self, key: Any, path: str, class_name: str) -> None:
        refusal = self.too_large(key, class_name)
        if refusal is not None:
            self.skip(path, class_name, refusal)
            return
        try:
            members = self.decode(key, class_name)
        except HistogramTooLargeError as error:
            self.skip(path, class_name, str(error))
            return
        except self.errors as fast_error:
            try:
                members = self.source.model_members(key)
            except self.errors as error:
                self.skip(path, class_name, f"cannot decode: {fast_error}; uproot: {error}")
                return
        self.object(members, path)

    def decode(self, key: Any, class_name: str) -> dict[str, Any]:
        payload = self.source.payload(key)
        return self.decoder.decode(payload, class_name, key.fKeylen, self.max_bins)

    def object(self, members: dict[str, Any], path: str, in_directory: bool = True) -> None:
        class_name = clean_text(members["_typename"])
        if class_name in CONTAINER_CLASSES:
            self.container(members, path)
        elif "_refused" in members:
            self.skip(path, class_name, members["_refused"])
        elif "_error" in members:
            self.skip(path, class_name, f"cannot decode: {members['_error']}")
        elif class_name in DRAWABLE_CLASSES and self.names.wants(path):
            self.drawable(members, path, in_directory)
        elif class_name not in HISTOGRAM_CLASSES:
            self.skip(path, class_name, NOT_A_HISTOGRAM)
        elif self.names.wants(path):
            try:
                if self.max_bins is not None:  # objects read by uproot's models
                    check_size(members, self.max_bins)
                histogram = histogram_from_members(self.unique(path), members, in_directory)
                self.result.histograms.append(histogram)
            except HistogramTooLargeError as error:
                self.skip(path, class_name, str(error))
            except (ConversionError, KeyError, ValueError) as error:
                self.skip(path, class_name, f"inconsistent histogram: {error}")

    def drawable(self, members: dict[str, Any], path: str, in_directory: bool) -> None:
        class_name = clean_text(members["_typename"])
        if members.get("_skipped"):
            reason = members.get("_reason") or "no streamer record for it in the file"
            self.skip(path, class_name, f"cannot decode: {reason}")
            return
        try:
            found = drawable_from_members(path, members, in_directory)
        except (KeyError, TypeError, ValueError) as error:
            self.skip(path, class_name, f"inconsistent object: {error!r}")
            return
        name = self.unique(path)
        found.name = name
        self.result.unconvertible.append(Unconvertible(name, class_name, NOT_A_HISTOGRAM, found))

    def container(self, members: dict[str, Any], path: str) -> None:
        for index, item in enumerate(members["arr"]):
            if item is None:
                continue  # empty TObjArray slot
            name = escape_component(_item_name(item, index))
            if self.names.may_contain(f"{path}/{name}"):
                self.object(item, f"{path}/{name}", in_directory=False)


def _item_name(item: dict[str, Any], index: int) -> str:
    name = item.get("fName") or item.get("name")
    return str(name) if name else f"{item['_typename']}_{index}"


def read_file(
    path: str | os.PathLike[str],
    names: Collection[str] | None = None,
    *,
    max_bins: int | None = None,
) -> ReadResult:
    """Read the histograms of the ROOT file at ``path``.

    ``names`` restricts reading to these paths (``"dir/list/hist"``, escaped as
    the paths in a :class:`ReadResult`) and whatever lies below them; directories
    and containers that cannot contain a selected path are not read.
    ``max_bins`` refuses histograms with more cells (under/overflow included),
    before their arrays are inflated or decoded; they are reported as
    :class:`Unconvertible` with the reason.  Raises :class:`CorruptFileError` when
    the file cannot be opened or walked, ``FileNotFoundError`` when it does not
    exist.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    with open(path, "rb") as handle:
        try:
            with _mapped(handle) as root:
                reader = _FileReader(path, _FastSource(root), _Filter(names), max_bins)
                reader.directory(reader.source.top(), "")
                return reader.result
        except (_UseUprootError, UnsupportedFileError, *_READ_ERRORS):
            pass  # read again by uproot, which decides what is wrong
    return _read_with_uproot(path, names, max_bins)


@contextmanager
def _mapped(handle: BinaryIO) -> Iterator[RootFile]:
    """The structure of the open file ``handle``, mapped into memory (only the pages
    of what is read are loaded)."""
    try:
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except ValueError as error:  # an empty file cannot be mapped
        raise UnsupportedFileError("an empty file") from error
    with closing(data):
        yield RootFile(data)


def _read_with_uproot(path: str, names: Collection[str] | None, max_bins: int | None) -> ReadResult:
    import uproot  # noqa: PLC0415 - only files the fast path cannot read need it

    errors = _uproot_errors()
    try:
        file = uproot.open(path, object_cache=None, array_cache=None)
    except errors as error:
        raise CorruptFileError(path, f"uproot cannot open it: {error}") from error
    with (
        file,
        open(path, "rb") as handle,
        closing(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)) as data,
    ):
        reader = _FileReader(path, _UprootSource(file, data), _Filter(names), max_bins)
        try:
            reader.directory(file, "")
        except errors as error:
            raise CorruptFileError(path, f"cannot read its directory: {error}") from error
    return reader.result


def top_level_names(path: str | os.PathLike[str]) -> list[str]:
    """The escaped names of the file's top-level keys, sorted (for splitting work by key)."""
    try:
        with open(path, "rb") as handle, _mapped(handle) as root:
            return sorted({escape_component(key.fName) for key in root.top_keys()})
    except (UnsupportedFileError, *_READ_ERRORS):
        pass  # uproot decides what is wrong
    import uproot  # noqa: PLC0415

    try:
        with uproot.open(path) as file:
            return sorted({escape_component(key.fName) for key in _highest_cycles(file._keys)})
    except _uproot_errors() as error:
        raise CorruptFileError(path, f"cannot list keys: {error}") from error


def object_paths(path: str | os.PathLike[str]) -> list[str] | None:
    """The escaped paths of the file's objects, directories walked, nothing decoded.

    ``None`` when that is not the whole picture: the file holds containers (whose
    items only decoding lists), or the fast path cannot read its structure.
    """
    paths: list[str] = []

    def walk(root: RootFile, keys: list[TKey], prefix: str, depth: int) -> bool:
        for key in _highest_cycles(keys):
            name = prefix + escape_component(key.fName)
            class_name = clean_text(key.fClassName)
            if class_name in CONTAINER_CLASSES:
                return False
            if class_name in _DIRECTORY_CLASSES:
                if depth >= MAX_DIRECTORY_DEPTH or not walk(
                    root, root.directory_keys(key), name + "/", depth + 1
                ):
                    return False
            else:
                paths.append(name)
        return True

    try:
        with open(path, "rb") as handle, _mapped(handle) as root:
            return paths if walk(root, root.top_keys(), "", 0) else None
    except (UnsupportedFileError, *_READ_ERRORS):
        return None
