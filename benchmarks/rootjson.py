"""ROOT's own conversion, the reference the processing benchmarks compare against.

:func:`root_json` runs PyROOT in a process of its own (so its memory is measured
apart): ``TFile::Open`` of every file, every key read (directories walked) and
converted with ``TBufferJSON::ToJSON``. ``bench_processing`` and ``bench_whole`` both
measure this same work; :func:`root_available` says whether ``import ROOT`` works (the
CERN ``root`` wheel), asked apart because the first import alone takes seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["root_available", "root_json"]

#: Prints count, bytes of JSON, seconds inside the process and peak memory (MB).
ROOT_SCRIPT = r"""
import json, resource, sys, time
import ROOT
ROOT.gROOT.SetBatch(True)
ROOT.TH1.AddDirectory(False)
def walk(directory, out):
    for key in directory.GetListOfKeys():
        obj = key.ReadObj()
        if obj.InheritsFrom("TDirectory"):
            walk(obj, out)
        else:
            out.append(obj)
start = time.perf_counter()
count = total = 0
for path in sys.argv[1:]:
    f = ROOT.TFile.Open(path)
    objects = []
    walk(f, objects)
    for obj in objects:
        total += len(ROOT.TBufferJSON.ToJSON(obj).Data())
    count += len(objects)
    f.Close()
print(json.dumps({"count": count, "bytes": total, "seconds": time.perf_counter() - start,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def root_available() -> bool:
    try:
        import ROOT  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def root_json(paths: Sequence[Path]) -> dict[str, float]:
    """What :data:`ROOT_SCRIPT` printed for ``paths``."""
    output = subprocess.run(
        [sys.executable, "-c", ROOT_SCRIPT, *map(str, paths)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))
