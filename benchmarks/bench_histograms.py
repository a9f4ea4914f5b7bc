"""Read + JSROOT JSON throughput: Overwatch (uproot + own decoder) against ROOT.

Writes 1000 TH1F x 1000 bins in 10 directories, then times ``read_file`` and
``to_jsroot_json`` over it and, when PyROOT is importable, ROOT's own
``TFile::Get`` + ``TBufferJSON::ToJSON`` over the same file in the same run.
Prints figures only; nothing is asserted.  Run: ``python benchmarks/bench_histograms.py``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from overwatch.processing.jsroot import to_jsroot_json
from overwatch.processing.reader import read_file
from tests import rootfiles


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_overwatch(path: Path, repeat: int) -> tuple[float, float, float, int]:
    best_read = best_json = float("inf")
    count = 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = read_file(path)
        middle = time.perf_counter()
        for hist in result.histograms:
            to_jsroot_json(hist)
        end = time.perf_counter()
        count = len(result.histograms)
        best_read = min(best_read, middle - start)
        best_json = min(best_json, end - middle)
    return best_read, best_json, best_read + best_json, count


def bench_root(path: Path, repeat: int) -> float | None:
    try:
        import ROOT  # noqa: PLC0415 - optional, only for the comparison
    except ImportError:
        return None
    ROOT.TH1.AddDirectory(False)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        handle = ROOT.TFile.Open(str(path))
        for directory_key in handle.GetListOfKeys():
            directory = directory_key.ReadObj()
            for key in directory.GetListOfKeys():
                ROOT.TBufferJSON.ToJSON(key.ReadObj()).Data()
        handle.Close()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = rootfiles.write_bench_file(Path(tmp) / "bench.root")
        print(f"file: {path.stat().st_size / 1e6:.1f} MB, 1000 TH1F x 1000 bins in 10 dirs")
        base = _peak_mb()
        read_s, json_s, both_s, count = bench_overwatch(path, args.repeat)
        print(f"overwatch read_file:      {count / read_s:8.0f} hist/s")
        print(f"overwatch to_jsroot_json: {count / json_s:8.0f} hist/s")
        print(f"overwatch read + JSON:    {count / both_s:8.0f} hist/s")
        print(f"peak RSS: {_peak_mb():.0f} MB (before reading: {base:.0f} MB)")
        root_s = bench_root(path, args.repeat)
        if root_s is None:
            print("ROOT: not importable, skipped")
        else:
            print(f"ROOT TFile + TBufferJSON: {count / root_s:8.0f} hist/s")
            print(f"ratio overwatch / ROOT:   {root_s / both_s:8.2f}")
            print(f"peak RSS incl. ROOT: {_peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
