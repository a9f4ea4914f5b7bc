"""Make names and strings from ROOT files safe to store and show, without losing them.

Anything is legal in a ROOT key name or title: ``/``, NUL and other control
characters, bytes that are not UTF-8 (uproot keeps them as ``surrogateescape``
surrogates).  PostgreSQL text cannot hold NUL, JSON cannot hold lone surrogates,
``/`` separates the levels of a stored histogram path, and name columns have a
length.  This module gives every such string one visible, stored form:

- :func:`escape_component` turns one raw key name into a path component.  The
  escaping is *injective* (two different raw names never give the same
  component): ``\\`` becomes ``\\\\``, ``/`` becomes ``\\x2f``, C0 controls and
  DEL ``\\xNN``, C1 controls ``\\u00NN``, undecodable bytes ``\\xNN`` (NN >= 80)
  and other lone surrogates ``\\uNNNN``.
- :func:`clean_text` makes free text (titles, class names, error messages)
  storable: the same escapes for controls and surrogates, but ``\\``, tab and
  newline stay as they are (text needs to be readable, not reversible).
- :func:`fit` shortens a string to a column's length, keeping it distinct with a
  hash of the full string; :func:`deduplicate` gives repeated names a ``;N``
  suffix (ROOT's cycle notation), so a unique constraint never fails.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

__all__ = ["clean_text", "deduplicate", "escape_component", "fit", "is_clean"]

_NEEDS_ESCAPE = re.compile("[\\\\/\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TEXT_NEEDS_ESCAPE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape_char(char: str) -> str:
    code = ord(char)
    if char == "\\":
        return "\\\\"
    if char == "/":
        return "\\x2f"
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"  # C1 controls and other lone surrogates


def escape_component(raw: str) -> str:
    """The stored, displayable form of one key or object name (see the module doc)."""
    if not _NEEDS_ESCAPE.search(raw):
        return raw
    return _NEEDS_ESCAPE.sub(lambda match: _escape_char(match.group()), raw)


def clean_text(text: str) -> str:
    """Free text with NUL, other controls and undecodable bytes shown as escapes."""
    if not _TEXT_NEEDS_ESCAPE.search(text):
        return text
    return _TEXT_NEEDS_ESCAPE.sub(lambda match: _escape_char(match.group()), text)


def is_clean(text: str) -> bool:
    """Whether ``text`` can be stored as it is (what :func:`clean_text` would keep)."""
    return not _TEXT_NEEDS_ESCAPE.search(text)


def fit(text: str, length: int) -> str:
    """``text`` if it fits ``length`` characters, else a prefix plus a hash of all of it."""
    if len(text) <= length:
        return text
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return f"{text[: length - len(digest) - 2]}~#{digest}"


def deduplicate(names: Iterable[str], length: int) -> list[str]:
    """The names fitted to ``length``, a repeated one suffixed ``;2``, ``;3``, ... in order."""
    fitted = [fit(name, length) for name in names]
    taken = set(fitted)
    seen: set[str] = set()
    out = []
    for name in fitted:
        unique, counter = name, 1
        # A suffixed name must not take one that a later name in the list has.
        while unique in seen or (unique != name and unique in taken):
            counter += 1
            unique = fit(f"{name};{counter}", length)
        taken.add(unique)
        seen.add(unique)
        out.append(unique)
    return out
