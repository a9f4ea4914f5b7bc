"""Receivers: the file-name convention, the atomic writer, and the ways files arrive."""

from __future__ import annotations
