"""One snapshot on the ZMQ wire: its format, its validation, and storing it as a receiver file.

A snapshot travels as a two-frame ZMQ multipart message (documented for sites in
``docs/receivers.md``, section "ZMQ"):

1. a UTF-8 JSON object, at most :data:`MAX_HEADER_BYTES`::

       {"version": 1, "subsystem": "EMC", "run_number": 294832, "hlt_mode": "C",
        "time": 1540194835, "sha256": "<hex, optional>", "id": "<optional>"}

   ``time`` is unix seconds (a number) or an ISO 8601 string with a UTC offset;
2. the bytes of one ROOT file, exactly as it would lie in the data directory.

The guarantee: :func:`decode_snapshot` either returns a snapshot whose every
field is checked (subsystem letters and digits only, run number in
1..2**31-1, a known HLT mode, a time between 1970 and a day ahead of now, a body
within the size limit that uproot opens and that holds histograms), or raises
:class:`SnapshotError` with the reason. Only checked fields reach the file
name, and :func:`store_snapshot` writes through the atomic writer, so a
message can neither leave a partial file nor name a path outside the data
directory. The same bytes stored twice under one name are one file.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import uproot

from overwatch.receivers.filenames import HLT_MODES
from overwatch.receivers.filenames import FileNameError
from overwatch.receivers.filenames import build_file_name
from overwatch.receivers.filenames import parse_file_name
from overwatch.receivers.writer import write_bytes_atomically

__all__ = [
    "MAX_HEADER_BYTES",
    "MAX_RUN_NUMBER",
    "WIRE_HLT_MODES",
    "WIRE_VERSION",
    "Snapshot",
    "SnapshotError",
    "SnapshotHeader",
    "StoredSnapshot",
    "decode_snapshot",
    "encode_snapshot",
    "parse_header",
    "root_body_problem",
    "store_snapshot",
]

WIRE_VERSION = 1
MAX_HEADER_BYTES = 64 * 1024
MAX_RUN_NUMBER = 2**31 - 1
#: HLT modes a ZMQ snapshot may carry; ``DQM`` belongs to HTTP uploads.
WIRE_HLT_MODES = HLT_MODES - {"DQM"}
#: How far ahead of the receiver's clock a snapshot's time may be.
FUTURE_TOLERANCE = timedelta(days=1)

_SUBSYSTEM = re.compile(r"[A-Za-z0-9]{1,32}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_HISTOGRAM_PREFIXES = ("TH1", "TH2", "TH3", "TProfile")
# Containers may hold histograms; telling would mean reading (inflating) them.
_CONTAINERS = frozenset({"TList", "THashList", "TObjArray"})


class SnapshotError(ValueError):
    """A message refused, with the reason a person reads in the log."""


@dataclass(frozen=True, slots=True)
class SnapshotHeader:
    """The checked header of one snapshot."""

    subsystem: str
    run_number: int
    hlt_mode: str
    #: When the snapshot was taken, timezone-aware UTC.
    time: datetime
    sha256: str | None = None
    #: Sender's identifier, echoed in acknowledgements (req mode); never used in paths.
    id: str | None = None

    def file_name(self, tz: ZoneInfo) -> str:
        """The receiver file name, local time in ``tz``."""
        return build_file_name(self.subsystem, self.run_number, self.hlt_mode, self.time, tz)

    def to_json(self, **extra: Any) -> bytes:
        """The header frame; ``extra`` adds sender fields such as ``pending``."""
        fields: dict[str, Any] = {
            "version": WIRE_VERSION,
            "subsystem": self.subsystem,
            "run_number": self.run_number,
            "hlt_mode": self.hlt_mode,
            "time": int(self.time.timestamp()),
        }
        if self.sha256 is not None:
            fields["sha256"] = self.sha256
        if self.id is not None:
            fields["id"] = self.id
        fields.update(extra)
        return orjson.dumps(fields)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A checked header and the ROOT file bytes it describes."""

    header: SnapshotHeader
    body: bytes


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """Where a snapshot landed in the data directory."""

    path: Path
    nbytes: int
    #: The same bytes were already there under this name; nothing new was written.
    duplicate: bool


def encode_snapshot(snapshot: Snapshot, **extra: Any) -> list[bytes]:
    """The frames of one snapshot message."""
    return [snapshot.header.to_json(**extra), snapshot.body]


def _as_time(value: Any, now: datetime) -> datetime:
    if isinstance(value, bool):
        raise SnapshotError("time must be unix seconds or an ISO 8601 time, not a boolean")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise SnapshotError(f"time {value!r} is not a sane unix time")
        if value > (now + FUTURE_TOLERANCE).timestamp():
            raise SnapshotError(f"time {value!r} is more than a day ahead of now")
        return datetime.fromtimestamp(int(value), UTC)
    if isinstance(value, str) and len(value) <= 64:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise SnapshotError(f"time {value!r} is not an ISO 8601 time") from None
        if parsed.tzinfo is None:
            raise SnapshotError(f"time {value!r} has no UTC offset")
        return _as_time(parsed.timestamp(), now)
    raise SnapshotError("time must be unix seconds or an ISO 8601 time with a UTC offset")


def parse_header(data: bytes, *, now: datetime | None = None) -> SnapshotHeader:
    """Check a header frame; raise :class:`SnapshotError` saying what is wrong."""
    if len(data) > MAX_HEADER_BYTES:
        raise SnapshotError(f"header frame of {len(data)} bytes exceeds {MAX_HEADER_BYTES}")
    try:
        fields = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise SnapshotError(f"header is not JSON: {exc}") from None
    if not isinstance(fields, dict):
        raise SnapshotError("header must be a JSON object")
    version = fields.get("version")
    if version != WIRE_VERSION or isinstance(version, bool):
        raise SnapshotError(f"header version must be {WIRE_VERSION}, got {version!r}")
    missing = [key for key in ("subsystem", "run_number", "hlt_mode", "time") if key not in fields]
    if missing:
        raise SnapshotError(f"header lacks {', '.join(missing)}")
    subsystem = fields["subsystem"]
    if not isinstance(subsystem, str) or not _SUBSYSTEM.fullmatch(subsystem):
        raise SnapshotError(f"subsystem {subsystem!r} must be 1 to 32 letters and digits")
    run_number = fields["run_number"]
    if not isinstance(run_number, int) or isinstance(run_number, bool):
        raise SnapshotError(f"run_number {run_number!r} must be a whole number")
    if not 1 <= run_number <= MAX_RUN_NUMBER:
        raise SnapshotError(f"run_number {run_number} must be between 1 and {MAX_RUN_NUMBER}")
    hlt_mode = fields["hlt_mode"]
    if not isinstance(hlt_mode, str) or hlt_mode not in WIRE_HLT_MODES:
        raise SnapshotError(f"hlt_mode {hlt_mode!r} must be one of {sorted(WIRE_HLT_MODES)}")
    time = _as_time(fields["time"], now or datetime.now(UTC))
    sha256 = fields.get("sha256")
    if sha256 is not None and (not isinstance(sha256, str) or not _SHA256.fullmatch(sha256)):
        raise SnapshotError("sha256 must be 64 lower-case hex digits")
    ident = fields.get("id")
    if ident is not None and (not isinstance(ident, str) or not _ID.fullmatch(ident)):
        raise SnapshotError("id must be 1 to 128 letters, digits or _.:-")
    return SnapshotHeader(subsystem, run_number, hlt_mode, time, sha256, ident)


def root_body_problem(body: bytes) -> str | None:
    """Why ``body`` is not a ROOT file with histograms, or None.

    Reads only the key lists (never inflates an object), so a decompression bomb
    costs nothing here; the processing reader guards the objects themselves.
    """
    if not body:
        return "empty body"
    if not body.startswith(b"root"):
        return "body is not a ROOT file (no 'root' signature)"
    try:
        with uproot.open(io.BytesIO(body)) as root_file:
            end = int(root_file.file.fEND)
            classes = set(root_file.classnames(recursive=True).values())
    except Exception as exc:  # noqa: BLE001 - any failure to parse means a bad file
        return f"body is not a readable ROOT file: {type(exc).__name__}: {exc}"
    if len(body) < end:
        # The header says where the file ends; writers may put keys before the data.
        return f"ROOT file is truncated: {len(body)} of {end} bytes"
    if not any(name.startswith(_HISTOGRAM_PREFIXES) or name in _CONTAINERS for name in classes):
        return "ROOT file holds no histograms"
    return None


def decode_snapshot(
    frames: Sequence[bytes], *, max_bytes: int, now: datetime | None = None
) -> Snapshot:
    """Check a whole message (see the module docstring); raise :class:`SnapshotError`."""
    if len(frames) != 2:
        raise SnapshotError(f"expected 2 frames (header, ROOT file), got {len(frames)}")
    header = parse_header(frames[0], now=now)
    body = bytes(frames[1])
    if len(body) > max_bytes:
        raise SnapshotError(f"ROOT file of {len(body)} bytes exceeds the limit of {max_bytes}")
    if header.sha256 is not None and hashlib.sha256(body).hexdigest() != header.sha256:
        raise SnapshotError("body does not match the header's sha256")
    problem = root_body_problem(body)
    if problem is not None:
        raise SnapshotError(problem)
    return Snapshot(header, body)


def _same_content(path: Path, body: bytes) -> bool:
    return path.stat().st_size == len(body) and path.read_bytes() == body


def store_snapshot(data_dir: Path, snapshot: Snapshot, tz: ZoneInfo) -> StoredSnapshot:
    """Write ``snapshot`` into ``data_dir`` as a receiver file, atomically, at most once.

    A file of the same name and bytes already there counts as stored (``duplicate``);
    a different file of that name is refused with :class:`SnapshotError`. Raises
    :class:`OSError` if the file system fails.
    """
    header = snapshot.header
    name = header.file_name(tz)
    try:
        parsed = parse_file_name(name, tz)
    except FileNameError as exc:
        raise SnapshotError(f"would write an unreadable file name: {exc}") from None
    if (parsed.subsystem, parsed.run_number, parsed.hlt_mode) != (
        header.subsystem,
        header.run_number,
        header.hlt_mode,
    ):
        raise SnapshotError(f"file name {name!r} would not read back as this snapshot")
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / name
    for _ in range(3):
        try:
            write_bytes_atomically(path, snapshot.body)
        except FileExistsError:
            try:
                same = _same_content(path, snapshot.body)
            except FileNotFoundError:
                continue  # the scanner filed it away meanwhile; write again, it dedupes
            if same:
                return StoredSnapshot(path, len(snapshot.body), duplicate=True)
            raise SnapshotError(
                f"a different file named {name} is already in the data directory"
            ) from None
        return StoredSnapshot(path, len(snapshot.body), duplicate=False)
    raise SnapshotError(f"{name} kept appearing and vanishing while being written")
