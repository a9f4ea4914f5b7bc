"""Quality on the pages: run quality and the run list's quality filter, badges, reasons,
checks and the plugin's information on run pages, the problems-first view, the API's
``checks`` field; and in a real browser, on a run the real pipeline processed."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy import update

from overwatch.config import Settings
from overwatch.detectors import unregister_plugin
from overwatch.detectors.api import worst_quality
from overwatch.storage import Database
from overwatch.storage.models import CheckResult
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from overwatch.storage.users import create_user
from tests.webapp.browser import logged_in_page
from tests.webapp.builders import BASE_TIME
from tests.webapp.builders import HistSpec
from tests.webapp.builders import add_run

Client = Callable[[str], FlaskClient]


def _set_qualities(db: Database, run_number: int, qualities: dict[str, str | None]) -> None:
    with db.session() as session:
        run_id = session.scalar(select(Run.id).where(Run.run_number == run_number))
        for name, quality in qualities.items():
            session.execute(
                update(SubsystemRun)
                .where(SubsystemRun.run_id == run_id, SubsystemRun.name == name)
                .values(quality=quality)
            )


def _runs_shown(html: str) -> list[int]:
    return [int(part.split('"', 1)[0]) for part in html.split('class="run-row" data-run="')[1:]]


def quality_specs() -> list[HistSpec]:
    """Two groups whose problems are spread over both, with display hints and annotations."""
    return [
        HistSpec("SYS/ok", "First", quality="good", info={"check": "mean within range"}),
        HistSpec(
            "SYS/medium_first",
            "First",
            quality="medium",
            info={
                "display": {"name": "Pretty medium", "show_title": True},
                "check": "mean drifts by 2 sigma",
                "info": ["Scaled by 1/500 events"],
                "outliers": [[13, 7]],
            },
        ),
        HistSpec("SYS/unchecked", "Second"),
        HistSpec(
            "SYS/bad_second",
            "Second",
            "th2",
            quality="bad",
            info={
                "display": {"name": "Hot FastORs", "grid": {"row": 2}},
                "check": "1 hot FastOR channel(s) above 0.01 per event: ID 1333",
                "hot_channels": [1333],
                "hot_channel_threshold": 0.01,
            },
        ),
        HistSpec("SYS/medium_second", "Second", quality="medium", info={"check": "few entries"}),
    ]


def test_run_quality_is_the_worst_subsystem_and_the_filter_agrees(
    client_as: Client, db: Database
) -> None:
    choices: list[str | None] = ["good", "medium", "bad", None]
    expected: dict[str, list[int]] = {"bad": [], "medium": [], "good": [], "none": []}
    for number, (emc, hlt) in enumerate(itertools.product(choices, choices), start=1):
        add_run(db, number, subsystems=("EMC", "HLT"), specs=[])
        _set_qualities(db, number, {"EMC": emc, "HLT": hlt})
        expected[worst_quality([emc, hlt]) or "none"].insert(0, number)
    client = client_as("viewer")
    everything = client.get("/runs").text
    assert len(_runs_shown(everything)) == 16
    # Run 12 has EMC bad, HLT none: the run is bad, and each subsystem keeps its own badge.
    row = everything.split('data-run="12"')[1].split("</tr>")[0]
    assert 'data-quality="bad"' in everything.split('data-run="12"')[1][:40]
    assert (
        # (an alarm count may follow the badge in the same cell)
        '<td class="run-quality"><span class="badge badge-bad" title="quality: bad">bad</span>'
    ) in row
    assert '<span class="badge badge-none" title="quality: not checked">none</span>' in row
    for quality, numbers in expected.items():
        page = client.get(f"/runs?quality={quality}").text
        assert _runs_shown(page) == numbers, quality
        assert f'class="qf-{quality} active" data-quality="{quality}" aria-current="page"' in page
        api = client.get(f"/api/v1/runs?quality={quality}").get_json()
        assert [run["run_number"] for run in api["runs"]] == numbers
        assert {run["quality"] or "none" for run in api["runs"]} == {quality}
        assert api["total"] == len(numbers)
    assert client.get("/runs?quality=awful").status_code == 400
    assert client.get("/api/v1/runs?quality=Bad").status_code == 400
    empty = client.get("/runs?quality=bad&before=1")
    assert empty.status_code == 200
    assert "No run has quality <strong>bad</strong>" in empty.text


def test_quality_filter_keeps_keyset_pagination(client_as: Client, db: Database) -> None:
    for number in range(1, 131):
        add_run(db, number, specs=[], quality="bad" if number % 2 else "good")
    client = client_as("viewer")
    first = client.get("/runs?quality=bad").text
    assert _runs_shown(first) == list(range(129, 29, -2))
    assert 'href="/runs?before=31&amp;quality=bad" rel="next">older' in first
    older = client.get("/runs?before=31&quality=bad").text
    assert _runs_shown(older) == list(range(29, 0, -2))
    assert 'href="/runs?after=29&amp;quality=bad" rel="prev">' in older
    assert 'rel="next"' not in older
    newer = client.get("/runs?after=29&quality=bad").text
    assert _runs_shown(newer) == list(range(129, 29, -2))
    # The API walks the same runs, three at a time, by following its own links.
    seen: list[int] = []
    url: str | None = "/api/v1/runs?quality=good&per_page=3"
    while url:
        body = client.get(url).get_json()
        seen += [run["run_number"] for run in body["runs"]]
        url = body["older"]
    assert seen == list(range(130, 0, -2))


def _add_checks(db: Database, histogram: str, checks: list[tuple[str, str | None, str]]) -> None:
    with db.session() as session:
        hist_id = session.scalar(
            select(HistogramRecord.id).where(HistogramRecord.name == histogram)
        )
        assert hist_id is not None
        for name, quality, message in checks:
            session.add(
                CheckResult(histogram_id=hist_id, name=name, quality=quality, message=message)
            )


def test_run_page_shows_badges_reasons_and_plugin_information(
    client_as: Client, db: Database
) -> None:
    add_run(db, 40, subsystems=("EMC", "HLT"), specs=quality_specs(), quality="medium")
    _set_qualities(db, 40, {"HLT": "bad"})
    client = client_as("viewer")
    page = client.get("/runs/40/EMC?group=First").text
    # The run's quality (HLT is bad), the subsystem's, and every subsystem tab with text.
    assert '<dd class="run-quality"><span class="badge badge-bad"' in page
    assert '<dd class="sub-quality"><span class="badge badge-medium"' in page
    assert 'data-subsystem="HLT">HLT <span class="badge badge-bad badge-small"' in page
    # Group badges: each group's worst quality.
    first = page.split('data-group="First"')[1].split("</li>")[0]
    second = page.split('data-group="Second"')[1].split("</li>")[0]
    assert 'class="badge badge-medium badge-small" title="quality: medium">medium</span>' in first
    assert 'class="badge badge-bad badge-small" title="quality: bad">bad</span>' in second
    card = page.split('data-name="SYS/medium_first"')[1].split("</article>")[0]
    # display.name is the title (the stored name stays in the tooltip), display.show_title
    # adds the title, the reason stands out, the notes and other annotations are listed
    # and the display hints are not.
    assert 'title="SYS/medium_first">Pretty medium</a>' in card
    assert '<span class="hist-title">SYS/medium_first title</span>' in card
    assert '<span class="badge badge-medium" title="quality: medium">medium</span>' in card
    assert '<p class="hist-reason q-medium">mean drifts by 2 sigma</p>' in card
    assert "<li>Scaled by 1/500 events</li>" in card
    assert '<span class="key">outliers:</span> (13, 7)</li>' in card
    assert "display" not in card.split('class="hist-info"')[1]
    assert "hist-checks" not in card  # no check results stored yet
    ok = page.split('data-name="SYS/ok"')[1].split("</article>")[0]
    assert '<p class="hist-reason q-good">mean within range</p>' in ok


def test_run_page_lists_each_stored_check_with_its_quality_and_reason(
    client_as: Client, db: Database
) -> None:
    add_run(db, 41, specs=quality_specs())
    _add_checks(
        db,
        "SYS/bad_second",
        [
            ("entries", "good", "12000 entries, at least 100"),
            ("hot_channels", "bad", "1 hot FastOR channel(s): ID 1333"),
            ("reference", None, "no reference run for EMC"),
        ],
    )
    client = client_as("viewer")
    page = client.get("/runs/41/EMC?group=Second").text
    card = page.split('data-name="SYS/bad_second"')[1].split("</article>")[0]
    checks = card.split('<ul class="hist-checks" aria-label="Checks">')[1].split("</ul>")[0]
    assert checks.index('data-check="entries"') < checks.index('data-check="hot_channels"')
    assert (
        '<li class="q-bad" data-check="hot_channels"><span class="badge badge-bad badge-small"'
        ' title="quality: bad">bad</span> <span class="check-name">hot_channels</span>'
        '<span class="check-reason">1 hot FastOR channel(s): ID 1333</span></li>'
    ) in checks
    assert '<li class="q-none" data-check="reference">' in checks
    assert "no reference run for EMC" in checks
    assert 'title="SYS/bad_second">Hot FastORs</a>' in card
    assert '<span class="key">hot channels:</span> 1333</li>' in card
    assert "grid" not in card
    # The single-histogram page shows the same.
    single = client.get("/runs/41/EMC/view?name=SYS/bad_second").text
    assert '<span class="check-reason">1 hot FastOR channel(s): ID 1333</span>' in single
    assert '<p class="hist-reason q-bad">1 hot FastOR channel(s) above 0.01' in single


def test_problems_first_lists_bad_then_medium_across_groups(
    client_as: Client, db: Database
) -> None:
    add_run(db, 42, specs=quality_specs())
    client = client_as("viewer")
    by_group = client.get("/runs/42/EMC").text
    assert 'href="/runs/42/EMC?order=problems" class="" id="problems-toggle">' in by_group
    assert 'Problems first <span class="count">3</span>' in by_group
    page = client.get("/runs/42/EMC?order=problems").text
    cards = page.split('<article class="hist-card')[1:]
    names = [card.split('data-name="', 1)[1].split('"', 1)[0] for card in cards]
    assert names == ["SYS/bad_second", "SYS/medium_first", "SYS/medium_second"]
    assert "data-drawn" not in page  # the drawing is the browser's job
    assert '<span class="hist-group muted small">in Second</span>' in page
    assert '<span class="hist-group muted small">in First</span>' in page
    assert '<p class="hist-reason q-bad">1 hot FastOR channel(s) above 0.01' in page
    assert "2 other histograms (good or not checked) are in their groups" in page
    assert 'class="active" id="problems-toggle"' in page
    assert client.get("/runs/42/EMC?order=worst").status_code == 400
    # A time slice keeps its result in the toggle; a subsystem without problems says so.
    add_run(db, 43, specs=[HistSpec("fine", "G", quality="good")], quality="good")
    calm = client.get("/runs/43/EMC?order=problems").text
    assert "No histogram of EMC is bad or medium." in calm


def test_api_gives_checks_and_run_quality(client_as: Client, db: Database) -> None:
    add_run(db, 44, subsystems=("EMC", "TPC"), specs=quality_specs(), quality="good")
    _set_qualities(db, 44, {"TPC": "medium"})
    _add_checks(db, "SYS/bad_second", [("hot_channels", "bad", "ID 1333 is hot")])
    client = client_as("viewer")
    run = client.get("/api/v1/runs/44").get_json()
    assert run["quality"] == "medium"
    listed = client.get("/api/v1/runs").get_json()["runs"][0]
    assert listed["run_number"] == 44
    assert listed["quality"] == "medium"
    body = client.get("/api/v1/runs/44/EMC").get_json()
    hists = {h["name"]: h for group in body["groups"] for h in group["histograms"]}
    assert hists["SYS/bad_second"]["checks"] == [
        {"check": "hot_channels", "quality": "bad", "reason": "ID 1333 is hot"}
    ]
    assert hists["SYS/bad_second"]["quality"] == "bad"
    assert hists["SYS/bad_second"]["info"]["hot_channels"] == [1333]
    assert hists["SYS/ok"]["checks"] == []
    assert all(isinstance(h["checks"], list) for h in hists.values())


# --- In a real browser, on a run the real pipeline and the real EMC plugin processed -----


@pytest.fixture
def generic_emc_plugin() -> None:
    """Overrides the web tests' pin of EMC to the generic plugin: here the real EMC plugin
    finds the demo's hot FastOR channel."""
    unregister_plugin("EMC")


@pytest.mark.browser
@pytest.mark.slow
def test_browser_shows_badges_and_reasons_on_a_processed_demo_run(
    browser: Any,
    live_server: str,
    processed_demo: Settings,
    db: Database,
) -> None:
    with db.session() as session:
        create_user(session, "shifter", "shift-password", "viewer")
        rows = session.execute(
            select(Run.run_number, HistogramRecord.info)
            .join(SubsystemRun, SubsystemRun.run_id == Run.id)
            .join(HistogramRecord, HistogramRecord.result_id == SubsystemRun.current_result_id)
            .where(SubsystemRun.name == "EMC", HistogramRecord.quality == "bad")
        ).all()
    hot_runs = sorted({number for number, info in rows if info.get("hot_channels")})
    assert hot_runs, "the demo plants a hot FastOR channel that the EMC plugin finds"
    bad_run = hot_runs[-1]
    page, problems = logged_in_page(browser, live_server, "shifter", "shift-password")

    chip = page.locator(f'tr.run-row[data-run="{bad_run}"] a.subchip[data-subsystem="EMC"]')
    assert chip.locator(".badge-bad").inner_text().strip().lower() == "bad"
    page.click("a.qf-bad")
    page.wait_for_url(f"{live_server}/runs?quality=bad")
    assert page.locator(f'tr.run-row[data-run="{bad_run}"]').count() == 1

    page.goto(f"{live_server}/runs/{bad_run}/EMC")
    page.click("#problems-toggle")
    page.wait_for_url(f"{live_server}/runs/{bad_run}/EMC?order=problems")
    page.wait_for_selector("section.histograms[data-drawn=all]", timeout=30_000)
    cards = page.locator("article.hist-card")
    assert cards.count() > 0
    first = cards.first
    assert first.get_attribute("data-quality") == "bad"
    assert first.locator(".hist-head .badge-bad").is_visible()
    assert first.locator(".hist-head .badge").inner_text().strip().lower() == "bad"
    assert first.locator(".hist-reason").inner_text().strip()
    assert first.locator(".hist-draw[data-drawn=yes] svg").count() >= 1
    # The demo's hot FastOR channel: its reason beside the drawing, its ID in the info.
    hot = page.locator("article.hist-card", has=page.locator(".hist-reason", has_text="hot FastOR"))
    assert hot.count() >= 1
    assert hot.first.locator(".hist-head .badge").inner_text().strip().lower() == "bad"
    assert "hot channels:" in hot.first.locator(".hist-info").inner_text()
    assert "display" not in hot.first.locator(".hist-info").inner_text()
    qualities = [cards.nth(i).get_attribute("data-quality") for i in range(cards.count())]
    assert qualities == sorted(qualities, key=["bad", "medium"].index)
    # Readable without colour: the badge says its quality in words, on its own colour.
    colours = first.locator(".hist-head .badge").evaluate(
        "e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]"
    )
    assert colours[0] != colours[1]
    assert problems == []


def test_quality_filter_links_start_a_fresh_first_page(client_as: Client, db: Database) -> None:
    """The filter links carry no other state: each is the first page of that quality."""
    add_run(db, 50, start=BASE_TIME + timedelta(hours=1))
    page = client_as("viewer").get("/runs?before=60").text
    for value in ("bad", "medium", "good", "none"):
        assert f'href="/runs?quality={value}" class="qf-{value}' in page
