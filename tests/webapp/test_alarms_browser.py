"""The alarms in a real browser (Debian's chromium driven by Playwright), on processed demo data.

The demo's out-of-range HLT histogram raised an alarm through the real pipeline; a
cleared EMC trend alarm is added. A viewer sees the counts on the run list and the
alarms page without an acknowledge button; an expert filters the page with its form,
acknowledges an alarm (the row then says by whom and when), and follows the run page's
alarm link to the histogram's anchor, which exists on that page.
"""

from __future__ import annotations

from typing import Any

import pytest

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.alarms import clear_alarms
from overwatch.storage.alarms import list_alarms
from overwatch.storage.alarms import raise_alarm
from overwatch.storage.users import create_user
from overwatch.webapp.formatting import hist_anchor
from tests.webapp.browser import logged_in_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIRST, SECOND = 294832, 294833
HOT = "fHistTPCdEdxMaxOROC2"
#: The scrolled-to card must be within its height.
VIEWPORT = {"width": 1400, "height": 900}


def rows(page: Any) -> list[tuple[str, str, str]]:
    """(run, subsystem, state) of every row of the alarms table."""
    found = page.locator("tr.alarm-row")
    return [
        (
            found.nth(i).get_attribute("data-run"),
            found.nth(i).get_attribute("data-subsystem"),
            found.nth(i).get_attribute("data-state"),
        )
        for i in range(found.count())
    ]


def test_alarms_are_shown_filtered_acknowledged_and_lead_to_the_histogram(
    browser: Any,
    live_server: str,
    processed_demo: Settings,
    db: Database,
) -> None:
    with db.session() as session:
        raise_alarm(
            session, rule="EMC drift", subsystem="EMC", target="emc_mean", severity="warning",
            message="emc_mean = 9 in run 294832, outside [0, 5]", run_number=FIRST,
        )  # fmt: skip
        clear_alarms(session, rule="EMC drift", subsystem="EMC")
        create_user(session, "watcher", "watcher-password", "viewer")
        create_user(session, "shifter", "shift-password", "expert")
        stored = list_alarms(session)
    assert {(a.run_number, a.subsystem, a.histogram) for a in stored} == {
        (FIRST, "EMC", None),
        (SECOND, "HLT", HOT),
    }
    hot = next(a for a in stored if a.histogram == HOT)

    # A viewer: counts on the run list, the alarms, no acknowledge button.
    viewer, viewer_problems = logged_in_page(
        browser, live_server, "watcher", "watcher-password", viewport=VIEWPORT
    )
    for run in (FIRST, SECOND):
        count = viewer.locator(f'tr.run-row[data-run="{run}"] a.alarmcount')
        assert count.get_attribute("data-alarms") == "1"
        assert count.get_attribute("href") == f"/alarms?run={run}"
    assert viewer.locator(f'tr.run-row[data-run="{SECOND}"] a.alarmcount.open').count() == 1
    assert viewer.locator(f'tr.run-row[data-run="{FIRST}"] a.alarmcount.open').count() == 0
    viewer.click(f'tr.run-row[data-run="{SECOND}"] a.alarmcount')
    viewer.wait_for_url(f"{live_server}/alarms?run={SECOND}")
    assert rows(viewer) == [(str(SECOND), "HLT", "active")]
    viewer.goto(f"{live_server}/alarms")
    assert sorted(rows(viewer)) == [(str(FIRST), "EMC", "cleared"), (str(SECOND), "HLT", "active")]
    assert viewer.locator("button.ack").count() == 0
    assert viewer.locator("form.ackform").count() == 0
    assert viewer_problems == []

    # An expert filters with the form.
    expert, problems = logged_in_page(
        browser, live_server, "shifter", "shift-password", viewport=VIEWPORT
    )
    expert.goto(f"{live_server}/alarms")
    assert expert.locator("button.ack").count() == 1  # a cleared alarm needs no acknowledgement
    expert.select_option('form.alarmfilters select[name="state"]', "cleared")
    expert.click("form.alarmfilters button[type=submit]")
    expert.wait_for_url("**/alarms?state=cleared*")
    assert rows(expert) == [(str(FIRST), "EMC", "cleared")]
    expert.select_option('form.alarmfilters select[name="state"]', "")
    expert.fill('form.alarmfilters input[name="subsystem"]', "HLT")
    expert.click("form.alarmfilters button[type=submit]")
    expert.wait_for_url("**subsystem=HLT*")
    assert rows(expert) == [(str(SECOND), "HLT", "active")]
    expert.fill('form.alarmfilters input[name="subsystem"]', "TPC")
    expert.click("form.alarmfilters button[type=submit]")
    expert.wait_for_url("**subsystem=TPC*")
    assert rows(expert) == []
    assert "No alarm matches these filters" in expert.locator("section.empty").inner_text()
    expert.click("text=clear filters")
    expert.wait_for_url(f"{live_server}/alarms")
    assert len(rows(expert)) == 2

    # ... and acknowledges: the row says by whom and when, and has no button any more.
    row = expert.locator(f'tr.alarm-row[data-alarm="{hot.id}"]')
    row.locator("button.ack").click()
    expert.wait_for_url(f"{live_server}/alarms")
    assert f"Alarm {hot.id} acknowledged by shifter" in expert.content()
    row = expert.locator(f'tr.alarm-row[data-alarm="{hot.id}"]')
    assert row.get_attribute("data-state") == "acknowledged"
    who = row.locator(".alarm-state").locator("xpath=..").inner_text()
    assert "by shifter" in who
    assert "ago" in who or "just now" in who, who
    assert row.locator("button.ack").count() == 0
    with db.session() as session:
        [acked] = list_alarms(session, state="acknowledged")
    assert (acked.id, acked.acknowledged_by) == (hot.id, "shifter")
    assert acked.acknowledged_at is not None

    # The run page lists the run's alarm and links to the histogram's anchor on it.
    expert.goto(f"{live_server}/runs/{SECOND}/HLT")
    link = expert.locator("#run-alarms a.alarm-link")
    assert link.count() == 1
    assert link.get_attribute("href") == f"/runs/{SECOND}/HLT?order=problems#{hist_anchor(HOT)}"
    link.click()
    expert.wait_for_url(f"**/runs/{SECOND}/HLT?order=problems#{hist_anchor(HOT)}")
    target = expert.locator(f'article[id="{hist_anchor(HOT)}"]')
    assert target.count() == 1
    target.locator(".hist-draw[data-drawn=yes] svg").first.wait_for(timeout=30_000)
    box = target.bounding_box()
    assert box is not None
    # Scrolled to it: the anchor's card is in view.
    assert 0 <= box["y"] < VIEWPORT["height"]
    assert problems == []
