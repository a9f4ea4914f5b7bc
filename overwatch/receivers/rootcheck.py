"""Check that received bytes are a complete ROOT file of histograms, without trusting them.

:func:`inspect_root_file` opens the bytes with uproot to read the file header and
the key lists (these are stored uncompressed, so listing inflates nothing), then
checks every key against the real size: a key reaching past the end means a
truncated file. Before anything is inflated, the sizes the keys *declare* are
summed and refused above a limit; then each compressed block is inflated with
its output capped at the size its header declares (into a buffer of that size,
which the inflater cannot grow), so a block that would inflate further (a
decompression bomb) is stopped after that many bytes. A file that
passes inflates to exactly what it declares, within the limit.

Nothing here decodes objects; class names come from the keys. The caller gets
the top-level objects in the shape the ALICE DQM receiver reported them.
"""

from __future__ import annotations

import lzma
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import IO
from typing import Any

import uproot

from overwatch.processing.rootio import CONTAINER_CLASSES
from overwatch.processing.rootio import HISTOGRAM_CLASSES

__all__ = ["ContentError", "Inspection", "inspect_root_file"]

_DIRECTORIES = frozenset({"TDirectory", "TDirectoryFile"})
#: Keys a file may hold in all; a bigger key list is refused rather than walked.
MAX_KEYS = 200_000
MAX_DEPTH = 32
_BLOCK_HEADER = 9
# uproot, like any parser of hostile bytes, fails in many ways; each is a bad file.
_OPEN_ERRORS = (
    OSError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    EOFError,
    RecursionError,
    OverflowError,
    MemoryError,
    struct.error,
    zlib.error,
    uproot.deserialization.DeserializationError,
)


class ContentError(ValueError):
    """The bytes are not an acceptable ROOT file; the message says why."""


@dataclass
class Inspection:
    """What a received file holds."""

    #: Top-level object name -> class name, in file order (highest cycle only).
    top_level: dict[str, str] = field(default_factory=dict)
    #: Histograms, and containers that may hold them, anywhere in the file.
    histograms: int = 0
    keys: int = 0
    #: Bytes the file's objects inflate to.
    inflated_bytes: int = 0


class _Borrowed:
    """The caller's file for uproot to read, which uproot must not close when done."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle

    def read(self, size: int = -1, /) -> bytes:
        return self._handle.read(size)

    def seek(self, offset: int, whence: int = 0, /) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()

    def close(self) -> None:
        """Left open: the upload is stored from it afterwards."""


@dataclass(frozen=True)
class _Key:
    path: str
    class_name: str
    seek: int
    nbytes: int
    keylen: int
    objlen: int


def inspect_root_file(handle: IO[bytes], size: int, *, max_inflated: int) -> Inspection:
    """Inspect the ROOT file in ``handle`` (``size`` bytes); raise :class:`ContentError`."""
    if size == 0:
        raise ContentError("the file is empty")
    handle.seek(0)
    if handle.read(4) != b"root":
        raise ContentError("not a ROOT file: it does not start with 'root'")
    handle.seek(0)
    inspection = Inspection()
    keys: list[_Key] = []
    try:
        with uproot.open(_Borrowed(handle), object_cache=None, array_cache=None) as opened:
            end = int(opened.file.fEND)
            if end > size:
                raise ContentError(f"truncated: the header says {end} bytes, {size} arrived")
            info = _info_key(opened, size)
            if info is not None:
                keys.append(info)
            for key in _walk(opened, "", 0, inspection):
                keys.append(key)
                if "/" not in key.path:
                    inspection.top_level[key.path] = key.class_name
    except ContentError:
        raise
    except _OPEN_ERRORS as exc:
        raise ContentError(f"not a readable ROOT file: {type(exc).__name__}: {exc}") from exc
    if inspection.histograms == 0:
        raise ContentError("the file holds no histograms")
    inspection.inflated_bytes = _check_keys(handle, keys, size, max_inflated)
    return inspection


def _check_keys(handle: IO[bytes], keys: list[_Key], size: int, max_inflated: int) -> int:
    """Check every key against the file size and the inflation limit; the inflated total."""
    for key in keys:
        if key.seek < 0 or key.nbytes < key.keylen or key.seek + key.nbytes > size:
            raise ContentError(
                f"truncated: object {key.path!r} ends at byte {key.seek + key.nbytes}, "
                f"the file has {size}"
            )
    declared = sum(max(key.objlen, 0) for key in keys)
    if declared > max_inflated:
        raise ContentError(
            f"decompression bomb: the objects declare {declared} bytes uncompressed, "
            f"more than the {max_inflated} allowed"
        )
    for key in keys:
        _check_payload(handle, key)
    return declared


def _info_key(opened: Any, size: int) -> _Key | None:
    """The streamer-info record: processing inflates it too, so it is checked like an object."""
    seek, nbytes = int(opened.file.fSeekInfo), int(opened.file.fNbytesInfo)
    if seek <= 0:
        return None
    if seek + nbytes > size:
        raise ContentError(f"truncated: the streamer records end at byte {seek + nbytes}")
    chunk = opened.file.source.chunk(seek, seek + min(nbytes, 64))
    raw = chunk.raw_data.tobytes()
    # TKey header: fNbytes (i4), fVersion (i2), fObjlen (i4), fDatime (u4), fKeylen (i2)
    _nbytes, _version, objlen, _datime, keylen = struct.unpack_from(">ihiIh", raw, 0)
    return _Key("StreamerInfo", "TList", seek, nbytes, keylen, objlen)


def _walk(directory: Any, prefix: str, depth: int, inspection: Inspection) -> Iterator[_Key]:
    if depth > MAX_DEPTH:
        raise ContentError(f"directories nested deeper than {MAX_DEPTH}")
    seen: set[str] = set()
    for name in directory.keys(recursive=False, cycle=False):
        if name in seen:
            continue  # an older cycle of the same object
        seen.add(name)
        inspection.keys += 1
        if inspection.keys > MAX_KEYS:
            raise ContentError(f"more than {MAX_KEYS} objects")
        key = directory.key(name)
        class_name = str(key.fClassName)
        path = prefix + name
        yield _Key(
            path,
            class_name,
            int(key.fSeekKey),
            int(key.fNbytes),
            int(key.fKeylen),
            int(key.fObjlen),
        )
        if class_name in HISTOGRAM_CLASSES or class_name in CONTAINER_CLASSES:
            inspection.histograms += 1
        elif class_name in _DIRECTORIES:
            yield from _walk(key.get(), path + "/", depth + 1, inspection)


def _check_payload(handle: IO[bytes], key: _Key) -> None:
    """Inflate one object's blocks, each capped at its declared size."""
    stored = key.nbytes - key.keylen
    if key.objlen == stored:
        return  # stored uncompressed: its size is bounded by the file
    handle.seek(key.seek + key.keylen)
    remaining, total = stored, 0
    while remaining > 0:
        header = handle.read(_BLOCK_HEADER)
        if len(header) < _BLOCK_HEADER:
            raise ContentError(f"object {key.path!r}: truncated compressed block")
        compressed = header[3] | (header[4] << 8) | (header[5] << 16)
        declared = header[6] | (header[7] << 8) | (header[8] << 16)
        if compressed > remaining - _BLOCK_HEADER:
            raise ContentError(f"object {key.path!r}: a compressed block runs past the object")
        data = handle.read(compressed)
        out = _inflate(header[:2], data, declared, key.path)
        if out != declared:
            raise ContentError(
                f"object {key.path!r}: a block inflates to {out} bytes, its header says {declared}"
            )
        total += out
        remaining -= _BLOCK_HEADER + compressed
    if total != key.objlen:
        raise ContentError(
            f"object {key.path!r} inflates to {total} bytes, its key says {key.objlen}"
        )


def _inflate(algorithm: bytes, data: bytes, declared: int, path: str) -> int:
    """Length of the inflated block; never produces more than ``declared`` + 1 bytes."""
    try:
        if algorithm == b"ZL":
            return _inflate_zlib(data, declared, path)
        if algorithm == b"XZ":
            lz = lzma.LZMADecompressor()
            out = lz.decompress(data, declared + 1)
            if len(out) <= declared and not lz.eof:
                raise ContentError(f"object {path!r}: an incomplete compressed block")
            return len(out)
        if algorithm in (b"L4", b"ZS"):
            return _inflate_cramjam(algorithm, data, declared)
    except (zlib.error, lzma.LZMAError) as exc:
        raise ContentError(f"object {path!r}: cannot inflate: {exc}") from exc
    raise ContentError(f"object {path!r}: unsupported compression {algorithm!r}")


def _inflate_zlib(data: bytes, declared: int, path: str) -> int:
    import cramjam  # noqa: PLC0415 - uproot's own dependency

    # The common case, fast: cramjam inflates into a buffer one byte bigger than
    # declared and fails rather than grow it (it checks the stream's end and checksum
    # too); about twice as fast as the standard library's inflater.
    try:
        return int(cramjam.zlib.decompress_into(data, bytearray(declared + 1)))
    except cramjam.DecompressionError:
        pass
    # A bad block (or one too big): the standard library, capped the same way, decides
    # and says what is wrong with it.
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, declared + 1)
    if len(out) <= declared and not inflater.eof:
        raise ContentError(f"object {path!r}: an incomplete compressed block")
    return len(out)


def _inflate_cramjam(algorithm: bytes, data: bytes, declared: int) -> int:
    import cramjam  # noqa: PLC0415 - uproot's own dependency for LZ4 and ZSTD

    # Inflating into a buffer of the declared size fails instead of growing past it.
    buffer = bytearray(declared)
    try:
        if algorithm == b"L4":
            # ROOT puts an 8-byte checksum before the LZ4 block.
            return int(cramjam.lz4.decompress_block_into(data[8:], buffer))
        return int(cramjam.zstd.decompress_into(data, buffer))
    except cramjam.DecompressionError:
        # Too big for its declared size, or corrupt: either way not what it declares.
        return declared + 1
