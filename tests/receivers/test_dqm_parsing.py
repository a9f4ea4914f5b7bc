"""Header parsing and the ROOT content check: crafted bombs and a bounded hypothesis fuzz run."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import uproot
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from overwatch.receivers.rootcheck import ContentError
from overwatch.receivers.rootcheck import inspect_root_file
from overwatch.receivers.upload import MAX_RUN_NUMBER
from overwatch.receivers.upload import UploadError
from overwatch.receivers.upload import parse_upload_headers
from overwatch.storage.agents import AGENT_NAME
from tests import rootfiles
from tests.receivers.dqmserver import root_bytes

GIB = 1024**3
NAMES = ("runNumber", "timeStamp", "amoreAgent", "dataStatus")


class _Headers(dict[str, str]):
    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(key, default)


def _inspect(data: bytes, limit: int = GIB) -> object:
    return inspect_root_file(io.BytesIO(data), len(data), max_inflated=limit)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    directory = tmp_path_factory.mktemp("sample")
    return rootfiles.write_sample_file(directory / "sample.root").read_bytes()


def test_the_original_receivers_test_time_is_accepted() -> None:
    parsed = parse_upload_headers(
        _Headers(runNumber="123456", timeStamp="140844", amoreAgent="EMC"), now=1.8e9
    )
    assert parsed.run_number == 123456
    assert parsed.timestamp.isoformat() == "1970-01-02T15:07:24+00:00"
    assert parsed.agent == "EMC"


def test_a_missing_agent_is_the_default() -> None:
    parsed = parse_upload_headers(_Headers(runNumber="1", timeStamp="0"), default_agent="TPC")
    assert parsed.agent == "TPC"


def test_the_sample_file_lists_its_top_level_objects(sample: bytes) -> None:
    inspection = _inspect(sample)
    assert inspection.top_level["flat"] == "TH1F"  # type: ignore[attr-defined]
    assert inspection.top_level["EMC"] == "TDirectory"  # type: ignore[attr-defined]
    assert "EMC/variable" not in inspection.top_level  # type: ignore[attr-defined]


def _key(data: bytes, name: str) -> tuple[int, int]:
    """Where the TKey ``name`` starts and its header length, as uproot reads them."""
    with uproot.open(io.BytesIO(data)) as opened:
        key = opened.key(name)
        return int(key.fSeekKey), int(key.fKeylen)


def _set_objlen(data: bytearray, name: str, objlen: int) -> tuple[int, int]:
    """Change what key ``name`` declares uncompressed, in front of the object and in the key list."""
    start, keylen = _key(bytes(data), name)
    header = bytes(data[start : start + keylen])
    position = data.find(header)
    copies = 0
    while position != -1:
        struct.pack_into(">i", data, position + 6, objlen)
        copies += 1
        position = data.find(header, position + 1)
    assert copies == 2  # ROOT keeps the key before the object and in its directory's list
    return start, keylen


def test_a_key_declaring_gigabytes_is_a_bomb(tmp_path: Path) -> None:
    data = bytearray(root_bytes({"h": rootfiles.th1("h", np.ones(100), kind="D")}, tmp_path))
    _set_objlen(data, "h", 2**31 - 1)  # 2 GiB
    with pytest.raises(ContentError, match="decompression bomb"):
        _inspect(bytes(data))


def test_a_block_inflating_past_its_declared_size_is_stopped(tmp_path: Path) -> None:
    # 8 MB of zeros compress to a few kB; claim the block inflates to 1000 bytes only.
    data = bytearray(root_bytes({"h": rootfiles.th1("h", np.zeros(1_000_000), kind="D")}, tmp_path))
    start, keylen = _set_objlen(data, "h", 1000)
    block = start + keylen
    assert data[block : block + 2] == b"ZL"
    data[block + 6 : block + 9] = (1000).to_bytes(3, "little")
    with pytest.raises(ContentError, match="inflates to"):
        _inspect(bytes(data))


def test_small_limits_refuse_large_inflation(tmp_path: Path) -> None:
    data = root_bytes({"h": rootfiles.th1("h", np.zeros(1_000_000), kind="D")}, tmp_path)
    assert _inspect(data, limit=16 * 1024**2)
    with pytest.raises(ContentError, match="decompression bomb"):
        _inspect(data, limit=4 * 1024**2)


@hypothesis_settings(max_examples=300, deadline=None, derandomize=True)
@given(st.dictionaries(st.sampled_from(NAMES), st.text(max_size=50)))
def test_fuzz_header_parsing_only_refuses_or_yields_safe_values(values: dict[str, str]) -> None:
    try:
        parsed = parse_upload_headers(_Headers(values))
    except UploadError as error:
        status = error.status
        assert status == 400
        return
    assert 0 < parsed.run_number <= MAX_RUN_NUMBER
    assert AGENT_NAME.fullmatch(parsed.agent)


@hypothesis_settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.data())
def test_fuzz_damaged_root_files_are_refused_cleanly(sample: bytes, data: st.DataObject) -> None:
    damaged = bytearray(sample)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(damaged) - 1))
        damaged[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(damaged)))
    payload = bytes(damaged[:cut])
    try:
        inspection = _inspect(payload, limit=64 * 1024**2)
    except ContentError:
        return
    assert inspection.inflated_bytes <= 64 * 1024**2  # type: ignore[attr-defined]


@hypothesis_settings(max_examples=200, deadline=None, derandomize=True)
@given(st.binary(max_size=2000))
def test_fuzz_random_bytes_are_refused(payload: bytes) -> None:
    with pytest.raises(ContentError):
        _inspect(b"root" + payload)
