"""``python -m overwatch``: the same command group as the ``overwatch`` entry point."""

from __future__ import annotations

from overwatch.cli import main

main()
