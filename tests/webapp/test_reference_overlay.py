"""The reference on the run page: the expert's "Make this run the reference" form (CSRF,
roles, ranges, the same storage function as the command line), the API that finds a
run's reference and serves its stored histogram JSON, the overlay controls on the
cards; and in a real browser, the overlay and the ratio drawn by JSROOT on one pad."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy import update

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from overwatch.storage.references import list_references
from overwatch.storage.references import set_reference
from overwatch.storage.users import create_user
from tests.webapp.browser import logged_in_page
from tests.webapp.builders import HistSpec
from tests.webapp.builders import add_run
from tests.webapp.conftest import csrf_token

Client = Callable[[str], FlaskClient]


def _specs(scale: float) -> list[HistSpec]:
    return [
        HistSpec("EMCal/energy", "Towers", "th1", "good", scale=scale),
        HistSpec("EMCal/hitsPerTower", "Towers", "th2", "good", scale=scale),
        HistSpec("EMCal/canvas", "Towers", error="TCanvas objects are not converted"),
    ]


def _runs(db: Database) -> None:
    add_run(db, 100, subsystems=("EMC", "HLT"), specs=_specs(1.0), quality="good")
    add_run(db, 101, subsystems=("EMC", "HLT"), specs=_specs(3.0), quality="good")


def _references(db: Database, subsystem: str | None = None) -> list[tuple[int, Any]]:
    with db.session() as session:
        return [(view.run_number, view.runs) for view in list_references(session, subsystem)]


def _post_form(client: FlaskClient, url: str, page_url: str, **fields: str) -> Any:
    token = csrf_token(client.get(page_url).text)
    return client.post(url, data={"csrf_token": token, **fields})


def test_expert_makes_the_run_the_reference_with_the_form(client_as: Client, db: Database) -> None:
    _runs(db)
    expert = client_as("expert")
    page = expert.get("/runs/100/EMC").text
    assert 'id="make-reference"' in page
    assert 'action="/runs/100/EMC/reference"' in page
    assert '<dd class="reference-run" ><span class="muted">none set</span>' in page
    response = _post_form(expert, "/runs/100/EMC/reference", "/runs/100/EMC")
    assert response.status_code == 302
    assert response.headers["Location"] == "/runs/100/EMC"
    assert _references(db) == [(100, None)]
    # The note says what was set; run 101 now shows run 100 as its reference.
    assert "EMC: run 100 is now the reference for every run." in expert.get("/runs/100/EMC").text
    other = expert.get("/runs/101/EMC").text
    assert 'data-reference-run="100"><a href="/runs/100/EMC">run 100</a>' in other
    # A range, as with `overwatch reference set EMC 101 --runs 90-100`; set_by is the user.
    ranged = _post_form(expert, "/runs/101/EMC/reference", "/runs/101/EMC", runs=" 90 - 100 ")
    assert ranged.status_code == 302
    assert _references(db, "EMC") == [(100, None), (101, (90, 100))]
    with db.session() as session:
        assert {view.set_by for view in list_references(session)} == {"expert"}
    assert "(runs 90-100)" in expert.get("/runs/100/EMC").text
    assert _references(db, "HLT") == []


def test_the_form_refuses_bad_ranges_and_unprocessed_runs_with_the_reason(
    client_as: Client, db: Database
) -> None:
    _runs(db)
    add_run(db, 102, specs=[])
    expert = client_as("expert")
    empty = _post_form(expert, "/runs/100/EMC/reference", "/runs/100/EMC", runs="200-100")
    assert empty.status_code == 400
    assert (
        '<span class="field-error" data-field="reference:runs">the range 200-100 is empty'
    ) in empty.text
    assert 'value="200-100"' in empty.text  # the typed range is kept for correcting
    garbled = _post_form(expert, "/runs/100/EMC/reference", "/runs/100/EMC", runs="last week")
    assert garbled.status_code == 400
    assert "expected a range of run numbers like 294800-294900" in garbled.text
    assert _references(db) == []
    # A run without a processed result cannot be compared with.
    with db.session() as session:
        session.execute(
            update(SubsystemRun)
            .where(SubsystemRun.id == _emc_id(db, 102))
            .values(current_result_id=None)
        )
    unprocessed = _post_form(expert, "/runs/102/EMC/reference", "/runs/102/EMC")
    assert unprocessed.status_code == 400
    assert "run 102 EMC is not processed yet" in unprocessed.text
    assert _references(db) == []


def _emc_id(db: Database, run_number: int) -> int:
    with db.session() as session:
        found = session.scalar(
            select(SubsystemRun.id)
            .join(Run, SubsystemRun.run_id == Run.id)
            .where(Run.run_number == run_number, SubsystemRun.name == "EMC")
        )
    assert found is not None
    return found


def test_viewers_see_no_button_and_cannot_post(client_as: Client, db: Database) -> None:
    _runs(db)
    viewer = client_as("viewer")
    page = viewer.get("/runs/100/EMC").text
    assert "make-reference" not in page
    assert "/runs/100/EMC/reference" not in page
    refused = viewer.post("/runs/100/EMC/reference", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 403
    assert _references(db) == []


def test_a_post_without_csrf_token_is_refused(client_as: Client, db: Database) -> None:
    _runs(db)
    expert = client_as("expert")
    for data in ({}, {"csrf_token": "forged"}):
        refused = expert.post("/runs/100/EMC/reference", data=data)
        assert refused.status_code == 400
        assert "The form expired or did not come from this site" in refused.text
    assert _references(db) == []


def test_api_finds_the_reference_and_serves_its_stored_histogram(
    client_as: Client, db: Database
) -> None:
    _runs(db)
    client = client_as("viewer")
    none = client.get("/api/v1/runs/101/EMC/reference/histogram?name=EMCal/energy")
    assert none.status_code == 404
    assert none.get_json()["error"]["reason"] == "no reference run set for EMC (run 101)"
    assert client.get("/api/v1/runs/101/EMC/reference").status_code == 404
    with db.session() as session:
        set_reference(session, "EMC", 100, set_by="test")
    about = client.get("/api/v1/runs/101/EMC/reference").get_json()
    assert about["run_number"] == 100
    assert about["runs"] is None
    assert about["histogram_url"] == "/api/v1/runs/101/EMC/reference/histogram"
    got = client.get("/api/v1/runs/101/EMC/reference/histogram?name=EMCal/energy")
    assert got.status_code == 200
    assert got.headers["Overwatch-Reference-Run"] == "100"
    own = client.get("/api/v1/runs/100/EMC/histogram?name=EMCal/energy")
    assert got.data == own.data  # the reference run's stored JSON, as stored
    assert got.headers["ETag"] == own.headers["ETag"]
    assert got.headers["Cache-Control"] == "private, no-cache"
    contents = json.loads(got.data)["fArray"]
    assert contents[1:11] == [1, 4, 9, 16, 25, 16, 9, 4, 1, 2]
    assert (
        client.get(
            "/api/v1/runs/101/EMC/reference/histogram?name=EMCal/energy",
            headers={"If-None-Match": got.headers["ETag"]},
        ).status_code
        == 304
    )
    missing = client.get("/api/v1/runs/101/EMC/reference/histogram?name=nothing")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["reason"] == (
        "the reference run 100 of EMC has no histogram 'nothing'"
    )
    assert client.get("/api/v1/runs/101/EMC/reference/histogram").status_code == 400
    # The reference run itself has no reference (a run is never its own), nor has HLT.
    itself = client.get("/api/v1/runs/100/EMC/reference/histogram?name=EMCal/energy")
    assert itself.get_json()["error"]["reason"] == "no reference run set for EMC (run 100)"
    assert client.get("/api/v1/runs/101/HLT/reference").status_code == 404
    assert client.get("/api/v1/runs/999/EMC/reference").status_code == 404


def test_cards_offer_the_comparison_only_with_a_reference_and_for_1d_and_2d(
    client_as: Client, db: Database
) -> None:
    _runs(db)
    client = client_as("viewer")
    assert "ref-views" not in client.get("/runs/101/EMC").text
    with db.session() as session:
        set_reference(session, "EMC", 100)
    page = client.get("/runs/101/EMC").text
    energy = page.split('data-name="EMCal/energy"')[1].split("</article>")[0]
    assert (
        'data-ref-url="/api/v1/runs/101/EMC/reference/histogram?name=EMCal/energy" '
        'data-ref-run="100"'
    ) in energy
    assert 'data-view="overlay" aria-pressed="false"' in energy
    assert "overlay ref. 100" in energy
    assert '<p class="ref-caption" hidden></p>' in energy
    assert "data-ref-url" in page.split('data-name="EMCal/hitsPerTower"')[1].split("</article>")[0]
    canvas = page.split('data-name="EMCal/canvas"')[1].split("</article>")[0]
    assert "ref-views" not in canvas
    assert '<script src="/static/reference.js"></script>' in page
    # The single-histogram page offers it too; the reference run's own page does not.
    assert "data-ref-url" in client.get("/runs/101/EMC/view?name=EMCal/energy").text
    assert "data-ref-url" not in client.get("/runs/100/EMC").text


# --- In a real browser --------------------------------------------------------------------

#: The objects JSROOT drew on the pad of the frame, by the pad painter's own list.
PAD_OBJECTS = """frame => {
  // A histogram drawn into a div gets a canvas of its own: that canvas is the pad.
  const pad = JSROOT.getElementCanvPainter(frame);
  const found = [];
  pad.forEachPainterInPad(p => {
    const obj = p.getObject ? p.getObject() : null;
    if (obj && obj._typename && obj._typename.startsWith("TH")) found.push([obj._typename, obj.fName]);
  }, "objects");
  return found;
}"""


@pytest.mark.browser
@pytest.mark.slow
def test_browser_expert_sets_the_reference_and_sees_overlay_and_ratio(
    browser: Any,
    live_server: str,
    processed_demo: Settings,
    db: Database,
) -> None:
    with db.session() as session:
        create_user(session, "expert1", "expert-password", "expert")
        create_user(session, "shifter", "shift-password", "viewer")
    first, second = sorted(
        int(path.name.removeprefix("Run")) for path in processed_demo.data_dir.glob("Run*")
    )
    page, problems = logged_in_page(browser, live_server, "expert1", "expert-password")

    # Without a CSRF token the same post is refused, even with the expert's session.
    forged = page.request.post(
        f"{live_server}/runs/{first}/HLT/reference", form={"runs": ""}, max_redirects=0
    )
    assert forged.status == 400
    assert _references(db) == []

    page.goto(f"{live_server}/runs/{first}/HLT")
    page.click("#make-reference")
    page.wait_for_url(f"{live_server}/runs/{first}/HLT")
    assert f"HLT: run {first} is now the reference for every run" in page.inner_text("body")
    assert _references(db) == [(first, None)]

    page.goto(f"{live_server}/runs/{second}/HLT")
    assert page.inner_text("dd.reference-run").startswith(f"run {first}")
    page.wait_for_selector("section.histograms[data-drawn=all]", timeout=30_000)
    card = page.locator("article.hist-card", has=page.locator(".hist-draw[data-ref-url]")).first
    frame = card.locator(".hist-draw")
    name = card.get_attribute("data-name")
    assert len(frame.evaluate(PAD_OBJECTS)) == 1, name

    card.locator('.ref-views button[data-view="overlay"]').click()
    page.wait_for_function(
        "frame => frame.dataset.viewDrawn === 'overlay' || frame.dataset.viewDrawn === 'error'",
        arg=frame.element_handle(),
        timeout=30_000,
    )
    caption = card.locator(".ref-caption")
    assert frame.get_attribute("data-view-drawn") == "overlay", caption.inner_text()
    drawn = frame.evaluate(PAD_OBJECTS)
    assert len(drawn) == 2, drawn
    assert drawn[1][1] == f"reference_run_{first}"
    assert caption.is_visible()
    assert f"reference run {first}, normalised to the same integral" in caption.inner_text()
    assert card.locator('button[data-view="overlay"]').get_attribute("aria-pressed") == "true"
    # Two drawings in one SVG: the histogram and the red reference.
    assert frame.locator("svg").count() >= 1

    card.locator('.ref-views button[data-view="ratio"]').click()
    page.wait_for_function(
        "frame => frame.dataset.viewDrawn === 'ratio' || frame.dataset.viewDrawn === 'error'",
        arg=frame.element_handle(),
        timeout=30_000,
    )
    assert frame.get_attribute("data-view-drawn") == "ratio", caption.inner_text()
    drawn = frame.evaluate(PAD_OBJECTS)
    assert len(drawn) == 1
    assert drawn[0][1].endswith("_ratio")
    assert f"Ratio of this run to reference run {first}" in caption.inner_text()

    card.locator('.ref-views button[data-view="plain"]').click()
    page.wait_for_function(
        "frame => frame.dataset.viewDrawn === 'plain'", arg=frame.element_handle()
    )
    assert len(frame.evaluate(PAD_OBJECTS)) == 1
    assert not caption.is_visible()
    assert problems == []

    # A viewer sees the comparison, but not the button.
    viewer, viewer_problems = logged_in_page(browser, live_server, "shifter", "shift-password")
    viewer.goto(f"{live_server}/runs/{second}/HLT")
    assert viewer.locator("#make-reference").count() == 0
    assert viewer.locator(".ref-views").count() > 0
    assert viewer_problems == []
