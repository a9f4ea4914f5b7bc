"""Login throttling and sessions against a real ``overwatch web`` (gunicorn) on a free port.

The server runs in its own process with its own worker threads, as in production, so
these tests see what a hostile client sees: the answers, the status codes, and whether
other pages keep answering while logins are hammered.
"""

from __future__ import annotations

import os
import re
import statistics
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.users import create_user
from tests.servers import WebServer

PASSWORD = "viewer-password"


@pytest.fixture
def gunicorn(settings: Settings, db: Database, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start ``overwatch web`` with extra OVERWATCH_* settings; returns its base URL."""
    with db.session() as session:
        create_user(session, "viewer", PASSWORD, "viewer")
    with ExitStack() as servers:

        def start(workers: int = 1, **overrides: str) -> str:
            server = WebServer(settings, tmp_path, workers, **overrides)
            return servers.enter_context(server).url

        yield start


class Browser:
    """A requests session that fills in the login form like a browser."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        page = self.http.get(f"{base}/login", timeout=10)
        found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
        assert found
        self.csrf = found.group(1)

    def log_in(self, name: str, password: str) -> requests.Response:
        return self.http.post(
            f"{self.base}/login",
            data={"name": name, "password": password, "csrf_token": self.csrf},
            timeout=30,
            allow_redirects=False,
        )


def _message(response: requests.Response) -> str:
    found = re.search(r'<p class="form-message" role="alert">([^<]*)</p>', response.text)
    assert found, response.text
    return re.sub(r"\d+ s\.", "N s.", found.group(1))


def test_many_wrong_logins_from_one_client_get_429_alike_for_known_and_unknown_names(
    gunicorn: Callable[..., str],
) -> None:
    base = gunicorn(login_limit_per_address="10 per minute")
    browser = Browser(base)
    answers = [browser.log_in(name, "guess-guess") for name in ["viewer", "ghost"] * 8]
    codes = [answer.status_code for answer in answers]
    assert codes == [401] * 10 + [429] * 6
    known, unknown = answers[0::2], answers[1::2]
    assert [_message(a) for a in known] == [_message(a) for a in unknown]
    assert _message(answers[0]) == "Unknown user or wrong password."
    assert _message(answers[-1]) == "Too many login attempts; try again in N s."
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    # The right password from this address waits too; pages still answer.
    assert browser.log_in("viewer", PASSWORD).status_code == 429
    assert requests.get(f"{base}/healthz", timeout=10).status_code == 200


def test_pages_keep_answering_while_logins_are_hammered(gunicorn: Callable[..., str]) -> None:
    base = gunicorn(
        login_limit_per_address="100000 per minute",
        login_failures_per_account_and_address="100000 per minute",
        login_failures_per_account="100000 per minute",
        login_concurrent_checks="1",
    )
    browsers = [Browser(base) for _ in range(6)]

    def hammer(browser: Browser) -> list[int]:
        # Unknown names cost the same argon2 check as known ones.
        return [browser.log_in(f"ghost{n}", "guess-guess").status_code for n in range(8)]

    latencies: list[float] = []
    with ThreadPoolExecutor(len(browsers)) as pool:
        futures = [pool.submit(hammer, browser) for browser in browsers]
        while not all(future.done() for future in futures):
            began = time.perf_counter()
            page = requests.get(f"{base}/login", timeout=30)
            latencies.append(time.perf_counter() - began)
            assert page.status_code == 200
        codes = [code for future in futures for code in future.result()]
    assert set(codes) <= {401, 429}
    # At most one argon2 check at a time: the others were told at once to come back.
    assert codes.count(429) > 0
    assert codes.count(401) > 0
    # Generous on a shared machine; without the cap pages waited behind every argon2 check.
    assert statistics.median(latencies) < 1.0, latencies


def test_a_session_cookie_replayed_after_logout_is_refused_by_the_server(
    gunicorn: Callable[..., str],
) -> None:
    base = gunicorn(workers=2)
    browser = Browser(base)
    assert browser.log_in("viewer", PASSWORD).status_code == 302
    cookie = browser.http.cookies["overwatch_session"]
    replay = requests.Session()
    replay.cookies.set("overwatch_session", cookie)
    assert replay.get(f"{base}/runs", timeout=10, allow_redirects=False).status_code == 200
    page = browser.http.get(f"{base}/runs", timeout=10)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text) or re.search(
        r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page.text
    )
    assert token
    logout = browser.http.post(
        f"{base}/logout", data={"csrf_token": token.group(1)}, timeout=10, allow_redirects=False
    )
    assert logout.status_code == 302
    # Whichever of the two workers answers: the session is over.
    for _ in range(4):
        again = replay.get(f"{base}/runs", timeout=10, allow_redirects=False)
        assert again.status_code == 302
        assert again.headers["Location"].startswith("/login")


def _redis_url() -> str:
    redis = pytest.importorskip("redis")
    url = os.environ.get("OVERWATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {url}: {exc}")
    return url


def test_with_redis_all_workers_share_the_login_counts(gunicorn: Callable[..., str]) -> None:
    url = _redis_url()
    base = gunicorn(
        workers=2,
        ratelimit_storage_url=url,
        login_limit_per_address="100000 per minute",
        login_failures_per_account_and_address="5 per 15 minutes",
    )
    # A fresh name per run, so earlier runs' counts in the shared Redis do not matter.
    name = f"ghost-{uuid.uuid4().hex[:12]}"
    codes = []
    for _ in range(8):
        # A new connection each time, so both workers answer some of the tries.
        browser = Browser(base)
        browser.http.headers["Connection"] = "close"
        codes.append(browser.log_in(name, "guess-guess").status_code)
    assert codes == [401] * 5 + [429] * 3
