"""The cheap content check of intake: is this the start of a whole ROOT file?

A scan sees every received file once, before any job reads it. Opening each with
uproot there cost as much as a small job's reading, so intake reads only the
fixed file header (a few dozen bytes): the ``root`` magic, and the offsets the
header declares (first key, end of file, streamer record, top directory's name
record) against the file's real size. That sets aside what is plainly not a ROOT
file (empty, text, zeros) and every file cut short, since a truncated file ends
before the ``fEND`` its header declares. A file whose header is sound but whose
keys are damaged is found by the job that reads it, which quarantines it with
the reason (:class:`~overwatch.processing.reader.CorruptFileError`).
"""

from __future__ import annotations

import struct
from pathlib import Path

__all__ = ["HEADER_BYTES", "header_problem"]

#: Bytes read: the header of a large-file (64-bit) ROOT file with room to spare.
HEADER_BYTES = 64
#: ``fVersion`` above this: the header's seeks are 64 bits (files over 2 GB, or asked for).
_LARGE_FILE_VERSION = 1_000_000
# magic, fVersion, fBEGIN, then fEND, fSeekFree, fNbytesFree, nfree, fNbytesName,
# fUnits, fCompress, fSeekInfo, fNbytesInfo (TFile::WriteHeader).
_SMALL = struct.Struct(">4siiiiiiiBiii")
_LARGE = struct.Struct(">4siiqqiiiBiqi")


def header_problem(path: Path) -> str | None:
    """Why the file at ``path`` is not a whole ROOT file by its header, or None.

    Reads at most :data:`HEADER_BYTES` bytes. Raises ``OSError`` when the file
    cannot be read at all (gone, unreadable): that says nothing about its content.
    """
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            return "empty file"
        handle.seek(0)
        head = handle.read(HEADER_BYTES)
    if not head.startswith(b"root"):
        return "not a readable ROOT file: it does not start with the ROOT magic 'root'"
    layout = _SMALL
    if len(head) >= 8 and struct.unpack_from(">i", head, 4)[0] >= _LARGE_FILE_VERSION:
        layout = _LARGE
    if len(head) < layout.size:
        return f"not a readable ROOT file: {len(head)} bytes, shorter than a ROOT file header"
    fields = layout.unpack_from(head)
    begin, end, name_bytes = fields[2], fields[3], fields[7]
    seek_info, info_bytes = fields[10], fields[11]
    problem = None
    if begin < layout.size or end < begin or min(name_bytes, info_bytes, seek_info) < 0:
        problem = f"inconsistent header (fBEGIN {begin}, fEND {end}, fSeekInfo {seek_info})"
    elif end > size:
        problem = f"truncated, {size} of the {end} bytes its header declares"
    elif begin + name_bytes > end or seek_info + info_bytes > end:
        problem = (
            "its header points past the end of the file "
            f"(fBEGIN {begin} + {name_bytes}, fSeekInfo {seek_info} + {info_bytes}, fEND {end})"
        )
    return None if problem is None else f"not a readable ROOT file: {problem}"
