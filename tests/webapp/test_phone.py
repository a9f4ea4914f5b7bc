"""Every page on a phone (390 x 844) and a tablet (820 x 1180), in a real browser.

Nothing may make the page wider than the screen (tables scroll inside their cards),
"Log out" stays visible on screen, histogram cards fit, role badges are readable
(WCAG contrast of at least 4.5:1), 2D histograms are drawn with a colour scale and
no stats box over the map, and the side menu opens a group to its histograms
without any script of ours. Skipped without /usr/bin/chromium unless
OVERWATCH_TEST_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from overwatch.config import Settings
from overwatch.processing.worker import Worker
from overwatch.storage import Database
from overwatch.storage.jobs import enqueue_request
from overwatch.storage.models import Job
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from overwatch.storage.users import create_user
from tests.webapp.browser import log_in
from tests.webapp.browser import logged_in_page
from tests.webapp.browser import watch

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
#: WCAG AA for normal text.
MIN_CONTRAST = 4.5
#: What JSROOT drew into each histogram frame: class, options, colour scale, stats box.
DRAWN = """() => Array.from(document.querySelectorAll('.hist-draw[data-url]')).map(frame => {
  const canvas = JSROOT.getElementMainPainter(frame);
  return {
    typename: canvas.getMainPainter().getObject()._typename,
    stored: frame.closest('article.hist-card').querySelector('.hist-links .muted').textContent.split(' ')[0],
    options: frame.dataset.drawOptions,
    palette: !!canvas.findPainterFor(null, null, 'TPaletteAxis'),
    stats: !!canvas.findPainterFor(null, 'stats', 'TPaveStats'),
  };
})"""


def _luminance(css_colour: str) -> float:
    found = re.fullmatch(r"rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)", css_colour)
    assert found, css_colour
    assert found[4] is None or float(found[4]) == 1.0, f"{css_colour} is not opaque"

    def channel(value: str) -> float:
        c = int(value) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(found[i]) for i in (1, 2, 3))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str) -> float:
    """The WCAG contrast ratio of two computed CSS colours."""
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _fits(page: Any, where: str) -> None:
    """Nothing wider than the viewport; "Log out" visible and on screen (when logged in)."""
    width = page.evaluate("window.innerWidth")
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{where}: page is {scroll} px wide on a {width} px screen"
    logout = page.locator(".userbox button", has_text="Log out")
    if logout.count():
        assert logout.is_visible(), f"{where}: Log out is hidden"
        box = logout.bounding_box()
        assert box is not None
        assert box["x"] >= 0, where
        assert box["x"] + box["width"] <= width, f"{where}: Log out is cut off at {box}"
        assert box["y"] >= 0, where
    for index in range(page.locator(".hist-card").count()):
        card = page.locator(".hist-card").nth(index).bounding_box()
        assert card is not None
        assert card["x"] >= 0, where
        assert card["x"] + card["width"] <= width, f"{where}: histogram card {index} is cut off"


def _readable_roles(page: Any, where: str) -> None:
    for index in range(page.locator(".role").count()):
        badge = page.locator(".role").nth(index)
        colour = badge.evaluate("el => getComputedStyle(el).color")
        background = badge.evaluate("el => getComputedStyle(el).backgroundColor")
        ratio = contrast(colour, background)
        assert ratio >= MIN_CONTRAST, (
            f"{where}: role badge {colour} on {background} is {ratio:.2f}:1"
        )


def _shifter_on_newest_run(
    chromium: Any, base: str, db: Database, viewport: dict[str, int]
) -> tuple[Any, int]:
    """A viewer logged in on a page of ``viewport`` size, and the newest run's number."""
    with db.session() as session:
        create_user(session, "shifter", "shift-password", "viewer")
        newest = session.query(Run).order_by(Run.run_number.desc()).first()
        assert newest is not None
        number = newest.run_number
    page, _problems = logged_in_page(chromium, base, "shifter", "shift-password", viewport)
    return page, number


@pytest.fixture
def shift(processed_demo: Settings, db: Database) -> dict[str, Any]:
    """An admin, a stored time slice and a queued one; what the test visits."""
    with db.session() as session:
        create_user(session, "boss", "boss-password", "admin")
        create_user(session, "viewer-with-a-rather-long-name", "viewer-password", "viewer")
        run = session.query(Run).order_by(Run.run_number.desc()).first()
        assert run is not None
        sub = session.query(SubsystemRun).filter_by(run_id=run.id, name="EMC").one()
        requests = {"run": run.run_number, "sub_id": sub.id}

    def request(low: float, high: float) -> int:
        with db.session() as session:
            job = enqueue_request(
                session,
                kind="time_slice",
                dedupe_key=f"time_slice:{low}:{high}",
                requested_by="boss",
                quota=5,
                subsystem_id=requests["sub_id"],
                run_number=requests["run"],
                subsystem="EMC",
                params={"min_minutes": low, "max_minutes": high, "options": {}},
            )
            return job.id

    request(1.0, 3.0)
    Worker(processed_demo, db).run_until_idle()
    with db.session() as session:
        done = session.query(Job).filter(Job.kind == "time_slice").one()
        assert done.state == "done", done.error
        requests["result"] = done.result_id
    requests["queued_job"] = request(0.0, 2.0)  # no worker runs any more: it stays queued
    return requests


def test_every_page_fits_a_phone_and_a_tablet(
    browser: Any,
    live_server: str,
    shift: dict[str, Any],
) -> None:
    run = shift["run"]
    pages = {
        "run list": "/runs",
        "run page": f"/runs/{run}/EMC",
        "problems first": f"/runs/{run}/HLT?order=problems",
        "time slice result": f"/runs/{run}/EMC?result={shift['result']}",
        "histogram page": f"/runs/{run}/EMC/view?name=EMCTRQA_histFastORL0_SM4",
        "ROOT file view": f"/runs/{run}/EMC/file",
        "job page": f"/jobs/{shift['queued_job']}",
        "status": "/status",
        "users": "/admin/users",
        "error page": "/runs/1",
    }
    for viewport in (PHONE, TABLET):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        # The error page's own 404 is expected; anything else on the console is not.
        problems = watch(page, expected="404")
        page.goto(f"{live_server}/login")
        _fits(page, f"login at {viewport['width']} px")
        log_in(page, live_server, "boss", "boss-password")
        for what, path in pages.items():
            where = f"{what} at {viewport['width']} px"
            page.goto(live_server + path)
            if page.locator("section.histograms .hist-draw[data-url]").count():
                page.wait_for_selector("section.histograms[data-drawn=all]", timeout=30_000)
            if what == "ROOT file view":
                page.wait_for_selector("#rootfile[data-opened=yes]", timeout=30_000)
            _fits(page, where)
            _readable_roles(page, where)
        assert problems == [], problems
        context.close()


def test_admin_badge_and_users_page_buttons_are_readable(
    browser: Any,
    live_server: str,
    db: Database,
) -> None:
    with db.session() as session:
        create_user(session, "boss", "boss-password", "admin")
        create_user(session, "helper", "helper-password", "expert")
    page, _problems = logged_in_page(browser, live_server, "boss", "boss-password", PHONE)
    page.goto(f"{live_server}/admin/users")
    # The badge in the top bar and the one in the (white) users table.
    assert page.locator(".role-admin").count() == 2
    _readable_roles(page, "users page")
    change = page.locator('tr[data-user="helper"] button', has_text="Change")
    remove = page.locator('tr[data-user="helper"] button', has_text="Remove")
    for button in (change, remove):
        style = button.evaluate(
            "el => [getComputedStyle(el).borderRadius, getComputedStyle(el).backgroundColor, getComputedStyle(el).color]"
        )
        assert style[0] == "6px", style  # styled like the rest, not the browser's default
        assert contrast(style[2], style[1]) >= MIN_CONTRAST, style


def test_2d_histograms_get_a_colour_scale_and_no_stats_box_over_the_map(
    browser: Any,
    live_server: str,
    processed_demo: Settings,
    db: Database,
) -> None:
    page, number = _shifter_on_newest_run(browser, live_server, db, {"width": 1400, "height": 1000})
    # EMC runs the generic plugin here (no draw options): Overwatch's defaults apply.
    page.goto(f"{live_server}/runs/{number}/EMC")
    page.wait_for_selector("section.histograms[data-drawn=all]", timeout=30_000)
    drawn = page.evaluate(DRAWN)
    maps = [d for d in drawn if d["typename"].startswith(("TH2", "TProfile2D"))]
    # A graph's axes are a TH1F too: the stored class tells the 1D histograms apart.
    lines = [d for d in drawn if d["stored"].startswith("TH1")]
    assert lines, drawn
    assert maps, drawn
    for item in maps:
        assert item["options"] == "colz;nostat", item
        assert item["palette"], item
        assert not item["stats"], item
    for item in lines:  # 1D histograms keep ROOT's default look
        assert item["options"] == "", item
        assert not item["palette"], item


def test_side_menu_opens_a_group_to_its_histograms_and_jumps_to_one(
    browser: Any,
    live_server: str,
    processed_demo: Settings,
    db: Database,
) -> None:
    page, number = _shifter_on_newest_run(browser, live_server, db, PHONE)
    page.goto(f"{live_server}/runs/{number}/HLT")  # the HLT plugin makes several groups
    groups = page.locator(".groups details.group")
    assert groups.count() >= 2
    assert groups.first.get_attribute("open") is not None  # the shown group
    closed = groups.nth(1)
    assert closed.get_attribute("open") is None
    assert not closed.locator(".group-hists a").first.is_visible()
    # The triangle (the summary outside the group's own link) opens the group.
    summary = closed.locator("summary")
    box = summary.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 4, box["y"] + box["height"] / 2)
    assert closed.get_attribute("open") is not None
    link = closed.locator(".group-hists a").last
    assert link.is_visible()
    name = link.get_attribute("data-hist")
    link.click()
    page.wait_for_load_state()
    anchor = page.url.split("#", 1)[1]
    card = page.locator(f'article.hist-card[id="{anchor}"]')
    assert card.get_attribute("data-name") == name
    page.wait_for_timeout(300)
    top = card.bounding_box()
    assert top is not None
    assert 0 <= top["y"] < PHONE["height"], top  # scrolled to the card
