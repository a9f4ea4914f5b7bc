"""The JSON API with the Flask test client: runs, subsystems, histogram JSON, requests, jobs, errors."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func
from sqlalchemy import select

from overwatch.storage import Database
from overwatch.storage.jobs import PRIORITY_USER
from overwatch.storage.models import CheckResult
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Job
from overwatch.storage.records import request_key
from overwatch.storage.references import set_reference
from tests.webapp.builders import BASE_TIME
from tests.webapp.builders import HistSpec
from tests.webapp.builders import add_result
from tests.webapp.builders import add_run
from tests.webapp.conftest import csrf_token
from tests.webapp.histjson import th1

Client = Callable[[str], FlaskClient]
HIST = "/api/v1/runs/10/EMC/histograms/EMCal/energy"


def test_runs_are_paginated_newest_first(client_as: Client, db: Database) -> None:
    for number in (10, 11, 12):
        add_run(db, number, subsystems=("EMC", "TPC"), quality="good")
    body = client_as("viewer").get("/api/v1/runs?per_page=2").json
    assert [run["run_number"] for run in body["runs"]] == [12, 11]
    assert (body["page"], body["pages"], body["total"], body["per_page"]) == (1, 2, 3, 2)
    assert body["newer"] is None
    assert body["older"] == "/api/v1/runs?before=11&per_page=2"
    older = client_as("viewer").get(body["older"]).json
    assert [run["run_number"] for run in older["runs"]] == [10]
    assert older["page"] is None
    assert (older["newer"], older["older"]) == ("/api/v1/runs?after=10&per_page=2", None)
    sub = body["runs"][0]["subsystems"][0]
    assert sub["name"] == "EMC"
    assert sub["quality"] == "good"
    assert sub["file_count"] == 2
    assert sub["length_minutes"] == 20.0
    assert sub["ongoing"] is False
    assert sub["url"] == "/api/v1/runs/12/EMC"
    assert sub["last_file_time"] == "2018-10-22T08:13:55+00:00"


def test_one_run_and_unknown_run(client_as: Client, db: Database) -> None:
    add_run(db, 10)
    client = client_as("viewer")
    assert client.get("/api/v1/runs/10").json["subsystems"][0]["name"] == "EMC"
    missing = client.get("/api/v1/runs/11")
    assert missing.status_code == 404
    assert missing.json == {"error": {"status": 404, "reason": "no run 11"}}


def test_subsystem_lists_groups_and_histograms(client_as: Client, db: Database) -> None:
    add_run(db, 10)
    body = client_as("viewer").get("/api/v1/runs/10/EMC").json
    assert [group["name"] for group in body["groups"]] == ["Towers", "Timing", "Other"]
    towers = body["groups"][0]["histograms"]
    assert [h["name"] for h in towers] == ["EMCal/hitsPerTower", "EMCal/energy"]
    assert towers[0]["quality"] == "bad"
    assert towers[0]["info"] == {"check": "3 hot towers", "hot_channels": [12, 40, 77]}
    assert towers[0]["url"] == "/api/v1/runs/10/EMC/histogram?name=EMCal/hitsPerTower"
    canvas = body["groups"][1]["histograms"][1]
    assert canvas["url"] is None
    assert canvas["error"] == "TCanvas objects are not converted"
    assert body["result"] is None


def test_histogram_json_is_served_gzip_as_stored(client_as: Client, db: Database) -> None:
    add_run(db, 10)
    response = client_as("viewer").get(HIST, headers={"Accept-Encoding": "gzip, deflate"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert gzip.decompress(response.data) == th1(
        "EMCal/energy", [1, 4, 9, 16, 25, 16, 9, 4, 1, 2], low=0, high=10
    )
    assert response.headers["ETag"].startswith('"')
    assert not response.headers["ETag"].startswith("W/")


def test_histogram_json_is_decompressed_for_clients_without_gzip(
    client_as: Client, db: Database
) -> None:
    add_run(db, 10)
    response = client_as("viewer").get(HIST, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in response.headers
    body = json.loads(response.data)
    assert body["_typename"] == "TH1F"
    assert body["fArray"] == [0.0, 1.0, 4.0, 9.0, 16.0, 25.0, 16.0, 9.0, 4.0, 1.0, 2.0, 0.0]


def test_histogram_json_answers_304_for_a_matching_etag(client_as: Client, db: Database) -> None:
    add_run(db, 10)
    client = client_as("viewer")
    etag = client.get(HIST).headers["ETag"]
    again = client.get(HIST, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    changed = client.get(HIST, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200


def test_histogram_errors(client_as: Client, db: Database) -> None:
    add_run(db, 10)
    client = client_as("viewer")
    missing = client.get("/api/v1/runs/10/EMC/histograms/EMCal/nothing")
    assert missing.status_code == 404
    assert missing.json == {
        "error": {"status": 404, "reason": "no histogram 'EMCal/nothing' in run 10 EMC"}
    }
    canvas = client.get("/api/v1/runs/10/EMC/histograms/EMCal/canvas")
    assert canvas.status_code == 422
    assert canvas.json["error"]["reason"] == (
        "'EMCal/canvas' could not be converted for JSROOT: TCanvas objects are not converted"
    )
    assert client.get("/api/v1/runs/11/EMC/histograms/EMCal/energy").status_code == 404
    assert client.get(HIST + "?result=abc").json == {
        "error": {
            "status": 400,
            "reason": "query parameter 'result' must be a whole number from 0 to 2147483647",
        }
    }


def test_a_stored_time_slice_is_served_by_result_id(client_as: Client, db: Database) -> None:
    ids = add_run(db, 10)
    add_run(db, 11)
    with db.session() as session:
        from overwatch.storage.models import SubsystemRun  # noqa: PLC0415

        sub = session.get(SubsystemRun, ids["EMC"])
        assert sub is not None
        spec = HistSpec("EMCal/energy", "Towers", scale=3.0)
        result_id = add_result(
            session, sub, [spec], kind="time_slice", key="k", options={"scale_hists": False}
        ).id
    client = client_as("viewer")
    response = client.get(f"{HIST}?result={result_id}", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Cache-Control"] == "private, max-age=86400, immutable"
    assert json.loads(gzip.decompress(response.data))["fArray"][5] == 75.0
    body = client.get(f"/api/v1/runs/10/EMC?result={result_id}").json
    assert body["result"]["kind"] == "time_slice"
    url = body["groups"][0]["histograms"][0]["url"]
    assert url == f"/api/v1/runs/10/EMC/histogram?name=EMCal/energy&result={result_id}"
    # A result of another run's subsystem is not reachable through this run.
    other = client.get(f"/api/v1/runs/11/EMC/histograms/EMCal/energy?result={result_id}")
    assert other.status_code == 404


def test_options_come_from_the_detector_plugin(client_as: Client, db: Database) -> None:
    add_run(db, 10)
    body = client_as("viewer").get("/api/v1/runs/10/EMC/options").json
    names = [option["name"] for option in body["options"]]
    assert "scale_hists" in names
    scale = body["options"][names.index("scale_hists")]
    assert (scale["type"], scale["default"]) == ("bool", False)


def _expert_post(client: FlaskClient, url: str, body: object) -> object:
    token = csrf_token(client.get("/runs").text)
    return client.post(url, json=body, headers={"X-CSRFToken": token})


def test_time_slice_request_queues_a_high_priority_job(client_as: Client, db: Database) -> None:
    ids = add_run(db, 10)
    client = client_as("expert")
    response = _expert_post(
        client, "/api/v1/runs/10/EMC/time-slices", {"min_minutes": 5, "max_minutes": 15}
    )
    assert response.status_code == 202
    job_id = response.json["job_id"]
    assert response.json == {
        "state": "queued",
        "job_id": job_id,
        "job_url": f"/api/v1/jobs/{job_id}",
    }
    assert response.headers["Location"] == f"/api/v1/jobs/{job_id}"
    with db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert (job.kind, job.priority, job.requested_by, job.subsystem_id) == (
            "time_slice",
            PRIORITY_USER,
            "expert",
            ids["EMC"],
        )
        assert job.params == {
            "min_minutes": 5.0,
            "max_minutes": 15.0,
            "options": {"scale_hists": False},
        }
        key = request_key("time_slice", {"scale_hists": False}, (5.0, 15.0))
        assert job.dedupe_key == f"time_slice:{ids['EMC']}:{key}"
    status = client.get(f"/api/v1/jobs/{job_id}").json
    assert (status["state"], status["kind"], status["run_number"]) == ("queued", "time_slice", 10)
    # The same request again joins the queued job instead of adding one.
    again = _expert_post(
        client, "/api/v1/runs/10/EMC/time-slices", {"min_minutes": 5, "max_minutes": 15}
    )
    assert again.json["job_id"] == job_id


def test_time_slice_request_errors_name_the_fields(client_as: Client, db: Database) -> None:
    add_run(db, 10, minutes=20)
    client = client_as("expert")
    url = "/api/v1/runs/10/EMC/time-slices"
    too_long = _expert_post(client, url, {"min_minutes": 5, "max_minutes": 45})
    assert too_long.status_code == 400
    assert too_long.json["error"]["fields"] == {"max_minutes": "the run is only 20.00 minutes long"}
    backwards = _expert_post(
        client, url, {"min_minutes": 10, "max_minutes": 5, "options": {"scale_hists": "maybe"}}
    )
    assert backwards.json["error"]["fields"] == {
        "max_minutes": "must be greater than the start of the slice",
        "option:scale_hists": "expected true or false, got 'maybe'",
    }
    unknown = _expert_post(
        client, url, {"min_minutes": 0, "max_minutes": 5, "options": {"nope": 1}}
    )
    assert list(unknown.json["error"]["fields"]) == ["option:nope"]
    assert _expert_post(client, url, ["not", "an", "object"]).json == {
        "error": {"status": 400, "reason": "send a JSON object"}
    }
    missing = _expert_post(client, url, {})
    assert missing.json["error"]["fields"] == {"min_minutes": "required", "max_minutes": "required"}


def test_a_request_made_before_is_served_from_storage(client_as: Client, db: Database) -> None:
    ids = add_run(db, 10)
    key = request_key("reprocess", {"scale_hists": True}, None)
    with db.session() as session:
        from overwatch.storage.models import SubsystemRun  # noqa: PLC0415

        sub = session.get(SubsystemRun, ids["EMC"])
        assert sub is not None
        result_id = add_result(
            session, sub, [HistSpec("EMCal/energy", "Towers")], kind="reprocess", key=key
        ).id
    client = client_as("expert")
    response = _expert_post(
        client, "/api/v1/runs/10/EMC/reprocessings", {"options": {"scale_hists": True}}
    )
    assert response.status_code == 200
    assert response.json == {
        "state": "done",
        "result_id": result_id,
        "result_url": f"/api/v1/runs/10/EMC?result={result_id}",
    }
    with db.session() as session:
        assert session.query(Job).count() == 0


def test_unknown_job_and_unknown_api_path_are_json_404(client_as: Client) -> None:
    client = client_as("viewer")
    assert client.get("/api/v1/jobs/99").json == {"error": {"status": 404, "reason": "no job 99"}}
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.json["error"]["status"] == 404


def test_wrong_method_is_json_405(client_as: Client, db: Database) -> None:
    add_run(db, 10)
    response = client_as("viewer").delete("/api/v1/runs/10")
    assert response.status_code == 405
    assert response.json["error"]["status"] == 405


def test_openapi_document_describes_every_api_route(app: Flask) -> None:
    document = app.test_client().get("/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    described = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "api_docs.openapi":
            continue
        path = rule.rule.removeprefix("/api/v1")
        for converter in ("int:", "path:"):
            path = path.replace(f"<{converter}", "<")
        path = path.replace("<", "{").replace(">", "}")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert (path, method) in described, (path, method)


def test_status_api(client_as: Client, db: Database) -> None:
    add_run(db, 10)
    body = client_as("viewer").get("/api/v1/status").json
    assert body["database"] == {"ok": True, "reason": ""}
    assert body["queue"] == {"queued": 0, "running": 0, "done": 0, "failed": 0, "superseded": 0}
    assert body["subsystems"][0]["name"] == "EMC"
    assert body["subsystems"][0]["last_file_name"] == "EMChistos_10_C_2018_10_22_08_13_55.root"
    assert body["daemons"] == []


def _violations(value: Any, schema: dict[str, Any], schemas: dict[str, Any], at: str) -> list[str]:
    """Where ``value`` breaks ``schema`` (the subset of JSON Schema our document uses)."""
    if "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
    kinds = {
        "object": dict,
        "array": list,
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
        "null": type(None),
    }
    allowed = schema.get("type")
    if allowed is not None:
        names = [allowed] if isinstance(allowed, str) else allowed
        bool_as_number = isinstance(value, bool) and "boolean" not in names
        if bool_as_number or not any(isinstance(value, kinds[name]) for name in names):
            return [f"{at}: {value!r} is not {allowed}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{at}: {value!r} not in {schema['enum']}"]
    found = []
    if isinstance(value, dict):
        found += [f"{at}: no {key!r}" for key in schema.get("required", ()) if key not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                found += _violations(value[key], sub, schemas, f"{at}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += _violations(item, schema["items"], schemas, f"{at}[{index}]")
    return found


def test_openapi_schemas_match_real_responses(client_as: Client, db: Database) -> None:
    """The documented schemas (run quality, histogram checks, references) against real answers."""
    add_run(db, 10)
    add_run(db, 11, start=BASE_TIME + timedelta(hours=1))
    with db.session() as session:
        hist_id = session.scalar(
            select(func.max(HistogramRecord.id)).where(HistogramRecord.name == "EMCal/time")
        )
        session.add(CheckResult(histogram_id=hist_id, name="mean", quality="medium", message="x"))
        session.add(CheckResult(histogram_id=hist_id, name="pull", quality=None, message="why"))
        set_reference(session, "EMC", 10)
    client = client_as("viewer")
    document = client.get("/api/v1/openapi.json").json
    schemas = document["components"]["schemas"]

    def check(url: str, path: str) -> Any:
        body = client.get(url).json
        schema = document["paths"][path]["get"]["responses"]["200"]["content"]
        assert _violations(body, schema["application/json"]["schema"], schemas, url) == []
        return body

    check("/api/v1/runs", "/runs")
    run = check("/api/v1/runs/11", "/runs/{run_number}")
    assert run["quality"] == "bad"
    detail = check("/api/v1/runs/11/EMC", "/runs/{run_number}/{subsystem}")
    histograms = [hist for group in detail["groups"] for hist in group["histograms"]]
    # Every field of a histogram entry is documented, and each check has its three fields.
    assert set(schemas["Histogram"]["properties"]) == set(histograms[0])
    checked = [hist for hist in histograms if hist["checks"]]
    assert {c["check"] for hist in checked for c in hist["checks"]} == {"mean", "pull"}
    assert set(schemas["Check"]["properties"]) == set(checked[0]["checks"][0])
    reference = check("/api/v1/runs/11/EMC/reference", "/runs/{run_number}/{subsystem}/reference")
    assert set(schemas["RunReference"]["properties"]) == set(reference)
    # The checker can fail: a wrong type and a missing field are found.
    assert _violations({"run_number": "11"}, {"$ref": "#/components/schemas/Run"}, schemas, "x")
