"""Reading a file again in the same process (shared decoders) gives the same objects."""

from __future__ import annotations

import json
from pathlib import Path

from overwatch.processing.jsroot import to_jsroot_json
from overwatch.processing.reader import read_file

FIDELITY = Path(__file__).parent / "data" / "fidelity.root"


def test_a_second_read_keeps_every_function_of_a_histogram() -> None:
    first = read_file(FIDELITY).by_name()
    second = read_file(FIDELITY).by_name()
    for name in ("fitted", "fitted_drawn"):
        assert "dropped_functions" not in second[name].metadata, second[name].metadata
        assert to_jsroot_json(second[name]) == to_jsroot_json(first[name])
    names = [
        f["_typename"] for f in json.loads(to_jsroot_json(second["fitted"]))["fFunctions"]["arr"]
    ]
    assert names == ["TF1", "TLine", "TPaveText"]
