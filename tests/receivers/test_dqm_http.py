"""The DQM receiver over real HTTP (gunicorn in a child process): the agents' request, tokens, duplicates."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import requests

from overwatch.config import Settings
from overwatch.processing.scan import scan
from overwatch.processing.worker import Worker
from overwatch.receivers.filenames import is_candidate
from overwatch.storage import Database
from overwatch.storage.agents import create_agent
from overwatch.storage.agents import remove_agent
from overwatch.storage.receivers import list_receivers
from overwatch.storage.users import create_token
from overwatch.storage.users import create_user
from overwatch.webapp import create_app
from tests.receivers.dqmserver import DqmServer
from tests.receivers.dqmserver import agent_headers
from tests.receivers.dqmserver import histogram_file
from tests.receivers.dqmserver import multipart

FILES = "/rest/api/files"
#: 140844 s after the epoch is 1970-01-02 15:07:24 UTC, 16:07:24 in Zurich (the names' time zone).
ORIGINAL_NAME = "EMChistos_123456_DQM_1970_01_02_16_07_24.root"


def _stored(settings: Settings) -> list[Path]:
    return sorted(path for path in settings.data_dir.rglob("*.root") if is_candidate(path.name))


def test_the_original_agent_request_is_accepted_and_its_histograms_reach_the_api(
    dqm_server: DqmServer, settings: Settings, db: Database, token: str, tmp_path: Path
) -> None:
    payload = histogram_file(tmp_path)
    response = requests.post(
        f"{dqm_server.url}{FILES}",
        files=multipart(payload),
        headers=agent_headers(token),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == 200
    assert body["message"] == "Successfully received file and extracted information"
    assert body["filename"] == ORIGINAL_NAME
    assert body["received"] == {"test": "Obj name: test, Obj IsA() Name: TH1F"}
    assert body["duplicate"] is False
    echoed = {key.lower(): value for key, value in body["receivedHeaders"].items()}
    assert echoed["runnumber"] == "123456"
    assert echoed["amoreagent"] == "EMC"
    assert echoed["token"] == "********"
    assert (settings.data_dir / ORIGINAL_NAME).read_bytes() == payload

    auth = {"token": token}
    listing = requests.get(f"{dqm_server.url}{FILES}", headers=auth, timeout=10)
    assert listing.json() == {"files": [ORIGINAL_NAME]}
    download = requests.get(f"{dqm_server.url}{FILES}/{ORIGINAL_NAME}", headers=auth, timeout=10)
    assert download.status_code == 200
    assert download.content == payload

    report = scan(settings, db)
    assert report.registered == [f"Run123456/EMC/{ORIGINAL_NAME}"]
    Worker(settings, db).run_until_idle()
    # Filed away, the upload is still served from its run folder.
    again = requests.get(f"{dqm_server.url}{FILES}/{ORIGINAL_NAME}", headers=auth, timeout=10)
    assert again.content == payload

    with db.session() as session:
        create_user(session, "shift", "shift-password", "viewer")
        api_token = create_token(session, "shift", "tests")
    app = create_app(settings, {"TESTING": True})
    try:
        detail = app.test_client().get(
            "/api/v1/runs/123456/EMC", headers={"Authorization": f"Bearer {api_token}"}
        )
        names = [h["name"] for group in detail.json["groups"] for h in group["histograms"]]
        assert names == ["test"]
        run_page = app.test_client().get(
            "/runs/123456/EMC", headers={"Authorization": f"Bearer {api_token}"}
        )
        assert run_page.status_code == 200
        assert "test" in run_page.text
    finally:
        app.extensions["overwatch"].db.dispose()


def test_the_same_content_is_stored_once(
    dqm_server: DqmServer, settings: Settings, db: Database, token: str, tmp_path: Path
) -> None:
    payload = histogram_file(tmp_path, seed=3)
    first = requests.post(
        f"{dqm_server.url}{FILES}",
        files=multipart(payload),
        headers=agent_headers(token),
        timeout=30,
    )
    # A retry a few seconds later, as a raw body this time: same content, same run.
    retry = requests.post(
        f"{dqm_server.url}{FILES}",
        data=payload,
        headers={**agent_headers(token, stamp=140850), "Content-Type": "application/octet-stream"},
        timeout=30,
    )
    assert first.json()["duplicate"] is False
    assert retry.status_code == 200
    assert retry.json()["duplicate"] is True
    assert retry.json()["filename"] == first.json()["filename"]
    assert [path.name for path in _stored(settings)] == [ORIGINAL_NAME]
    # Other content in the same run is a new snapshot.
    other_payload = histogram_file(tmp_path, seed=4)
    other = requests.post(
        f"{dqm_server.url}{FILES}",
        data=other_payload,
        headers={**agent_headers(token, stamp=140900)},
        timeout=30,
    )
    assert other.json()["duplicate"] is False
    assert len(_stored(settings)) == 2
    with db.session() as session:
        beats = {beat.name: beat for beat in list_receivers(session)}
    assert beats["dqm:EMC"].accepted == 3
    # A duplicate stores nothing, so it adds no bytes.
    assert beats["dqm:EMC"].bytes == len(payload) + len(other_payload)
    assert beats["dqm"].accepted == 3
    assert beats["dqm:EMC"].last_file == other.json()["filename"]


def test_tokens_are_per_agent_and_revocable(
    dqm_server: DqmServer, settings: Settings, db: Database, token: str, tmp_path: Path
) -> None:
    payload = histogram_file(tmp_path)
    url = f"{dqm_server.url}{FILES}"

    def send(headers: dict[str, str]) -> requests.Response:
        return requests.post(url, data=payload, headers=headers, timeout=30)

    headers = agent_headers(token)
    no_token = {key: value for key, value in headers.items() if key != "token"}
    missing = send(no_token)
    assert missing.status_code == 401
    assert "Must pass a token" in missing.json()["message"]
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = send({**headers, "token": "owdqm_" + "x" * 43})
    assert wrong.status_code == 401
    assert "invalid" in wrong.json()["error"]["reason"]

    bearer = send({**no_token, "Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200, bearer.text

    other_name = send({**headers, "amoreAgent": "TPC", "timeStamp": "140845"})
    assert other_name.status_code == 403
    assert "may not upload as amoreAgent TPC" in other_name.json()["message"]

    with db.session() as session:
        hlt_token = create_agent(session, "HLT", allow=["TPC"])
    allowed = send({**agent_headers(hlt_token, agent="TPC")})
    assert allowed.status_code == 200, allowed.text
    # Without amoreAgent an agent uploads under its own name.
    own = send(
        {key: value for key, value in agent_headers(hlt_token).items() if key != "amoreAgent"}
    )
    assert own.json()["filename"].startswith("HLThistos_")
    # An agent sees only its own names' files.
    listing = requests.get(url, headers={"token": hlt_token}, timeout=10).json()["files"]
    assert sorted(name[:3] for name in listing) == ["HLT", "TPC"]
    forbidden = requests.get(f"{url}/{ORIGINAL_NAME}", headers={"token": hlt_token}, timeout=10)
    assert forbidden.status_code == 403

    with db.session() as session:
        assert remove_agent(session, "EMC")
    revoked = send({**headers, "timeStamp": "150000"})
    assert revoked.status_code == 401
    with db.session() as session:
        beats = {beat.name: beat for beat in list_receivers(session)}
    assert beats["dqm:EMC"].refused == 1  # the 403; unidentified refusals count for the endpoint
    assert beats["dqm"].refused == 4
    assert "invalid" in (beats["dqm"].last_refusal_reason or "")


def test_a_shared_token_from_the_settings_may_upload_as_any_agent(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    server = DqmServer(settings, tmp_path, dqm_upload_tokens="site-secret-1, site-secret-2").start()
    try:
        response = requests.post(
            f"{server.url}{FILES}",
            data=histogram_file(tmp_path),
            headers=agent_headers("site-secret-2", agent="TRD"),
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert response.json()["filename"].startswith("TRDhistos_123456_DQM_")
        wrong = requests.post(
            f"{server.url}{FILES}",
            data=histogram_file(tmp_path),
            headers=agent_headers("site-secret", agent="TRD"),
            timeout=30,
        )
        assert wrong.status_code == 401
    finally:
        server.stop()


def test_the_web_app_mounts_the_receiver_without_csrf_but_with_tokens(
    settings: Settings, db: Database, token: str, tmp_path: Path
) -> None:
    app = create_app(settings, {"TESTING": True})
    try:
        client = app.test_client()
        payload = histogram_file(tmp_path)
        refused = client.post(FILES, data=payload, headers=agent_headers("nope"))
        assert refused.status_code == 401
        accepted = client.post(
            FILES,
            data={"file": (io.BytesIO(payload), "file")},
            headers=agent_headers(token),
            content_type="multipart/form-data",
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json["filename"] == ORIGINAL_NAME
        digest = hashlib.sha256((settings.data_dir / ORIGINAL_NAME).read_bytes()).hexdigest()
        assert digest == hashlib.sha256(payload).hexdigest()
    finally:
        app.extensions["overwatch"].db.dispose()
