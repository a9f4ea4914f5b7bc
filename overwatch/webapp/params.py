"""Parameters taken from URLs and query strings: whole numbers bounded to what the
database holds, and the histogram name that several pages and the API require.

Run numbers and ids are ``INTEGER`` columns: 32 bits on PostgreSQL, 64 on SQLite.
A larger number from a request cannot name anything stored, but handed to the
database it fails as an out-of-range parameter (a 500). So every ``<int:...>`` in a
route refuses numbers above :data:`DB_INT_MAX` (the route does not match: 404), and
:func:`int_arg` answers 400 for a query parameter that is not a whole number in
``0..DB_INT_MAX``. :func:`histogram_name_arg` answers 400 when ``?name=`` is missing.
"""

from __future__ import annotations

from flask import Flask
from flask import abort
from flask import request
from werkzeug.routing import IntegerConverter
from werkzeug.routing import Map

__all__ = ["DB_INT_MAX", "BoundedIntConverter", "histogram_name_arg", "init_app", "int_arg"]

#: The largest value of an INTEGER column on PostgreSQL (and so on every database we use).
DB_INT_MAX = 2**31 - 1
#: Longer digit strings are refused before ``int()`` parses them.
_MAX_DIGITS = len(str(DB_INT_MAX))


class BoundedIntConverter(IntegerConverter):
    """Werkzeug's ``int`` converter with ``max`` defaulting to :data:`DB_INT_MAX`."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = DB_INT_MAX,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def int_arg(name: str, default: int | None = None) -> int | None:
    """Query parameter ``name`` as a whole number in ``0..DB_INT_MAX``; 400 for anything else."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    # isascii: int() would also take " 7", "1_000" and non-ASCII digits.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= _MAX_DIGITS) or int(raw) > DB_INT_MAX:
        abort(400, f"query parameter {name!r} must be a whole number from 0 to {DB_INT_MAX}")
    return int(raw)


def histogram_name_arg() -> str:
    """Query parameter ``name``, the stored name of a histogram; 400 when it is missing."""
    name = request.args.get("name")
    if not name:
        abort(400, "say which histogram: ?name=NAME")
    return name


def init_app(app: Flask) -> None:
    # Before any blueprint is registered: rules pick their converter when they are added.
    app.url_map.converters["int"] = BoundedIntConverter
