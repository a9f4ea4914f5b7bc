"""A real browser (Debian's chromium driven by Playwright) against a real server.

Logs in, opens the run list and a run page, checks that JSROOT drew every
histogram of the group (an SVG each) without console errors, then requests a
time slice through the form while a processing worker runs in a background
thread, and sees the result page. Skipped when /usr/bin/chromium is missing,
unless OVERWATCH_TEST_REQUIRE_BROWSER=1 (CI), which makes that a failure.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from overwatch.config import Settings
from overwatch.processing.worker import Worker
from overwatch.storage import Database
from overwatch.storage.users import create_user
from tests.webapp.browser import DESKTOP
from tests.webapp.browser import log_in
from tests.webapp.browser import logged_in_page
from tests.webapp.browser import watch

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def worker_thread(processed_demo: Settings, db: Database) -> Iterator[None]:
    """A processing worker polling the queue, as the daemon would, while the browser works."""
    stop = threading.Event()
    worker = Worker(processed_demo, db, name="browser-test-worker")

    def loop() -> None:
        while not stop.is_set():
            worker.run_until_idle(stop=stop)
            stop.wait(0.2)

    thread = threading.Thread(target=loop, name="processing", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)


def test_shift_crew_and_expert_workflow(
    browser: Any, live_server: str, processed_demo: Settings, db: Database, worker_thread: None
) -> None:
    with db.session() as session:
        create_user(session, "shifter", "shift-password", "expert")
    page = browser.new_page(viewport=DESKTOP)
    problems = watch(page)

    page.goto(f"{live_server}/runs")
    assert page.url.startswith(f"{live_server}/login")
    log_in(page, live_server, "shifter", "shift-password")
    rows = page.locator("tr.run-row")
    assert rows.count() == 2
    newest = rows.first.get_attribute("data-run")
    assert newest is not None

    page.click(f'tr.run-row[data-run="{newest}"] a.subchip[data-subsystem="EMC"]')
    page.wait_for_url(f"{live_server}/runs/{newest}/EMC")
    page.wait_for_selector("section.histograms[data-drawn=all]", timeout=30_000)
    frames = page.locator(".hist-draw[data-url]")
    count = frames.count()
    assert count > 0
    assert page.locator(".hist-draw[data-url][data-drawn=yes]").count() == count
    for index in range(count):
        assert frames.nth(index).locator("svg").count() >= 1, f"histogram {index} has no SVG"

    # The ROOT file view: JSROOT reads the received file with HTTP range requests.
    page.goto(f"{live_server}/runs/{newest}/EMC/file")
    page.wait_for_selector("#rootfile[data-opened]", timeout=30_000)
    assert page.get_attribute("#rootfile", "data-opened") == "yes"
    assert page.locator("#rootfile-tree").inner_text().count("EMChistos_") == 1

    page.goto(f"{live_server}/runs/{newest}/EMC")
    page.click("details.requestbox summary")
    page.fill('input[name="min_minutes"]', "1")
    page.fill('input[name="max_minutes"]', "3")
    page.check('input[name="opt_scale_hists"]')
    page.click("#request-form button[type=submit]")
    page.wait_for_url(f"{live_server}/runs/{newest}/EMC?result=*", timeout=60_000)
    page.wait_for_selector("section.histograms[data-drawn=all]", timeout=30_000)
    banner = page.locator(".banner-slice").inner_text()
    assert banner.startswith("Time slice")
    assert "scale_hists=True" in banner
    assert (
        page.locator(".hist-draw[data-url][data-drawn=yes]").count()
        == page.locator(".hist-draw[data-url]").count()
    )
    assert "Scaled by 1/" in page.locator(".hist-info").first.inner_text()
    assert problems == []


def test_live_mode_redraws_only_changed_histograms(
    browser: Any, make_settings: Any, make_app: Any, db: Database
) -> None:
    from datetime import timedelta  # noqa: PLC0415

    from sqlalchemy import update  # noqa: PLC0415
    from werkzeug.serving import make_server  # noqa: PLC0415

    from overwatch.storage.models import HistogramRecord  # noqa: PLC0415
    from overwatch.storage.models import utcnow  # noqa: PLC0415
    from tests.webapp.builders import add_run  # noqa: PLC0415
    from tests.webapp.histjson import gz_payload  # noqa: PLC0415
    from tests.webapp.histjson import th1  # noqa: PLC0415

    add_run(db, 500, start=utcnow() - timedelta(minutes=10), minutes=9)
    with db.session() as session:
        create_user(session, "shifter", "shift-password", "viewer")
    app = make_app(make_settings(live_refresh_seconds=0.5))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        page, problems = logged_in_page(browser, base, "shifter", "shift-password")
        page.goto(f"{base}/runs/500/EMC")
        page.wait_for_selector("section.histograms[data-drawn=all]")
        # Locators, not wait_for_function: the page's CSP forbids evaluating strings.
        page.locator("#livenote", has_text="no change").wait_for()
        gz, size, etag = gz_payload(
            th1("EMCal/energy", [50, 1, 1, 1, 1, 1, 1, 1, 1, 1], low=0, high=10)
        )
        with db.session() as session:
            session.execute(
                update(HistogramRecord)
                .where(HistogramRecord.name == "EMCal/energy")
                .values(json_gz=gz, json_size=size, etag=etag)
            )
        page.locator("#livenote", has_text="1 updated").wait_for()
        assert page.locator(".hist-draw[data-drawn=yes]").count() == 2
        assert problems == []
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


# --- Hardening: stored names are data, never code, and the CSP holds -------------------

#: A name a hostile producer could give a histogram or directory in a ROOT file.
XSS_NAME = "x<img src=x onerror=window.__xss=1>"
XSS_DIR = "d<img src=x onerror=window.__xss=2>"
#: Stored names that a URL path would lose or mangle (dot segments, %, #, ?, spaces, unicode).
ODD_NAMES = ("..", ".", "a/../b", "a/./b", "%", "#", "?", "with space", "ünïcødé/Δ", XSS_NAME)


def test_file_view_never_runs_script_from_object_names(
    browser: Any, live_server: str, settings: Settings, db: Database
) -> None:
    from tests import rootfiles  # noqa: PLC0415
    from tests.webapp.builders import add_run  # noqa: PLC0415

    add_run(db, 700, data_dir=settings.data_dir)
    newest = sorted((settings.data_dir / "Run700" / "EMC").iterdir())[-1]
    rootfiles.write_file(
        newest,
        {
            XSS_NAME: rootfiles.th1(XSS_NAME, [1, 2, 3], title=XSS_NAME),
            f"{XSS_DIR}/inner": rootfiles.th1("inner", [3, 2, 1], title="inner"),
        },
    )
    with db.session() as session:
        create_user(session, "boss", "boss-password", "admin")
    page, problems = logged_in_page(browser, live_server, "boss", "boss-password")
    documents: list[Any] = []
    page.on(
        "response", lambda r: documents.append(r) if r.request.resource_type == "document" else None
    )
    page.goto(f"{live_server}/runs/700/EMC/file")
    page.wait_for_selector("#rootfile[data-opened=yes]", timeout=30_000)
    tree = page.locator("#rootfile-tree")
    # Double-click the histogram, then the directory, then the histogram inside it.
    tree.get_by_text(f"{XSS_NAME};1", exact=True).first.dblclick()
    page.wait_for_selector("#rootfile-draw svg", timeout=30_000)
    tree.get_by_text(f"{XSS_DIR};1", exact=True).dblclick()
    tree.get_by_text("inner;1", exact=True).dblclick()
    page.wait_for_timeout(1500)  # let any stray handler fire: nothing must
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src=x]").count() == 0
    assert documents
    assert all("content-security-policy" in r.headers for r in documents)
    assert problems == []


def test_file_view_draws_a_function_without_saved_points_under_the_csp(
    browser: Any, live_server: str, settings: Settings, db: Database
) -> None:
    """The file's stand-alone TF1 has no saved points: JSROOT reading it from the file
    would compile its formula, which the CSP refuses; the view draws the server's copy."""
    from tests.webapp.test_runs import _fidelity_run  # noqa: PLC0415

    _fidelity_run(settings, db, 704)
    with db.session() as session:
        create_user(session, "expert", "expert-password", "expert")
    page, problems = logged_in_page(browser, live_server, "expert", "expert-password")
    page.goto(f"{live_server}/runs/704/EMC/file")
    page.wait_for_selector("#rootfile[data-opened=yes]", timeout=30_000)
    tree = page.locator("#rootfile-tree")
    tree.get_by_text("func;1", exact=True).dblclick()
    page.wait_for_selector("#rootfile-draw svg path", timeout=30_000)
    curve = page.evaluate(
        """() => {
             const pad = JSROOT.getElementCanvPainter(document.getElementById('rootfile-draw'));
             const curves = [];
             if (pad) pad.forEachPainterInPad(p => {
               if (p.isTF1?.()) {
                 const h = p.getHisto();
                 curves.push({bins: h.fXaxis.fNbins, max: Math.max(...Array.from(h.fArray))});
               }
             });
             return curves;
           }"""
    )
    assert len(curve) == 1, curve
    assert curve[0]["bins"] == 100
    assert abs(curve[0]["max"] - 6) < 0.1  # [0]*x*x+[1] with p0=1, p1=2 on [0, 2]
    # A histogram whose fit ROOT saved with points is drawn from the file itself.
    tree.get_by_text("fitted;1", exact=True).dblclick()
    page.wait_for_function(
        "() => JSROOT.getElementCanvPainter(document.getElementById('rootfile-draw'))"
        "?.getMainPainter()?.getObject()?.fName === 'fitted'",
        timeout=30_000,
    )
    assert page.locator("#rootfile-note").is_hidden()
    assert problems == []


def test_csp_stops_script_that_slips_into_a_page(
    browser: Any, live_server: str, db: Database
) -> None:
    with db.session() as session:
        create_user(session, "boss", "boss-password", "admin")
    page, problems = logged_in_page(browser, live_server, "boss", "boss-password")
    page.goto(f"{live_server}/admin/users")
    # What the next unescaped name would do: markup with an inline handler and a script.
    page.evaluate(
        """() => {
          const box = document.createElement("div");
          box.innerHTML = '<img src="data:," onerror="window.__ran = 1"><a href="#" onclick="window.__ran = 2">x</a>';
          document.body.appendChild(box);
          box.querySelector("a").click();
          const script = document.createElement("script");
          script.textContent = "window.__ran = 3";
          document.body.appendChild(script);
        }"""
    )
    page.wait_for_timeout(500)
    assert page.evaluate("window.__ran") is None
    assert any(problem.startswith("CSP violation: script-src") for problem in problems), problems


def test_jsroot_draws_every_stored_name_and_tex_title_under_csp_from_own_origin_only(
    browser: Any, live_server: str, db: Database
) -> None:
    from sqlalchemy import update  # noqa: PLC0415

    from overwatch.storage.models import HistogramRecord  # noqa: PLC0415
    from tests.webapp.builders import HistSpec  # noqa: PLC0415
    from tests.webapp.builders import add_run  # noqa: PLC0415
    from tests.webapp.histjson import gz_payload  # noqa: PLC0415
    from tests.webapp.histjson import th1  # noqa: PLC0415

    add_run(db, 701, specs=[HistSpec(name, "Odd") for name in (*ODD_NAMES, "tex")])
    tex_title = r"\sqrt{s} = 13\ \mathrm{TeV}"
    gz, size, etag = gz_payload(th1("tex", [1, 3, 5, 3, 1], title=tex_title, high=5))
    with db.session() as session:
        session.execute(
            update(HistogramRecord)
            .where(HistogramRecord.name == "tex")
            .values(json_gz=gz, json_size=size, etag=etag)
        )
        create_user(session, "shifter", "shift-password", "viewer")
    page, problems = logged_in_page(browser, live_server, "shifter", "shift-password")
    requests: list[str] = []
    responses: list[Any] = []

    def record(response: Any) -> None:  # Playwright needs a Python function, not a bound method
        responses.append(response)

    page.on("request", lambda request: requests.append(request.url))
    page.on("response", record)
    page.goto(f"{live_server}/runs/701/EMC")
    page.wait_for_selector("section.histograms[data-drawn=all]", timeout=30_000)
    frames = page.locator(".hist-draw[data-url]")
    assert frames.count() == len(ODD_NAMES) + 1
    assert page.locator(".hist-draw[data-url][data-drawn=yes]").count() == frames.count()
    for index in range(frames.count()):
        assert frames.nth(index).locator("svg").count() >= 1, index
    # MathJax typeset the TeX title from our own copy (the npm package), nothing else was asked.
    page.locator(
        'article[data-name="tex"] mjx-container, article[data-name="tex"] svg [data-mml-node]'
    ).first.wait_for(state="attached", timeout=30_000)
    assert any("/static/mathjax/" in url for url in requests)
    outside = [url for url in requests if not url.startswith(live_server)]
    assert outside == []
    assert all(r.status < 400 for r in responses), [(r.url, r.status) for r in responses]
    pages = [r for r in responses if r.request.resource_type == "document"]
    assert pages
    assert all("content-security-policy" in r.headers for r in pages)
    assert page.evaluate("window.__xss") is None
    assert problems == []


def test_graphs_stacks_efficiencies_canvases_and_functions_are_drawn_under_the_csp(
    browser: Any, live_server: str, settings: Settings, db: Database
) -> None:
    """A receiver file written by ROOT with every drawable class: each gets a JSROOT drawing.

    Functions are drawn from saved points (ROOT's for a fit, processing's for a formula it
    evaluates), never by JSROOT's eval; one it cannot evaluate is named on its card.
    """
    import shutil  # noqa: PLC0415
    from datetime import UTC  # noqa: PLC0415
    from datetime import datetime  # noqa: PLC0415

    from overwatch.detectors import DetectorPlugin  # noqa: PLC0415
    from overwatch.detectors import register_plugin  # noqa: PLC0415
    from overwatch.detectors import unregister_plugin  # noqa: PLC0415
    from overwatch.processing.scan import scan  # noqa: PLC0415
    from overwatch.receivers.filenames import build_file_name  # noqa: PLC0415

    fidelity = Path(__file__).parents[1] / "processing" / "data" / "fidelity.root"
    when = datetime(2018, 10, 22, 7, 30, tzinfo=UTC)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(fidelity, settings.data_dir / build_file_name("EMC", 702, "C", when, settings.tz))
    scan(settings, db)
    register_plugin("EMC", DetectorPlugin)  # its groups: every name without "_" in "Other"
    try:
        [outcome] = Worker(settings, db).run_until_idle()
    finally:
        unregister_plugin("EMC")
    assert outcome.state == "done", outcome.error
    import json  # noqa: PLC0415
    import zlib  # noqa: PLC0415

    from sqlalchemy import delete  # noqa: PLC0415
    from sqlalchemy import select  # noqa: PLC0415

    from overwatch.storage.models import HistogramRecord  # noqa: PLC0415
    from tests.webapp.histjson import gz_payload  # noqa: PLC0415

    with db.session() as session:
        create_user(session, "shifter", "shift-password", "viewer")
        # Only the objects asserted on below: the file's other histograms are tested elsewhere.
        kept = ["graph", "gerr", "gasym", "mg", "eff", "stack", "poly", "canv", "func", "fitted"]
        session.execute(delete(HistogramRecord).where(HistogramRecord.name.not_in(kept)))
        # A function whose formula processing does not evaluate (TMath::Landau) and that the
        # file saved no points for: named on its card, never handed to JSROOT's eval.
        record = session.scalars(
            select(HistogramRecord).where(HistogramRecord.name == "gerr")
        ).one()
        landau = json.loads(
            zlib.decompress(
                session.scalars(
                    select(HistogramRecord.json_gz).where(HistogramRecord.name == "func")
                ).one(),
                31,
            )
        )
        landau["fName"] = "landau_fn"
        landau["fFormula"]["fFormula"] = "[p0]*TMath::Landau(x,[p1],1,false)"
        landau["fSave"] = []
        record.json_gz, record.json_size, record.etag = gz_payload(json.dumps(landau).encode())
        record.class_name = "TF1"
    page, problems = logged_in_page(browser, live_server, "shifter", "shift-password")
    page.goto(f"{live_server}/runs/702/EMC?group=Other")
    page.wait_for_selector("section.histograms[data-drawn=all]", timeout=60_000)
    frames = page.locator(".hist-draw[data-url]")
    assert frames.count() == len(kept)
    assert page.locator(".hist-undrawable").count() == 0
    assert page.locator(".hist-draw[data-url][data-drawn=yes]").count() == frames.count() - 1
    undrawn = page.locator('article[data-name="gerr"] .hist-draw')
    assert undrawn.get_attribute("data-drawn") == "undrawable"
    assert "Not drawn: function “landau_fn”" in undrawn.inner_text()
    assert page.locator(".draw-note").count() == 0  # the fit of "fitted" has ROOT's points
    drawn = page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('article.hist-card'))
             .map(card => {
               const frame = card.querySelector('.hist-draw');
               const pad = JSROOT.getElementCanvPainter(frame);
               const kinds = [];
               const curves = [];
               if (pad) pad.forEachPainterInPad(p => {
                 kinds.push(p.isTF1?.() ? p.getClassName() : p.getObject()?._typename);
                 if (p.isTF1?.()) {
                   const h = p.getHisto();
                   curves.push({name: p.getObjectName(), bins: h.fXaxis.fNbins,
                                max: Math.max(...Array.from(h.fArray))});
                 }
               });
               return [card.dataset.name, {kinds, curves, svg: frame.querySelectorAll('svg').length,
                                           paths: frame.querySelectorAll('svg path').length,
                                           options: frame.dataset.options}];
             }))"""
    )
    for name, kind, options in (
        ("graph", "TGraph", "ALP"),
        ("stack", "THStack", ""),
        ("eff", "TEfficiency", "AP"),
        ("mg", "TMultiGraph", "ALP"),
        ("poly", "TH2Poly", "colz"),
        ("func", "TF1", ""),
        ("fitted", "TH1F", ""),
        ("fitted", "TF1", ""),
    ):
        assert kind in drawn[name]["kinds"], (name, drawn[name])
        assert drawn[name]["svg"] >= 1
        assert drawn[name]["options"] == options
    # The stand-alone TF1 [0]*x*x+[1] with p0=1, p1=2 on [0, 2]: from the points processing
    # saved (fNpx=100), its top is 1*2*2+2 = 6.
    [func_curve] = drawn["func"]["curves"]
    assert func_curve["bins"] == 100
    assert abs(func_curve["max"] - 6) < 0.1
    # The fitted histogram draws its Gaussian fit (ROOT's saved points, peak ~60), the fit's
    # line and the "Bad run" text attached to it.
    [fit_curve] = drawn["fitted"]["curves"]
    assert fit_curve["name"] == "gaus"
    assert 50 < fit_curve["max"] < 70
    assert {"TLine", "TPaveText"} <= set(drawn["fitted"]["kinds"])
    assert "TGraph" in drawn["canv"]["kinds"]  # the canvas drawn with its own primitives
    assert problems == []
