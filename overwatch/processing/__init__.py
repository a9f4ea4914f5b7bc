"""Processing: intake scan, job execution, reading ROOT files and writing JSROOT JSON.

Submodules, by job: :mod:`~overwatch.processing.scan` (intake),
:mod:`~overwatch.processing.worker` (run jobs), :mod:`~overwatch.processing.daemon`
(schedule and worker processes), :mod:`~overwatch.processing.pipeline` (files to a
storable result), :mod:`~overwatch.processing.reader` (uproot), :mod:`~overwatch.processing.jsroot`
(TBufferJSON-compatible JSON). The histogram model itself, and adding and
subtracting histograms, live one layer below in :mod:`overwatch.histograms`
(``processing.histogram`` and ``processing.merge`` re-export them for old code).
Import from the submodules; this package imports nothing eagerly.
"""

from __future__ import annotations
