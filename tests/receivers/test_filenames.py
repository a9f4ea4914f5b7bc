"""Tests for the received-file name convention."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from overwatch.receivers.filenames import HLT_MODES
from overwatch.receivers.filenames import FileNameError
from overwatch.receivers.filenames import build_file_name
from overwatch.receivers.filenames import is_candidate
from overwatch.receivers.filenames import parse_file_name

ZURICH = ZoneInfo("Europe/Zurich")


def test_parses_an_alice_receiver_name_with_unpadded_numbers() -> None:
    parsed = parse_file_name("EMChistos_294832_C_2018_10_22_9_53_5.root", ZURICH)

    assert parsed.subsystem == "EMC"
    assert parsed.run_number == 294832
    assert parsed.hlt_mode == "C"
    # 22 October 2018 is still summer time in Zurich (UTC+2).
    assert parsed.timestamp == datetime(2018, 10, 22, 7, 53, 5, tzinfo=UTC)
    assert parsed.timestamp.tzinfo is UTC
    assert parsed.processable


def test_padded_and_unpadded_numbers_mean_the_same_time() -> None:
    padded = parse_file_name("HLThistos_1_B_2019_01_02_03_04_05.root", ZURICH)
    unpadded = parse_file_name("HLThistos_1_B_2019_1_2_3_4_5.root", ZURICH)

    assert padded == unpadded
    # Winter time: UTC+1.
    assert unpadded.timestamp == datetime(2019, 1, 2, 2, 4, 5, tzinfo=UTC)


def test_receiver_names_are_built_unpadded_in_local_time() -> None:
    when = datetime(2018, 10, 22, 7, 3, 5, tzinfo=UTC)

    assert build_file_name("EMC", 294832, "C", when, ZURICH) == (
        "EMChistos_294832_C_2018_10_22_9_3_5.root"
    )


@pytest.mark.parametrize("mode", sorted(HLT_MODES))
@pytest.mark.parametrize(
    "when",
    [
        datetime(2018, 10, 22, 7, 53, 55, tzinfo=UTC),  # summer time
        datetime(2018, 12, 31, 23, 59, 59, tzinfo=UTC),  # winter time, new year locally
        datetime(2018, 10, 28, 2, 0, 0, tzinfo=UTC),  # 03:00 CET, just after the repeated hour
        datetime(2018, 3, 25, 1, 0, 0, tzinfo=UTC),  # first instant of DST
    ],
)
def test_build_then_parse_round_trips(mode: str, when: datetime) -> None:
    name = build_file_name("TPC", 294833, mode, when, ZURICH)
    parsed = parse_file_name(name, ZURICH)

    assert (parsed.subsystem, parsed.run_number, parsed.hlt_mode) == ("TPC", 294833, mode)
    assert parsed.timestamp == when


def test_timestamp_in_another_zone_is_converted_to_the_receiver_zone() -> None:
    new_york = datetime(2018, 10, 22, 3, 53, 55, tzinfo=ZoneInfo("America/New_York"))

    name = build_file_name("EMC", 1, "C", new_york, ZURICH)

    assert name == "EMChistos_1_C_2018_10_22_9_53_55.root"
    assert parse_file_name(name, ZURICH).timestamp == new_york


def test_the_repeated_hour_at_the_end_of_dst_reads_as_summer_time() -> None:
    # 02:30 happens twice in Zurich on 2018-10-28. A name carries no UTC offset,
    # so both instants get the same name and it is read as the first (CEST) one.
    first = datetime(2018, 10, 28, 0, 30, tzinfo=UTC)
    second = first + timedelta(hours=1)

    name = build_file_name("EMC", 1, "C", first, ZURICH)

    assert name == build_file_name("EMC", 1, "C", second, ZURICH)
    assert name == "EMChistos_1_C_2018_10_28_2_30_0.root"
    assert parse_file_name(name, ZURICH).timestamp == first


def test_the_same_name_means_different_instants_in_different_zones() -> None:
    name = "EMChistos_1_C_2018_10_22_9_53_55.root"

    in_zurich = parse_file_name(name, ZURICH).timestamp
    in_utc = parse_file_name(name, ZoneInfo("UTC")).timestamp

    assert in_utc - in_zurich == timedelta(hours=2)


def test_dqm_upload_names_are_zero_padded_and_round_trip() -> None:
    when = datetime(2018, 1, 2, 2, 4, 5, tzinfo=UTC)

    name = build_file_name("agent1", 294832, "DQM", when, ZURICH)

    assert name == "agent1histos_294832_DQM_2018_01_02_03_04_05.root"
    parsed = parse_file_name(name, ZURICH)
    assert parsed.subsystem == "agent1"
    assert parsed.hlt_mode == "DQM"
    assert parsed.processable
    assert parsed.timestamp == when


def test_replay_mode_e_is_parsed_but_not_processable() -> None:
    parsed = parse_file_name("EMChistos_294832_E_2018_10_22_9_53_55.root", ZURICH)

    assert parsed.hlt_mode == "E"
    assert not parsed.processable


@pytest.mark.parametrize("mode", ["A", "B", "C", "U"])
def test_normal_modes_are_processable(mode: str) -> None:
    assert parse_file_name(f"EMChistos_1_{mode}_2018_10_22_9_53_55.root", ZURICH).processable


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("EMChistos_294832_C_2018_10_22_9_53_55.txt", "does not match"),
        ("EMC_294832_C_2018_10_22_9_53_55.root", "does not match"),
        ("EMChistos_294832_C_2018_10_22_9_53.root", "does not match"),
        ("EMChistos_run1_C_2018_10_22_9_53_55.root", "does not match"),
        ("EMChistos_-1_C_2018_10_22_9_53_55.root", "does not match"),
        ("EMChistos_294832_c_2018_10_22_9_53_55.root", "does not match"),
        ("EMChistos_294832_C_2018_10_22_9_53_55.root.tmp", "does not match"),
        ("EMChistos_294832_X_2018_10_22_9_53_55.root", "unknown HLT mode 'X'"),
        ("EMChistos_294832_C_2018_13_22_9_53_55.root", "invalid date or time"),
        ("EMChistos_294832_C_2018_2_30_9_53_55.root", "invalid date or time"),
        ("EMChistos_294832_C_2018_10_22_24_0_0.root", "invalid date or time"),
        ("EMChistos_0_C_2018_10_22_9_53_55.root", "run number must be positive"),
        ("EMChistos_000_C_2018_10_22_9_53_55.root", "run number must be positive"),
        # Found by a hostile tester: these parsed, then failed in the database or in astimezone.
        ("EMChistos_3000000000_C_2018_10_22_9_53_55.root", "larger than 2147483647"),
        ("EMChistos_2147483648_C_2018_10_22_9_53_55.root", "larger than 2147483647"),
        ("EMChistos_" + "9" * 5000 + "_C_2018_10_22_9_53_55.root", "larger than 2147483647"),
        ("EMChistos_1_C_0001_01_01_0_0_0.root", "year 1 is outside 1970-2100"),
        ("EMChistos_1_C_9999_12_31_23_59_59.root", "year 9999 is outside"),
        ("EMChistos_1_C_1969_12_31_23_59_59.root", "year 1969 is outside"),
        ("A" * 33 + "histos_1_C_2018_10_22_9_53_55.root", "longer than 32 characters"),
        ("EMChistos_\u0661_C_2018_10_22_9_53_55.root", "does not match"),  # Arabic-Indic one
        ("EMChistos_1_C_2018_10_22_9_53_55.root\n", "does not match"),
    ],
)
def test_bad_names_raise_file_name_error_with_a_reason(name: str, reason: str) -> None:
    with pytest.raises(FileNameError, match=reason) as info:
        parse_file_name(name, ZURICH)

    assert repr(name) in str(info.value)


def test_run_number_and_years_at_the_limits_parse() -> None:
    top = parse_file_name("EMChistos_2147483647_C_2100_12_31_23_59_59.root", ZURICH)
    bottom = parse_file_name("EMChistos_0001_C_1970_1_1_0_0_0.root", ZURICH)

    assert top.run_number == 2**31 - 1
    assert top.timestamp == datetime(2100, 12, 31, 22, 59, 59, tzinfo=UTC)
    assert bottom.run_number == 1
    assert bottom.timestamp == datetime(1969, 12, 31, 23, 0, 0, tzinfo=UTC)


def test_file_name_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="does not match"):
        parse_file_name("notes.txt", ZURICH)


@pytest.mark.parametrize(
    ("subsystem", "mode", "when", "message"),
    [
        ("EMC", "C", datetime(2018, 10, 22, 9, 53, 55), "timezone-aware"),
        ("EMC", "X", datetime(2018, 10, 22, tzinfo=UTC), "unknown HLT mode"),
        ("EM_C", "C", datetime(2018, 10, 22, tzinfo=UTC), "letters and digits"),
        ("../EMC", "C", datetime(2018, 10, 22, tzinfo=UTC), "letters and digits"),
        ("E" * 33, "C", datetime(2018, 10, 22, tzinfo=UTC), "longer than 32"),
        ("EMC", "C", datetime(1900, 10, 22, tzinfo=UTC), "year 1900 is outside"),
    ],
)
def test_build_rejects_what_could_not_be_parsed_back(
    subsystem: str, mode: str, when: datetime, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_file_name(subsystem, 1, mode, when, ZURICH)


@pytest.mark.parametrize("run_number", [0, -5, 2**31])
def test_build_rejects_run_numbers_the_database_cannot_hold(run_number: int) -> None:
    with pytest.raises(ValueError, match="outside 1-2147483647"):
        build_file_name("EMC", run_number, "C", datetime(2018, 10, 22, tzinfo=UTC), ZURICH)


@pytest.mark.parametrize(
    "name",
    [
        "EMChistos_294832_C_2018_10_22_9_53_55.root",
        "agent1histos_294832_DQM_2018_10_22_09_53_55.root",
        # Candidates are only "may be a receiver file"; parsing decides the rest.
        "other.root",
    ],
)
def test_finished_root_files_are_candidates(name: str) -> None:
    assert is_candidate(name)


@pytest.mark.parametrize(
    "name",
    [
        ".EMChistos_294832_C_2018_10_22_9_53_55.root.3f2a9c.tmp",  # our writer's temp name
        ".EMChistos_294832_C_2018_10_22_9_53_55.root",  # hidden (rsync --inplace off)
        "~EMChistos_294832_C_2018_10_22_9_53_55.root",
        "_EMChistos_294832_C_2018_10_22_9_53_55.root",
        "EMChistos_294832_C_2018_10_22_9_53_55.tmp.root",
        "EMChistos_294832_C_2018_10_22_9_53_55.part.root",
        "EMChistos_294832_C_2018_10_22_9_53_55.root.part",
        "EMChistos_294832_C_2018_10_22_9_53_55.root.tmp",
        "README.txt",
    ],
)
def test_hidden_and_temporary_names_are_not_candidates(name: str) -> None:
    assert not is_candidate(name)
