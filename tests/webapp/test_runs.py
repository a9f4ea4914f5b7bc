"""The run list, run pages, single-histogram pages and the ROOT file view."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.models import ReceivedFile
from overwatch.storage.models import utcnow
from tests.webapp.builders import BASE_TIME
from tests.webapp.builders import add_run

Client = Callable[[str], FlaskClient]


def test_run_list_shows_runs_newest_first_with_subsystem_badges(
    client_as: Client, db: Database
) -> None:
    add_run(db, 294832, subsystems=("EMC", "HLT"), quality="bad")
    add_run(db, 294833, subsystems=("TPC",), quality="good", start=BASE_TIME + timedelta(hours=1))
    page = client_as("viewer").get("/runs").text
    assert page.index('data-run="294833"') < page.index('data-run="294832"')
    assert 'href="/runs/294832/EMC" data-subsystem="EMC"' in page
    assert 'class="subchip q-bad"' in page
    assert 'class="subchip q-good"' in page
    assert '<span class="badge badge-good" title="quality: good">good</span>' in page
    assert "2 files · 10:13:55" in page  # last file, in Europe/Zurich
    assert "2 runs · page 1 of 1" in page
    assert (
        "ongoing" not in page.split("<main")[1].split('class="live"')[0]
        or 'class="live"' not in page
    )


def test_run_list_marks_ongoing_runs(client_as: Client, db: Database) -> None:
    add_run(db, 1, start=utcnow() - timedelta(minutes=30), minutes=28)
    add_run(db, 2, start=utcnow() - timedelta(hours=3), minutes=20)
    page = client_as("viewer").get("/runs").text
    row_1 = page.split('data-run="1"')[1]
    row_2 = page.split('data-run="2"')[1].split('data-run="1"')[0]
    assert 'class="live"' in row_1.split("</tr>")[0]
    assert 'class="live"' not in row_2


def test_run_list_paginates_fifty_runs_a_page(client_as: Client, db: Database) -> None:
    for number in range(1, 53):
        add_run(db, number, specs=[])
    client = client_as("viewer")
    first = client.get("/runs").text
    assert first.count('class="run-row"') == 50
    assert 'data-run="52"' in first
    assert 'data-run="2"' not in first.replace('data-run="2"', "", 0) or 'data-run="2"' not in first
    second = client.get("/runs?page=2").text
    assert second.count('class="run-row"') == 2
    assert 'data-run="1"' in second
    assert client.get("/runs?page=3").status_code == 404
    assert client.get("/runs?page=x").status_code == 400


def test_run_list_pages_by_run_number(client_as: Client, db: Database) -> None:
    for number in range(1, 121):
        add_run(db, number, specs=[])
    client = client_as("viewer")
    first = client.get("/runs").text
    assert 'href="/runs?before=71" rel="next">older' in first
    assert "« newest" not in first
    older = client.get("/runs?before=71").text
    assert older.count('class="run-row"') == 50
    assert 'data-run="70"' in older
    assert 'data-run="21"' in older
    assert 'data-run="71"' not in older
    assert "runs 21\u201370" in older
    assert 'href="/runs?after=70" rel="prev">\u2039 newer' in older
    oldest = client.get("/runs?after=0").text
    assert oldest.count('class="run-row"') == 50
    assert oldest.index('data-run="50"') < oldest.index('data-run="1"')
    assert "older \u203a" not in oldest
    newer = client.get("/runs?after=70").text
    assert 'data-run="120"' in newer
    assert 'data-run="71"' in newer
    assert "older \u203a" in newer


def test_run_redirects_to_its_first_subsystem(client_as: Client, db: Database) -> None:
    add_run(db, 7, subsystems=("HLT", "EMC"))
    response = client_as("viewer").get("/runs/7")
    assert response.status_code == 302
    assert response.headers["Location"] == "/runs/7/EMC"
    assert client_as("viewer").get("/runs/8").status_code == 404


def test_run_page_shows_groups_histograms_and_information(client_as: Client, db: Database) -> None:
    add_run(db, 10)
    add_run(db, 11)
    add_run(db, 12)
    page = client_as("viewer").get("/runs/11/EMC").text
    assert "<h1>Run 11</h1>" in page
    assert 'href="/runs/10" title="previous run 10"' in page
    assert 'href="/runs/12" title="next run 12"' in page
    assert (
        '<span class="gname">Towers</span><span class="badge badge-bad badge-small"'
        ' title="quality: bad">bad</span><span class="count">2</span>'
    ) in page
    assert '<span class="gname">Timing</span>' in page
    assert '<span class="gname">Other</span>' in page
    # The first group is shown: both of its histograms with JSON URLs and draw options.
    assert 'data-url="/api/v1/runs/11/EMC/histogram?name=EMCal/hitsPerTower"' in page
    assert 'data-url="/api/v1/runs/11/EMC/histogram?name=EMCal/energy" data-options="hist"' in page
    assert 'data-name="EMCal/time"' not in page
    assert '<p class="hist-reason q-bad">3 hot towers</p>' in page
    assert '<span class="key">hot channels:</span> 12, 40, 77' in page
    assert "<li>Scaled by 1/100 entries</li>" in page
    assert 'href="/runs/11/EMC/view?name=EMCal/energy"' in page
    assert "build/jsroot.min.js" in page


def test_run_page_shows_another_group_and_unconvertible_objects(
    client_as: Client, db: Database
) -> None:
    add_run(db, 10)
    page = client_as("viewer").get("/runs/10/EMC?group=Timing").text
    assert 'data-name="EMCal/time"' in page
    assert 'data-name="EMCal/hitsPerTower"' not in page
    assert "<strong>TCanvas</strong> could not be converted" in page
    assert "TCanvas objects are not converted" in page
    assert 'href="/runs/10/EMC/file">Open it in the ROOT file view' in page


def test_search_by_regular_expression_across_groups(client_as: Client, db: Database) -> None:
    add_run(db, 10)
    page = client_as("viewer").get("/runs/10/EMC?q=^EMCal/(energy|time)$").text
    assert "Search: ^EMCal/(energy|time)$" in page
    assert 'data-name="EMCal/energy"' in page
    assert 'data-name="EMCal/time"' in page
    assert 'data-name="EMCal/hitsPerTower"' not in page


def test_invalid_regular_expression_is_searched_as_text(client_as: Client, db: Database) -> None:
    add_run(db, 10)
    page = client_as("viewer").get("/runs/10/EMC?q=hits(").text
    assert "searched as plain text" in page
    assert "No histogram matches." in page


def test_unknown_subsystem_and_run_are_friendly_404_pages(client_as: Client, db: Database) -> None:
    add_run(db, 10)
    client = client_as("viewer")
    response = client.get("/runs/10/XYZ")
    assert response.status_code == 404
    assert "run 10 has no subsystem XYZ" in response.text
    assert "Back to the run list" in response.text
    assert client.get("/runs/10/EMC?result=999").status_code == 404


def test_single_histogram_page_with_slash_in_name(client_as: Client, db: Database) -> None:
    add_run(db, 10)
    client = client_as("viewer")
    for url in (
        "/runs/10/EMC/view?name=EMCal/hitsPerTower",
        "/runs/10/EMC/view/EMCal/hitsPerTower",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert 'class="hist-draw hist-draw-large"' in page.text
        assert 'data-url="/api/v1/runs/10/EMC/histogram?name=EMCal/hitsPerTower"' in page.text
    assert client.get("/runs/10/EMC/view/EMCal/nothing").status_code == 404
    assert client.get("/runs/10/EMC/view?name=EMCal/nothing").status_code == 404
    assert client.get("/runs/10/EMC/view").status_code == 400


def test_root_file_view_and_raw_file_with_range_requests(
    client_as: Client, db: Database, settings: Settings
) -> None:
    add_run(db, 10, data_dir=settings.data_dir)
    client = client_as("viewer")
    page = client.get("/runs/10/EMC/file")
    assert page.status_code == 200
    assert "EMChistos_10_C_2018_10_22_08_13_55.root" in page.text
    assert "/runs/10/EMC/files/" in page.text
    assert "/EMChistos_10_C_2018_10_22_08_13_55.root" in page.text
    with client.get("/runs/10/EMC/file/raw") as whole:
        assert whole.status_code == 200
        assert whole.data == b"root\x00" + b"\x01" * 64
        assert whole.headers["Accept-Ranges"] == "bytes"
    with client.get("/runs/10/EMC/file/raw", headers={"Range": "bytes=0-4"}) as part:
        assert part.status_code == 206
        assert part.data == b"root\x00"
        assert part.headers["Content-Range"] == "bytes 0-4/69"


def _fidelity_run(settings: Settings, db: Database, run_number: int) -> None:
    """ROOT's own file of every drawable class (tests/processing/data) received for ``run_number``."""
    import shutil  # noqa: PLC0415
    from datetime import UTC  # noqa: PLC0415
    from datetime import datetime  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from overwatch.processing.scan import scan  # noqa: PLC0415
    from overwatch.receivers.filenames import build_file_name  # noqa: PLC0415

    fidelity = Path(__file__).parents[1] / "processing" / "data" / "fidelity.root"
    when = datetime(2018, 10, 22, 7, 30, tzinfo=UTC)
    name = build_file_name("EMC", run_number, "C", when, settings.tz)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(fidelity, settings.data_dir / name)
    scan(settings, db)


def test_file_view_draws_objects_as_processing_stores_them_with_saved_points(
    client_as: Client, db: Database, settings: Settings
) -> None:
    import gzip  # noqa: PLC0415
    import json  # noqa: PLC0415

    from overwatch.processing.worker import Worker  # noqa: PLC0415
    from overwatch.storage.models import HistogramRecord  # noqa: PLC0415

    _fidelity_run(settings, db, 703)
    [outcome] = Worker(settings, db).run_until_idle()
    assert outcome.state == "done", outcome.error
    client = client_as("viewer")
    assert 'data-objects="/runs/703/EMC/file/object?file=' in client.get("/runs/703/EMC/file").text

    # A stand-alone TF1 the file saved without points: the server's copy has them, and
    # is byte for byte what processing stored for the run page.
    response = client.get("/runs/703/EMC/file/object?name=func")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    function = json.loads(response.data)
    assert function["_typename"] == "TF1"
    assert len(function["fSave"]) == function["fNpx"] + 3
    assert max(function["fSave"][:-2]) == 6.0  # [0]*x*x+[1] with p0=1, p1=2 at x=2
    with db.session() as session:
        stored = dict(
            session.execute(
                select(HistogramRecord.name, HistogramRecord.json_gz).where(
                    HistogramRecord.name.in_(["func", "fitted"])
                )
            ).all()
        )
    assert response.data == gzip.decompress(stored["func"])
    fitted = client.get("/runs/703/EMC/file/object?name=fitted")
    assert fitted.data == gzip.decompress(stored["fitted"])

    assert client.get("/runs/703/EMC/file/object?name=nothing").status_code == 404
    assert client.get("/runs/703/EMC/file/object").status_code == 404
    assert client.get("/runs/703/EMC/file/object?name=func&file=999999").status_code == 404


def test_named_raw_file_must_match_the_database(
    client_as: Client, db: Database, settings: Settings
) -> None:
    ids = add_run(db, 10, data_dir=settings.data_dir)
    with db.session() as session:
        file_id, name = session.execute(
            select(ReceivedFile.id, ReceivedFile.file_name)
            .where(ReceivedFile.subsystem_id == ids["EMC"])
            .order_by(ReceivedFile.id)
        ).first()  # type: ignore[misc]
    client = client_as("viewer")
    with client.get(f"/runs/10/EMC/files/{file_id}/{name}") as response:
        assert response.status_code == 200
        assert response.data == b"root\x00" + b"\x00" * 64
    assert client.get(f"/runs/10/EMC/files/{file_id}/other.root").status_code == 404
    assert client.get(f"/runs/10/EMC/files/{file_id}/..%2F..%2Fsecret").status_code == 404


def test_raw_file_path_never_leaves_the_data_dir(
    client_as: Client, db: Database, settings: Settings
) -> None:
    add_run(db, 10, data_dir=settings.data_dir)
    secret = settings.data_dir.parent / "outside.txt"
    secret.write_text("not for you")
    with db.session() as session:
        # The newest file (the one served) points outside; the other one keeps its path.
        newest = session.scalar(select(func.max(ReceivedFile.id)))
        session.execute(
            update(ReceivedFile).where(ReceivedFile.id == newest).values(path="../outside.txt")
        )
    response = client_as("viewer").get("/runs/10/EMC/file/raw")
    assert response.status_code == 404
    assert b"not for you" not in response.data


def test_raw_file_of_another_subsystem_is_not_served(
    client_as: Client, db: Database, settings: Settings
) -> None:
    ids = add_run(db, 10, subsystems=("EMC", "HLT"), data_dir=settings.data_dir)
    with db.session() as session:
        hlt_file = session.scalar(
            select(ReceivedFile.id).where(ReceivedFile.subsystem_id == ids["HLT"])
        )
    response = client_as("viewer").get(f"/runs/10/EMC/file/raw?file={hlt_file}")
    assert response.status_code == 404


def test_jsroot_files_are_served_from_the_npm_package_only(client_as: Client) -> None:
    client = client_as("viewer")
    with client.get("/static/jsroot/build/jsroot.min.js") as script:
        assert script.status_code == 200
        assert script.data.startswith(b"// https://root.cern/js/ v7.11.2")
    assert client.get("/static/jsroot/package.json").status_code == 404
    assert client.get("/static/jsroot/build/../package.json").status_code == 404
