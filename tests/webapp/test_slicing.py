"""The time-slice / reprocessing form on the run page and the job page."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient

from overwatch.storage import Database
from overwatch.storage.models import Job
from tests.webapp.builders import add_run
from tests.webapp.conftest import csrf_token

Client = Callable[[str], FlaskClient]


def _submit(client: FlaskClient, **fields: str) -> object:
    token = csrf_token(client.get("/runs/10/EMC").text)
    return client.post("/runs/10/EMC/requests", data={"csrf_token": token, **fields})


def test_expert_sees_the_form_with_the_run_length_and_plugin_options(
    client_as: Client, db: Database
) -> None:
    add_run(db, 10, minutes=20)
    page = client_as("expert").get("/runs/10/EMC").text
    assert 'id="request-form"' in page
    assert 'name="max_minutes" step="any" min="0" value="20.00"' in page
    assert "the run is 20.00 min long" in page
    assert 'name="opt_scale_hists" value="1"' in page


def test_submitting_a_time_slice_opens_the_job_page(client_as: Client, db: Database) -> None:
    add_run(db, 10)
    client = client_as("expert")
    response = _submit(
        client, kind="time_slice", min_minutes="2", max_minutes="12", opt_scale_hists="1"
    )
    assert response.status_code == 302
    with db.session() as session:
        job = session.query(Job).one()
        assert job.params == {
            "min_minutes": 2.0,
            "max_minutes": 12.0,
            "options": {"scale_hists": True},
        }
        job_id = job.id
    assert response.headers["Location"] == f"/jobs/{job_id}"
    page = client.get(f"/jobs/{job_id}").text
    assert f"Time slice · job #{job_id}" in page
    assert 'data-url="/api/v1/jobs/' in page
    assert '<span class="state state-queued" id="job-state">queued</span>' in page
    assert "<code>scale_hists=True</code>" in page
    # The run page lists the request.
    assert f'href="/jobs/{job_id}">#{job_id}</a>' in client.get("/runs/10/EMC").text


def test_form_errors_are_shown_next_to_the_fields(client_as: Client, db: Database) -> None:
    add_run(db, 10, minutes=20)
    response = _submit(client_as("expert"), kind="time_slice", min_minutes="25", max_minutes="x")
    assert response.status_code == 400
    page = response.text
    assert (
        '<span class="field-error" data-field="min_minutes">the run is only 20.00 minutes long</span>'
        in page
    )
    assert (
        '<span class="field-error" data-field="max_minutes">expected a number of minutes</span>'
        in page
    )
    assert 'name="min_minutes" step="any" min="0" value="25"' in page  # the entered values stay
    assert '<details class="requestbox" open>' in page
    with db.session() as session:
        assert session.query(Job).count() == 0


def test_reprocessing_ignores_the_minutes(client_as: Client, db: Database) -> None:
    add_run(db, 10)
    response = _submit(client_as("expert"), kind="reprocess", min_minutes="", max_minutes="")
    assert response.status_code == 302
    with db.session() as session:
        job = session.query(Job).one()
        assert (job.kind, job.params) == ("reprocess", {"options": {"scale_hists": False}})


def test_unknown_kind_is_an_error(client_as: Client, db: Database) -> None:
    add_run(db, 10)
    response = _submit(client_as("expert"), kind="delete_everything")
    assert response.status_code == 400
    assert "must be one of time_slice, reprocess" in response.text


def test_unknown_job_page_is_404(client_as: Client) -> None:
    assert client_as("viewer").get("/jobs/5").status_code == 404
