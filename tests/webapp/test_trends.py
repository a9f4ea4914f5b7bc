"""The trends API and pages on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from overwatch.storage import Database
from overwatch.storage.trends import store_trend_values

Client = Callable[[str], FlaskClient]
T0 = datetime(2018, 10, 22, 7, 0, 0, tzinfo=UTC)
#: (run, minutes after T0, value): run 11 is processed twice.
POINTS = [(10, 0, 0.01), (11, 30, 0.05), (11, 40, 0.125), (12, 70, 0.3)]


@pytest.fixture
def stored(db: Database) -> None:
    with db.session() as session:
        for run, minutes, value in POINTS:
            values = {"dca_r": value, "retired": value * 2}
            store_trend_values(session, "TPC", run, T0 + timedelta(minutes=minutes), values)


def test_trend_list_names_each_trend_with_its_url_and_limits(
    client_as: Client, stored: None
) -> None:
    client = client_as("viewer")
    body = client.get("/api/v1/trends/TPC").json
    by_name = {item["name"]: item for item in body["trends"]}
    dca = by_name["dca_r"]
    assert dca["url"] == "/api/v1/trends/TPC/dca_r"
    assert dca["kind"] == "mean"
    assert dca["histogram"] == "TPCQA/h_tpc_track_all_recvertex_3"
    assert (dca["points"], dca["last_run"], dca["configured"]) == (4, 12, True)
    assert [(lim["low"], lim["high"], lim["severity"]) for lim in dca["limits"]] == [
        (-0.1, 0.1, "warning"),
        (-0.2, 0.2, "critical"),
    ]
    # A trend no longer configured keeps its values and is still listed.
    assert by_name["retired"]["configured"] is False
    assert by_name["retired"]["points"] == 4
    # Configured but nothing stored yet.
    assert by_name["vertex_z"]["points"] == 0
    subsystems = client.get("/api/v1/trends/").json["subsystems"]
    assert {s["name"] for s in subsystems} >= {"EMC", "HLT", "TPC"}
    missing = client.get("/api/v1/trends/XYZ")
    assert missing.status_code == 404
    assert missing.json["error"]["reason"] == "no trends for subsystem XYZ"


def test_points_by_time_and_by_run_with_ranges(client_as: Client, stored: None) -> None:
    client = client_as("viewer")
    by_time = client.get("/api/v1/trends/TPC/dca_r?x=time").json
    assert by_time["x"] == "time"
    assert [(p["run_number"], p["value"]) for p in by_time["points"]] == [
        (run, value) for run, _, value in POINTS
    ]
    assert by_time["points"][0]["time"] == "2018-10-22T07:00:00+00:00"
    assert by_time["limits"][1] == {
        "low": -0.2,
        "high": 0.2,
        "severity": "critical",
        "source": "defaults.TPC[0] (trend definition)",
    }
    by_run = client.get("/api/v1/trends/TPC/dca_r?x=run").json["points"]
    # By run number: the last value of each run.
    assert [(p["run_number"], p["value"]) for p in by_run] == [(10, 0.01), (11, 0.125), (12, 0.3)]
    runs = client.get("/api/v1/trends/TPC/dca_r?x=run&since=11&until=11").json["points"]
    assert [p["value"] for p in runs] == [0.125]
    window = client.get(
        "/api/v1/trends/TPC/dca_r", query_string={"since": "2018-10-22T07:30:00", "until":
                                                  "2018-10-22T09:40+02:00"}
    ).json["points"]  # fmt: skip
    assert [p["value"] for p in window] == [0.05, 0.125]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("x=index", "x: must be one of time, run, got 'index'"),
        ("format=xml", "format: must be one of json, csv, got 'xml'"),
        ("since=yesterday", "since: expected a run number or an ISO 8601 time, got 'yesterday'"),
        ("until=99999999999", "until: run number above 2147483647"),
    ],
)
def test_bad_parameters_answer_400_naming_them(
    client_as: Client, stored: None, query: str, reason: str
) -> None:
    response = client_as("viewer").get(f"/api/v1/trends/TPC/dca_r?{query}")
    assert response.status_code == 400
    assert response.json["error"]["reason"] == reason


def test_unknown_trend_is_404(client_as: Client, stored: None) -> None:
    response = client_as("viewer").get("/api/v1/trends/TPC/nothing")
    assert response.status_code == 404
    assert response.json["error"]["reason"] == "no trend 'nothing' for subsystem TPC"


def test_csv_download_has_every_point_exactly(client_as: Client, stored: None) -> None:
    response = client_as("viewer").get("/api/v1/trends/TPC/dca_r?x=run&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="TPC_dca_r_by_run.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["run_number", "time", "value"]
    assert [(int(r[0]), float(r[2])) for r in rows[1:]] == [(10, 0.01), (11, 0.125), (12, 0.3)]
    assert rows[1][1] == "2018-10-22T07:00:00+00:00"


def test_trends_need_a_login(app: Flask, stored: None) -> None:
    client = app.test_client()
    assert client.get("/api/v1/trends/TPC/dca_r").status_code == 401
    assert client.get("/trends/TPC").status_code in (302, 401)


def test_trending_page_offers_every_trend_and_the_downloads(
    client_as: Client, stored: None
) -> None:
    client = client_as("viewer")
    index = client.get("/trends/")
    assert index.status_code == 200
    assert 'href="/trends/TPC"' in index.text
    page = client.get("/trends/TPC?x=run&trend=dca_r&trend=dca_z&since=10").text
    assert 'name="trend" value="vertex_z"' in page
    assert 'value="dca_r" checked' in page
    assert 'data-url="/api/v1/trends/TPC/dca_r?x=run&amp;since=10"' in page
    assert 'href="/api/v1/trends/TPC/dca_r?format=csv&amp;x=run&amp;since=10"' in page
    assert "static/trends.js" in page
    assert "<script>" not in page  # the CSP allows no inline script
    # Without a choice: the trends with limits.
    default = client.get("/trends/TPC").text
    assert default.count('class="trend-draw"') == 2
    assert client.get("/trends/XYZ").status_code == 404
