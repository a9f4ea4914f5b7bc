"""The uproot-free file structure reader (:mod:`overwatch.processing.tfile`).

Every file is read twice, by the fast path and by the uproot path it falls back
to, and both must find the same objects, byte for byte in their JSON.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import skhep_testdata

from overwatch.processing import reader as reader_module
from overwatch.processing.jsroot import to_jsroot_json
from overwatch.processing.objects import to_object_json
from overwatch.processing.reader import CorruptFileError
from overwatch.processing.reader import ReadResult
from overwatch.processing.reader import read_file
from overwatch.processing.reader import top_level_names
from overwatch.processing.tfile import RootFile
from overwatch.processing.tfile import UnsupportedFileError
from overwatch.processing.tfile import canonical_type_name
from tests import rootfiles

_DATA = Path(skhep_testdata.data_path("uproot-hepdata-example.root")).parent
_CORPUS = sorted(path.name for path in _DATA.glob("*.root"))


def _summary(result: ReadResult) -> list[Any]:
    rows: list[Any] = [("hist", h.name, h.class_name, to_jsroot_json(h)) for h in result.histograms]
    for item in result.unconvertible:
        drawn = to_object_json(item.drawable) if item.drawable is not None else None
        rows.append(("other", item.name, item.class_name, item.reason, drawn))
    return rows


def _both_ways(path: Path) -> tuple[Any, Any, bool]:
    """(fast summary or error, uproot summary or error, whether the fast path read it)."""
    fell_back: list[str] = []
    original = reader_module._read_with_uproot

    def counting(*args: Any) -> ReadResult:
        fell_back.append(str(path))
        return original(*args)

    reader_module._read_with_uproot = counting
    try:
        fast: Any = _summary(read_file(path))
    except CorruptFileError as error:
        fast = ("corrupt", error.reason)
    finally:
        reader_module._read_with_uproot = original
    try:
        slow: Any = _summary(original(str(path), None, None))
    except CorruptFileError as error:
        slow = ("corrupt", error.reason)
    return fast, slow, not fell_back


@pytest.mark.parametrize("filename", _CORPUS)
def test_fast_path_reads_what_uproot_reads(filename: str) -> None:
    fast, slow, _ = _both_ways(_DATA / filename)
    assert fast == slow


def test_most_of_the_corpus_never_needs_uproot() -> None:
    # A fast path that always fell back would pass the test above and gain nothing.
    fast = [name for name in _CORPUS if _both_ways(_DATA / name)[2]]
    assert len(fast) >= 0.8 * len(_CORPUS), sorted(set(_CORPUS) - set(fast))


def test_files_of_our_writers_and_of_root_take_the_fast_path(tmp_path: Path) -> None:
    written = [
        rootfiles.write_sample_file(tmp_path / "sample.root"),
        rootfiles.write_bench_file(tmp_path / "bench.root", directories=3, per_directory=5),
    ]
    for path in written:
        fast, slow, used = _both_ways(path)
        assert used, path
        assert fast == slow


def test_a_process_reading_a_file_does_not_import_uproot(tmp_path: Path) -> None:
    path = rootfiles.write_sample_file(tmp_path / "sample.root")
    code = (
        "import sys\n"
        "from overwatch.processing.reader import read_file\n"
        f"result = read_file({str(path)!r})\n"
        "assert len(result.histograms) == 12, result\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('uproot', 'awkward')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_damaged_structures_fall_back_to_uproot_and_are_reported(tmp_path: Path) -> None:
    path = rootfiles.write_sample_file(tmp_path / "sample.root")
    data = bytearray(path.read_bytes())
    root = RootFile(bytes(data))
    # Point the top directory's key list past the end of the file.
    seeks_at = root.begin + root.name_bytes + 2 + 4 + 4 + 4 + 4 + 4 + 4
    data[seeks_at : seeks_at + 4] = (len(data) + 100).to_bytes(4, "big")
    damaged = tmp_path / "damaged.root"
    damaged.write_bytes(bytes(data))
    with pytest.raises(UnsupportedFileError):
        RootFile(bytes(data)).top_keys()
    fast, slow, used = _both_ways(damaged)
    assert not used
    assert fast == slow
    assert fast[0] == "corrupt"


def test_top_level_names_match_uproot(tmp_path: Path) -> None:
    import uproot  # noqa: PLC0415

    path = rootfiles.write_bench_file(tmp_path / "bench.root", directories=4, per_directory=2)
    with uproot.open(path) as file:
        expected = sorted({key.split(";")[0] for key in file.keys(recursive=False)})
    assert top_level_names(path) == expected == ["dir0", "dir1", "dir2", "dir3"]


def test_typedefs_are_spelled_as_cpp_types() -> None:
    assert canonical_type_name("vector<Double_t>") == "vector<double>"
    assert canonical_type_name("map<Int_t,ULong64_t>") == "map<int,unsigned long long>"
    assert canonical_type_name("TArrayD") == "TArrayD"
    assert canonical_type_name("MyInt_t") == "MyInt_t"


def test_environment_has_the_corpus() -> None:
    assert len(_CORPUS) >= 100, os.fspath(_DATA)
