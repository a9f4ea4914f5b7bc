"""Compatibility alias: adding and subtracting histograms lives in :mod:`overwatch.histograms.combine`."""

from __future__ import annotations

from overwatch.histograms.combine import IncompatibleHistogramsError
from overwatch.histograms.combine import merge
from overwatch.histograms.combine import subtract

__all__ = ["IncompatibleHistogramsError", "merge", "subtract"]
