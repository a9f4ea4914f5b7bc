"""What a hostile tester broke: security headers, leaks, huge numbers, hostile patterns, odd names.

Each test here failed before its fix. Real HTTP and a real browser check the
same properties in ``test_http.py``, ``test_gunicorn.py`` and ``test_browser.py``.
"""

from __future__ import annotations

import hashlib
import re
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.models import HistogramRecord
from overwatch.webapp.params import DB_INT_MAX
from overwatch.webapp.runs import MAX_PATTERN
from overwatch.webapp.security import CONTENT_SECURITY_POLICY
from tests.webapp.builders import HistSpec
from tests.webapp.builders import add_run
from tests.webapp.histjson import gz_payload

Client = Callable[[str], FlaskClient]

#: Values for each route variable when every route is visited.
ROUTE_VALUES = {
    "run_number": 10,
    "subsystem": "EMC",
    "path:name": "EMCal/energy",
    "path:filename": "build/jsroot.min.js",
    "name": "viewer",
    "job_id": 1,
    "file_id": 1,
    "file_name": "f.root",
}
HUGE = str(2**63)


def _get_urls(app: Flask) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()):
            continue
        url = str(rule.rule)
        for key, value in ROUTE_VALUES.items():
            forms = (f"<{key}>",) if ":" in key else (f"<int:{key}>", f"<{key}>")
            for form in forms:
                url = url.replace(form, str(value))
        urls.append(url.replace("<path:filename>", "overwatch.css"))
    return urls


def test_every_response_carries_the_content_security_policy(
    app: Flask, client_as: Client, db: Database
) -> None:
    add_run(db, 10)
    client = client_as("admin")
    urls = [*_get_urls(app), "/no/such/page", "/api/v1/no-such-call", "/runs/10/EMC/view"]
    assert len(urls) >= 20
    for url in urls:
        response = client.get(url)
        response.close()  # file responses hold their file open until closed
        assert response.headers.get("Content-Security-Policy") == CONTENT_SECURITY_POLICY, url
        assert "Strict-Transport-Security" not in response.headers, url
        if response.mimetype == "text/html":
            # Nothing the policy would block: script only from files, no handlers, no style=.
            html = response.text
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
            assert not re.search(r"\son[a-z]+\s*=", html), url
            assert not re.search(r"\sstyle\s*=", html), url
    policy = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'"


def test_hsts_is_sent_only_with_secure_cookies(
    make_settings: Callable[..., Settings], make_app: Callable[..., Flask], db: Database
) -> None:
    plain = make_app(make_settings()).test_client().get("/login")
    assert "Strict-Transport-Security" not in plain.headers
    secure = make_app(make_settings(web_secure_cookies=True)).test_client().get("/login")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_user_names_reach_the_users_page_as_data_not_script(
    client_as: Client, db: Database
) -> None:
    from overwatch.storage.users import create_user  # noqa: PLC0415

    name = "x');alert(1);('"
    with db.session() as session:
        create_user(session, name, "some-password", "viewer")
    page = client_as("admin").get("/admin/users").text
    assert 'data-confirm="Remove x&#39;);alert(1);(&#39;?"' in page
    assert "confirm.js" in page


def test_healthz_does_not_name_the_database_server_when_it_is_down(
    app: Flask, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = app.extensions["overwatch"]
    state.db.dispose()
    if settings.effective_database_url.startswith("sqlite"):
        # A directory is not a database file: every connection attempt fails.
        (tmp_path / "secretdbname").mkdir()
        url = f"sqlite:///{tmp_path}/secretdbname"
    else:
        # Nothing listens on port 9: the connection is refused.
        url = "postgresql+psycopg://overwatch@127.0.0.1:9/secretdbname?connect_timeout=5"
    state.db = type(state.db)(url)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "reason": "database unreachable"}
    for secret in ("secretdbname", "127.0.0.1", str(tmp_path), "port"):
        assert secret not in response.text
    # The operator still finds the driver's message in the log.
    assert "database unreachable: OperationalError: " in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        f"/runs/{HUGE}",
        f"/runs/{HUGE}/EMC",
        f"/runs/{HUGE}/EMC/file",
        f"/runs/{DB_INT_MAX + 1}/EMC",
        f"/runs/10/EMC/files/{HUGE}/f.root",
        f"/jobs/{HUGE}",
        f"/api/v1/runs/{HUGE}",
        f"/api/v1/runs/{HUGE}/EMC",
        f"/api/v1/runs/{HUGE}/EMC/histogram?name=EMCal/energy",
        f"/api/v1/runs/{HUGE}/EMC/histograms/EMCal/energy",
        f"/api/v1/runs/{HUGE}/EMC/options",
        f"/api/v1/jobs/{HUGE}",
        "/runs/" + "9" * 5000 + "/EMC",
    ],
)
def test_huge_numbers_in_paths_are_404(client_as: Client, db: Database, url: str) -> None:
    add_run(db, 10)
    assert client_as("expert").get(url).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        f"/runs?page={HUGE}",
        f"/runs?before={HUGE}",
        f"/runs?after={HUGE}",
        "/runs?page=-1",
        "/runs?page=" + "9" * 5000,
        f"/runs/10/EMC?result={HUGE}",
        f"/runs/10/EMC/file?file={HUGE}",
        f"/runs/10/EMC/file/raw?file={HUGE}",
        f"/runs/10/EMC/view?name=EMCal/energy&result={HUGE}",
        f"/api/v1/runs?page={HUGE}",
        f"/api/v1/runs?per_page={HUGE}",
        f"/api/v1/runs?before={HUGE}",
        f"/api/v1/runs/10/EMC?result={HUGE}",
        f"/api/v1/runs/10/EMC/histogram?name=EMCal/energy&result={HUGE}",
        "/api/v1/runs?page=%EF%BC%91",  # a full-width digit: int() would take it
    ],
)
def test_huge_numbers_in_query_strings_are_400(client_as: Client, db: Database, url: str) -> None:
    add_run(db, 10)
    response = client_as("expert").get(url)
    assert response.status_code == 400, response.text
    assert f"must be a whole number from 0 to {DB_INT_MAX}" in response.text


def test_search_uses_re2_and_refuses_long_patterns(client_as: Client, db: Database) -> None:
    # Hostile patterns against a real gunicorn: test_gunicorn.py (a backtracking engine
    # would hang this process instead of failing it).
    long_name = "EMCal/" + "a" * 60
    add_run(db, 10, specs=[HistSpec(long_name, "Long"), HistSpec("EMCal/energy", "Long")])
    client = client_as("viewer")
    found = client.get("/runs/10/EMC", query_string={"q": "^emcal/A+$"}).text
    assert f'data-name="{long_name}"' in found
    assert 'data-name="EMCal/energy"' not in found
    # RE2 has no backreferences (they are what make matching exponential): plain text.
    plain = client.get("/runs/10/EMC", query_string={"q": r"(a)\1"}).text
    assert "searched as plain text" in plain
    too_long = client.get("/runs/10/EMC", query_string={"q": "a" * (MAX_PATTERN + 1)})
    assert too_long.status_code == 400
    assert f"longer than {MAX_PATTERN} characters" in too_long.text


def test_identity_clients_get_the_json_inflated_by_a_streaming_generator(
    client_as: Client, db: Database
) -> None:
    add_run(db, 10, specs=[HistSpec("big", "Big")])
    # 48 MB of JSON (a long array of bins), stored gzip-compressed as processing stores it.
    raw = b'{"_typename":"TH1D","fArray":[' + b"0.5," * 12_000_000 + b'0.5],"x":1}'
    gz, size, etag = gz_payload(raw)
    with db.session() as session:
        session.execute(
            update(HistogramRecord)
            .where(HistogramRecord.name == "big")
            .values(json_gz=gz, json_size=size, etag=etag)
        )
    client = client_as("viewer")
    tracemalloc.start()
    try:
        response = client.get(
            "/api/v1/runs/10/EMC/histogram?name=big",
            headers={"Accept-Encoding": "identity"},
            buffered=False,
        )
        assert response.status_code == 200
        assert response.is_streamed
        assert "Content-Encoding" not in response.headers
        digest = hashlib.sha256()
        length = 0
        for piece in response.response:
            digest.update(piece)
            length += len(piece)
        response.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert length == len(raw)
    assert digest.hexdigest() == hashlib.sha256(raw).hexdigest()
    # Inflating in one piece would hold all 48 MB at once; the stream holds a few chunks.
    assert peak < len(raw) // 4, peak


def test_inflate_rejects_a_truncated_blob() -> None:
    import zlib  # noqa: PLC0415

    from overwatch.webapp.api import inflate  # noqa: PLC0415

    gz, _, _ = gz_payload(b"[" + b"1," * 100_000 + b"1]")
    assert b"".join(inflate(gz, chunk=1000)) == b"[" + b"1," * 100_000 + b"1]"
    with pytest.raises(zlib.error):
        b"".join(inflate(gz[: len(gz) // 2], chunk=1000))


def _stored_names(client: FlaskClient, run: int) -> dict[str, Any]:
    body = client.get(f"/api/v1/runs/{run}/EMC").json
    return {h["name"]: h for group in body["groups"] for h in group["histograms"]}


def test_odd_stored_names_get_urls_that_reach_them(client_as: Client, db: Database) -> None:
    names = ["..", ".", "a/../b", "a/./b", "%", "%2e%2e", "#", "?", "a b", "ünï/Δ", "a//b", "/x"]
    add_run(db, 10, specs=[HistSpec(name, "Odd") for name in names])
    client = client_as("viewer")
    stored = _stored_names(client, 10)
    assert sorted(stored) == sorted(names)
    for name, hist in stored.items():
        response = client.get(hist["url"], headers={"Accept-Encoding": "identity"})
        assert response.status_code == 200, (name, hist["url"])
        assert response.json["fName"] == name.rsplit("/", 1)[-1], name
        page = client.get("/runs/10/EMC/view", query_string={"name": name})
        assert page.status_code == 200, name
