"""The header check of intake, on real ROOT files and on what is not one."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from overwatch.processing.rootheader import header_problem
from overwatch.receivers.writer import write_root_file


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    hist = (np.arange(100, dtype=np.float32), np.linspace(0, 1, 101))
    return write_root_file(tmp_path / "sample.root", {f"h{n}": hist for n in range(20)})


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "other.root"
    path.write_bytes(data)
    return path


def test_a_whole_file_passes(sample: Path) -> None:
    assert header_problem(sample) is None


def test_a_large_file_header_is_read_with_64_bit_seeks(tmp_path: Path, sample: Path) -> None:
    data = sample.read_bytes()
    magic, version, begin, end = struct.unpack_from(">4siii", data)
    # The same file as ROOT writes it with 64-bit seeks (version + 1,000,000).
    large = struct.pack(
        ">4siiqqiiiBiqi", magic, version + 1_000_000, begin, end, 0, 0, 0, 0, 1, 0, 0, 0
    )
    assert header_problem(_write(tmp_path, large + data[len(large) :])) is None
    cut = struct.pack(
        ">4siiqqiiiBiqi", magic, version + 1_000_000, begin, end + 1, 0, 0, 0, 0, 1, 0, 0, 0
    )
    reason = header_problem(_write(tmp_path, cut + data[len(cut) :]))
    assert reason is not None
    assert "truncated" in reason


@pytest.mark.parametrize(
    ("cut", "expected"),
    [(-1, "truncated"), (300, "truncated"), (20, "shorter than a ROOT file header")],
)
def test_a_cut_file_is_refused(tmp_path: Path, sample: Path, cut: int, expected: str) -> None:
    reason = header_problem(_write(tmp_path, sample.read_bytes()[:cut]))
    assert reason is not None
    assert reason.startswith("not a readable ROOT file")
    assert expected in reason


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty file"),
        (b"\x00" * 300, "ROOT magic"),
        (b"hello, world\n" * 10, "ROOT magic"),
        (
            struct.pack(">4siiiiiiiBiii", b"root", 62400, 10, 100, 0, 0, 0, 0, 1, 0, 0, 0),
            "inconsistent",
        ),
    ],
)
def test_what_is_not_a_root_file_is_refused(tmp_path: Path, data: bytes, expected: str) -> None:
    reason = header_problem(
        _write(tmp_path, data + b"\x00" * 64 if data.startswith(b"root") else data)
    )
    assert reason is not None
    assert expected in reason
