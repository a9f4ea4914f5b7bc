"""Processing: intake scan, job execution, the histogram model and its JSROOT JSON.

Submodules, by job: :mod:`~overwatch.processing.scan` (intake),
:mod:`~overwatch.processing.worker` (run jobs), :mod:`~overwatch.processing.daemon`
(schedule and worker processes), :mod:`~overwatch.processing.pipeline` (files to a
storable result), :mod:`~overwatch.processing.histogram` (the model plugins see),
:mod:`~overwatch.processing.reader` (uproot), :mod:`~overwatch.processing.jsroot`
(TBufferJSON-compatible JSON), :mod:`~overwatch.processing.merge` (hadd and time
slices). Import from the submodules; this package imports nothing eagerly.
"""

from __future__ import annotations
