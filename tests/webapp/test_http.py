"""The API over real HTTP (requests against a threaded server) on data from the real pipeline.

Demo runs are written as ROOT files, scanned and processed; a time slice is then
requested with a bearer token, computed by a processing worker, and read back.
"""

from __future__ import annotations

import gzip
import json

import pytest
import requests

from overwatch.config import Settings
from overwatch.processing.worker import Worker
from overwatch.storage import Database
from overwatch.storage.users import create_token
from overwatch.storage.users import create_user


@pytest.fixture
def token(db: Database) -> str:
    with db.session() as session:
        create_user(session, "agent", "agent-password", "expert")
        return create_token(session, "agent", "tests")


def test_runs_and_histograms_over_http(
    live_server: str, processed_demo: Settings, token: str
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    runs = requests.get(f"{live_server}/api/v1/runs", headers=auth, timeout=10)
    assert runs.status_code == 200
    body = runs.json()
    assert body["total"] == 2
    run = body["runs"][0]
    # TPC is processed from the HLT files (borrowing_subsystems' default).
    assert [sub["name"] for sub in run["subsystems"]] == ["EMC", "HLT", "TPC"]
    assert run["subsystems"][0]["file_count"] == 4
    detail = requests.get(
        f"{live_server}{run['subsystems'][0]['url']}", headers=auth, timeout=10
    ).json()
    histograms = [h for group in detail["groups"] for h in group["histograms"] if h["url"]]
    assert histograms, "processing stored no drawable histogram"
    url = f"{live_server}{histograms[0]['url']}"
    # requests asks for gzip and decodes it transparently; check the raw bytes too.
    raw = requests.get(url, headers=auth, timeout=10, stream=True)
    assert raw.headers["Content-Encoding"] == "gzip"
    payload = json.loads(gzip.decompress(raw.raw.read()))
    raw.close()
    assert payload["_typename"].startswith("TH")
    assert payload["fName"] == histograms[0]["name"].rsplit("/", 1)[-1]
    etag = raw.headers["ETag"]
    assert etag == f'"{histograms[0]["etag"]}"'
    unchanged = requests.get(url, headers={**auth, "If-None-Match": etag}, timeout=10)
    assert unchanged.status_code == 304
    plain = requests.get(url, headers={**auth, "Accept-Encoding": "identity"}, timeout=10)
    assert "Content-Encoding" not in plain.headers
    assert json.loads(plain.content) == payload


def test_anonymous_http_calls_get_json_401(live_server: str, processed_demo: Settings) -> None:
    response = requests.get(f"{live_server}/api/v1/runs", timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="overwatch"'
    assert response.json()["error"]["status"] == 401


def test_time_slice_over_http_is_computed_once_and_then_served_from_storage(
    live_server: str, processed_demo: Settings, db: Database, token: str
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    run = requests.get(f"{live_server}/api/v1/runs", headers=auth, timeout=10).json()["runs"][0]
    base = f"{live_server}/api/v1/runs/{run['run_number']}/EMC"
    request = {"min_minutes": 1, "max_minutes": 3, "options": {"scale_hists": True}}
    queued = requests.post(f"{base}/time-slices", json=request, headers=auth, timeout=10)
    assert queued.status_code == 202, queued.text
    job_url = f"{live_server}{queued.json()['job_url']}"
    assert requests.get(job_url, headers=auth, timeout=10).json()["state"] == "queued"

    Worker(processed_demo, db).run_until_idle()

    job = requests.get(job_url, headers=auth, timeout=10).json()
    assert job["state"] == "done", job["error"]
    result = requests.get(f"{live_server}{job['result_url']}", headers=auth, timeout=10).json()
    assert result["result"]["kind"] == "time_slice"
    assert result["result"]["options"] == {"scale_hists": True}
    drawable = [h for group in result["groups"] for h in group["histograms"] if h["url"]]
    assert drawable
    assert drawable[0]["url"].endswith(f"&result={job['result_id']}")
    assert "Scaled by 1/" in " ".join(drawable[0]["info"].get("info", []))
    histogram = requests.get(f"{live_server}{drawable[0]['url']}", headers=auth, timeout=10)
    assert histogram.status_code == 200
    assert histogram.headers["Cache-Control"] == "private, max-age=86400, immutable"

    again = requests.post(f"{base}/time-slices", json=request, headers=auth, timeout=10)
    assert again.status_code == 200
    assert again.json()["result_id"] == job["result_id"]


def test_every_odd_stored_name_is_fetchable_over_http(
    live_server: str, db: Database, token: str
) -> None:
    from tests.webapp.builders import HistSpec  # noqa: PLC0415
    from tests.webapp.builders import add_run  # noqa: PLC0415

    names = ["..", ".", "a/../b", "a/./b", "%", "%2e%2e", "#", "?", "a b", "ünï/Δ", "a//b", "/x"]
    add_run(db, 30, specs=[HistSpec(name, "Odd") for name in names])
    auth = {"Authorization": f"Bearer {token}"}
    body = requests.get(f"{live_server}/api/v1/runs/30/EMC", headers=auth, timeout=10).json()
    stored = {h["name"]: h["url"] for group in body["groups"] for h in group["histograms"]}
    assert sorted(stored) == sorted(names)
    for name, url in stored.items():
        # requests (urllib3) removes dot segments from paths as browsers do; queries stay intact.
        response = requests.get(f"{live_server}{url}", headers=auth, timeout=10)
        assert response.status_code == 200, (name, url, response.text)
        assert response.json()["fName"] == name.rsplit("/", 1)[-1], name
