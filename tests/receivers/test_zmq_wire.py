"""The ZMQ wire format: every header field and the body are checked before anything is stored."""

from __future__ import annotations

import hashlib
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from uproot.writing import identify

from overwatch.receivers.filenames import is_candidate
from overwatch.receivers.filenames import parse_file_name
from overwatch.receivers.snapshot import Snapshot
from overwatch.receivers.snapshot import SnapshotError
from overwatch.receivers.snapshot import decode_snapshot
from overwatch.receivers.snapshot import store_snapshot
from tests import rootfiles

ZURICH = ZoneInfo("Europe/Zurich")
NOW = datetime(2018, 10, 22, 8, 0, 0, tzinfo=UTC)
WHEN = datetime(2018, 10, 22, 7, 53, 55, tzinfo=UTC)
LIMIT = 1_000_000


@pytest.fixture(scope="module")
def root_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("root") / "f.root"
    return rootfiles.write_th1_file(path, count=3).read_bytes()


def _header(**changes: Any) -> bytes:
    fields: dict[str, Any] = {
        "version": 1,
        "subsystem": "EMC",
        "run_number": 294832,
        "hlt_mode": "C",
        "time": int(WHEN.timestamp()),
    }
    fields.update(changes)
    return orjson.dumps({key: value for key, value in fields.items() if value is not ...})


def _decode(frames: list[bytes], max_bytes: int = LIMIT) -> Snapshot:
    return decode_snapshot(frames, max_bytes=max_bytes, now=NOW)


def test_a_well_formed_message_decodes(root_bytes: bytes) -> None:
    digest = hashlib.sha256(root_bytes).hexdigest()
    snapshot = _decode([_header(sha256=digest, id="abc-1"), root_bytes])
    header = snapshot.header
    assert (header.subsystem, header.run_number, header.hlt_mode) == ("EMC", 294832, "C")
    assert header.time == WHEN
    assert (header.sha256, header.id) == (digest, "abc-1")
    assert snapshot.body == root_bytes
    assert header.file_name(ZURICH) == "EMChistos_294832_C_2018_10_22_9_53_55.root"


@pytest.mark.parametrize(
    "time",
    ["2018-10-22T09:53:55+02:00", "2018-10-22T07:53:55Z", int(WHEN.timestamp()) + 0.75],
)
def test_time_may_be_iso_8601_with_an_offset_or_unix_seconds(root_bytes: bytes, time: Any) -> None:
    assert _decode([_header(time=time), root_bytes]).header.time == WHEN


def test_time_from_1970_to_a_day_ahead_is_accepted(root_bytes: bytes) -> None:
    assert _decode([_header(time=0), root_bytes]).header.time.year == 1970
    ahead = int(NOW.timestamp()) + 86_000
    assert _decode([_header(time=ahead), root_bytes]).header.time.timestamp() == ahead


def _no_histograms(tmp_path: Path) -> bytes:
    path = rootfiles.write_file(tmp_path / "x.root", {"notes": identify.to_TObjString("hi")})
    return path.read_bytes()


BAD_HEADERS: list[tuple[bytes, str]] = [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (_header(version=2), "version must be 1"),
    (_header(version=True), "version must be 1"),
    (_header(subsystem=...), "lacks subsystem"),
    (_header(run_number=..., time=...), "lacks run_number, time"),
    (_header(subsystem="../EMC"), "letters and digits"),
    (_header(subsystem="/etc/passwd"), "letters and digits"),
    (_header(subsystem="EMC\x00"), "letters and digits"),
    (_header(subsystem="ÉMC"), "letters and digits"),
    (_header(subsystem=""), "letters and digits"),
    (_header(subsystem="A" * 33), "letters and digits"),
    (_header(subsystem=["EMC"]), "letters and digits"),
    (_header(run_number=0), "between 1 and"),
    (_header(run_number=-5), "between 1 and"),
    (_header(run_number=2**31), "between 1 and"),
    (_header(run_number="294832"), "whole number"),
    (_header(run_number=294832.0), "whole number"),
    (_header(run_number=True), "whole number"),
    (_header(hlt_mode="DQM"), "hlt_mode"),
    (_header(hlt_mode="X"), "hlt_mode"),
    (_header(hlt_mode="c"), "hlt_mode"),
    (_header(time=-1), "sane unix time"),
    (_header(time=int(NOW.timestamp()) + 2 * 86400), "a day ahead"),
    (_header(time=1e300), "a day ahead"),
    (_header(time="2018-10-22T09:53:55"), "no UTC offset"),
    (_header(time="yesterday"), "not an ISO 8601"),
    (_header(time=True), "not a boolean"),
    (_header(time=None), "unix seconds or an ISO 8601"),
    (_header(sha256="ABC"), "sha256 must be"),
    (_header(id="../x"), "id must be"),
    (_header(padding="x" * 70_000), "exceeds 65536"),
]


@pytest.mark.parametrize(("header", "reason"), BAD_HEADERS)
def test_bad_headers_are_refused_with_the_reason(
    root_bytes: bytes, header: bytes, reason: str
) -> None:
    with pytest.raises(SnapshotError, match=reason):
        _decode([header, root_bytes])


@pytest.mark.parametrize("count", [0, 1, 3])
def test_a_message_must_have_exactly_two_frames(root_bytes: bytes, count: int) -> None:
    frames = [_header(), root_bytes, b"extra"][:count]
    with pytest.raises(SnapshotError, match=f"expected 2 frames.*got {count}"):
        _decode(frames)


def test_bad_bodies_are_refused_with_the_reason(root_bytes: bytes, tmp_path: Path) -> None:
    cases = {
        b"": "empty body",
        b"GIF89a" + bytes(100): "no 'root' signature",
        root_bytes[:300]: "not a readable ROOT file",
        root_bytes[:-1]: f"truncated: {len(root_bytes) - 1} of {len(root_bytes)} bytes",
        _no_histograms(tmp_path): "holds no histograms",
    }
    for body, reason in cases.items():
        with pytest.raises(SnapshotError, match=reason):
            _decode([_header(), body])


def test_oversize_bodies_and_checksum_mismatches_are_refused(root_bytes: bytes) -> None:
    with pytest.raises(SnapshotError, match=f"{len(root_bytes)} bytes exceeds the limit"):
        _decode([_header(), root_bytes], max_bytes=len(root_bytes) - 1)
    assert _decode([_header(), root_bytes], max_bytes=len(root_bytes)).body == root_bytes
    with pytest.raises(SnapshotError, match="does not match the header's sha256"):
        _decode([_header(sha256="0" * 64), root_bytes])


def test_storing_writes_the_conventional_name_once(root_bytes: bytes, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    snapshot = _decode([_header(), root_bytes])
    first = store_snapshot(data_dir, snapshot, ZURICH)
    assert first.path == data_dir / "EMChistos_294832_C_2018_10_22_9_53_55.root"
    assert (first.duplicate, first.nbytes) == (False, len(root_bytes))
    assert first.path.read_bytes() == root_bytes
    assert parse_file_name(first.path.name, ZURICH).timestamp == WHEN
    again = store_snapshot(data_dir, snapshot, ZURICH)
    assert (again.path, again.duplicate) == (first.path, True)
    assert [p.name for p in data_dir.iterdir()] == [first.path.name]


def test_a_different_snapshot_under_a_taken_name_is_refused(
    root_bytes: bytes, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    store_snapshot(data_dir, _decode([_header(), root_bytes]), ZURICH)
    other = rootfiles.write_th1_file(tmp_path / "other.root", count=2, seed=9).read_bytes()
    with pytest.raises(SnapshotError, match=r"a different file named .* is already"):
        store_snapshot(data_dir, _decode([_header(), other]), ZURICH)
    names = [p.name for p in data_dir.iterdir()]
    assert names == ["EMChistos_294832_C_2018_10_22_9_53_55.root"]
    assert all(is_candidate(name) for name in names)
    assert (data_dir / names[0]).read_bytes() == root_bytes
