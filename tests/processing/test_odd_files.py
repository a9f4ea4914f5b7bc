"""Hostile files: odd key names, repeated names, oversized histograms, bombs."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from overwatch.processing.names import clean_text
from overwatch.processing.names import deduplicate
from overwatch.processing.names import escape_component
from overwatch.processing.names import fit
from overwatch.processing.reader import MAX_DIRECTORY_DEPTH
from overwatch.processing.reader import read_file
from overwatch.processing.reader import top_level_names
from overwatch.processing.rootio import StreamerError
from overwatch.processing.rootio import inflate
from tests import rootfiles


def _odd_names_file(path: Path) -> Path:
    rootfiles.write_file(
        path,
        {
            "good": rootfiles.th1("good", [1, 2, 3]),
            "odd|name": rootfiles.th1("odd|name", [4, 5, 6]),
            "semi|colon": rootfiles.th1("semi|colon", [1]),
            "nul\x00name": rootfiles.th1("nul\x00name", [7], title="ti\x00tle"),
            "bad\udcffbytes": rootfiles.th1("bad\udcffbytes", [8]),
            "back\\x00slash": rootfiles.th1("back\\x00slash", [9]),
        },
    )
    return rootfiles.rename_keys(path, {"odd|name": "odd/name", "semi|colon": "semi;colon"})


def test_keys_whose_names_hold_slash_nul_or_bad_bytes_are_read(tmp_path: Path) -> None:
    result = read_file(_odd_names_file(tmp_path / "odd.root"))
    hists = result.by_name()
    assert sorted(hists) == sorted(
        ["good", "odd\\x2fname", "semi;colon", "nul\\x00name", "bad\\xffbytes", "back\\\\x00slash"]
    )
    assert result.unconvertible == []
    np.testing.assert_array_equal(hists["odd\\x2fname"].values(), [4, 5, 6])
    np.testing.assert_array_equal(hists["semi;colon"].values(), [1])
    # The raw name with NUL and the literal text "\x00" stay distinct.
    np.testing.assert_array_equal(hists["nul\\x00name"].values(), [7])
    assert hists["nul\\x00name"].title == "ti\\x00tle"
    np.testing.assert_array_equal(hists["back\\\\x00slash"].values(), [9])


def test_top_level_names_are_the_escaped_paths_and_select_keys(tmp_path: Path) -> None:
    path = _odd_names_file(tmp_path / "odd.root")
    names = top_level_names(path)
    assert "odd\\x2fname" in names
    selected = read_file(path, names=["odd\\x2fname"])
    assert [h.name for h in selected.histograms] == ["odd\\x2fname"]


def test_repeated_names_in_a_container_are_all_kept(tmp_path: Path) -> None:
    path = rootfiles.write_file(
        tmp_path / "dupes.root",
        {"lst": rootfiles.tlist([rootfiles.th1("h", [1]), rootfiles.th1("h", [2])])},
    )
    hists = read_file(path).by_name()
    assert sorted(hists) == ["lst/h", "lst/h;2"]
    assert hists["lst/h;2"].values()[0] == 2


def test_empty_names_and_deep_directories(tmp_path: Path) -> None:
    deep = "/".join(f"d{i}" for i in range(40))
    path = rootfiles.write_file(
        tmp_path / "deep.root",
        {f"{deep}/h": rootfiles.th1("h", [1]), "lst": rootfiles.tlist([rootfiles.th1("", [3])])},
    )
    names = [h.name for h in read_file(path).histograms]
    assert names == [f"{deep}/h", "lst/TH1F_0"]


def test_histogram_over_max_bins_is_refused_with_reason_and_the_rest_read(
    tmp_path: Path,
) -> None:
    path = rootfiles.write_file(
        tmp_path / "big.root",
        {
            "small": rootfiles.th1("small", [1, 2]),
            "big": rootfiles.th1("big", np.ones(1000)),
            "lst": rootfiles.tlist(
                [rootfiles.th1("inbig", np.ones(1000)), rootfiles.th1("ok", [1])]
            ),
        },
    )
    result = read_file(path, max_bins=500)
    assert [h.name for h in result.histograms] == ["small", "lst/ok"]
    reasons = {item.name: item.reason for item in result.unconvertible}
    assert set(reasons) == {"big", "lst/inbig"}
    assert "1,002 bins" in reasons["big"]
    assert "max_histogram_bins = 500" in reasons["big"]
    assert read_file(path).by_name()["big"].axes[0].nbins == 1000  # no limit, no refusal


def test_axis_claiming_a_hundred_million_bins_is_refused_before_allocating(
    tmp_path: Path,
) -> None:
    path = rootfiles.write_file(
        tmp_path / "claims.root",
        {"bomb": rootfiles.th1_claiming("bomb", 100_000_000), "fine": rootfiles.th1("fine", [1])},
    )
    result = read_file(path, max_bins=4_000_000)
    assert [h.name for h in result.histograms] == ["fine"]
    [refused] = result.unconvertible
    assert refused.name == "bomb"
    assert refused.reason.startswith("refused: 100,000,002 bins")


def test_compressed_block_inflating_beyond_its_header_is_rejected() -> None:
    body = zlib.compress(b"\0" * 100_000)
    declared = 100  # the header lies about the inflated size

    def three(n: int) -> bytes:
        return struct.pack("<I", n)[:3]

    block = b"ZL\x08" + three(len(body)) + three(declared) + body
    with pytest.raises(StreamerError, match="inflates beyond"):
        inflate(block, declared)
    honest = b"ZL\x08" + three(len(body)) + three(100_000) + body
    assert inflate(honest, 100_000) == b"\0" * 100_000


def test_escaping_is_injective_and_printable() -> None:
    raw = ["a/b", "a\\x2fb", "a\x00", "a\\x00", "a\udc80", "a\x80", "a\\", "a\\\\"]
    escaped = [escape_component(name) for name in raw]
    assert len(set(escaped)) == len(raw)
    assert all(text.isprintable() for text in escaped)
    assert clean_text("x\x00y\tz\udcfe") == "x\\x00y\tz\\xfe"


def test_long_and_repeated_names_fit_their_column_and_stay_distinct() -> None:
    long_a, long_b = "x" * 600 + "a", "x" * 600 + "b"
    assert len(fit(long_a, 512)) == 512
    assert fit(long_a, 512) != fit(long_b, 512)
    assert deduplicate(["h", "h", "h;2", long_a, long_a], 512) == [
        "h",
        "h;3",
        "h;2",
        fit(long_a, 512),
        fit(fit(long_a, 512) + ";2", 512),
    ]


def test_directories_nested_beyond_the_limit_are_reported_not_fatal(tmp_path: Path) -> None:
    deep = "/".join(f"d{i}" for i in range(MAX_DIRECTORY_DEPTH + 5))
    path = rootfiles.write_file(
        tmp_path / "deeper.root",
        {f"{deep}/h": rootfiles.th1("h", [1]), "top": rootfiles.th1("top", [2])},
    )
    result = read_file(path)
    assert [h.name for h in result.histograms] == ["top"]
    [item] = result.unconvertible
    assert item.name == "/".join(f"d{i}" for i in range(MAX_DIRECTORY_DEPTH + 1))
    assert "nested deeper than" in item.reason
