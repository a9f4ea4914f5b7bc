"""The received-file name convention shared by every receiver and the scanner.

Receiver files are named ``<SYS>histos_<run>_<hltMode>_<Y>_<M>_<D>_<h>_<m>_<s>.root``
(numbers may be unpadded, local time in the receivers' time zone), DQM uploads
``<agent>histos_<run>_DQM_<YYYY_MM_DD_HH_mm_ss>.root``. This module parses and
builds those names; it knows nothing about directories or the database.

A name that parses is complete: its run number fits the database's run-number
column (a 32-bit signed integer on PostgreSQL), its subsystem fits the subsystem
column, and its date is a real one within :data:`YEARS` that converts to UTC in
the receivers' time zone. Anything else raises :class:`FileNameError`, so intake
can set the file aside instead of failing on it later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = [
    "HLT_MODES",
    "MAX_RUN_NUMBER",
    "MAX_SUBSYSTEM_LENGTH",
    "PROCESSED_HLT_MODES",
    "YEARS",
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
#: Run numbers are stored in a 32-bit signed INTEGER column.
MAX_RUN_NUMBER = 2**31 - 1
#: Subsystem names are stored in a VARCHAR(32) column.
MAX_SUBSYSTEM_LENGTH = 32
#: Years a receiver file may carry: nothing older than ROOT files, nothing far in the future.
YEARS = range(1970, 2101)

# ASCII digits only: ``\d`` would also accept other scripts' digits, which int() reads.
_NAME = re.compile(
    r"^(?P<subsystem>[A-Za-z0-9]+)histos_(?P<run>\d+)_(?P<mode>[A-Z]+)_"
    r"(?P<Y>\d{4})_(?P<M>\d{1,2})_(?P<D>\d{1,2})_(?P<h>\d{1,2})_(?P<m>\d{1,2})_(?P<s>\d{1,2})"
    r"\.root$",
    re.ASCII,
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
    match = _NAME.fullmatch(name)
    if match is None:
        raise FileNameError(
            f"{name!r} does not match <SYS>histos_<run>_<mode>_<Y>_<M>_<D>_<h>_<m>_<s>.root"
        )
    mode = match["mode"]
    if mode not in HLT_MODES:
        raise FileNameError(f"{name!r}: unknown HLT mode {mode!r} (known: {sorted(HLT_MODES)})")
    subsystem = match["subsystem"]
    if len(subsystem) > MAX_SUBSYSTEM_LENGTH:
        raise FileNameError(
            f"{name!r}: subsystem name longer than {MAX_SUBSYSTEM_LENGTH} characters"
        )
    # Compare digit counts first: int() of thousands of digits is slow or refused.
    digits = match["run"].lstrip("0")
    if not digits:
        raise FileNameError(f"{name!r}: run number must be positive")
    if len(digits) > len(str(MAX_RUN_NUMBER)) or int(digits) > MAX_RUN_NUMBER:
        raise FileNameError(f"{name!r}: run number is larger than {MAX_RUN_NUMBER}")
    return ReceivedFileName(
        subsystem=subsystem,
        run_number=int(digits),
        hlt_mode=mode,
        timestamp=_utc_time(name, match, tz),
    )


def _utc_time(name: str, match: re.Match[str], tz: ZoneInfo) -> datetime:
    year = int(match["Y"])
    if year not in YEARS:
        raise FileNameError(f"{name!r}: year {year} is outside {YEARS.start}-{YEARS.stop - 1}")
    try:
        local = datetime(
            year,
            int(match["M"]),
            int(match["D"]),
            int(match["h"]),
            int(match["m"]),
            int(match["s"]),
            tzinfo=tz,
        )
        return local.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise FileNameError(f"{name!r}: invalid date or time: {exc}") from exc


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
    if not re.fullmatch(r"[A-Za-z0-9]+", subsystem, re.ASCII):
        raise ValueError(f"subsystem {subsystem!r} must be letters and digits only")
    if len(subsystem) > MAX_SUBSYSTEM_LENGTH:
        raise ValueError(f"subsystem {subsystem!r} is longer than {MAX_SUBSYSTEM_LENGTH}")
    if not 0 < run_number <= MAX_RUN_NUMBER:
        raise ValueError(f"run number {run_number} is outside 1-{MAX_RUN_NUMBER}")
    t = timestamp.astimezone(tz)
    if t.year not in YEARS:
        raise ValueError(f"year {t.year} is outside {YEARS.start}-{YEARS.stop - 1}")
    if hlt_mode == "DQM":
        stamp = t.strftime("%Y_%m_%d_%H_%M_%S")
    else:
        stamp = f"{t.year}_{t.month}_{t.day}_{t.hour}_{t.minute}_{t.second}"
    return f"{subsystem}histos_{run_number}_{hlt_mode}_{stamp}.root"
