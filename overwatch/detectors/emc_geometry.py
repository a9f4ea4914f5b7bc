"""EMCal/DCal trigger geometry the EMC plugin and the demo share.

FastORs (2x2 towers, the L0/L1 trigger channels) are counted per supermodule
(SM) in (columns, rows): full EMCal SMs 0-9 have 24 x 12, the 1/3 SMs 10, 11,
18, 19 have 24 x 4, the 2/3 DCal SMs 12-17 16 x 12. Trigger Region Units (TRUs)
read 8 columns x 12 rows each. The whole detector, drawn as one map, is 48
columns x 104 rows: EMCal rows 0-63, DCal rows 64-103 with the PHOS hole in
columns 16-31 of rows 64-99. Supermodules sit in pairs, even ones on the left
(A side) and odd ones on the right, from SM0/1 at the bottom up to SM10/11, then
DCal SM12/13 up to SM18/19 — the "physical order" of the run page.
"""

from __future__ import annotations

import re

__all__ = [
    "ADC_TO_GEV",
    "EMCAL_SUPERMODULES",
    "SUPERMODULES",
    "calorimeter",
    "detector_tru_lines",
    "grid_position",
    "is_detector_map",
    "supermodule_number",
    "supermodule_shape",
    "supermodule_tru_lines",
]

#: Supermodules in physical order: EMCal 0-11, then DCal 12-19.
SUPERMODULES = tuple(range(20))
EMCAL_SUPERMODULES = frozenset(range(12))
#: Conversion of EMCal L1 trigger ADC counts to energy.
ADC_TO_GEV = 0.07874
#: Columns of one TRU; a TRU spans the 12 rows of a full supermodule.
TRU_COLUMNS = 8
#: Size of the whole-detector FastOR map (columns, rows).
DETECTOR_SHAPE = (48, 104)

_SM_SUFFIX = re.compile(r"_SM(\d+)$")

Line = tuple[float, float, float, float]


def supermodule_shape(supermodule: int) -> tuple[int, int]:
    """FastOR (columns, rows) of an EMCal/DCal supermodule: full, 2/3 or 1/3 size."""
    if supermodule in (10, 11, 18, 19):
        return 24, 4
    if 12 <= supermodule <= 17:
        return 16, 12
    return 24, 12


def supermodule_number(name: str) -> int | None:
    """The SM of a per-supermodule histogram (``..._SM10`` -> 10), else ``None``."""
    match = _SM_SUFFIX.search(name)
    return int(match.group(1)) if match else None


def calorimeter(supermodule: int) -> str:
    return "EMCal" if supermodule in EMCAL_SUPERMODULES else "DCal"


def grid_position(supermodule: int) -> dict[str, int | str]:
    """Row (0 at the bottom, SM0/1) and column (0 even, 1 odd) of an SM in a 2-column grid."""
    return {
        "row": supermodule // 2,
        "column": supermodule % 2,
        "calorimeter": calorimeter(supermodule),
    }


def supermodule_tru_lines(supermodule: int) -> list[Line]:
    """TRU boundaries inside one SM's (columns x rows) FastOR map."""
    columns, rows = supermodule_shape(supermodule)
    if rows < 12:  # a 1/3 supermodule is read by a single TRU
        return []
    return [
        (float(x), 0.0, float(x), float(rows)) for x in range(TRU_COLUMNS, columns, TRU_COLUMNS)
    ]


def detector_tru_lines() -> list[Line]:
    """TRU and SM boundaries on the whole-detector map (48 x 104 FastORs)."""
    width, _ = DETECTOR_SHAPE
    lines: list[Line] = []
    # Full EMCal SMs (rows 0-59): a TRU every 8 columns, an SM row every 12 rows.
    lines += [(x, 0, x, 60) for x in range(TRU_COLUMNS, width, TRU_COLUMNS)]
    lines += [(0, y, width, y) for y in range(12, 61, 12)]
    # 1/3 EMCal SMs 10, 11 (rows 60-63): one TRU each.
    lines += [(0, 64, width, 64), (24, 60, 24, 64)]
    # 2/3 DCal SMs (rows 64-99) left and right of the PHOS hole (columns 16-31).
    lines += [(x, 64, x, 100) for x in range(TRU_COLUMNS, width, TRU_COLUMNS) if x != 24]
    for y in range(76, 100, 12):
        lines += [(0, y, 16, y), (32, y, width, y)]
    # 1/3 DCal SMs 18, 19 (rows 100-103).
    lines += [(0, 100, width, 100), (24, 100, 24, 104)]
    return [(float(a), float(b), float(c), float(d)) for a, b, c, d in lines]


def is_detector_map(columns: int, rows: int) -> bool:
    """Whether a 2D histogram's binning is the whole-detector FastOR map."""
    return (columns, rows) == DETECTOR_SHAPE
