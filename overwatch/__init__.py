"""Overwatch: online data-quality monitoring for particle-physics experiments."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
