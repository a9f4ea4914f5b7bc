"""Storing trend values on SQLite and PostgreSQL: a value that is no number (NaN, ±inf)
is skipped by the storage layer itself, with a log line naming it, whoever writes."""

from __future__ import annotations

import logging
import math
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest

from overwatch.storage import Database
from overwatch.storage.trends import store_trend_values
from overwatch.storage.trends import trend_series
from overwatch.storage.trends import trend_summaries

T0 = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)


def test_non_finite_values_are_skipped_with_a_log_line_and_the_others_stored(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    values = {"mean": 1.5, "nan": math.nan, "up": math.inf, "down": -math.inf}
    with caplog.at_level(logging.WARNING, logger="overwatch.storage.trends"), db.session() as s:
        stored = store_trend_values(s, "TPC", 100, T0, values)
    assert stored == 1
    with db.session() as session:
        assert [t.name for t in trend_summaries(session, "TPC")] == ["mean"]
        assert [p.value for p in trend_series(session, "TPC", "mean")] == [1.5]
    [record] = [r for r in caplog.records if r.name == "overwatch.storage.trends"]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "TPC run 100" in message
    for shown in ("nan=nan", "up=inf", "down=-inf"):
        assert shown in message
    assert "not stored" in message


def test_a_non_finite_value_leaves_a_stored_value_of_the_same_processing_as_it_was(
    db: Database,
) -> None:
    """Skipping is "no value", as live extraction has it: the earlier point stays."""
    with db.session() as session:
        store_trend_values(session, "TPC", 100, T0, {"mean": 1.5})
    with db.session() as session:
        assert store_trend_values(session, "TPC", 100, T0, {"mean": math.nan}) == 0
        assert store_trend_values(session, "TPC", 101, T0 + timedelta(hours=1), {}) == 0
    with db.session() as session:
        assert [p.value for p in trend_series(session, "TPC", "mean")] == [1.5]


def test_only_non_finite_values_store_nothing_and_raise_nothing(db: Database) -> None:
    with db.session() as session:
        assert store_trend_values(session, "TPC", 100, T0, {"a": math.nan, "b": math.inf}) == 0
    with db.session() as session:
        assert trend_summaries(session, "TPC") == []
