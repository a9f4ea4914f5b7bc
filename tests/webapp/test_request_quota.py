"""A user's quota of queued requests (429 when used up) and superseded jobs on the status page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.jobs import claim_job
from overwatch.storage.jobs import enqueue_job
from overwatch.storage.jobs import reclaim_expired
from overwatch.storage.models import utcnow
from tests.webapp.builders import add_run
from tests.webapp.conftest import csrf_token

Client = Callable[[str], FlaskClient]
SLICES = "/api/v1/runs/10/EMC/time-slices"


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    built: Settings = make_settings(request_queue_quota=2)
    return built


def _api(client: FlaskClient, low: int, high: int) -> Any:
    token = csrf_token(client.get("/runs").text)
    body = {"min_minutes": low, "max_minutes": high}
    return client.post(SLICES, json=body, headers={"X-CSRFToken": token})


def test_requests_beyond_the_quota_are_refused_with_429(client_as: Client, db: Database) -> None:
    add_run(db, 10, minutes=20)
    client = client_as("expert")
    first = _api(client, 1, 5)
    assert first.status_code == 202
    assert _api(client, 2, 6).status_code == 202
    refused = _api(client, 3, 7)
    assert refused.status_code == 429
    error = refused.json["error"]
    assert error["status"] == 429
    assert (
        "expert already has 2 request(s) waiting in the queue (the limit is 2)"
        in (error["fields"]["quota"])
    )
    # The same request as a queued one is no new request.
    again = _api(client, 1, 5)
    assert again.status_code == 202
    assert again.json["job_id"] == first.json["job_id"]
    # The form says it next to the request box.
    token = csrf_token(client.get("/runs/10/EMC").text)
    page = client.post(
        "/runs/10/EMC/requests",
        data={"csrf_token": token, "kind": "time_slice", "min_minutes": "4", "max_minutes": "8"},
    )
    assert page.status_code == 429
    assert 'data-field="quota">expert already has 2 request(s) waiting' in page.text


def test_superseded_jobs_are_shown_apart_from_failed_ones(client_as: Client, db: Database) -> None:
    ids = add_run(db, 10)
    with db.session() as session:
        crashed = enqueue_job(
            session, kind="process", dedupe_key="process:x", subsystem_id=ids["EMC"]
        ).id
    with db.session() as session:
        claim_job(session, "dead-worker", now=utcnow() - timedelta(hours=1))
    with db.session() as session:
        enqueue_job(session, kind="process", dedupe_key="process:x", subsystem_id=ids["EMC"])
    with db.session() as session:
        reclaim_expired(session, lease_seconds=60)
    client = client_as("viewer")
    text = client.get("/status").text
    assert '<span class="state state-superseded">superseded 1</span>' in text
    assert '<span class="state state-failed">failed 0</span>' in text
    status = client.get("/api/v1/status").json
    assert (status["queue"]["superseded"], status["queue"]["failed"]) == (1, 0)
    assert status["failed"] == []
    assert client.get(f"/api/v1/jobs/{crashed}").json["state"] == "superseded"
    job_page = client.get(f"/jobs/{crashed}").text
    assert "Superseded: the same work was queued again" in job_page
