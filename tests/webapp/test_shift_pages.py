"""What a shift notices on the pages: queued jobs on the status page, a done request
leading to its result, the time-slice span, the side menu's histograms, readable
roles and styled buttons (the layout itself is checked in a browser, test_phone.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask.testing import FlaskClient

from overwatch import webapp
from overwatch.storage import Database
from overwatch.storage.jobs import enqueue_job
from overwatch.storage.jobs import enqueue_request
from overwatch.storage.models import Job
from overwatch.storage.models import SubsystemRun
from overwatch.storage.queries import JobView
from overwatch.webapp.formatting import hist_anchor
from overwatch.webapp.formatting import job_label
from tests.webapp.builders import BASE_TIME
from tests.webapp.builders import add_result
from tests.webapp.builders import add_run
from tests.webapp.builders import default_histograms

Client = Callable[[str], FlaskClient]
#: The dash between two numbers of a range, as the pages write it.
DASH = "\N{EN DASH}"


def _time_slice(
    db: Database, sub_id: int, asked: tuple[float, float], files: tuple[float, float]
) -> tuple[int, int]:
    """A done time-slice job and its result; returns (job id, result id)."""
    with db.session() as session:
        sub = session.get(SubsystemRun, sub_id)
        assert sub is not None
        result = add_result(session, sub, default_histograms(), kind="time_slice", key="k")
        result.min_time = BASE_TIME + timedelta(minutes=files[0])
        result.max_time = BASE_TIME + timedelta(minutes=files[1])
        job = enqueue_request(
            session,
            kind="time_slice",
            dedupe_key="time_slice:k",
            subsystem_id=sub_id,
            run_number=10,
            subsystem="EMC",
            params={"min_minutes": asked[0], "max_minutes": asked[1], "options": {}},
            requested_by="expert",
            quota=5,
        )
        job.state, job.result_id = "done", result.id
        session.flush()
        return job.id, result.id


def test_status_page_lists_the_queued_jobs_in_claim_order(client_as: Client, db: Database) -> None:
    ids = add_run(db, 10, subsystems=("EMC", "HLT"))
    with db.session() as session:
        for name in ("EMC", "HLT"):
            enqueue_job(
                session,
                kind="process",
                dedupe_key=f"process:{name}",
                subsystem_id=ids[name],
                run_number=10,
                subsystem=name,
            )
        enqueue_request(
            session,
            kind="time_slice",
            dedupe_key="slice",
            subsystem_id=ids["EMC"],
            run_number=10,
            subsystem="EMC",
            params={"min_minutes": 2.0, "max_minutes": 12.5, "options": {}},
            requested_by="expert",
            quota=5,
        )
        queued = [job.id for job in session.query(Job).order_by(Job.priority.desc(), Job.id)]
    page = client_as("viewer").get("/status").text
    table = page.split('class="plain queued-jobs"')[1].split("</table>")[0]
    rows = re.findall(r'<tr data-job="(\d+)">(.*?)</tr>', table, re.S)
    assert [int(job_id) for job_id, _ in rows] == queued
    texts = {int(job_id): re.sub(r"<[^>]+>|\s+", " ", row) for job_id, row in rows}
    slice_row = texts[queued[-1]] if "time slice" in texts[queued[-1]] else texts[queued[0]]
    assert f"time slice 2{DASH}12.5 min" in slice_row
    assert "by expert" in slice_row
    assert " 10 " in slice_row
    assert " EMC " in slice_row
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", slice_row)  # queued since (local time)
    assert any("processing" in text and "HLT" in text for text in texts.values())


def test_status_page_says_none_are_queued(client_as: Client, db: Database) -> None:
    page = client_as("viewer").get("/status").text
    assert "<h3>Queued</h3>" in page
    assert "queued-jobs" not in page


def test_a_done_request_s_job_page_leads_to_its_result(client_as: Client, db: Database) -> None:
    ids = add_run(db, 10)
    job_id, result_id = _time_slice(db, ids["EMC"], (2.0, 12.0), (1.5, 11.75))
    response = client_as("viewer").get(f"/jobs/{job_id}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/runs/10/EMC?result={result_id}"


def test_a_queued_request_s_job_page_follows_it(client_as: Client, db: Database) -> None:
    ids = add_run(db, 10)
    job_id, _ = _time_slice(db, ids["EMC"], (2.0, 12.0), (1.5, 11.75))
    with db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.state, job.result_id = "queued", None
    response = client_as("viewer").get(f"/jobs/{job_id}")
    assert response.status_code == 200
    assert 'data-state="queued"' in response.text
    assert "job.js" in response.text


def test_time_slice_result_says_what_was_asked_and_what_the_files_allowed(
    client_as: Client, db: Database
) -> None:
    ids = add_run(db, 10)
    _, result_id = _time_slice(db, ids["EMC"], (2.0, 12.5), (1.5, 11.75))
    page = client_as("viewer").get(f"/runs/10/EMC?result={result_id}").text
    banner = re.sub(r"\s+", " ", page.split('class="slice-span">')[1].split("</span>")[0])
    # BASE_TIME is 07:53:55 UTC, 09:53:55 in Zurich.
    assert banner == (
        f"asked for minutes 2{DASH}12.5; the files allowed minutes 1.50{DASH}11.75 (09:55:25 to 10:05:40)"
    )


def test_time_slice_without_its_job_still_says_what_the_files_allowed(
    client_as: Client, db: Database
) -> None:
    ids = add_run(db, 10)
    job_id, result_id = _time_slice(db, ids["EMC"], (2.0, 12.5), (0.0, 11.75))
    with db.session() as session:
        session.query(Job).filter(Job.id == job_id).delete()
    page = client_as("viewer").get(f"/runs/10/EMC?result={result_id}").text
    banner = page.split('class="slice-span">')[1].split("</span>")[0]
    assert banner.startswith(f"the files allowed minutes 0.00{DASH}11.75")


def test_side_menu_opens_each_group_to_links_to_its_histograms(
    client_as: Client, db: Database
) -> None:
    add_run(db, 10)
    page = client_as("viewer").get("/runs/10/EMC?group=Timing").text
    menu = page.split('<ul class="groups">')[1].split("</aside>")[0]
    groups = re.findall(
        r'<details class="group"( open)?><summary><a [^>]*data-group="([^"]+)"', menu
    )
    # The shown group is open, the others closed; no script is needed for either.
    assert groups == [("", "Towers"), (" open", "Timing"), ("", "Other")]
    towers = menu.split('data-group="Towers"')[1].split("</details>")[0]
    assert f'href="/runs/10/EMC?group=Towers#{hist_anchor("EMCal/hitsPerTower")}"' in towers
    # Every link's anchor is a card on the page it leads to.
    timing = client_as("viewer").get("/runs/10/EMC?group=Towers").text
    for anchor in re.findall(r'group=Towers#([^"]+)"', towers):
        assert f'id="{anchor}"' in timing
    assert "<script>" not in page
    assert "onclick" not in page


def test_histogram_anchors_are_valid_ids_and_never_collide() -> None:
    names = ["EMCal/hits", "EMCal-hits", "EMCal hits", "x<img src=x>", "ünï", "plain_Name-1"]
    anchors = [hist_anchor(name) for name in names]
    assert len(set(anchors)) == len(anchors)
    assert all(re.fullmatch(r"h-[A-Za-z0-9_-]+", anchor) for anchor in anchors)
    assert hist_anchor("plain_Name-1") == "h-plain_Name-1"


def test_job_labels_say_what_a_job_does() -> None:
    def job(kind: str, params: dict[str, object]) -> JobView:
        return JobView(
            1, kind, "queued", 10, "EMC", params, 0, 0, BASE_TIME, None, None, None, None, None
        )

    assert job_label(job("process", {})) == "processing"
    assert job_label(job("reprocess", {"options": {}})) == "reprocessing"
    assert (
        job_label(job("time_slice", {"min_minutes": 1.0, "max_minutes": 3.25}))
        == f"time slice 1{DASH}3.25 min"
    )


def test_role_badges_have_their_own_colours_and_users_page_buttons_are_styled(
    client_as: Client,
) -> None:
    page = client_as("admin").get("/admin/users").text
    assert '<span class="role role-admin">admin</span>' in page
    assert page.count('<button type="submit" class="button">Change</button>') == 2
    assert page.count('<button type="submit" class="button danger">Remove</button>') == 2
    css = (Path(webapp.__file__).parent / "static" / "overwatch.css").read_text()
    assert re.search(r"\.role-admin \{ background: #[0-9a-f]{6}; \}", css)
    assert "button.button {" in css or "button.button," in css
