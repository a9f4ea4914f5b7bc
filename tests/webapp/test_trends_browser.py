"""A real browser draws a trend with its limit bands (JSROOT, under the CSP).

Two short demo runs are processed by the real pipeline with one extra HLT trend
that has warning and critical limits; chromium (Playwright) opens the trending
page by run number and by time and must find JSROOT's SVG with the values and
both bands, without console errors or CSP violations.
"""

from __future__ import annotations

from typing import Any

import pytest

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.users import create_user
from tests.webapp.browser import logged_in_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIMITED = {
    "name": "tracks_limited",
    "title": "TPC tracks per event, mean",
    "kind": "mean",
    "histogram": "fHistTPCtracks",
    "warning_max": 15,
    "critical_max": 30,
}
# What JSROOT fills the bands with: kOrange (800) and kRed (632).
BAND_FILLS = {"warning": "rgb(255,205,0)", "critical": "rgb(255,0,0)"}


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    built: Settings = make_settings(trending={"HLT": ["defaults", LIMITED]})
    return built


@pytest.mark.parametrize("x", ["run", "time"])
def test_a_trend_is_drawn_with_its_limit_bands(
    browser: Any,
    processed_demo: Settings,
    db: Database,
    live_server: str,
    x: str,
) -> None:
    with db.session() as session:
        create_user(session, "shifter", "shifter-password", "viewer")
    page, problems = logged_in_page(browser, live_server, "shifter", "shifter-password")
    page.goto(f"{live_server}/trends/HLT?trend=tracks_limited&trend=tpc_tracks&x={x}")
    page.wait_for_selector("section.trends[data-drawn=all]", timeout=30_000)
    frame = page.locator('.trend-card[data-trend="tracks_limited"] .trend-draw')
    assert frame.get_attribute("data-drawn") == "yes"
    assert frame.get_attribute("data-points") == "2"  # two runs, one processing each
    assert frame.get_attribute("data-bands") == "2"
    assert frame.locator("svg").count() >= 1
    bands = frame.evaluate(
        "el => Array.from(el.querySelectorAll('svg path'))"
        ".map(p => [p.style.fill.replace(/ /g, ''), p.style.opacity])"
    )
    # Translucent bands: the warning one (kOrange, 30 %) and the critical one (kRed, 35 %).
    assert [BAND_FILLS["warning"], "0.3"] in bands, bands
    assert [BAND_FILLS["critical"], "0.35"] in bands, bands
    # The trend without limits: values only, no band.
    plain = page.locator('.trend-card[data-trend="tpc_tracks"] .trend-draw')
    assert plain.get_attribute("data-drawn") == "yes"
    assert plain.get_attribute("data-bands") == "0"
    axis_text = frame.evaluate("el => el.querySelector('svg').textContent")
    if x == "run":
        assert "294832" in axis_text.replace(" ", "") or "run number" in axis_text
    else:
        assert "time" in axis_text
    assert problems == []
    page.close()
