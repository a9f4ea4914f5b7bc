"""The web app under a real gunicorn (``overwatch web``, two workers) on a free local port.

A viewer's run-page search for ``(.|.)*!`` once held both workers until gunicorn
killed them. Here hostile patterns go to a real server, several at once, and it
must answer each and keep serving. The only time limits are generous request
timeouts: a backtracking engine would not finish within a year.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.users import create_user
from overwatch.webapp.runs import MAX_PATTERN
from tests.servers import WebServer
from tests.webapp.builders import HistSpec
from tests.webapp.builders import add_run

pytestmark = pytest.mark.slow

#: Generous: a healthy answer takes milliseconds; a stuck worker never answers.
TIMEOUT = 30
HOSTILE = ["(.|.)*!", "(a+)+$", "(a|aa)+b", "(.*a){20}", "((a*)*)*b"]


@pytest.fixture
def gunicorn_server(settings: Settings, db: Database, tmp_path: Path) -> Iterator[str]:
    """``overwatch web --workers 2`` in its own process; yields its base URL."""
    with WebServer(settings, tmp_path) as server:
        yield server.url


def _session(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=TIMEOUT)
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    assert found
    data = {"name": "shifter", "password": "shift-password", "csrf_token": found.group(1)}
    session.post(f"{base}/login", data=data, timeout=TIMEOUT, allow_redirects=False)
    return session


def test_hostile_search_patterns_do_not_stall_gunicorn(gunicorn_server: str, db: Database) -> None:
    # Long names make a backtracking engine take 2**60 steps on (.|.)*!
    names = [f"EMCal/{'a' * 60}", f"EMCal/{'x' * 70}", "EMCal/energy"]
    add_run(db, 10, specs=[HistSpec(name, "Long") for name in names])
    with db.session() as session:
        create_user(session, "shifter", "shift-password", "viewer")
    session = _session(gunicorn_server)
    page = f"{gunicorn_server}/runs/10/EMC"
    assert session.get(page, timeout=TIMEOUT).status_code == 200

    def search(pattern: str) -> int:
        response = session.get(page, params={"q": pattern}, timeout=TIMEOUT)
        return response.status_code

    # More hostile requests at once than the server has threads (2 workers x 4).
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(search, HOSTILE * 3))
    assert statuses == [200] * len(HOSTILE) * 3
    too_long = session.get(page, params={"q": "(.|.)*" * 40}, timeout=TIMEOUT)
    assert too_long.status_code == 400
    assert f"longer than {MAX_PATTERN} characters" in too_long.text
    # Still serving, and the search still works.
    found = session.get(page, params={"q": "^emcal/a+$"}, timeout=TIMEOUT)
    assert found.status_code == 200
    assert f'data-name="EMCal/{"a" * 60}"' in found.text
    assert requests.get(f"{gunicorn_server}/healthz", timeout=TIMEOUT).status_code == 200
