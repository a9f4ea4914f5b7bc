"""The received-file name convention shared by every receiver and the scanner.

Receiver files are named ``<SYS>histos_<run>_<hltMode>_<Y>_<M>_<D>_<h>_<m>_<s>.root``
(numbers may be unpadded, local time in the receivers' time zone), DQM uploads
``<agent>histos_<run>_DQM_<YYYY_MM_DD_HH_mm_ss>.root``. This module parses and
builds those names; it knows nothing about directories or the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = [
    "HLT_MODES",
    "PROCESSED_HLT_MODES",
    "FileNameError",
    "ReceivedFileName",
    "build_file_name",
    "is_candidate",
    "parse_file_name",
]

#: Every HLT mode a receiver may write; ``DQM`` marks files pushed over HTTP.
HLT_MODES = frozenset({"A", "B", "C", "E", "U", "DQM"})
#: Replay files (``E``) are kept apart and never processed.
PROCESSED_HLT_MODES = HLT_MODES - {"E"}

_NAME = re.compile(
    r"^(?P<subsystem>[A-Za-z0-9]+)histos_(?P<run>\d+)_(?P<mode>[A-Z]+)_"
    r"(?P<Y>\d{4})_(?P<M>\d{1,2})_(?P<D>\d{1,2})_(?P<h>\d{1,2})_(?P<m>\d{1,2})_(?P<s>\d{1,2})"
    r"\.root$"
)


class FileNameError(ValueError):
    """A file name that does not follow the receiver convention."""


@dataclass(frozen=True, slots=True)
class ReceivedFileName:
    """What a receiver file's name says about it."""

    subsystem: str
    run_number: int
    hlt_mode: str
    #: When the receiver wrote the snapshot, timezone-aware UTC.
    timestamp: datetime

    @property
    def processable(self) -> bool:
        """Whether files of this HLT mode are processed at all (replays are not)."""
        return self.hlt_mode in PROCESSED_HLT_MODES


def is_candidate(name: str) -> bool:
    """Whether a directory entry may be a finished receiver file.

    Hidden names (writers' temporary files start with a dot) and the usual
    temporary suffixes are never candidates.
    """
    if name.startswith((".", "~", "_")):
        return False
    return name.endswith(".root") and not name.endswith((".tmp.root", ".part.root"))


def parse_file_name(name: str, tz: ZoneInfo) -> ReceivedFileName:
    """Parse a receiver file name; local times are read in ``tz`` and returned as UTC.

    Raises :class:`FileNameError` saying what is wrong.
    """
    match = _NAME.match(name)
    if match is None:
        raise FileNameError(
            f"{name!r} does not match <SYS>histos_<run>_<mode>_<Y>_<M>_<D>_<h>_<m>_<s>.root"
        )
    mode = match["mode"]
    if mode not in HLT_MODES:
        raise FileNameError(f"{name!r}: unknown HLT mode {mode!r} (known: {sorted(HLT_MODES)})")
    try:
        local = datetime(
            int(match["Y"]),
            int(match["M"]),
            int(match["D"]),
            int(match["h"]),
            int(match["m"]),
            int(match["s"]),
            tzinfo=tz,
        )
    except ValueError as exc:
        raise FileNameError(f"{name!r}: invalid date or time: {exc}") from exc
    run_number = int(match["run"])
    if run_number <= 0:
        raise FileNameError(f"{name!r}: run number must be positive")
    return ReceivedFileName(
        subsystem=match["subsystem"],
        run_number=run_number,
        hlt_mode=mode,
        timestamp=local.astimezone(UTC),
    )


def build_file_name(
    subsystem: str, run_number: int, hlt_mode: str, timestamp: datetime, tz: ZoneInfo
) -> str:
    """Build the file name a receiver writes for one snapshot.

    ``timestamp`` must be timezone-aware; it is written as local time in ``tz``.
    Receiver files use unpadded numbers like the ALICE receivers, DQM uploads
    zero-padded ones.
    """
    if timestamp.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    if hlt_mode not in HLT_MODES:
        raise ValueError(f"unknown HLT mode {hlt_mode!r}")
    if not re.fullmatch(r"[A-Za-z0-9]+", subsystem):
        raise ValueError(f"subsystem {subsystem!r} must be letters and digits only")
    t = timestamp.astimezone(tz)
    if hlt_mode == "DQM":
        stamp = t.strftime("%Y_%m_%d_%H_%M_%S")
    else:
        stamp = f"{t.year}_{t.month}_{t.day}_{t.hour}_{t.minute}_{t.second}"
    return f"{subsystem}histos_{run_number}_{hlt_mode}_{stamp}.root"
