"""Writes tests/processing/data/fidelity_objects.json.gz: ROOT's TBufferJSON of the drawable objects.

Run from this directory with the ROOT wheel installed, after make_fidelity.py; the
tests compare Overwatch's JSON with it where ROOT is not installed.
"""

import gzip
import json

import ROOT

NAMES = ["graph", "gerr", "gasym", "mg", "eff", "stack", "poly", "func", "canv"]
ROOT.gROOT.SetBatch(True)
handle = ROOT.TFile.Open("fidelity.root")
expected = {
    name: json.loads(str(ROOT.TBufferJSON.ToJSON(handle.Get(name)).Data())) for name in NAMES
}
handle.Close()
with gzip.open("fidelity_objects.json.gz", "wt", encoding="utf-8") as out:
    json.dump(expected, out, separators=(",", ":"), sort_keys=False)
